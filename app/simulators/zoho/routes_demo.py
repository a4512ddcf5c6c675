"""Simulated CRM screens for the demo: the invoice list and an Invoice page whose buttons
open the product's widget, list and record views of every other module (the extension's
GoCardless Customers and Payments among them), plus the catch-all that answers unknown CRM
URLs as Zoho does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from starlette.responses import HTMLResponse, Response

from app.simulators.zoho import pages, record_pages
from app.simulators.zoho.deps import get_state
from app.simulators.zoho.errors import invalid_url_pattern
from app.simulators.zoho.pages import SIGNED_IN_COOKIE
from app.simulators.zoho.state import Org, ZohoSimState
from app.simulators.zoho.store import ModuleStore, Record

router = APIRouter()
StateDep = Annotated[ZohoSimState, Depends(get_state)]


def _invoice_view(org: Org, record: Record) -> dict[str, str]:
    contact = record.get("Contact_Name")
    return {
        "id": record["id"],
        "Invoice_Number": str(record.get("Invoice_Number") or ""),
        "Subject": str(record.get("Subject") or ""),
        "Status": str(record.get("Status") or ""),
        "Currency": str(record.get("Currency") or org.home_currency),
        "total": format(record["Grand_Total"], "f")
        if record.get("Grand_Total") is not None
        else "",
        "contact": (org.record_name("Contacts", contact) or "") if contact else "",
    }


@router.get("/_sim/crm", response_class=HTMLResponse)
async def invoice_list(state: StateDep) -> str:
    rows = []
    for org in state.orgs.values():
        store = org.store("Invoices")
        if store is not None:
            rows += [(org, _invoice_view(org, r)) for r in store.records.values()]
    return pages.crm_invoices(rows)


@router.get("/_sim/crm/invoices/{invoice_id}", response_class=HTMLResponse)
async def invoice_page(state: StateDep, invoice_id: str, user_id: str | None = None) -> Response:
    found = state.find_record("Invoices", invoice_id)
    if found is None:
        raise HTTPException(404, "no such invoice")
    org, record = found
    user = org.users.get(user_id or org.admin_user_id)
    if user is None or user.status != "active":
        raise HTTPException(404, "no such active user in this org")
    page = HTMLResponse(
        pages.crm_invoice(org, _invoice_view(org, record), user.id, state.options.widget_url)
    )
    # Who is signed in to Zoho in this browser: the consent page offers that account first.
    page.set_cookie(SIGNED_IN_COOKIE, f"{org.id}:{user.id}", path="/", httponly=True)
    return page


def _module_store(state: ZohoSimState, module: str) -> tuple[Org, ModuleStore]:
    """The first org holding the module: the demo runs one org."""
    for org in state.orgs.values():
        store = org.store(module)
        if store is not None:
            return org, store
    raise HTTPException(404, "no such module")


@router.get("/_sim/crm/modules/{module}", response_class=HTMLResponse)
async def module_list(state: StateDep, module: str, page: int = 1) -> str:
    org, store = _module_store(state, module)
    return record_pages.module_list(org, store, page)


@router.get("/_sim/crm/modules/{module}/{record_id}", response_class=HTMLResponse)
async def record_page(state: StateDep, module: str, record_id: str) -> str:
    found = state.find_record(module, record_id)
    if found is None:
        raise HTTPException(404, "no such record")
    org, record = found
    store = org.store(module)
    assert store is not None  # find_record found the record in it
    return record_pages.record_view(org, store, record)


@router.api_route(
    "/crm/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown_crm_url(rest: str) -> None:
    raise invalid_url_pattern()
