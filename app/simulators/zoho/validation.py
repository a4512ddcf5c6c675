"""Checks one row of an insert/update/upsert against the module's fields and turns it into
stored values, or fails it with the per-row error Zoho would put in the answer."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.simulators.zoho.schema import CURRENCY_DECIMALS, SYSTEM_FIELDS, FieldDef
from app.simulators.zoho.state import Org
from app.simulators.zoho.store import ModuleStore

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Zoho's documented datetime format: yyyy-MM-ddTHH:mm:ss±HH:mm, no fraction, no "Z".
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
_TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "website", "picklist", "autonumber"})


def row_error(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


class RowError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["code"])
        self.body = body


def _invalid(field: FieldDef, path: str, message: str = "invalid data", **extra: Any) -> RowError:
    return RowError(
        row_error("INVALID_DATA", message, {**extra, "api_name": field.api_name, "json_path": path})
    )


def _wrong_type(field: FieldDef, path: str) -> RowError:
    return _invalid(field, path, expected_data_type=field.data_type)


def _text(field: FieldDef, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(field, path)
    if len(value) > field.length:
        raise _invalid(field, path, maximum_length=field.length)
    if field.data_type == "email" and value and not _EMAIL.match(value):
        raise _invalid(field, path)
    if field.pick_list_values and value and value not in field.pick_list_values:
        raise _invalid(field, path, supported_values=list(field.pick_list_values))
    return value


def _number(field: FieldDef, value: Any, path: str) -> Decimal | int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _wrong_type(field, path)
    if field.data_type == "integer":
        if not isinstance(value, int):
            raise _wrong_type(field, path)
        return value
    amount = Decimal(value)
    if len(str(abs(int(amount)))) > field.length:
        raise _invalid(field, path, maximum_length=field.length)
    if field.data_type == "currency":
        return amount.quantize(CURRENCY_DECIMALS, rounding=ROUND_HALF_UP)
    return amount


def _date_like(field: FieldDef, value: Any, path: str) -> str:
    pattern = _DATE if field.data_type == "date" else _DATETIME
    if not isinstance(value, str) or not pattern.match(value):
        raise _wrong_type(field, path)
    try:
        if field.data_type == "date":
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        raise _wrong_type(field, path) from None
    return value


def _reference_id(field: FieldDef, value: Any, path: str) -> str:
    if not isinstance(value, dict) or "id" not in value:
        raise _wrong_type(field, path)
    ref = value["id"]
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise _wrong_type(field, path)
    return str(ref)


def _coerce(org: Org, field: FieldDef, value: Any, path: str) -> Any:
    if value is None:
        return None
    kind = field.data_type
    if kind in _TEXT_TYPES:
        return _text(field, value, path)
    if kind in ("integer", "double", "currency"):
        return _number(field, value, path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong_type(field, path)
        return value
    if kind in ("date", "datetime"):
        return _date_like(field, value, path)
    if kind == "lookup":
        ref = _reference_id(field, value, path)
        target = org.store(field.lookup_module or "")
        if target is None or ref not in target.records:
            raise _invalid(field, path, "the id given seems to be invalid")
        return ref
    if kind == "ownerlookup":
        ref = _reference_id(field, value, path)
        user = org.users.get(ref)
        if user is None or user.status != "active":
            raise _invalid(field, path, "the id given seems to be invalid")
        return ref
    raise _wrong_type(field, path)


# The module a multi-module lookup points into, kept on the record beside the id.
SE_MODULE = "$se_module"


def _multi_module_lookup(
    org: Org, field: FieldDef, value: Any, se_module: Any, path: str, row_path: str
) -> tuple[str | None, str | None]:
    """(record id, its module): Notes name the module inside the value
    (`{"module": {"api_name"}, "id"}`), Tasks beside it in the row's `$se_module`."""
    if value is None:
        return None, None
    ref = _reference_id(field, value, path)
    module = value.get("module") if isinstance(value, dict) else None
    if isinstance(module, dict):
        se_module = module.get("api_name")
    if not isinstance(se_module, str) or not se_module:
        raise RowError(
            row_error(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": SE_MODULE, "json_path": f"{row_path}.{SE_MODULE}"},
            )
        )
    target = org.store(se_module)
    if target is None:
        raise _invalid(field, path, "the module name given seems to be invalid")
    if ref not in target.records:
        raise _invalid(field, path, "the id given seems to be invalid")
    return ref, target.module.api_name


def validate_row(
    org: Org, store: ModuleStore, row: Any, index: int, *, inserting: bool, trusted: bool = False
) -> dict[str, Any]:
    """Stored values for a row; raises RowError with Zoho's per-row error.

    `trusted` (admin seeding only) also sets read-only fields such as Grand_Total, which
    the CRM computes itself and silently ignores in API writes."""
    path = f"$.data[{index}]"
    if not isinstance(row, dict):
        raise RowError(row_error("INVALID_DATA", "invalid data", {"json_path": path}))
    module = store.module
    values: dict[str, Any] = {}
    for key, value in row.items():
        # `id` addresses the record; `$`-keys are per-row options such as $append_values.
        if key == "id" or key.startswith("$"):
            continue
        field = module.field_named(key)
        if field is None:
            raise RowError(
                row_error(
                    "INVALID_DATA",
                    "the field api name given seems to be invalid",
                    {"api_name": key, "json_path": f"{path}.{key}"},
                )
            )
        if field.read_only and (not trusted or key in SYSTEM_FIELDS):
            continue
        if field.data_type == "multi_module_lookup":
            values[key], values[SE_MODULE] = _multi_module_lookup(
                org, field, value, row.get(SE_MODULE), f"{path}.{key}", path
            )
            continue
        values[key] = _coerce(org, field, value, f"{path}.{key}")
    check_mandatory(store, values, index, inserting=inserting)
    return values


def check_mandatory(
    store: ModuleStore, values: dict[str, Any], index: int, *, inserting: bool
) -> None:
    """Raise Zoho's MANDATORY_NOT_FOUND for the first mandatory field a row leaves empty
    (absent counts too when `inserting`)."""
    for field in store.module.fields.values():
        if not field.mandatory:
            continue
        present = field.api_name in values and values[field.api_name] not in (None, "")
        if present or (not inserting and field.api_name not in values):
            continue
        raise RowError(
            row_error(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": field.api_name, "json_path": f"$.data[{index}].{field.api_name}"},
            )
        )
