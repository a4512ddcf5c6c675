"""GoCardless webhooks: signature check on the raw body, then events parsed from it.

The app's webhook endpoint receives events for every connected merchant; each event names
its merchant in `links.organisation`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.adapters.gocardless.models import Event, EventLinks

SIGNATURE_HEADER = "Webhook-Signature"


class MalformedWebhook(Exception):
    """The body is not a GoCardless webhook (`{"events": [...], "meta": {...}}`)."""


@dataclass(frozen=True)
class WebhookBatch:
    events: list[Event]
    # For debugging only: deduplicate on event ids, which stay the same across redeliveries.
    webhook_id: str | None


# What the inbox stores in text columns must fit them: PostgreSQL refuses NUL in text and
# the columns are bounded, so a signed but odd body is a 400, never a failed INSERT. Looser
# than GoCardless's own ids (upper-case base 36 after a prefix), which may change.
_Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]


class _WebhookEventLinks(EventLinks):
    organisation: _Id | None = None
    creditor: _Id | None = None
    customer: _Id | None = None
    mandate: _Id | None = None
    new_mandate: _Id | None = None
    payment: _Id | None = None
    refund: _Id | None = None
    billing_request: _Id | None = None
    billing_request_flow: _Id | None = None
    mandate_request_mandate: _Id | None = None
    parent_event: _Id | None = None


class _WebhookEvent(Event):
    id: _Id | None = None
    # Strict: a number is not a time here (lax parsing would read 0 as 1970).
    created_at: datetime | None = Field(default=None, strict=True)
    resource_type: _Name
    action: _Name
    links: _WebhookEventLinks = Field(default_factory=_WebhookEventLinks)


class _WebhookMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")
    webhook_id: str | None = None


class _WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    events: list[_WebhookEvent]
    meta: _WebhookMeta = Field(default_factory=_WebhookMeta)


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` is the hex HMAC-SHA256 of the exact bytes received."""
    # An empty secret would make the signature something anyone can compute.
    if not signature or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def parse_webhook(body: bytes) -> WebhookBatch:
    try:
        parsed = _WebhookBody.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise MalformedWebhook(f"not a GoCardless webhook: {where}: {first['msg']}") from None
    return WebhookBatch(events=list(parsed.events), webhook_id=parsed.meta.webhook_id)
