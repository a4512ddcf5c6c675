"""HTML list and record views of any module, as CRM shows them, so a person can see what a
sync wrote: lookups are links to the record they point at."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import quote

from app.simulators.zoho.pages import crm_nav, page
from app.simulators.zoho.records import iso
from app.simulators.zoho.schema import SYSTEM_FIELDS, FieldDef
from app.simulators.zoho.state import Org
from app.simulators.zoho.store import ModuleStore, Record

PAGE_SIZE = 100
# Long or per-user fields a list leaves to the record view.
_LIST_SKIPPED_TYPES = frozenset({"textarea", "ownerlookup"})


def record_url(module_api_name: str, record_id: str) -> str:
    # Invoices have their own page, with the extension's buttons.
    if module_api_name == "Invoices":
        return f"/_sim/crm/invoices/{quote(record_id)}"
    return f"/_sim/crm/modules/{quote(module_api_name)}/{quote(record_id)}"


def module_url(module_api_name: str) -> str:
    if module_api_name == "Invoices":
        return "/_sim/crm"
    return f"/_sim/crm/modules/{quote(module_api_name)}"


def _cell(org: Org, field: FieldDef, value: Any) -> str:
    """One value as CRM displays it; a lookup links to its record."""
    if value is None or value == "":
        return ""
    if field.data_type == "lookup" and field.lookup_module:
        name = org.record_name(field.lookup_module, str(value)) or str(value)
        return f"<a href='{escape(record_url(field.lookup_module, str(value)))}'>{escape(name)}</a>"
    if field.data_type == "ownerlookup":
        user = org.users.get(str(value))
        return escape(user.full_name if user else str(value))
    if field.api_name in ("Created_Time", "Modified_Time"):
        return escape(iso(float(value)))
    if isinstance(value, Decimal):
        return escape(format(value, "f"))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return escape(str(value))


def _list_fields(store: ModuleStore) -> list[FieldDef]:
    """The columns a person scans; provider ids (`…_ID`) wait in the record view, so the
    lookups stay on screen."""
    return [
        f
        for f in store.module.fields.values()
        if f.api_name not in SYSTEM_FIELDS
        and f.data_type not in _LIST_SKIPPED_TYPES
        and not f.api_name.endswith("_ID")
    ]


def module_list(org: Org, store: ModuleStore, page_number: int) -> str:
    """One page of the module's records, newest first, the name linking to the record."""
    module = store.module
    fields = _list_fields(store)
    records = sorted(store.records.values(), key=lambda r: int(r["id"]), reverse=True)
    total = len(records)
    last_page = max(1, -(-total // PAGE_SIZE))
    page_number = min(max(1, page_number), last_page)
    shown = records[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]
    head = "".join(f"<th scope='col'>{escape(f.label)}</th>" for f in fields)
    rows = "".join(_list_row(org, module.api_name, fields, record) for record in shown)
    pager = ""
    if last_page > 1:
        links = []
        if page_number > 1:
            links.append(f"<a href='?page={page_number - 1}'>Previous</a>")
        links.append(f"page {page_number} of {last_page}")
        if page_number < last_page:
            links.append(f"<a href='?page={page_number + 1}'>Next</a>")
        pager = f"<p class='pager'>{' · '.join(links)}</p>"
    empty = "" if records else f"<p>No {escape(module.plural_label)} yet.</p>"
    return page(
        f"CRM - {module.plural_label}",
        f"{crm_nav(org)}<h1>{escape(module.plural_label)}</h1>"
        f"<p>{total} record{'' if total == 1 else 's'}.</p>{empty}"
        + (
            f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>{pager}"
            if records
            else ""
        ),
    )


def _list_row(org: Org, module_api_name: str, fields: list[FieldDef], record: Record) -> str:
    cells = []
    for index, field in enumerate(fields):
        value = _cell(org, field, record.get(field.api_name))
        if index == 0:  # the record's name opens it, as in CRM
            url = record_url(module_api_name, record["id"])
            value = f"<a href='{escape(url)}'>{value or escape(record['id'])}</a>"
        cells.append(f"<td>{value}</td>")
    return f"<tr>{''.join(cells)}</tr>"


def record_view(org: Org, store: ModuleStore, record: Record) -> str:
    module = store.module
    title = org.record_name(module.api_name, record["id"]) or record["id"]
    rows = "".join(
        f"<tr><th scope='row'>{escape(f.label)}</th>"
        f"<td>{_cell(org, f, record.get(f.api_name))}</td></tr>"
        for f in module.fields.values()
    )
    return page(
        f"{module.singular_label} {title}",
        f"{crm_nav(org)}<p><a href='{escape(module_url(module.api_name))}'>All "
        f"{escape(module.plural_label)}</a></p><h1>{escape(title)}</h1>"
        f"<table class='record'>{rows}</table>",
    )
