"""A request holds one pooled connection at most.

The app here has a pool of exactly one connection: a request that asked for a second one
while holding the first would wait on itself until the pool timeout and answer 500. So every
widget call (lookup, Proceed, 20 parallel clicks, cancel, a refused cancel) and a Zoho token
refresh in the middle of one must succeed here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.main import create_app
from app.models import ZohoConnection
from app.settings import Settings
from tests.conftest import ZOHO_ACCOUNTS
from tests.invoices.conftest import INVOICE, FakeApis, Ready

PAYMENTS = f"/api/v1/invoices/{INVOICE}/payments"


@pytest.fixture
async def app(settings: Settings, clean_db: AsyncEngine) -> AsyncIterator[FastAPI]:
    one = create_engine(str(clean_db.url), pool_size=1, max_overflow=0, pool_timeout=5)
    app = create_app(settings, engine=one)
    async with LifespanManager(app):
        yield app
    await one.dispose()


async def test_every_widget_call_needs_one_connection(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    # The Zoho token has expired: the first call refreshes it in the middle of the request.
    async with ready.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ZohoConnection).values(
                access_token_expires_at=datetime.now(UTC) - timedelta(minutes=1)
            )
        )
    refresh = apis.router.post(f"{ZOHO_ACCOUNTS}/oauth/v2/token").respond(
        200, json={"access_token": "zoho-access-2", "expires_in": 3600, "token_type": "Bearer"}
    )
    lookup = await client.get(f"/api/v1/invoices/{INVOICE}/mandates", headers=ready.headers)
    assert refresh.call_count == 1
    assert lookup.status_code == 200, lookup.text

    apis.create_delay = 0.05
    clicks = await asyncio.gather(
        *(
            client.post(PAYMENTS, headers=ready.headers, json={"mandate_id": "MD0001"})
            for _ in range(20)
        )
    )
    assert sorted(r.status_code for r in clicks) == [200] * 19 + [201]
    payment = clicks[0].json()["payment"]["id"]

    apis.payments[payment]["status"] = "submitted"
    refused = await client.post(f"/api/v1/payments/{payment}/cancel", headers=ready.headers)
    assert refused.status_code == 409, refused.text
    # The refusal still keeps the status GoCardless reported (in the same connection).
    async with ready.app.state.runtime.engine.connect() as connection:
        status = await connection.scalar(text("SELECT status FROM gc_payments"))
    assert status == "submitted"

    apis.payments[payment]["status"] = "pending_submission"
    cancelled = await client.post(f"/api/v1/payments/{payment}/cancel", headers=ready.headers)
    assert cancelled.status_code == 200, cancelled.text
