"""Record life cycle (system fields, derived fields) and how records read back over the API."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from app.simulators.zoho.state import Org
from app.simulators.zoho.store import ModuleStore, Record


def iso(timestamp: float) -> str:
    """Zoho's datetime format: seconds precision with a numeric offset."""
    return _iso_seconds(int(timestamp))


# A write's records share their second: each answer formats the same few times again.
@lru_cache(maxsize=1024)
def _iso_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _derive(store: ModuleStore, record: Record) -> None:
    if store.module.api_name == "Contacts":
        first = record.get("First_Name") or ""
        record["Full_Name"] = f"{first} {record.get('Last_Name') or ''}".strip()


def create_record(
    org: Org, store: ModuleStore, values: dict[str, Any], user_id: str, now: float
) -> Record:
    record: Record = {
        "id": org.ids.next(),
        "Owner": user_id,
        "Created_Time": now,
        "Modified_Time": now,
        "Created_By": user_id,
        "Modified_By": user_id,
    }
    record.update({k: v for k, v in values.items() if v is not None})
    if store.module.api_name == "Invoices" and not record.get("Invoice_Number"):
        record["Invoice_Number"] = f"INV-{org.next_invoice_number:06d}"
        org.next_invoice_number += 1
    _derive(store, record)
    store.insert(record)
    return record


def update_record(
    store: ModuleStore, record_id: str, values: dict[str, Any], user_id: str, now: float
) -> Record:
    changes = dict(values)
    changes.update(Modified_Time=now, Modified_By=user_id)
    record = store.update(record_id, changes)
    for key in [k for k, v in record.items() if v is None]:
        del record[key]
    _derive(store, record)
    return record


def _user_ref(org: Org, user_id: str, *, with_email: bool) -> dict[str, str]:
    user = org.users.get(user_id)
    ref = {"name": user.full_name if user else "", "id": user_id}
    if with_email:
        ref["email"] = user.email if user else ""
    return ref


def write_details(org: Org, record: Record) -> dict[str, Any]:
    """`details` of a SUCCESS row in a write answer."""
    return {
        "Modified_Time": iso(record["Modified_Time"]),
        "Modified_By": _user_ref(org, record["Modified_By"], with_email=False),
        "Created_Time": iso(record["Created_Time"]),
        "id": record["id"],
        "Created_By": _user_ref(org, record["Created_By"], with_email=False),
    }


def render_value(org: Org, store: ModuleStore, api_name: str, value: Any) -> Any:
    if value is None:
        return None
    field = store.module.field_named(api_name)
    if field is None:
        return value
    if field.data_type == "lookup":
        return {"name": org.record_name(field.lookup_module or "", value), "id": value}
    if field.data_type == "ownerlookup":
        return _user_ref(org, value, with_email=True)
    if api_name in ("Created_Time", "Modified_Time"):
        return iso(value)
    return value


def _multi_module_value(org: Org, name: str, record: Record) -> dict[str, Any]:
    value, module = record.get(name), record.get("$se_module")
    if value is None or module is None:
        return {name: None}
    return {
        name: {"name": org.record_name(module, value), "id": value, "module": {"api_name": module}},
        "$se_module": module,
    }


def render_record(
    org: Org, store: ModuleStore, record: Record, fields: list[str] | None
) -> dict[str, Any]:
    """A record as GET answers it: every field (unset ones as null) or just those asked for."""
    names = fields if fields is not None else list(store.module.fields)
    out: dict[str, Any] = {}
    for name in names:
        field = store.module.field_named(name)
        if name == "id" or field is None:
            continue
        if field.data_type == "multi_module_lookup":
            out.update(_multi_module_value(org, name, record))
            continue
        out[name] = render_value(org, store, name, record.get(name))
    if store.module.api_name == "Invoices" and (fields is None or "Currency" in names):
        currency = org.currencies.get(record.get("Currency") or org.home_currency)
        out["$currency_symbol"] = currency.symbol if currency else ""
    out["id"] = record["id"]
    return out
