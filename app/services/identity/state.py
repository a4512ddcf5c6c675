"""The `state` of our OAuth redirects: signed, expiring, naming which flow it belongs to.

Both Zoho flows (an installation's authorization and a widget user's sign-in) come back to the
one redirect URI registered with Zoho, `/oauth/zoho/callback`; the state says which it is.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from app.crypto import InvalidSignedValue
from app.runtime import Runtime

STATE_PURPOSE = "oauth-state"
STATE_TTL = timedelta(minutes=15)


class Flow(StrEnum):
    authorize = "authorize"
    signin = "signin"


class InvalidState(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def seal_state(runtime: Runtime, flow: Flow, payload: dict[str, Any]) -> str:
    return runtime.signer.seal(
        STATE_PURPOSE, {**payload, "f": flow.value}, expires_at=runtime.clock() + STATE_TTL
    )


def open_state(runtime: Runtime, state: str | None) -> tuple[Flow, dict[str, Any]]:
    if not state:
        raise InvalidState("missing")
    try:
        payload = runtime.signer.open(STATE_PURPOSE, state, now=runtime.clock())
    except InvalidSignedValue as exc:
        raise InvalidState(exc.reason) from None
    try:
        return Flow(str(payload.get("f"))), payload
    except ValueError:
        raise InvalidState("invalid") from None
