"""Records API: list, get, search, insert, update, upsert."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.simulators.zoho.criteria import Condition, Group, candidate_ids, matches, parse_criteria
from app.simulators.zoho.crm_context import CrmContext, CrmDep
from app.simulators.zoho.errors import (
    ZohoApiError,
    api_error,
    envelope,
    invalid_param,
    required_param_missing,
)
from app.simulators.zoho.jsonio import ZohoJSONResponse, loads
from app.simulators.zoho.listing import (
    DISCRETE_LIMIT,
    MAX_PER_PAGE,
    fetch_page,
    page_request,
    parse_int,
)
from app.simulators.zoho.records import render_record
from app.simulators.zoho.state import WriteLog
from app.simulators.zoho.store import ModuleStore, Record
from app.simulators.zoho.writes import (
    Operation,
    WriteContext,
    check_triggers,
    duplicate_check_order,
    read_rows,
    run_write,
)

router = APIRouter(prefix="/crm/v8")
MAX_FIELDS = 50


def _fields(store: ModuleStore, raw: str | None, *, required: bool) -> list[str] | None:
    if raw is None or not raw.strip():
        if required:
            raise required_param_missing("fields")
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if len(names) > MAX_FIELDS:
        raise api_error(
            400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": MAX_FIELDS, "param_name": "fields"}
        )
    for name in names:
        if name != "id" and store.module.field_named(name) is None:
            raise invalid_param("fields", api_name=name)
    return names


def _since(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        raise api_error(
            400, "INVALID_DATA", "invalid data", {"api_name": "If-Modified-Since"}
        ) from None


def _records_answer(
    ctx: CrmContext,
    store: ModuleStore,
    records: list[Record],
    fields: list[str] | None,
    info: dict[str, Any],
) -> Response:
    if not records:
        return Response(status_code=204)
    data = [render_record(ctx.org, store, r, fields) for r in records]
    return ZohoJSONResponse({"data": data, "info": info})


@router.get("/{module}")
async def list_records(ctx: CrmDep, request: Request, module: str) -> Response:
    store = ctx.module_store(module, "READ")
    query = dict(request.query_params)
    fields = _fields(store, query.get("fields"), required=True)
    req = page_request(query, ",".join(fields or []))
    req.modified_since = _since(request.headers.get("if-modified-since"))
    records, info = fetch_page(ctx.state, ctx.org.id, store, req)
    if not records and req.modified_since is not None:
        return Response(status_code=304)
    return _records_answer(ctx, store, records, fields, info)


def _search_tree(store: ModuleStore, query: dict[str, str]) -> Condition | Group:
    if "criteria" in query:
        return parse_criteria(query["criteria"], store.module)
    for param, types in (("email", {"email"}), ("phone", {"phone"})):
        if param in query:
            names = [f.api_name for f in store.module.fields.values() if f.data_type in types]
            return Group([[Condition(name, "equals", [query[param]])] for name in names])
    if "word" in query:
        names = [
            f.api_name
            for f in store.module.fields.values()
            if f.data_type in ("text", "textarea", "email", "phone")
        ]
        return Group([[Condition(name, "starts_with", [query["word"]])] for name in names])
    raise required_param_missing("criteria")


@router.get("/{module}/search")
async def search_records(ctx: CrmDep, request: Request, module: str) -> Response:
    store = ctx.module_store(module, "READ")
    query = dict(request.query_params)
    fields = _fields(store, query.get("fields"), required=False)
    tree = _search_tree(store, query)
    per_page = parse_int("per_page", query.get("per_page"), MAX_PER_PAGE, MAX_PER_PAGE)
    page = parse_int("page", query.get("page"), 1)
    if page * per_page > DISCRETE_LIMIT:
        raise api_error(
            400, "LIMIT_REACHED", "search results exceed the limit", {"limit": DISCRETE_LIMIT}
        )
    narrowed = candidate_ids(tree, store)
    pool = sorted(narrowed, key=int) if narrowed is not None else store.ids_ascending()
    hits = [store.records[i] for i in pool if matches(tree, store, store.records[i])]
    start = (page - 1) * per_page
    chunk = hits[start : start + per_page]
    info = {
        "per_page": per_page,
        "count": len(chunk),
        "page": page,
        "more_records": start + per_page < min(len(hits), DISCRETE_LIMIT),
    }
    return _records_answer(ctx, store, chunk, fields, info)


@router.get("/{module}/{record_id}")
async def get_record(ctx: CrmDep, request: Request, module: str, record_id: str) -> Response:
    store = ctx.module_store(module, "READ")
    if not record_id.isdigit():
        raise api_error(
            400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 1}
        )
    fields = _fields(store, request.query_params.get("fields"), required=False)
    record = store.records.get(record_id)
    if record is None:
        return Response(status_code=204)
    return ZohoJSONResponse({"data": [render_record(ctx.org, store, record, fields)]})


@router.get("/{module}/{record_id}/{related}")
async def related_records(
    ctx: CrmDep, request: Request, module: str, record_id: str, related: str
) -> Response:
    """A record's related list; the simulator keeps one, Notes."""
    parent = ctx.module_store(module, "READ")
    if related.casefold() != "notes":
        raise api_error(
            400,
            "INVALID_DATA",
            "the related list name given seems to be invalid",
            {"api_name": related},
        )
    notes = ctx.module_store("Notes", "READ")
    fields = _fields(notes, request.query_params.get("fields"), required=True)
    found = [
        notes.records[i]
        for i in notes.find("Parent_Id", record_id)
        if notes.records[i].get("$se_module") == parent.module.api_name
    ]
    info = {"per_page": MAX_PER_PAGE, "count": len(found), "page": 1, "more_records": False}
    return _records_answer(ctx, notes, found[:MAX_PER_PAGE], fields, info)


async def _write(
    ctx: CrmContext,
    request: Request,
    module: str,
    operation: Operation,
    path_id: str | None = None,
) -> Response:
    op = {"insert": "CREATE", "update": "UPDATE", "upsert": "CREATE"}[operation]
    store = ctx.module_store(module, op)
    try:
        body = loads(await request.body())
    except ValueError:
        raise ZohoApiError(
            400, envelope("INVALID_DATA", "invalid data", {"expected_data_type": "jsonobject"})
        ) from None
    rows = read_rows(body)
    trigger = check_triggers(body, ctx.state.counters)
    order = duplicate_check_order(store, body) if operation == "upsert" else None
    write_ctx = WriteContext(ctx.org, store, ctx.user_id, ctx.state.now(), ctx.state.counters)
    status, answer = run_write(write_ctx, operation, rows, order=order, path_id=path_id)
    ctx.state.writes.append(
        WriteLog(ctx.org.id, store.module.api_name, operation, trigger, len(rows))
    )
    return ZohoJSONResponse(answer, status_code=status)


@router.post("/{module}")
async def insert_records(ctx: CrmDep, request: Request, module: str) -> Response:
    return await _write(ctx, request, module, "insert")


@router.put("/{module}")
async def update_records(ctx: CrmDep, request: Request, module: str) -> Response:
    return await _write(ctx, request, module, "update")


@router.post("/{module}/upsert")
async def upsert_records(ctx: CrmDep, request: Request, module: str) -> Response:
    return await _write(ctx, request, module, "upsert")


@router.put("/{module}/{record_id}")
async def update_record(ctx: CrmDep, request: Request, module: str, record_id: str) -> Response:
    return await _write(ctx, request, module, "update", path_id=record_id)
