"""Signed, expiring links that start an OAuth authorization for one installation."""

from __future__ import annotations

import uuid
from enum import StrEnum
from urllib.parse import urlencode

from app.runtime import Runtime

LINK_PURPOSE = "authorize-link"
# Long enough for an admin who installs today and authorizes from settings next week.
LINK_MAX_AGE_SECONDS = 14 * 24 * 3600


class Provider(StrEnum):
    zoho = "zoho"
    gocardless = "gocardless"


def authorize_link(runtime: Runtime, provider: Provider, installation_id: uuid.UUID) -> str:
    token = runtime.signer.sign(LINK_PURPOSE, {"i": str(installation_id), "p": provider.value})
    base = runtime.settings.public_base_url
    return f"{base}/oauth/{provider.value}/start?{urlencode({'link': token})}"
