"""The simulator as one FastAPI app: the REST API, OAuth Connect, hosted pages and `/_sim`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from app.api_docs import app_with_offline_docs
from app.simulators.common import FaultMiddleware
from app.simulators.common.favicon import favicon_router
from app.simulators.gocardless import (
    admin,
    api_billing,
    api_core,
    api_events,
    api_payments,
    flow_pages,
    oauth,
)
from app.simulators.gocardless.errors import GoCardlessError
from app.simulators.gocardless.http import (
    ApiHeadersMiddleware,
    fault_response,
    handle_gocardless_error,
    handle_http_exception,
)
from app.simulators.gocardless.state import SimulatorOptions, SimulatorState

# Faults hit the API and the token exchange, never our admin API or the pages a person uses.
FAULT_EXEMPT = ("/_sim", "/billing/static", "/oauth/authorize", "/favicon.ico")


def create_app(state: SimulatorState | None = None, **options: Any) -> FastAPI:
    """`options` are `SimulatorOptions` fields, for when no `state` is given."""
    if state is not None and options:
        raise TypeError("pass either a state or options, not both")
    sim = state or SimulatorState(SimulatorOptions(**options))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await sim.dispatcher.aclose()

    app = app_with_offline_docs(prefix="/_sim", title="GoCardless simulator", lifespan=lifespan)
    app.state.simulator = sim
    app.include_router(favicon_router("gocardless.ico"))
    for module in (api_core, api_payments, api_billing, api_events, oauth, flow_pages, admin):
        app.include_router(module.router, include_in_schema=module is admin)
    app.add_exception_handler(GoCardlessError, handle_gocardless_error)
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.add_middleware(
        FaultMiddleware, injector=sim.faults, respond=fault_response, exempt_prefixes=FAULT_EXEMPT
    )
    # Added last, so outermost: rate-limit headers land on fault answers too.
    app.add_middleware(ApiHeadersMiddleware, state=sim)
    return app
