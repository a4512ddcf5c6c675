"""Insert, update and upsert of up to 100 rows, each row succeeding or failing on its own,
with the status codes Zoho uses (201/200 all good, 207 mixed, 400 all failed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from app.simulators.zoho.errors import ZohoApiError, envelope
from app.simulators.zoho.records import create_record, update_record, write_details
from app.simulators.zoho.state import Org
from app.simulators.zoho.store import ModuleStore
from app.simulators.zoho.validation import RowError, check_mandatory, row_error, validate_row

MAX_ROWS = 100
TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")
Operation = Literal["insert", "update", "upsert"]


@dataclass
class WriteContext:
    org: Org
    store: ModuleStore
    user_id: str
    now: float
    counters: Counter[str]


def read_rows(body: Any) -> list[Any]:
    """The `data` rows of a write body, or the whole-request error Zoho answers."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ZohoApiError(
            400,
            envelope(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": "data", "json_path": "$.data"},
            ),
        )
    rows: list[Any] = body["data"]
    if not rows:
        raise ZohoApiError(
            400,
            envelope("INVALID_DATA", "invalid data", {"api_name": "data", "json_path": "$.data"}),
        )
    if len(rows) > MAX_ROWS:
        raise ZohoApiError(
            400,
            {
                "data": [
                    row_error(
                        "LIMIT_EXCEEDED",
                        "count of records in your request exceeds the limit",
                        {"maximum_length": MAX_ROWS, "api_name": "data"},
                    )
                ]
            },
        )
    return rows


def check_triggers(body: dict[str, Any], counters: Counter[str]) -> tuple[str, ...] | None:
    """Validate `trigger` and count what was asked, so tests can see which automation ran;
    the triggers asked for (None when left out: every automation runs)."""
    if "trigger" not in body:
        counters["crm.write.trigger.omitted"] += 1
        return None
    triggers = body["trigger"]
    if not isinstance(triggers, list):
        raise ZohoApiError(
            400,
            envelope(
                "INVALID_DATA", "invalid data", {"api_name": "trigger", "json_path": "$.trigger"}
            ),
        )
    for i, trigger in enumerate(triggers):
        if trigger not in TRIGGERS:
            raise ZohoApiError(
                400,
                envelope(
                    "INVALID_DATA",
                    "invalid data",
                    {
                        "api_name": "trigger",
                        "json_path": f"$.trigger[{i}]",
                        "supported_values": list(TRIGGERS),
                    },
                ),
            )
        counters[f"crm.write.trigger.{trigger}"] += 1
    if not triggers:
        counters["crm.write.trigger.none"] += 1
    return tuple(triggers)


def duplicate_check_order(store: ModuleStore, body: dict[str, Any]) -> list[str]:
    """Fields upsert matches on, in order; only system duplicate-check and unique fields qualify."""
    module = store.module
    uniques = module.unique_fields()
    system = [f for f in module.system_duplicate_fields if f in module.fields]
    given = body.get("duplicate_check_fields")
    if given is None:
        return [*system, *uniques]
    if not isinstance(given, list):
        raise ZohoApiError(
            400,
            envelope(
                "INVALID_DATA",
                "invalid data",
                {
                    "api_name": "duplicate_check_fields",
                    "json_path": "$.duplicate_check_fields",
                },
            ),
        )
    for i, name in enumerate(given):
        if not isinstance(name, str) or (name not in uniques and name not in system):
            raise ZohoApiError(
                400,
                envelope(
                    "INVALID_DATA",
                    "the given field is not a unique field",
                    {
                        "api_name": str(name),
                        "json_path": f"$.duplicate_check_fields[{i}]",
                    },
                ),
            )
    return [*given, *(u for u in uniques if u not in given)]


def _check_unique(
    ctx: WriteContext, values: dict[str, Any], index: int, own_id: str | None
) -> None:
    module = ctx.store.module
    for name in module.unique_fields():
        clashes = [i for i in ctx.store.find(name, values.get(name)) if i != own_id]
        if not clashes:
            continue
        owner = ctx.org.users.get(ctx.store.records[clashes[0]]["Owner"])
        raise RowError(
            row_error(
                "DUPLICATE_DATA",
                "duplicate data",
                {
                    "api_name": name,
                    "json_path": f"$.data[{index}].{name}",
                    "duplicate_record": {
                        "Owner": {
                            "name": owner.full_name if owner else "",
                            "id": owner.id if owner else "",
                            "zuid": owner.zuid if owner else "",
                        },
                        "module": {"api_name": module.api_name, "id": module.id},
                        "id": clashes[0],
                    },
                    "more_records": len(clashes) > 1,
                },
            )
        )


def _success(ctx: WriteContext, record: dict[str, Any], added: bool) -> dict[str, Any]:
    return {
        "code": "SUCCESS",
        "details": write_details(ctx.org, record),
        "message": "record added" if added else "record updated",
        "status": "success",
    }


def _insert(ctx: WriteContext, row: Any, index: int) -> dict[str, Any]:
    values = validate_row(ctx.org, ctx.store, row, index, inserting=True)
    _check_unique(ctx, values, index, None)
    return _success(ctx, create_record(ctx.org, ctx.store, values, ctx.user_id, ctx.now), True)


def _update(ctx: WriteContext, row: Any, index: int, path_id: str | None) -> dict[str, Any]:
    record_id = path_id or (str(row.get("id", "")) if isinstance(row, dict) else "")
    if not record_id:
        raise RowError(
            row_error(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": "id", "json_path": f"$.data[{index}].id"},
            )
        )
    if record_id not in ctx.store.records:
        raise RowError(
            row_error(
                "INVALID_DATA",
                "the id given seems to be invalid",
                {"api_name": "id", "json_path": f"$.data[{index}].id"},
            )
        )
    values = validate_row(ctx.org, ctx.store, row, index, inserting=False)
    _check_unique(ctx, values, index, record_id)
    record = update_record(ctx.store, record_id, values, ctx.user_id, ctx.now)
    return _success(ctx, record, False)


def _upsert(ctx: WriteContext, row: Any, index: int, order: list[str]) -> dict[str, Any]:
    values = validate_row(ctx.org, ctx.store, row, index, inserting=False)
    for name in order:
        matches = ctx.store.find(name, values.get(name))
        if matches:
            # Several records can share a non-unique system field (two contacts, one
            # email): the oldest one is updated.
            _check_unique(ctx, values, index, matches[0])
            record = update_record(ctx.store, matches[0], values, ctx.user_id, ctx.now)
            return {**_success(ctx, record, False), "action": "update", "duplicate_field": name}
    # Validated once: an insert differs only in needing every mandatory field.
    check_mandatory(ctx.store, values, index, inserting=True)
    _check_unique(ctx, values, index, None)
    record = create_record(ctx.org, ctx.store, values, ctx.user_id, ctx.now)
    return {**_success(ctx, record, True), "action": "insert", "duplicate_field": None}


def run_write(
    ctx: WriteContext,
    operation: Operation,
    rows: list[Any],
    *,
    order: list[str] | None = None,
    path_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        try:
            if operation == "insert":
                results.append(_insert(ctx, row, index))
            elif operation == "update":
                results.append(_update(ctx, row, index, path_id))
            else:
                results.append(_upsert(ctx, row, index, order or []))
        except RowError as failure:
            results.append(failure.body)
    ctx.counters[f"crm.write.{operation}.rows"] += len(rows)
    succeeded = sum(1 for r in results if r["status"] == "success")
    if succeeded == len(results):
        status = 201 if operation == "insert" else 200
    elif succeeded == 0:
        status = 400
    else:
        status = 207
    return status, {"data": results}
