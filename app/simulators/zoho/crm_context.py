"""What every CRM API call goes through first: the token, the org it is bound to, the
per-org concurrency limit, injected faults, and the OAuth scope check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.simulators.zoho.deps import get_state
from app.simulators.zoho.errors import (
    authentication_failure,
    invalid_module,
    invalid_token,
    scope_mismatch,
    too_many_requests,
)
from app.simulators.zoho.faults import apply_faults
from app.simulators.zoho.state import Org, ZohoSimState
from app.simulators.zoho.store import ModuleStore

_HEADER_PREFIX = "Zoho-oauthtoken "
_COVERS = {
    "ALL": frozenset({"ALL", "READ", "CREATE", "UPDATE", "DELETE", "WRITE"}),
    "WRITE": frozenset({"WRITE", "CREATE", "UPDATE", "DELETE"}),
}


def scope_allows(
    scopes: tuple[str, ...], family: str, resource: str | None, op: str, *, custom: bool = False
) -> bool:
    """Whether any granted `ZohoCRM.<family>[.<resource>].<OP>` scope covers this call."""
    for scope in scopes:
        parts = scope.split(".")
        if len(parts) < 3 or parts[0].lower() != "zohocrm" or parts[1].lower() != family:
            continue
        granted = parts[-1].upper()
        if op not in _COVERS.get(granted, frozenset({granted})):
            continue
        middle = [p.lower() for p in parts[2:-1]]
        if not middle or middle[0] in (resource, "all") or (custom and middle[0] == "custom"):
            return True
    return False


@dataclass
class CrmContext:
    state: ZohoSimState
    org: Org
    user_id: str
    scopes: tuple[str, ...]

    def require(self, family: str, resource: str | None, op: str) -> None:
        if not scope_allows(self.scopes, family, resource, op):
            raise scope_mismatch()

    def module_store(self, module_api_name: str, op: str) -> ModuleStore:
        store = self.org.store(module_api_name)
        if store is None:
            raise invalid_module()
        module = store.module
        if not scope_allows(self.scopes, "modules", module.scope_name(), op, custom=module.custom):
            raise scope_mismatch()
        return store


async def crm_context(
    request: Request, state: Annotated[ZohoSimState, Depends(get_state)]
) -> AsyncIterator[CrmContext]:
    header = request.headers.get("authorization", "")
    if not header.startswith(_HEADER_PREFIX):
        raise authentication_failure()
    token = state.accounts.resolve(header[len(_HEADER_PREFIX) :].strip())
    if token is None:
        raise invalid_token()
    org = state.orgs.get(token.grant.org_id)
    if org is None:
        raise invalid_token()
    limit = state.options.concurrency_limit
    if limit and state.in_flight[org.id] >= limit:
        state.counters["crm.rejected.concurrency"] += 1
        raise too_many_requests()
    state.counters["crm.requests"] += 1
    state.counters[f"crm.requests.{org.id}"] += 1
    state.in_flight[org.id] += 1
    peak = f"crm.in_flight.peak.{org.id}"
    state.counters[peak] = max(state.counters[peak], state.in_flight[org.id])
    try:
        await apply_faults(state.faults, "crm", request.url.path)
        yield CrmContext(state, org, token.grant.user_id, token.grant.scopes)
    finally:
        state.in_flight[org.id] -= 1


CrmDep = Annotated[CrmContext, Depends(crm_context)]
