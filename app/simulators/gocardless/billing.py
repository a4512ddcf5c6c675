"""What happens when a payer completes a mandate request: customer (or the linked one),
bank account and mandate are created, the request is fulfilled, and the events fire in
the order GoCardless reports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.simulators.gocardless import lifecycle
from app.simulators.gocardless.billing_resources import (
    DETAIL_ONLY_FIELDS,
    BillingRequest,
    BillingRequestFlow,
)
from app.simulators.gocardless.events import emit
from app.simulators.gocardless.formats import CURRENCY_SCHEME, SCHEME_COUNTRY, add_working_days
from app.simulators.gocardless.resources import Customer, CustomerBankAccount, Mandate
from app.simulators.gocardless.state import Organisation, SimulatorState

OPEN_STATUSES = ("pending", "ready_to_fulfil")
_SORT_CODE_BANKS = {
    "04": "MONZO BANK LIMITED",
    "20": "BARCLAYS BANK PLC",
    "30": "LLOYDS BANK PLC",
    "40": "HSBC UK BANK PLC",
    "60": "NATIONAL WESTMINSTER BANK PLC",
}
_IBAN_BANKS = {"FR": "BNP PARIBAS", "DE": "DEUTSCHE BANK AG", "NL": "ING BANK N.V."}


@dataclass(frozen=True)
class PayerDetails:
    given_name: str | None
    family_name: str | None
    company_name: str | None
    email: str
    address_line1: str | None
    city: str | None
    postal_code: str | None
    country_code: str | None
    currency: str
    account_holder_name: str
    account_number: str  # the domestic account number, or the IBAN
    sort_code: str | None = None


def render_request(
    org: Organisation, request: BillingRequest, *, listed: bool = False
) -> dict[str, Any]:
    body = request.to_json(
        org.customers.get(request.customer or ""),
        org.bank_accounts.get(request.customer_bank_account or ""),
    )
    if listed:
        for name in DETAIL_ONLY_FIELDS:
            del body[name]
    return body


def flow_links(flow: BillingRequestFlow) -> dict[str, str | None]:
    return {"billing_request_flow": flow.id}


def _request_event(
    state: SimulatorState,
    org: Organisation,
    request: BillingRequest,
    action: str,
    links: dict[str, str | None] | None = None,
) -> None:
    emit(
        state,
        org,
        resource_type="billing_requests",
        action=action,
        resource_id=request.id,
        resource_metadata=request.metadata,
        links={"customer": request.customer, **(links or {})},
    )


def visit(state: SimulatorState, org: Organisation, flow: BillingRequestFlow) -> None:
    if flow.visited:
        return
    flow.visited = True
    request = org.billing_requests.get(flow.billing_request)
    if request is not None:
        _request_event(state, org, request, "flow_visited", flow_links(flow))


def exit_flow(state: SimulatorState, org: Organisation, flow: BillingRequestFlow) -> None:
    request = org.billing_requests.get(flow.billing_request)
    if request is not None:
        _request_event(state, org, request, "flow_exited", flow_links(flow))


def cancel(state: SimulatorState, org: Organisation, request: BillingRequest) -> None:
    """Cancelling a request expires all its flows."""
    request.status = "cancelled"
    for flow_id in request.flows:
        org.flows[flow_id].expired = True
    _request_event(state, org, request, "cancelled")


def fail(state: SimulatorState, org: Organisation, request: BillingRequest) -> None:
    """GoCardless gives up on the request (`failed`, origin gocardless): it can no longer be
    completed, so its flows expire. Its status list has no `failed`; it ends as cancelled."""
    request.status = "cancelled"
    for flow_id in request.flows:
        org.flows[flow_id].expired = True
    _request_event(state, org, request, "failed")


def fulfil(
    state: SimulatorState,
    org: Organisation,
    flow: BillingRequestFlow,
    request: BillingRequest,
    payer: PayerDetails,
) -> Mandate:
    now = state.clock.now()
    customer = org.customers.get(request.customer or "")
    if customer is None:
        customer = Customer(
            id=state.ids.next("CU"),
            created_at=now,
            details={
                "given_name": payer.given_name,
                "family_name": payer.family_name,
                "company_name": payer.company_name,
                "email": payer.email,
                "address_line1": payer.address_line1,
                "city": payer.city,
                "postal_code": payer.postal_code,
                "country_code": payer.country_code,
                "language": flow.language,
            },
        )
        org.customers.add(customer.id, customer)
        request.customer = customer.id
    request.customer_billing_detail = request.customer_billing_detail or state.ids.next("CBD")
    request.currency = payer.currency
    request.scheme = CURRENCY_SCHEME[payer.currency]
    flow.customer_details_captured = True
    _request_event(
        state,
        org,
        request,
        "collect_customer_details",
        {**flow_links(flow), "customer_billing_detail": request.customer_billing_detail},
    )
    account = CustomerBankAccount(
        id=state.ids.next("BA"),
        created_at=now,
        customer=customer.id,
        account_holder_name=payer.account_holder_name,
        account_number_ending=payer.account_number[-2:],
        bank_name=_bank_name(payer),
        country_code=_country(payer, request.scheme),
        currency=payer.currency,
    )
    org.bank_accounts.add(account.id, account, customer=customer.id)
    request.customer_bank_account = account.id
    _request_event(
        state,
        org,
        request,
        "collect_bank_account",
        {**flow_links(flow), "customer_bank_account": account.id},
    )
    _request_event(state, org, request, "payer_details_confirmed", flow_links(flow))
    mandate = Mandate(
        id=state.ids.next("MD"),
        created_at=now,
        creditor=org.creditor.id,
        customer=customer.id,
        customer_bank_account=account.id,
        scheme=request.scheme,
        reference=f"{org.creditor.bank_reference_prefix}-{state.ids.digits(8)}",
        status="pending_submission",
        ready_on=add_working_days(now.date(), 3),
        metadata=dict(request.mandate_request_metadata),
    )
    org.mandates.add(mandate.id, mandate, customer=customer.id, customer_bank_account=account.id)
    emit(
        state,
        org,
        resource_type="mandates",
        action="created",
        resource_id=mandate.id,
        resource_metadata=mandate.metadata,
    )
    if lifecycle.needs_scheduled_submission(mandate):
        lifecycle.schedule_mandate_submission(state, org, mandate)
    request.mandate = mandate.id
    request.status = "fulfilled"
    for flow_id in request.flows:
        org.flows[flow_id].expired = True
    _request_event(
        state,
        org,
        request,
        "fulfilled",
        {
            "customer_bank_account": account.id,
            "mandate_request_mandate": mandate.id,
            "mandate_request": request.mandate_request_id,
        },
    )
    return mandate


def _bank_name(payer: PayerDetails) -> str:
    if payer.sort_code is not None:
        return _SORT_CODE_BANKS.get(payer.sort_code[:2], "SIMULATED BANK PLC")
    return _IBAN_BANKS.get(payer.account_number[:2], "SIMULATED BANK")


def _country(payer: PayerDetails, scheme: str) -> str:
    if payer.sort_code is None and payer.account_number[:2].isalpha():
        return payer.account_number[:2]
    return SCHEME_COUNTRY[scheme]
