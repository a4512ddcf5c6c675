"""Signed, expiring links that start an OAuth authorization for one installation."""

from __future__ import annotations

import uuid
from enum import StrEnum
from urllib.parse import urlencode

from app.crypto import Signer

LINK_PURPOSE = "authorize-link"
# Long enough for an admin who installs today and authorizes from settings next week.
LINK_MAX_AGE_SECONDS = 14 * 24 * 3600


class Provider(StrEnum):
    zoho = "zoho"
    gocardless = "gocardless"


def authorize_link(
    signer: Signer, public_base_url: str, provider: Provider, installation_id: uuid.UUID
) -> str:
    token = signer.sign(LINK_PURPOSE, {"i": str(installation_id), "p": provider.value})
    return f"{public_base_url}/oauth/{provider.value}/start?{urlencode({'link': token})}"
