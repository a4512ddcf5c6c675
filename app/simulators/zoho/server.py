"""The simulator as an ASGI app (`create_app`) and as a blocking server (`run`)."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from app.api_docs import app_with_offline_docs
from app.simulators.common.favicon import favicon_router
from app.simulators.zoho.errors import ZohoApiError, render_api_error
from app.simulators.zoho.options import ZohoSimOptions
from app.simulators.zoho.routes_accounts import router as accounts_router
from app.simulators.zoho.routes_admin import router as admin_router
from app.simulators.zoho.routes_demo import router as demo_router
from app.simulators.zoho.routes_mail import router as mail_router
from app.simulators.zoho.routes_meta import router as meta_router
from app.simulators.zoho.routes_records import router as records_router
from app.simulators.zoho.seed import seed_org
from app.simulators.zoho.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FULL_SCOPES,
    ZohoSimState,
)


def create_app(state: ZohoSimState | None = None, **options: Any) -> FastAPI:
    """Build the app around `state`, or around a fresh state made from `options`
    (the fields of `ZohoSimOptions`; `seed=True` also seeds one org)."""
    seed = bool(options.pop("seed", False))
    if state is not None and options:
        raise ValueError("pass options or a ready state, not both")
    state = state or ZohoSimState(ZohoSimOptions(**options))
    if seed:
        seed_org(state)
    app = app_with_offline_docs(prefix="/_sim", title="Zoho CRM simulator")
    app.state.zoho_sim = state
    app.add_exception_handler(ZohoApiError, render_api_error)
    app.include_router(favicon_router("zoho.ico"))
    app.include_router(accounts_router)
    app.include_router(meta_router)
    app.include_router(mail_router)
    app.include_router(records_router)
    app.include_router(admin_router)
    # Last: its catch-all answers every CRM URL nothing above matched.
    app.include_router(demo_router)
    return app


def run(host: str = "127.0.0.1", port: int = 8002, *, seed: bool = True) -> None:
    """Serve until interrupted, after printing what a client needs to call the seeded org."""
    state = ZohoSimState(ZohoSimOptions(base_url=f"http://{host}:{port}"))
    app = create_app(state)
    if seed:
        org = seed_org(state).org
        tokens = state.accounts.mint_direct(
            DEFAULT_CLIENT_ID, org.id, org.admin_user_id, FULL_SCOPES, offline=True
        )
        lines = (
            f"Zoho simulator on {state.options.api_domain()}",
            f"  api_domain    {tokens['api_domain']}",
            f"  org id        {org.id} (zgid {org.zgid})",
            f"  admin user id {org.admin_user_id}",
            f"  access token  {tokens['access_token']}",
            f"  refresh token {tokens['refresh_token']}",
            f"  client        {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}",
            f"  admin API     {state.options.api_domain()}/_sim/docs",
        )
        print("\n".join(lines), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
