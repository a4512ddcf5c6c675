"""The two OAuth authorizations: start (signed link → provider) and callback (code → tokens).

The signed link is single use and expires in 15 minutes. The state is signed and expiring,
names a database row bound to the browser that started the flow (a cookie), and a callback
consumes that row exactly once, in its own committed transaction, before any provider call: a
replayed state fails even if the first callback is still running. Nothing is stored unless
every check passes; a GoCardless account other than the connected one is refused.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.zoho.accounts import is_trusted_accounts_server
from app.adapters.zoho.errors import ZohoError
from app.errors import AppError, GoCardlessAccountMismatch
from app.log import get_logger
from app.models import (
    ConnectionStatus,
    GoCardlessConnection,
    Installation,
    InstallationStatus,
    OAuthState,
    ZohoConnection,
)
from app.runtime import Runtime
from app.services.identity.audience import forget_audience
from app.services.identity.browser import browser_hash
from app.services.identity.links import InvalidLink, Provider, read_link
from app.services.identity.state import STATE_TTL, Flow, InvalidState, open_state, seal_state
from app.services.installations import ACTIVE_VERIFICATION_STATUS
from app.services.providers import StaticZohoToken, gocardless_client_for_token, zoho_crm

log = get_logger("app.services.authorization")


class AuthorizationFailed(AppError):
    """Shown to a person in a browser as an HTML page with status 400."""

    status, code, title = 400, "authorization_failed", "Authorization failed"


@dataclass(frozen=True)
class AuthorizationResult:
    provider: Provider
    installation_id: uuid.UUID
    summary: str
    warning: str | None = None


async def start_authorization(
    runtime: Runtime, provider: Provider, link: str, *, browser_id: str
) -> str:
    """Use up the single-use link, record a state bound to this browser, return the
    provider's consent URL. The state is committed at once, before the browser leaves."""
    try:
        claims = read_link(runtime, provider, link)
    except InvalidLink as exc:
        raise AuthorizationFailed(
            f"This authorization link is {exc.reason}. Open the extension settings "
            "(as a CRM administrator) for a new one."
        ) from None
    nonce = secrets.token_urlsafe(24)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            installation = await _active_installation(session, claims.installation_id)
            session.add(
                OAuthState(
                    nonce=nonce,
                    installation_id=installation.id,
                    provider=provider.value,
                    expires_at=runtime.clock() + STATE_TTL,
                    link_id=claims.link_id,
                    browser_hash=browser_hash(browser_id),
                )
            )
    except IntegrityError:
        raise AuthorizationFailed(
            "This authorization link was already used. Open the extension settings for a new one."
        ) from None
    state = seal_state(runtime, Flow.authorize, {"n": nonce, "p": provider.value})
    if provider is Provider.zoho:
        return runtime.zoho_accounts.authorize_url(runtime.settings.zoho_accounts_url, state)
    return runtime.gocardless_connect.authorize_url(state)


def read_state(runtime: Runtime, state: str | None) -> tuple[Flow, dict[str, Any]]:
    try:
        return open_state(runtime, state)
    except InvalidState as exc:
        if exc.reason == "missing":
            raise AuthorizationFailed(
                "The provider sent us back without a state; start again."
            ) from None
        raise AuthorizationFailed(
            f"The authorization state is {exc.reason}; start again from the extension settings."
        ) from None


async def consume_state(
    runtime: Runtime, provider: Provider, payload: dict[str, Any], browser_id: str | None
) -> uuid.UUID:
    """Mark the state used (committed at once) and return its installation id. Only the
    browser that started the flow can finish it."""
    if payload.get("p") != provider.value:
        raise AuthorizationFailed("The authorization state belongs to another provider.")
    if not browser_id:
        raise AuthorizationFailed(
            "This authorization was started in another browser (or its cookie was lost); "
            "start again from the extension settings."
        )
    now = runtime.clock()
    async with runtime.sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                update(OAuthState)
                .where(
                    OAuthState.nonce == str(payload.get("n")),
                    OAuthState.provider == provider.value,
                    OAuthState.browser_hash == browser_hash(browser_id),
                    OAuthState.used_at.is_(None),
                    OAuthState.expires_at > now,
                )
                .values(used_at=now)
                .returning(OAuthState.installation_id)
            )
        ).first()
    if row is None:
        raise AuthorizationFailed(
            "This authorization was already used, has expired, or was started in another "
            "browser; start again from the extension settings."
        )
    return uuid.UUID(str(row[0]))


def trusted_accounts_server(runtime: Runtime, accounts_server: str | None) -> str:
    """The accounts server to exchange the code at; our client secret goes with the code, so
    never to a host we don't know."""
    settings = runtime.settings
    server = (accounts_server or settings.zoho_accounts_url).rstrip("/")
    if not is_trusted_accounts_server(server, settings.zoho_accounts_url):
        log.warning("zoho.oauth.untrusted_accounts_server", accounts_server=server[:200])
        raise AuthorizationFailed("Zoho sent us to an accounts server we do not recognise.")
    return server


async def complete_zoho(
    session: AsyncSession,
    runtime: Runtime,
    installation_id: uuid.UUID,
    *,
    code: str,
    accounts_server: str | None,
) -> AuthorizationResult:
    server = trusted_accounts_server(runtime, accounts_server)
    installation = await _active_installation(session, installation_id)
    try:
        tokens = await runtime.zoho_accounts.exchange_code(server, code)
    except ZohoError as exc:
        raise AuthorizationFailed(f"Zoho refused the authorization ({exc.code}).") from None
    if tokens.refresh_token is None:
        raise AuthorizationFailed("Zoho did not grant offline access; authorize again.")
    access_token = tokens.access_token.get_secret_value()
    probe = ZohoConnection(installation_id=installation.id, org_id="", api_domain=tokens.api_domain)
    try:
        org = await zoho_crm(
            runtime, probe, tokens=StaticZohoToken(access_token), api_domain=tokens.api_domain
        ).get_org()
    except ZohoError as exc:
        await _revoke_zoho_quietly(runtime, server, tokens.refresh_token.get_secret_value())
        raise AuthorizationFailed(
            f"Could not read the Zoho CRM organisation ({exc.code})."
        ) from None
    if org.id != installation.zoho_org_id:
        await _revoke_zoho_quietly(runtime, server, tokens.refresh_token.get_secret_value())
        raise AuthorizationFailed(
            f"You authorized Zoho CRM organisation {org.id}, but this installation belongs to "
            f"organisation {installation.zoho_org_id}. Sign in to the right organisation."
        )
    now = runtime.clock()
    connection = await session.get(
        ZohoConnection, installation.id, with_for_update=True, populate_existing=True
    )
    if connection is None:
        connection = ZohoConnection(installation_id=installation.id)
        session.add(connection)
    previous_refresh = connection.refresh_token_enc
    connection.org_id = org.id
    connection.home_currency = org.iso_code
    connection.accounts_server = server
    connection.api_domain = tokens.api_domain
    connection.refresh_token_enc = runtime.cipher.encrypt(tokens.refresh_token.get_secret_value())
    connection.access_token_enc = runtime.cipher.encrypt(access_token)
    connection.access_token_expires_at = now + timedelta(seconds=tokens.expires_in)
    connection.status = ConnectionStatus.connected
    connection.status_reason = None
    connection.authorized_at = now
    await session.flush()
    forget_audience(runtime, installation.id)
    if previous_refresh:
        # Zoho keeps only 20 refresh tokens per user; don't leave the replaced one alive.
        await _revoke_zoho_quietly(runtime, server, runtime.cipher.decrypt(previous_refresh))
    log.info("zoho.oauth.connected", installation_id=str(installation.id), org_id=org.id)
    return AuthorizationResult(
        Provider.zoho, installation.id, f"Zoho CRM organisation {org.id} is connected."
    )


async def complete_gocardless(
    session: AsyncSession, runtime: Runtime, installation_id: uuid.UUID, *, code: str
) -> AuthorizationResult:
    installation = await _active_installation(session, installation_id)
    try:
        token = await runtime.gocardless_connect.exchange_code(code)
    except GoCardlessError as exc:
        raise AuthorizationFailed(f"GoCardless refused the authorization: {exc.message}") from None
    access_token = token.access_token.get_secret_value()
    connection = await session.get(
        GoCardlessConnection, installation.id, with_for_update=True, populate_existing=True
    )
    if connection is not None and connection.organisation_id != token.organisation_id:
        # The account is pinned: swapping it would send new mandates to another creditor and
        # orphan the old one's payments. Switching is DELETE /api/v1/installation/gocardless.
        await _revoke_gocardless_quietly(runtime, access_token)
        log.warning(
            "gocardless.oauth.account_mismatch",
            installation_id=str(installation.id),
            connected=connection.organisation_id,
            offered=token.organisation_id,
        )
        raise GoCardlessAccountMismatch(
            f"This installation is connected to GoCardless account {connection.organisation_id}"
            f", but you authorized account {token.organisation_id}; nothing was changed. To "
            "switch accounts, an administrator first disconnects GoCardless in the settings."
        )
    taken = await session.scalar(
        select(GoCardlessConnection.installation_id).where(
            GoCardlessConnection.organisation_id == token.organisation_id,
            GoCardlessConnection.installation_id != installation.id,
        )
    )
    if taken is not None:
        await _revoke_gocardless_quietly(runtime, access_token)
        raise AuthorizationFailed(
            f"GoCardless account {token.organisation_id} is already connected to another "
            "Zoho CRM organisation."
        )
    try:
        creditors = await gocardless_client_for_token(
            runtime, access_token, organisation_id=token.organisation_id
        ).list_creditors()
    except GoCardlessError as exc:
        raise AuthorizationFailed(
            f"Could not read the GoCardless account's status: {exc.message}"
        ) from None
    creditor = creditors[0] if creditors else None
    now = runtime.clock()
    if connection is None:
        connection = GoCardlessConnection(installation_id=installation.id)
        session.add(connection)
    connection.organisation_id = token.organisation_id
    connection.environment = runtime.settings.gocardless_environment.value
    connection.access_token_enc = runtime.cipher.encrypt(access_token)
    connection.email = token.email
    connection.creditor_id = creditor.id if creditor else None
    connection.creditor_name = creditor.name if creditor else None
    connection.verification_status = creditor.verification_status if creditor else None
    connection.status = ConnectionStatus.connected
    connection.status_reason = None
    connection.authorized_at = now
    await session.flush()
    log.info(
        "gocardless.oauth.connected",
        installation_id=str(installation.id),
        organisation_id=token.organisation_id,
        verification_status=connection.verification_status,
    )
    warning = None
    if connection.verification_status != ACTIVE_VERIFICATION_STATUS:
        warning = inactive_reason(connection.verification_status)
    return AuthorizationResult(
        Provider.gocardless,
        installation.id,
        f"GoCardless account {token.organisation_id} is connected.",
        warning,
    )


def inactive_reason(verification_status: str | None) -> str:
    if verification_status == "action_required":
        return (
            "The GoCardless account is not verified yet: GoCardless needs more information. "
            "Complete verification in the GoCardless dashboard, then sync."
        )
    if verification_status == "in_review":
        return "GoCardless is reviewing the account; syncing starts once it is verified."
    return "The GoCardless account has no verified creditor yet."


async def _active_installation(session: AsyncSession, installation_id: object) -> Installation:
    try:
        key = (
            installation_id
            if isinstance(installation_id, uuid.UUID)
            else uuid.UUID(str(installation_id))
        )
    except ValueError:
        raise AuthorizationFailed("This authorization link is invalid.") from None
    installation = await session.get(Installation, key)
    if installation is None or installation.status != InstallationStatus.active:
        raise AuthorizationFailed("This installation no longer exists (the extension was removed).")
    return installation


async def _revoke_gocardless_quietly(runtime: Runtime, access_token: str) -> None:
    try:
        await runtime.gocardless_connect.revoke(access_token)
    except GoCardlessError as exc:
        log.warning("gocardless.oauth.revoke_failed", error=exc.message)


async def _revoke_zoho_quietly(runtime: Runtime, accounts_server: str, refresh_token: str) -> None:
    try:
        await runtime.zoho_accounts.revoke(accounts_server, refresh_token)
    except ZohoError as exc:
        log.warning("zoho.oauth.revoke_failed", code=exc.code)
