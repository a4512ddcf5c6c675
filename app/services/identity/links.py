"""Authorize links: signed, 15-minute, single-use capabilities that start an OAuth
authorization for one installation. Only admins (and the API key) are handed them."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlencode

from app.crypto import InvalidSignedValue
from app.runtime import Runtime

LINK_PURPOSE = "authorize-link"


class Provider(StrEnum):
    zoho = "zoho"
    gocardless = "gocardless"


@dataclass(frozen=True)
class LinkClaims:
    installation_id: uuid.UUID
    provider: Provider
    # Recorded when the link is used, so a second use is refused.
    link_id: str


class InvalidLink(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def authorize_link(runtime: Runtime, provider: Provider, installation_id: uuid.UUID) -> str:
    ttl = timedelta(seconds=runtime.settings.authorize_link_ttl_seconds)
    token = runtime.signer.seal(
        LINK_PURPOSE,
        {"i": str(installation_id), "p": provider.value, "j": secrets.token_urlsafe(16)},
        expires_at=runtime.clock() + ttl,
    )
    base = runtime.settings.public_base_url
    return f"{base}/oauth/{provider.value}/start?{urlencode({'link': token})}"


def read_link(runtime: Runtime, provider: Provider, link: str) -> LinkClaims:
    try:
        payload = runtime.signer.open(LINK_PURPOSE, link, now=runtime.clock())
    except InvalidSignedValue as exc:
        raise InvalidLink(exc.reason) from None
    if payload.get("p") != provider.value:
        raise InvalidLink("for another provider")
    try:
        installation_id = uuid.UUID(str(payload.get("i")))
    except ValueError:
        raise InvalidLink("invalid") from None
    return LinkClaims(installation_id, provider, str(payload.get("j")))
