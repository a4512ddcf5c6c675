"""Everything a process builds once: engine, pooled HTTP client, ciphers, provider clients.

Made in the app's lifespan (or by the worker/CLI), handed out by dependencies, closed on
shutdown; nothing here is built at import time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.gocardless.connect import GoCardlessConnect
from app.adapters.gocardless.pacing import PacerRegistry
from app.adapters.http import build_http_client
from app.adapters.zoho.accounts import DEFAULT_SCOPES, ZohoAccounts
from app.adapters.zoho.limits import LimiterRegistry
from app.crypto import Signer, TokenCipher
from app.db import SessionMaker, create_engine, create_sessionmaker, create_unpooled_engine
from app.metrics import Metrics
from app.migrate import head_revision
from app.services.budgets import shared_budgets
from app.services.caching import TTLCache
from app.services.locks import KeyedLocks
from app.services.ownership import Owner
from app.settings import Settings

if TYPE_CHECKING:
    from app.services.identity.audience import Membership


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    # The same pool, each statement committing on its own (the webhook receiver's one insert).
    autocommit: AsyncEngine
    sessionmaker: SessionMaker
    # Sessions on `autocommit`, for reads (under READ COMMITTED each statement sees what is
    # committed when it starts either way, and BEGIN and ROLLBACK were half the round trips
    # of a CRM batch's read) and for writes whose statements each stand alone (a CRM
    # batch's outcome, see crm.push._record).
    reader: SessionMaker
    # Sessions outside the pool, for writes a request needs committed on their own (see db.py).
    unpooled_sessionmaker: SessionMaker
    # This process as the holder of inbox claims and job leases (see services.ownership).
    owner: Owner
    http: httpx.AsyncClient
    cipher: TokenCipher
    signer: Signer
    metrics: Metrics
    zoho_accounts: ZohoAccounts
    gocardless_connect: GoCardlessConnect
    zoho_limiters: LimiterRegistry
    gocardless_pacers: PacerRegistry
    migrations_head: str | None
    # (installation id, user id) -> the user's last proven audience membership; how fresh an
    # entry must be is judged against `clock` (see services/identity/audience.py).
    audience_cache: TTLCache[tuple[str, str], Membership] = field(
        default_factory=lambda: TTLCache(ttl_seconds=300.0)
    )
    zoho_refresh_locks: KeyedLocks = field(default_factory=KeyedLocks)
    # Which installation an organisation's webhooks go to: at hundreds of webhooks a second the
    # lookup took a quarter of the receiver's time. Only found routes are kept, and briefly, so
    # a new connection is served at once and a removed one stops receiving within seconds.
    webhook_routes: TTLCache[str, uuid.UUID] = field(
        default_factory=lambda: TTLCache(ttl_seconds=5.0)
    )
    # The webhook receiver is busy: background lanes take one step at a time and rest between
    # them, in turn on `giving_way` (jobs/receiver_load.py).
    receiver_busy: bool = False
    giving_way: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set when the process shuts down: jobs stop at their next step (see jobs/worker.py).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # What "now" is for the rules that compare against provider dates (charge dates, setup
    # link expiry); tests freeze it.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # How provider clients wait between retries; tests make it instant.
    provider_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Things worth one log line an hour (e.g. events for an organisation we don't serve).
    log_once_cache: TTLCache[tuple[str, str], bool] = field(
        default_factory=lambda: TTLCache(ttl_seconds=3600.0)
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    metrics: Metrics | None = None,
    wait_for_flush: bool = True,
) -> AsyncIterator[Runtime]:
    """`wait_for_flush=False`: commits return before the WAL reaches the disk (the worker's,
    see app/cli.py)."""
    own_engine = engine is None
    engine = engine or create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        wait_for_flush=wait_for_flush,
    )
    unpooled = create_unpooled_engine(engine)
    http = build_http_client(transport=transport)
    base = settings.public_base_url
    budgets = shared_budgets(
        engine,
        rate_per_minute=settings.gocardless_rate_per_minute,
        zoho_concurrency=settings.zoho_concurrency,
    )
    # Made once: an options engine costs a tenth of a millisecond to build.
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    runtime = Runtime(
        settings=settings,
        engine=engine,
        autocommit=autocommit,
        sessionmaker=create_sessionmaker(engine),
        reader=create_sessionmaker(autocommit),
        unpooled_sessionmaker=create_sessionmaker(unpooled),
        owner=Owner(unpooled),
        http=http,
        cipher=TokenCipher(settings.encryption_keys),
        signer=Signer(settings.secret_key),
        metrics=metrics or Metrics(),
        zoho_accounts=ZohoAccounts(
            client_id=settings.zoho_client_id,
            client_secret=settings.zoho_client_secret,
            redirect_uri=f"{base}/oauth/zoho/callback",
            scopes=DEFAULT_SCOPES,
            transport=transport,
        ),
        gocardless_connect=GoCardlessConnect(
            connect_url=settings.gocardless_connect_base,
            client_id=settings.gocardless_client_id,
            client_secret=settings.gocardless_client_secret,
            redirect_uri=f"{base}/oauth/gocardless/callback",
            transport=transport,
        ),
        zoho_limiters=budgets.zoho,
        gocardless_pacers=budgets.gocardless,
        migrations_head=head_revision(settings.database_url),
    )
    try:
        yield runtime
    finally:
        await runtime.owner.close()
        await http.aclose()
        if unpooled is not engine:
            await unpooled.dispose()
        await budgets.aclose()
        if own_engine:
            await engine.dispose()
