"""The hosted page behind a flow's `authorisation_url`: the "customer" enters a name,
email and (fake) bank details and sets up the mandate, then returns to `redirect_uri`."""

from __future__ import annotations

import re
from html import escape

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app.simulators.gocardless import billing
from app.simulators.gocardless.billing import OPEN_STATUSES, PayerDetails
from app.simulators.gocardless.billing_resources import BillingRequest, BillingRequestFlow
from app.simulators.gocardless.http import simulator
from app.simulators.gocardless.pages import errors_list, field, hidden, page
from app.simulators.gocardless.state import Organisation, SimulatorState

router = APIRouter(prefix="/billing/static")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
FORM_FIELDS = (
    ("given_name", "First name"),
    ("family_name", "Last name"),
    ("company_name", "Company (optional)"),
    ("email", "Email"),
    ("address_line1", "Address"),
    ("city", "Town or city"),
    ("postal_code", "Postcode"),
)


def _lookup(
    state: SimulatorState, flow_id: str
) -> tuple[Organisation, BillingRequestFlow, BillingRequest] | None:
    org = state.organisations.get(state.flow_owners.get(flow_id, ""))
    flow = org.flows.get(flow_id) if org else None
    request = org.billing_requests.get(flow.billing_request) if org and flow else None
    if org is None or flow is None or request is None:
        return None
    return org, flow, request


def _closed(
    state: SimulatorState, flow: BillingRequestFlow, request: BillingRequest
) -> Response | None:
    if request.status == "fulfilled":
        return page("All set", "<p>Your Direct Debit is already set up.</p>", status=410)
    if flow.expired or request.status not in OPEN_STATUSES or flow.expires_at < state.clock.now():
        return page("Link expired", "<p>This link has expired. Ask for a new one.</p>", status=410)
    return None


def _form(
    org: Organisation,
    flow: BillingRequestFlow,
    request: BillingRequest,
    values: dict[str, str],
    problems: list[str],
) -> str:
    customer = org.customers.get(request.customer or "")
    known = {k: v for k, v in (customer.details if customer else {}).items() if v}
    prefill = {**flow.prefilled_customer, **known, **values}
    currencies = [request.currency] if request.currency else org.creditor.currencies()
    chosen = values.get("currency")
    choices = "".join(
        f"<option value='{escape(c)}'{' selected' if c == chosen else ''}>{escape(c)}</option>"
        for c in currencies
    )
    exit_link = (
        f"<p><a href='/billing/static/flow/exit?id={escape(flow.id)}'>I can't continue</a></p>"
        if flow.exit_uri
        else ""
    )
    return (
        f"<p>{escape(org.name)} would like to collect payments from you by Direct Debit.</p>"
        f"{errors_list(problems)}<form method='post' action='/billing/static/flow'>"
        f"{hidden({'id': flow.id})}"
        + "".join(field(name, label, prefill.get(name)) for name, label in FORM_FIELDS)
        + "<label for='currency'>Account currency</label>"
        f"<select id='currency' name='currency'>{choices}</select>"
        + field("account_holder_name", "Account holder name", values.get("account_holder_name"))
        + "".join(_bank_fields(c, values, shown=c == (chosen or currencies[0])) for c in currencies)
        + "<button type='submit'>Set up Direct Debit</button></form>"
        + exit_link
        + (_SHOW_CHOSEN_BANK_FIELDS if len(currencies) > 1 else "")
    )


# The bank details each currency's scheme asks for (Bacs: sort code and account number;
# SEPA: IBAN); the form offers only those of the currencies the payer can choose.
BANK_FIELDS = {
    "GBP": (("sort_code", "Sort code"), ("account_number", "Account number")),
    "EUR": (("iban", "IBAN"),),
}
# With several currencies on offer, only the chosen one's bank fields are shown.
_SHOW_CHOSEN_BANK_FIELDS = (
    "<script>const pick=document.getElementById('currency');"
    "function showBank(){for(const f of document.querySelectorAll('fieldset[data-currency]'))"
    "f.hidden=f.dataset.currency!==pick.value;}"
    "pick.addEventListener('change',showBank);showBank();</script>"
)


def _bank_fields(currency: str, values: dict[str, str], *, shown: bool) -> str:
    inputs = "".join(
        field(name, label, values.get(name)) for name, label in BANK_FIELDS.get(currency, ())
    )
    hidden_attr = "" if shown else " hidden"
    return (
        f"<fieldset data-currency='{escape(currency)}'{hidden_attr}>"
        f"<legend>Bank account in {escape(currency)}</legend>{inputs}</fieldset>"
    )


@router.get("/flow")
async def show_flow(request: Request) -> Response:
    state = simulator(request)
    found = _lookup(state, request.query_params.get("id", ""))
    if found is None:
        return page("Not found", "<p>There is no such link.</p>", status=404)
    org, flow, billing_request = found
    closed = _closed(state, flow, billing_request)
    if closed is not None:
        return closed
    billing.visit(state, org, flow)
    return page("Set up a Direct Debit", _form(org, flow, billing_request, {}, []))


def _payer(
    values: dict[str, str], request: BillingRequest, problems: list[str]
) -> PayerDetails | None:
    given, family = values.get("given_name", ""), values.get("family_name", "")
    company = values.get("company_name", "")
    if not company and not (given and family):
        problems.append("Enter your first and last name (or a company name).")
    email = values.get("email", "")
    if not _EMAIL.match(email):
        problems.append("Enter a valid email address.")
    currency = request.currency or values.get("currency", "")
    holder = values.get("account_holder_name") or company or f"{given} {family}".strip()
    sort_code = account_number = None
    if currency == "GBP":
        sort_code = re.sub(r"[\s-]", "", values.get("sort_code", ""))
        account_number = re.sub(r"\s", "", values.get("account_number", ""))
        if not re.fullmatch(r"\d{6}", sort_code):
            problems.append("A sort code has 6 digits.")
        if not re.fullmatch(r"\d{8}", account_number):
            problems.append("An account number has 8 digits.")
    elif currency == "EUR":
        account_number = re.sub(r"\s", "", values.get("iban", "")).upper()
        if not _IBAN.match(account_number) or not _iban_checksum_ok(account_number):
            problems.append("Enter a valid IBAN.")
    else:
        problems.append("Choose the currency of your bank account.")
    if problems or account_number is None:
        return None
    return PayerDetails(
        given_name=given or None,
        family_name=family or None,
        company_name=company or None,
        email=email,
        address_line1=values.get("address_line1") or None,
        city=values.get("city") or None,
        postal_code=values.get("postal_code") or None,
        country_code="GB" if currency == "GBP" else account_number[:2],
        currency=currency,
        account_holder_name=holder,
        account_number=account_number,
        sort_code=sort_code,
    )


def _iban_checksum_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97."""
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


@router.post("/flow")
async def complete_flow(request: Request) -> Response:
    state = simulator(request)
    values = {k: str(v).strip() for k, v in (await request.form()).items()}
    found = _lookup(state, values.get("id", ""))
    if found is None:
        return page("Not found", "<p>There is no such link.</p>", status=404)
    org, flow, billing_request = found
    closed = _closed(state, flow, billing_request)
    if closed is not None:
        return closed
    problems: list[str] = []
    payer = _payer(values, billing_request, problems)
    if payer is None:
        return page(
            "Set up a Direct Debit", _form(org, flow, billing_request, values, problems), status=400
        )
    mandate = billing.fulfil(state, org, flow, billing_request, payer)
    if flow.redirect_uri:
        return RedirectResponse(flow.redirect_uri, status_code=303)
    return page(
        "All set",
        f"<p>Your Direct Debit to {escape(org.name)} is set up (mandate {escape(mandate.id)}).</p>",
    )


@router.get("/flow/exit")
async def exit_flow(request: Request) -> Response:
    state = simulator(request)
    found = _lookup(state, request.query_params.get("id", ""))
    if found is None:
        return page("Not found", "<p>There is no such link.</p>", status=404)
    org, flow, _request = found
    billing.exit_flow(state, org, flow)
    if flow.exit_uri:
        return RedirectResponse(flow.exit_uri, status_code=303)
    return page("Stopped", "<p>You left without setting up a Direct Debit.</p>")
