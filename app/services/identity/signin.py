"""Widget sign-in: Zoho proves who the CRM user is, and we hand the widget a session.

`start_signin` sends the browser to Zoho's consent with identity scopes only
(`ZohoCRM.users.READ`, `ZohoCRM.org.READ`, `access_type=online`). `complete_signin` exchanges
the code, reads the current user and the org with the user's own token, drops that token, and
issues a session when the org is installed and the user is in its audience.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.names import ZohoNames
from app.errors import NotInstalled, UserNotInAudience
from app.log import get_logger
from app.models import Installation, InstallationStatus
from app.runtime import Runtime
from app.services.authorization import AuthorizationFailed, trusted_accounts_server
from app.services.identity.audience import membership_of, remember_membership
from app.services.identity.browser import browser_hash, same_browser
from app.services.identity.callers import NOT_IN_AUDIENCE
from app.services.identity.sessions import IssuedSession, issue_session
from app.services.identity.state import Flow, seal_state
from app.services.providers import StaticZohoToken

log = get_logger("app.services.identity.signin")

SIGNIN_SCOPES = ("ZohoCRM.users.READ", "ZohoCRM.org.READ")
ZOHO_ORG_ID = re.compile(r"^[0-9]{1,32}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")


@dataclass(frozen=True)
class SignedIn:
    session: IssuedSession
    user_name: str | None
    # Where the page may post the session (the widget's window), if that origin is allowed.
    post_to_origin: str | None

    def session_json(self) -> dict[str, Any]:
        claims = self.session.claims
        return {
            "token": self.session.token,
            "expires_at": claims.expires_at.isoformat().replace("+00:00", "Z"),
            "user_id": claims.user_id,
            "installation_id": str(claims.installation_id),
        }


def widget_origins(runtime: Runtime) -> set[str]:
    """Pages that may receive a session: ours (the widget under /widget) and the origins
    allowed to call the API from a browser (a widget uploaded to Zoho)."""
    ours = urlsplit(runtime.settings.public_base_url)
    return {f"{ours.scheme}://{ours.netloc}", *runtime.settings.cors_allowed_origins}


def start_signin(runtime: Runtime, *, org_id: str, origin: str | None, browser_id: str) -> str:
    if not ZOHO_ORG_ID.fullmatch(org_id):
        raise AuthorizationFailed("The sign-in link names no valid Zoho CRM organisation.")
    if origin is not None and not _ORIGIN.fullmatch(origin):
        raise AuthorizationFailed("The sign-in link names an invalid widget origin.")
    state = seal_state(
        runtime, Flow.signin, {"o": org_id, "w": origin, "b": browser_hash(browser_id)}
    )
    return runtime.zoho_accounts.authorize_url(
        runtime.settings.zoho_accounts_url, state, scopes=SIGNIN_SCOPES, offline=False
    )


async def complete_signin(
    session: AsyncSession,
    runtime: Runtime,
    state: dict[str, Any],
    *,
    code: str,
    accounts_server: str | None,
    browser_id: str | None,
) -> SignedIn:
    if not same_browser(str(state.get("b") or ""), browser_id):
        raise AuthorizationFailed(
            "This sign-in was started in another browser (or its cookie was lost); "
            "sign in again from the widget."
        )
    server = trusted_accounts_server(runtime, accounts_server)
    try:
        tokens = await runtime.zoho_accounts.exchange_code(server, code)
    except ZohoError as exc:
        raise AuthorizationFailed(f"Zoho refused the sign-in ({exc.code}).") from None
    crm = ZohoCRM(
        runtime.http,
        api_base=runtime.settings.zoho_api_url or tokens.api_domain,
        tokens=StaticZohoToken(tokens.access_token.get_secret_value()),
        names=ZohoNames(runtime.settings.zoho_namespace),
        sleep=runtime.provider_sleep,
    )
    try:
        user = await crm.current_user()
        org = await crm.get_org()
    except ZohoError as exc:
        raise AuthorizationFailed(f"Zoho did not say who you are ({exc.code}).") from None
    # The user's token is not kept: it only proved who they are.
    del tokens, crm
    if org.id != state.get("o"):
        raise AuthorizationFailed(
            f"You signed in to Zoho CRM organisation {org.id}, but the widget is for "
            f"organisation {state.get('o')}. Sign in to the right organisation."
        )
    installation = await session.scalar(
        select(Installation).where(
            Installation.zoho_org_id == org.id, Installation.status == InstallationStatus.active
        )
    )
    if installation is None:
        raise NotInstalled(
            f"GoCardless for Zoho CRM is not installed for Zoho CRM organisation {org.id}."
        )
    now: datetime = runtime.clock()
    membership = membership_of(installation, user, now)
    if not membership.in_audience:
        log.info("identity.signin.refused", installation_id=str(installation.id), user_id=user.id)
        raise UserNotInAudience(NOT_IN_AUDIENCE)
    remember_membership(runtime, installation.id, user.id, membership)
    issued = issue_session(runtime, installation.id, user.id, admin=membership.admin)
    log.info(
        "identity.signin.done",
        installation_id=str(installation.id),
        user_id=user.id,
        admin=membership.admin,
    )
    origin = state.get("w")
    allowed = origin if isinstance(origin, str) and origin in widget_origins(runtime) else None
    return SignedIn(issued, user.full_name, allowed)


__all__ = ["SIGNIN_SCOPES", "SignedIn", "complete_signin", "start_signin", "widget_origins"]
