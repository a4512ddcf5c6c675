"""Request-scoped access to the simulator state, shared by every router."""

from __future__ import annotations

from starlette.requests import Request

from app.simulators.zoho.state import ZohoSimState


async def get_state(request: Request) -> ZohoSimState:
    state: ZohoSimState = request.app.state.zoho_sim
    return state
