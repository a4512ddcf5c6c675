"""The two OAuth authorizations: start (signed link → provider) and callback (code → tokens).

State is signed and expiring, and names a database row that a callback consumes exactly once,
in its own committed transaction, before any provider call: a replayed state fails even if the
first callback is still running. Nothing is stored unless every check passes.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.gocardless.errors import GoCardlessError
from app.adapters.zoho.accounts import is_trusted_accounts_server
from app.adapters.zoho.errors import ZohoError
from app.crypto import InvalidSignedValue
from app.errors import AppError
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
from app.services.audience import forget_audience
from app.services.installations import ACTIVE_VERIFICATION_STATUS
from app.services.links import LINK_MAX_AGE_SECONDS, LINK_PURPOSE, Provider
from app.services.providers import StaticZohoToken, gocardless_client_for_token, zoho_crm

log = get_logger("app.services.authorization")

STATE_PURPOSE = "oauth-state"
STATE_TTL = timedelta(minutes=15)


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
    session: AsyncSession, runtime: Runtime, provider: Provider, link: str
) -> str:
    """Validate the signed link, record a single-use state, return the provider's URL."""
    try:
        payload = runtime.signer.unsign(LINK_PURPOSE, link, max_age_seconds=LINK_MAX_AGE_SECONDS)
    except InvalidSignedValue as exc:
        raise AuthorizationFailed(
            f"This authorization link is {exc.reason}. Open the extension settings for a new one."
        ) from None
    if payload.get("p") != provider.value:
        raise AuthorizationFailed("This authorization link is for another provider.")
    installation = await _active_installation(session, payload.get("i"))
    nonce = secrets.token_urlsafe(24)
    session.add(
        OAuthState(
            nonce=nonce,
            installation_id=installation.id,
            provider=provider.value,
            expires_at=datetime.now(UTC) + STATE_TTL,
        )
    )
    await session.flush()
    state = runtime.signer.sign(STATE_PURPOSE, {"n": nonce, "p": provider.value})
    if provider is Provider.zoho:
        return runtime.zoho_accounts.authorize_url(runtime.settings.zoho_accounts_url, state)
    return runtime.gocardless_connect.authorize_url(state)


async def consume_state(runtime: Runtime, provider: Provider, state: str | None) -> uuid.UUID:
    """Mark the state used (committed at once) and return its installation id."""
    if not state:
        raise AuthorizationFailed("The provider sent us back without a state; start again.")
    try:
        payload = runtime.signer.unsign(
            STATE_PURPOSE, state, max_age_seconds=int(STATE_TTL.total_seconds())
        )
    except InvalidSignedValue as exc:
        raise AuthorizationFailed(
            f"The authorization state is {exc.reason}; start again from the extension settings."
        ) from None
    if payload.get("p") != provider.value:
        raise AuthorizationFailed("The authorization state belongs to another provider.")
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        installation_id = await session.scalar(
            update(OAuthState)
            .where(
                OAuthState.nonce == str(payload.get("n")),
                OAuthState.provider == provider.value,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > now,
            )
            .values(used_at=now)
            .returning(OAuthState.installation_id)
        )
    if installation_id is None:
        raise AuthorizationFailed(
            "This authorization was already used or has expired; start again from the settings."
        )
    return uuid.UUID(str(installation_id))


async def complete_zoho(
    session: AsyncSession,
    runtime: Runtime,
    installation_id: uuid.UUID,
    *,
    code: str,
    accounts_server: str | None,
) -> AuthorizationResult:
    settings = runtime.settings
    server = (accounts_server or settings.zoho_accounts_url).rstrip("/")
    if not is_trusted_accounts_server(server, settings.zoho_accounts_url):
        # Our client secret goes with the code exchange; never to a host we don't know.
        log.warning("zoho.oauth.untrusted_accounts_server", accounts_server=server)
        raise AuthorizationFailed("Zoho sent us to an accounts server we do not recognise.")
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
    now = datetime.now(UTC)
    connection = await session.get(ZohoConnection, installation.id, with_for_update=True)
    if connection is None:
        connection = ZohoConnection(installation_id=installation.id)
        session.add(connection)
    previous_refresh = connection.refresh_token_enc
    connection.org_id = org.id
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
    taken = await session.scalar(
        select(GoCardlessConnection.installation_id).where(
            GoCardlessConnection.organisation_id == token.organisation_id,
            GoCardlessConnection.installation_id != installation.id,
        )
    )
    if taken is not None:
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
    now = datetime.now(UTC)
    connection = await session.get(GoCardlessConnection, installation.id, with_for_update=True)
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


async def _revoke_zoho_quietly(runtime: Runtime, accounts_server: str, refresh_token: str) -> None:
    try:
        await runtime.zoho_accounts.revoke(accounts_server, refresh_token)
    except ZohoError as exc:
        log.warning("zoho.oauth.revoke_failed", code=exc.code)
