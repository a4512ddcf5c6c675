"""Get Records paging: `page` reaches only the first 2,000 records, `page_token` (from
`info.next_page_token`) up to 100,000, and the two cannot be combined."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.simulators.zoho.errors import api_error, invalid_param
from app.simulators.zoho.records import iso
from app.simulators.zoho.state import PageCursor, ZohoSimState
from app.simulators.zoho.store import ModuleStore, Record

DISCRETE_LIMIT = 2000
TOKEN_LIMIT = 100_000
MAX_PER_PAGE = 200
SORT_FIELDS = ("id", "Created_Time", "Modified_Time")
# Past this many issued page tokens, expired ones are swept so long runs stay bounded.
MAX_LIVE_CURSORS = 10_000


@dataclass
class PageRequest:
    per_page: int
    page: int | None
    page_token: str | None
    sort_by: str
    sort_order: str
    bound: tuple[str, ...]
    modified_since: float | None = None


def parse_int(name: str, raw: str | None, default: int, maximum: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name) from None
    if value < 1 or (maximum is not None and value > maximum):
        raise invalid_param(name, **({"maximum": maximum} if maximum else {}))
    return value


def page_request(query: dict[str, str], bound_fields: str) -> PageRequest:
    if "page" in query and "page_token" in query:
        raise api_error(
            400,
            "AMBIGUITY_DURING_PROCESSING",
            "ambiguity while processing the request",
            {"ambiguity_due_to": ["page", "page_token"]},
        )
    sort_by = query.get("sort_by", "id")
    if sort_by not in SORT_FIELDS:
        raise invalid_param("sort_by", supported_values=list(SORT_FIELDS))
    sort_order = query.get("sort_order", "desc")
    if sort_order not in ("asc", "desc"):
        raise invalid_param("sort_order", supported_values=["asc", "desc"])
    return PageRequest(
        per_page=parse_int("per_page", query.get("per_page"), MAX_PER_PAGE, MAX_PER_PAGE),
        page=parse_int("page", query.get("page"), 1) if "page_token" not in query else None,
        page_token=query.get("page_token"),
        sort_by=sort_by,
        sort_order=sort_order,
        bound=(bound_fields, sort_by, sort_order),
    )


def _ordered(store: ModuleStore, req: PageRequest, after: int | None) -> Iterator[str]:
    """Ids in the requested order; `after` is the last id already served (id order only)."""
    if req.sort_by == "Modified_Time":
        ranked = sorted(
            store.records.values(),
            key=lambda r: (r["Modified_Time"], int(r["id"])),
            reverse=req.sort_order == "desc",
        )
        return (r["id"] for r in ranked)
    # Created_Time order is id order: ids are handed out as records are created.
    if req.sort_order == "asc":
        return store.ids_ascending(after)
    return store.ids_descending(after)


def _resolve_token(state: ZohoSimState, org_id: str, module: str, req: PageRequest) -> PageCursor:
    cursor = state.page_cursors.get(req.page_token or "")
    if (
        cursor is None
        or cursor.org_id != org_id
        or cursor.module != module
        or cursor.bound != req.bound
    ):
        raise api_error(
            400,
            "TOKEN_BOUND_DATA_MISMATCH",
            "The page_token given seems to be invalid or input param is added or altered"
            " or deleted",
            {"param_name": "page_token"},
        )
    if cursor.expires_at <= state.now():
        raise api_error(
            400,
            "EXPIRED_VALUE",
            "Page token expired",
            {"api_name": "page_token", "json_path": "$.query.page_token"},
        )
    if cursor.served >= TOKEN_LIMIT:
        raise api_error(
            400,
            "PAGINATION_LIMIT_EXCEEDED",
            "You can only get upto 100000 records using page_token param",
            {"param_name": "page_token"},
        )
    return cursor


def _drop_expired(state: ZohoSimState) -> None:
    now = state.now()
    for token in [t for t, c in state.page_cursors.items() if c.expires_at <= now]:
        del state.page_cursors[token]


def fetch_page(
    state: ZohoSimState, org_id: str, store: ModuleStore, req: PageRequest
) -> tuple[list[Record], dict[str, Any]]:
    module = store.module.api_name
    id_order = req.sort_by != "Modified_Time"
    if req.page_token is not None:
        cursor = _resolve_token(state, org_id, module, req)
        skip, after, page, served = (
            (0 if id_order else cursor.served),
            cursor.last_id,
            cursor.page + 1,
            cursor.served,
        )
    else:
        page = req.page or 1
        if page * req.per_page > DISCRETE_LIMIT:
            raise api_error(
                400,
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                "You can only get the first 2000 records without using page_token param",
                {"limit": DISCRETE_LIMIT},
            )
        skip, after, served = (page - 1) * req.per_page, None, (page - 1) * req.per_page
    if not id_order:
        after = None
    taken: list[Record] = []
    more = False
    for record_id in _ordered(store, req, after):
        record = store.records[record_id]
        if req.modified_since is not None and record["Modified_Time"] <= req.modified_since:
            continue
        if skip:
            skip -= 1
            continue
        if len(taken) == req.per_page:
            more = True
            break
        taken.append(record)
    info: dict[str, Any] = {
        "per_page": req.per_page,
        "count": len(taken),
        "page": page,
        "sort_by": req.sort_by,
        "sort_order": req.sort_order,
        "more_records": more,
        "next_page_token": None,
        "previous_page_token": None,
        "page_token_expiry": None,
    }
    if more and taken:
        token = secrets.token_hex(24)
        expires_at = state.now() + state.options.page_token_lifetime
        if len(state.page_cursors) >= MAX_LIVE_CURSORS:
            _drop_expired(state)
        state.page_cursors[token] = PageCursor(
            org_id=org_id,
            module=module,
            bound=req.bound,
            last_id=int(taken[-1]["id"]),
            served=served + len(taken),
            page=page,
            expires_at=expires_at,
        )
        info["next_page_token"] = token
        info["page_token_expiry"] = iso(expires_at)
    return taken, info
