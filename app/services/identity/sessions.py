"""Widget sessions: a signed, expiring token bound to one installation and one CRM user.

Issued by the sign-in (after Zoho proved who the user is), sent by the widget as
`Authorization: Bearer <session>`. Nothing about the user is taken from the browser: the
token says which installation and user, and the installation must still be active (so every
session dies at uninstall); membership is re-checked while it is used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.crypto import InvalidSignedValue
from app.runtime import Runtime

SESSION_PURPOSE = "widget-session"


@dataclass(frozen=True)
class SessionClaims:
    installation_id: uuid.UUID
    user_id: str
    # What sign-in proved, good until the re-check window has passed since `issued_at`.
    in_audience: bool
    admin: bool
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IssuedSession:
    token: str
    claims: SessionClaims


class InvalidSession(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_session(
    runtime: Runtime, installation_id: uuid.UUID, user_id: str, *, admin: bool
) -> IssuedSession:
    now = runtime.clock()
    expires_at = now + timedelta(seconds=runtime.settings.session_ttl_seconds)
    token = runtime.signer.seal(
        SESSION_PURPOSE,
        {"i": str(installation_id), "u": user_id, "a": admin, "iat": int(now.timestamp())},
        expires_at=expires_at,
    )
    claims = SessionClaims(
        installation_id=installation_id,
        user_id=user_id,
        in_audience=True,
        admin=admin,
        issued_at=now,
        expires_at=expires_at.replace(microsecond=0),
    )
    return IssuedSession(token, claims)


def read_session(runtime: Runtime, token: str) -> SessionClaims:
    try:
        payload = runtime.signer.open(SESSION_PURPOSE, token, now=runtime.clock())
    except InvalidSignedValue as exc:
        raise InvalidSession(f"the session is {exc.reason}; sign in again") from None
    try:
        return SessionClaims(
            installation_id=uuid.UUID(str(payload["i"])),
            user_id=str(payload["u"]),
            in_audience=True,
            admin=bool(payload["a"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidSession("the session is invalid; sign in again") from None
