"""GoCardless webhook bodies and their `Webhook-Signature` (hex HMAC-SHA256 of the raw body)."""

from __future__ import annotations

import hashlib
import hmac
import json

from app.simulators.common import IdGenerator, OutgoingWebhook, WebhookEndpoint
from app.simulators.gocardless.resources import Event

USER_AGENT = "gocardless-webhook-service/1.1"


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def render_webhook(
    origin: str, ids: IdGenerator, endpoint: WebhookEndpoint, events: list[Event]
) -> OutgoingWebhook:
    webhook_id = ids.next("WB")
    body = json.dumps(
        {"events": [event.to_json() for event in events], "meta": {"webhook_id": webhook_id}},
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Webhook-Signature": sign(body, endpoint.secret.get_secret_value()),
        "Origin": origin,
        "User-Agent": USER_AGENT,
    }
    return OutgoingWebhook(id=webhook_id, body=body, headers=headers)
