"""Processes for the cross-process budget test: each simulator on a port of its own, and
"workers" that call both providers through the service's own clients as fast as they may.

    python -m tests.budgets.processes gocardless PORT RATE_PER_MINUTE
    python -m tests.budgets.processes zoho PORT CONCURRENCY
    python -m tests.budgets.processes worker SECONDS   (settings from the environment)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

import uvicorn

READY = "READY "


def announce(details: dict[str, str]) -> None:
    print(READY + json.dumps(details), flush=True)


def serve_gocardless(port: int, rate_per_minute: int) -> None:
    from app.simulators.gocardless import SimulatorOptions, SimulatorState, create_app

    state = SimulatorState(SimulatorOptions(seed=1, rate_limit_per_minute=rate_per_minute))
    org = state.create_organisation(name="Budget Merchant Ltd")
    announce({"organisation_id": org.id, "access_token": state.issue_token(org.id).token})
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


def serve_zoho(port: int, concurrency: int) -> None:
    from app.simulators.zoho import ZohoSimOptions, ZohoSimState, create_app
    from app.simulators.zoho.seed import seed_org
    from app.simulators.zoho.state import FULL_SCOPES

    base = f"http://127.0.0.1:{port}"
    state = ZohoSimState(ZohoSimOptions(base_url=base, concurrency_limit=concurrency))
    org = seed_org(state).org
    state.accounts.register_client("budget", "budget-secret", "http://127.0.0.1/cb")
    tokens = state.accounts.mint_direct(
        "budget", org.id, org.admin_user_id, FULL_SCOPES, offline=False
    )
    announce({"org_id": org.id, "access_token": tokens["access_token"]})
    uvicorn.run(create_app(state), host="127.0.0.1", port=port, log_level="warning")


async def work(seconds: float) -> None:
    """Eight tasks per provider call it until the time is up; prints how many calls it made."""
    from app.models import ZohoConnection
    from app.runtime import open_runtime
    from app.services.providers import StaticZohoToken, gocardless_client_for_token, zoho_crm
    from app.settings import Settings

    settings = Settings()
    calls = {"gocardless": 0, "zoho": 0}
    async with open_runtime(settings) as runtime:
        gc = gocardless_client_for_token(
            runtime, os.environ["BUDGET_GC_TOKEN"], organisation_id=os.environ["BUDGET_GC_ORG"]
        )
        connection = ZohoConnection(
            installation_id=uuid.uuid4(),
            org_id=os.environ["BUDGET_ZOHO_ORG"],
            api_domain=settings.zoho_api_url,
        )
        crm = zoho_crm(runtime, connection, tokens=StaticZohoToken(os.environ["BUDGET_ZOHO_TOKEN"]))
        deadline = time.monotonic() + seconds

        async def call_gocardless() -> None:
            while time.monotonic() < deadline:
                await gc.list_creditors()
                calls["gocardless"] += 1

        async def call_zoho() -> None:
            while time.monotonic() < deadline:
                await crm.get_org()
                calls["zoho"] += 1

        await asyncio.gather(
            *(call_gocardless() for _ in range(8)), *(call_zoho() for _ in range(8))
        )
    print(json.dumps(calls), flush=True)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "gocardless":
        serve_gocardless(int(args[0]), int(args[1]))
    elif role == "zoho":
        serve_zoho(int(args[0]), int(args[1]))
    else:
        asyncio.run(work(float(args[0])))
