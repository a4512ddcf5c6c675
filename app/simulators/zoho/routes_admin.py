"""Admin API under /_sim/ (not part of Zoho): seed, reset, OAuth clients, direct tokens,
run-time settings, faults, counters, raw record access, schema surgery, outbox."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, Response

from app.simulators.zoho import pages
from app.simulators.zoho.deps import get_state
from app.simulators.zoho.faults import FaultRule
from app.simulators.zoho.jsonio import ZohoJSONResponse, loads
from app.simulators.zoho.records import create_record, render_record
from app.simulators.zoho.seed import SeedSummary, seed_org
from app.simulators.zoho.state import DEFAULT_CLIENT_ID, FULL_SCOPES, Org, ZohoSimState
from app.simulators.zoho.store import ModuleStore
from app.simulators.zoho.validation import RowError, validate_row

router = APIRouter(prefix="/_sim", tags=["simulator admin"])
StateDep = Annotated[ZohoSimState, Depends(get_state)]


class SeedRequest(BaseModel):
    company_name: str | None = None
    location: str | None = None
    namespace: str | None = None


class ClientRequest(BaseModel):
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str | None = None  # shown on the consent page


class TokenRequest(BaseModel):
    org_id: str
    user_id: str | None = None
    scope: str = ",".join(FULL_SCOPES)
    offline: bool = True
    client_id: str = DEFAULT_CLIENT_ID


class ConfigPatch(BaseModel):
    access_token_lifetime: int | None = Field(default=None, ge=1)
    code_lifetime: int | None = Field(default=None, ge=1)
    refresh_limit: int | None = Field(default=None, ge=1)
    concurrency_limit: int | None = Field(default=None, ge=0)
    widget_url: str | None = None


class FaultModel(BaseModel):
    target: Literal["crm", "accounts", "all"] = "crm"
    path_contains: str = ""
    latency_ms: int = Field(default=0, ge=0)
    status: int | None = Field(default=None, ge=400, le=599)
    hang_seconds: float = Field(default=0.0, ge=0)
    count: int | None = Field(default=None, ge=1)


class FieldPatch(BaseModel):
    unique: bool | None = None
    mandatory: bool | None = None


def _org(state: ZohoSimState, org_id: str) -> Org:
    org = state.org(org_id)
    if org is None:
        raise HTTPException(404, f"no org {org_id}")
    return org


def _store(org: Org, module: str) -> ModuleStore:
    store = org.store(module)
    if store is None:
        raise HTTPException(404, f"no module {module}")
    return store


def _summary(org: Org) -> dict[str, Any]:
    contacts, invoices = org.store("Contacts"), org.store("Invoices")
    return SeedSummary(
        org, list(contacts.records) if contacts else [], list(invoices.records) if invoices else []
    ).as_json()


@router.post("/seed", status_code=201)
async def seed(state: StateDep, body: SeedRequest | None = None) -> dict[str, Any]:
    request = body or SeedRequest()
    return seed_org(
        state,
        company_name=request.company_name,
        location=request.location,
        namespace=request.namespace,
    ).as_json()


@router.post("/reset", status_code=204)
async def reset(state: StateDep) -> None:
    state.reset()


@router.get("/orgs")
async def list_orgs(state: StateDep) -> list[dict[str, Any]]:
    return [_summary(org) for org in state.orgs.values()]


@router.post("/oauth/clients", status_code=201)
async def register_client(state: StateDep, body: ClientRequest) -> dict[str, str]:
    state.accounts.register_client(body.client_id, body.client_secret, body.redirect_uri, body.name)
    return {"client_id": body.client_id, "redirect_uri": body.redirect_uri}


@router.get("/oauth/clients")
async def list_clients(state: StateDep) -> list[dict[str, str]]:
    return [
        {"client_id": c.client_id, "redirect_uri": c.redirect_uri}
        for c in state.accounts.clients.values()
    ]


@router.post("/tokens", status_code=201)
async def create_token(state: StateDep, body: TokenRequest) -> Response:
    org = _org(state, body.org_id)
    user_id = body.user_id or org.admin_user_id
    if user_id not in org.users:
        raise HTTPException(404, f"no user {user_id}")
    if body.client_id not in state.accounts.clients:
        raise HTTPException(404, f"no client {body.client_id}")
    scopes = tuple(s for s in body.scope.split(",") if s)
    tokens = state.accounts.mint_direct(
        body.client_id, org.id, user_id, scopes, offline=body.offline
    )
    return ZohoJSONResponse({**tokens, "org_id": org.id, "user_id": user_id}, status_code=201)


@router.get("/config")
async def get_config(state: StateDep) -> dict[str, Any]:
    o = state.options
    return {
        "base_url": o.base_url,
        "namespace": o.namespace,
        "access_token_lifetime": o.access_token_lifetime,
        "code_lifetime": o.code_lifetime,
        "refresh_limit": o.refresh_limit,
        "refresh_window": o.refresh_window,
        "max_live_access_tokens": o.max_live_access_tokens,
        "concurrency_limit": o.concurrency_limit,
        "widget_url": o.widget_url,
    }


@router.patch("/config")
async def patch_config(state: StateDep, body: ConfigPatch) -> dict[str, Any]:
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(state.options, name, value)
    return await get_config(state)


@router.get("/faults")
async def list_faults(state: StateDep) -> list[dict[str, Any]]:
    return [rule.as_json() for rule in state.faults]


@router.post("/faults", status_code=201)
async def add_fault(state: StateDep, body: FaultModel) -> list[dict[str, Any]]:
    state.faults.append(FaultRule(**body.model_dump()))
    return await list_faults(state)


@router.delete("/faults", status_code=204)
async def clear_faults(state: StateDep) -> None:
    state.faults.clear()


@router.get("/counters")
async def counters(state: StateDep) -> dict[str, int]:
    return dict(sorted(state.counters.items()))


@router.get("/writes")
async def writes(state: StateDep, module: str | None = None) -> list[dict[str, Any]]:
    """Every record write received, oldest first, with the `trigger` it carried."""
    return [w.as_json() for w in state.writes if module is None or w.module == module]


@router.get("/orgs/{org_id}/modules/{module}/records")
async def read_records(
    state: StateDep,
    org_id: str,
    module: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> Response:
    org = _org(state, org_id)
    store = _store(org, module)
    ids = list(store.records)[offset : offset + limit]
    data = [render_record(org, store, store.records[i], None) for i in ids]
    return ZohoJSONResponse({"total": len(store), "offset": offset, "data": data})


@router.post("/orgs/{org_id}/modules/{module}/records")
async def add_records(state: StateDep, request: Request, org_id: str, module: str) -> Response:
    """Bulk load without the 100-row limit, read-only fields (Grand_Total...) allowed.
    Body `{"records": [...], "user_id"?: str}`, parsed without floats."""
    org = _org(state, org_id)
    store = _store(org, module)
    body = loads(await request.body())
    rows = body.get("records") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise HTTPException(422, "body must be {'records': [...]}")
    user_id = str(body.get("user_id") or org.admin_user_id)
    results: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        try:
            values = validate_row(org, store, row, index, inserting=True, trusted=True)
        except RowError as failure:
            results.append(failure.body)
            continue
        results.append({"id": create_record(org, store, values, user_id, state.now())["id"]})
    return ZohoJSONResponse({"data": results}, status_code=201)


@router.delete("/orgs/{org_id}/modules/{module}", status_code=204)
async def drop_module(state: StateDep, org_id: str, module: str) -> None:
    org = _org(state, org_id)
    org.stores.pop(_store(org, module).module.api_name.casefold())


@router.delete("/orgs/{org_id}/modules/{module}/fields/{field}", status_code=204)
async def drop_field(state: StateDep, org_id: str, module: str, field: str) -> None:
    store = _store(_org(state, org_id), module)
    if store.module.fields.pop(field, None) is None:
        raise HTTPException(404, f"no field {field}")
    store.reindex()


@router.patch("/orgs/{org_id}/modules/{module}/fields/{field}")
async def patch_field(
    state: StateDep, org_id: str, module: str, field: str, body: FieldPatch
) -> dict[str, Any]:
    store = _store(_org(state, org_id), module)
    found = store.module.field_named(field)
    if found is None:
        raise HTTPException(404, f"no field {field}")
    if body.unique is not None:
        found.unique = body.unique
    if body.mandatory is not None:
        found.mandatory = body.mandatory
    store.reindex()
    return {"api_name": found.api_name, "unique": found.unique, "mandatory": found.mandatory}


@router.get("/outbox", response_class=HTMLResponse)
async def outbox_page(state: StateDep) -> str:
    return pages.outbox(state.outbox)


@router.get("/outbox.json")
async def outbox_json(state: StateDep, to: str | None = None) -> list[dict[str, Any]]:
    mails = state.outbox
    if to is not None:
        mails = [m for m in mails if any(t["email"].casefold() == to.casefold() for t in m.to)]
    return [m.as_json() for m in mails]


@router.delete("/outbox", status_code=204)
async def clear_outbox(state: StateDep) -> None:
    state.outbox.clear()
