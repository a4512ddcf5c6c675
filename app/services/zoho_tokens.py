"""Zoho access tokens for one installation: cached, refreshed before expiry, one refresh at a time.

Zoho lets a refresh token mint only ~10 access tokens per 10 minutes and keeps only the newest
10-15 alive, so concurrent requests (or worker processes) must never refresh side by side: an
asyncio lock serialises this process and `SELECT … FOR UPDATE` on the connection row serialises
processes; whoever waits re-reads the row and usually finds a fresh token already there.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.adapters.zoho.errors import ZohoGrantRevoked
from app.errors import ZohoNotAuthorized
from app.log import get_logger
from app.models import ConnectionStatus, ZohoConnection
from app.runtime import Runtime

log = get_logger("app.services.zoho_tokens")

# Refresh this long before Zoho's expiry so a token never dies mid-request.
REFRESH_MARGIN = timedelta(minutes=5)


class ZohoTokenStore:
    """The `ZohoTokenSource` the CRM adapter asks for tokens."""

    def __init__(
        self,
        runtime: Runtime,
        installation_id: uuid.UUID,
        connection: ZohoConnection | None = None,
    ) -> None:
        self._runtime = runtime
        self._installation_id = installation_id
        self._cached: tuple[str, datetime] | None = None
        # The row the caller already read: its token serves without another connection.
        if connection is not None and connection.status == ConnectionStatus.connected:
            self._usable_token(connection, datetime.now(UTC))

    async def access_token(self) -> str:
        return self._fresh_cached(stale=None) or await self._refresh(stale=None)

    async def refreshed_access_token(self, stale: str) -> str:
        return await self._refresh(stale=stale)

    def _fresh_cached(self, *, stale: str | None) -> str | None:
        if self._cached is None or self._cached[0] == stale:
            return None
        token, expires_at = self._cached
        return token if expires_at - REFRESH_MARGIN > datetime.now(UTC) else None

    async def _refresh(self, *, stale: str | None) -> str:
        runtime = self._runtime
        # One look at a time per installation in this process, on a short-lived connection
        # outside the request pool (see db.create_unpooled_engine): a request holding a
        # pooled connection never waits for a second one, and a burst of requests opens one
        # connection at a time. It happens about once an hour per org.
        async with runtime.zoho_refresh_locks.hold(self._installation_id):
            if (cached := self._fresh_cached(stale=stale)) is not None:
                return cached
            return await self._refresh_locked(stale=stale)

    async def _refresh_locked(self, *, stale: str | None) -> str:
        runtime = self._runtime
        async with runtime.unpooled_sessionmaker() as session, session.begin():
            connection = self._connected(
                await session.scalar(
                    select(ZohoConnection)
                    .where(ZohoConnection.installation_id == self._installation_id)
                    .with_for_update()
                )
            )
            now = datetime.now(UTC)
            current = self._usable_token(connection, now)
            if current is not None and current != stale:
                # Someone refreshed while we waited for the lock.
                return current
            refresh_token = runtime.cipher.decrypt(connection.refresh_token_enc)
            try:
                tokens = await runtime.zoho_accounts.refresh(
                    connection.accounts_server, refresh_token
                )
            except ZohoGrantRevoked:
                revoked = True
            except Exception:
                runtime.metrics.zoho_token_refreshes.labels("error").inc()
                raise
            else:
                revoked = False
            if revoked:
                # Stored (committed as the block ends) so every later call fails fast.
                connection.status = ConnectionStatus.needs_reauthorization
                connection.status_reason = "Zoho refused the refresh token (revoked or evicted)"
                connection.access_token_enc = None
                runtime.metrics.zoho_token_refreshes.labels("revoked").inc()
                log.warning(
                    "zoho.token.refresh_revoked", installation_id=str(self._installation_id)
                )
                access_token = ""
            else:
                access_token = tokens.access_token.get_secret_value()
                expires_at = now + timedelta(seconds=tokens.expires_in)
                # Zoho's refresh tokens never rotate: the answer carries none, keep ours.
                connection.access_token_enc = runtime.cipher.encrypt(access_token)
                connection.access_token_expires_at = expires_at
                if tokens.api_domain:
                    connection.api_domain = tokens.api_domain
                runtime.metrics.zoho_token_refreshes.labels("ok").inc()
                log.info("zoho.token.refreshed", installation_id=str(self._installation_id))
        if revoked:
            raise self._not_authorized()
        self._cached = (access_token, expires_at)
        return access_token

    def _usable_token(self, connection: ZohoConnection, now: datetime) -> str | None:
        expires_at = connection.access_token_expires_at
        if connection.access_token_enc is None or expires_at is None:
            return None
        if expires_at - REFRESH_MARGIN <= now:
            return None
        token = self._runtime.cipher.decrypt(connection.access_token_enc)
        self._cached = (token, expires_at)
        return token

    def _connected(self, connection: ZohoConnection | None) -> ZohoConnection:
        if connection is None or connection.status != ConnectionStatus.connected:
            raise self._not_authorized()
        return connection

    def _not_authorized(self) -> ZohoNotAuthorized:
        return ZohoNotAuthorized(
            "Zoho CRM access is missing or was revoked; authorize Zoho CRM again"
        )
