"""The GoCardless API for one merchant: typed reads, cursor listing and idempotent creates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from app.adapters.gocardless.errors import (
    GoCardlessError,
    GoCardlessInvalidState,
    preview,
)
from app.adapters.gocardless.models import (
    BillingRequest,
    BillingRequestFlow,
    Creditor,
    Customer,
    CustomerBankAccount,
    Event,
    EventListEnvelope,
    EventPage,
    ItemT,
    ListEnvelope,
    Mandate,
    Page,
    Payment,
    Payout,
    Refund,
    ResourceEnvelope,
)
from app.adapters.gocardless.pacing import Priority, RatePacer
from app.adapters.gocardless.transport import ApiTransport, Sleep

MAX_PAGE_SIZE = 500
Filter = str | list[str] | None
EnvelopeT = TypeVar("EnvelopeT", bound=BaseModel)


@dataclass(frozen=True)
class _Resource(Generic[ItemT]):
    path: str
    one: type[ResourceEnvelope[ItemT]]
    many: type[ListEnvelope[ItemT]]


def _resource(path: str, model: type[ItemT]) -> _Resource[ItemT]:
    return _Resource(path, ResourceEnvelope[model], ListEnvelope[model])  # type: ignore[valid-type]


CREDITORS = _resource("/creditors", Creditor)
CUSTOMERS = _resource("/customers", Customer)
CUSTOMER_BANK_ACCOUNTS = _resource("/customer_bank_accounts", CustomerBankAccount)
MANDATES = _resource("/mandates", Mandate)
PAYMENTS = _resource("/payments", Payment)
REFUNDS = _resource("/refunds", Refund)
PAYOUTS = _resource("/payouts", Payout)
EVENTS = _resource("/events", Event)
BILLING_REQUESTS = _resource("/billing_requests", BillingRequest)
BILLING_REQUEST_FLOWS = _resource("/billing_request_flows", BillingRequestFlow)


class GoCardlessClient:
    """Calls for one access token; cheap to build per merchant over the process's pooled client.

    Creates return `(resource, created)`: a repeat with the same idempotency key returns the
    resource the first call made, with `created=False`.
    Filters are the API's query names; `name__op` stands for the bracketed `name[op]`
    (`created_at__gte="2024-01-01T00:00:00.000Z"`) and multi-valued filters take lists.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        access_token: SecretStr | str,
        pacer: RatePacer | None = None,
        priority: Priority = "interactive",
        max_attempts: int = 5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        token = access_token if isinstance(access_token, SecretStr) else SecretStr(access_token)
        self._api = ApiTransport(
            http,
            api_url=api_url,
            access_token=token,
            pacer=pacer,
            priority=priority,
            max_attempts=max_attempts,
            sleep=sleep,
        )

    # Creditors

    async def list_creditors(self) -> list[Creditor]:
        return [creditor async for creditor in self._iter(CREDITORS, {})]

    async def get_creditor(self, creditor_id: str) -> Creditor:
        return await self._get(CREDITORS, creditor_id)

    # Customers

    async def get_customer(self, customer_id: str) -> Customer:
        return await self._get(CUSTOMERS, customer_id)

    async def list_customers_page(
        self, after: str | None, limit: int = MAX_PAGE_SIZE, **filters: Filter
    ) -> Page[Customer]:
        return await self._list_page(CUSTOMERS, after, limit, filters)

    def iter_customers(self, **filters: Filter) -> AsyncIterator[Customer]:
        return self._iter(CUSTOMERS, filters)

    # Mandates

    async def get_customer_bank_account(self, account_id: str) -> CustomerBankAccount:
        return await self._get(CUSTOMER_BANK_ACCOUNTS, account_id)

    async def get_mandate(self, mandate_id: str) -> Mandate:
        return await self._get(MANDATES, mandate_id)

    async def list_mandates_page(
        self, after: str | None, limit: int = MAX_PAGE_SIZE, **filters: Filter
    ) -> Page[Mandate]:
        return await self._list_page(MANDATES, after, limit, filters)

    def iter_mandates(self, **filters: Filter) -> AsyncIterator[Mandate]:
        return self._iter(MANDATES, filters)

    # Payments

    async def get_payment(self, payment_id: str) -> Payment:
        return await self._get(PAYMENTS, payment_id)

    async def list_payments_page(
        self, after: str | None, limit: int = MAX_PAGE_SIZE, **filters: Filter
    ) -> Page[Payment]:
        return await self._list_page(PAYMENTS, after, limit, filters)

    def iter_payments(self, **filters: Filter) -> AsyncIterator[Payment]:
        return self._iter(PAYMENTS, filters)

    async def create_payment(
        self,
        *,
        amount: int,
        currency: str,
        mandate_id: str,
        idempotency_key: str,
        charge_date: date | None = None,
        reference: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> tuple[Payment, bool]:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount must be a positive integer of minor units")
        body = {
            "amount": amount,
            "currency": currency,
            "links": {"mandate": mandate_id},
            "charge_date": charge_date.isoformat() if charge_date else None,
            "reference": reference,
            "description": description,
            "metadata": metadata,
        }
        return await self._create(PAYMENTS, "payments", body, idempotency_key)

    async def cancel_payment(
        self, payment_id: str, *, metadata: dict[str, str] | None = None
    ) -> Payment:
        """Only a `pending_submission` payment can be cancelled; otherwise `cancellation_failed`."""
        return await self._action(PAYMENTS, payment_id, "cancel", metadata)

    async def retry_payment(
        self, payment_id: str, *, metadata: dict[str, str] | None = None
    ) -> Payment:
        """Submit a `failed` payment again (3 times at most, active mandate), or `retry_failed`."""
        return await self._action(PAYMENTS, payment_id, "retry", metadata)

    # Refunds

    async def get_refund(self, refund_id: str) -> Refund:
        return await self._get(REFUNDS, refund_id)

    async def create_refund(
        self,
        *,
        payment_id: str,
        amount: int,
        total_amount_confirmation: int,
        idempotency_key: str,
        reference: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> tuple[Refund, bool]:
        """`total_amount_confirmation` is everything refunded on the payment including this
        refund: two refunds made at once cannot both pass it (API-FACTS §11)."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount must be a positive integer of minor units")
        body = {
            "amount": amount,
            "total_amount_confirmation": total_amount_confirmation,
            "links": {"payment": payment_id},
            "reference": reference,
            "metadata": metadata,
        }
        return await self._create(REFUNDS, "refunds", body, idempotency_key)

    async def list_refunds_page(
        self, after: str | None, limit: int = MAX_PAGE_SIZE, **filters: Filter
    ) -> Page[Refund]:
        return await self._list_page(REFUNDS, after, limit, filters)

    def iter_refunds(self, **filters: Filter) -> AsyncIterator[Refund]:
        return self._iter(REFUNDS, filters)

    # Payouts

    async def get_payout(self, payout_id: str) -> Payout:
        return await self._get(PAYOUTS, payout_id)

    # Events

    async def get_event(self, event_id: str) -> Event:
        return await self._get(EVENTS, event_id)

    async def list_events_page(
        self, after: str | None, limit: int = MAX_PAGE_SIZE, **filters: Filter
    ) -> Page[Event]:
        return await self._list_page(EVENTS, after, limit, filters)

    def iter_events(self, **filters: Filter) -> AsyncIterator[Event]:
        return self._iter(EVENTS, filters)

    async def list_events_page_including(
        self,
        after: str | None,
        *,
        resource_type: str,
        include: str,
        limit: int = MAX_PAGE_SIZE,
        **filters: Filter,
    ) -> EventPage:
        """A page of one resource type's events with the current state of the resources they
        name (`include=payment` with `resource_type=payments`): one call refreshes up to 500
        resources. The API takes `include` only together with `resource_type`."""
        if not resource_type or not include:
            raise ValueError("include needs resource_type")
        params = _list_params(
            after, limit, {**filters, "resource_type": resource_type, "include": include}
        )
        response = await self._api.send("GET", EVENTS.path, params=params, retry=True)
        envelope = _parse(EventListEnvelope, response)
        return EventPage(envelope.events, envelope.linked, envelope.meta.cursors.after)

    # Billing requests and their hosted flows

    async def get_billing_request(self, billing_request_id: str) -> BillingRequest:
        return await self._get(BILLING_REQUESTS, billing_request_id)

    async def list_billing_requests_page(
        self, after: str | None, limit: int = MAX_PAGE_SIZE, **filters: Filter
    ) -> Page[BillingRequest]:
        return await self._list_page(BILLING_REQUESTS, after, limit, filters)

    def iter_billing_requests(self, **filters: Filter) -> AsyncIterator[BillingRequest]:
        return self._iter(BILLING_REQUESTS, filters)

    async def create_billing_request(
        self,
        *,
        currency: str,
        customer_id: str | None,
        idempotency_key: str,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> tuple[BillingRequest, bool]:
        """A mandate-only request; the scheme is left to GoCardless, as it recommends."""
        body = {
            "mandate_request": _without_none({"currency": currency, "description": description}),
            "links": {"customer": customer_id} if customer_id else None,
            "metadata": metadata,
        }
        return await self._create(BILLING_REQUESTS, "billing_requests", body, idempotency_key)

    async def cancel_billing_request(
        self, billing_request_id: str, *, metadata: dict[str, str] | None = None
    ) -> BillingRequest:
        """Cancels the request and expires all its flows."""
        return await self._action(BILLING_REQUESTS, billing_request_id, "cancel", metadata)

    async def create_billing_request_flow(
        self,
        *,
        billing_request_id: str,
        redirect_uri: str,
        exit_uri: str | None,
        idempotency_key: str,
        prefilled_customer: dict[str, str] | None = None,
        lock_currency: bool = True,
    ) -> tuple[BillingRequestFlow, bool]:
        body = {
            "links": {"billing_request": billing_request_id},
            "redirect_uri": redirect_uri,
            "exit_uri": exit_uri,
            "prefilled_customer": prefilled_customer,
            "lock_currency": lock_currency,
        }
        return await self._create(
            BILLING_REQUEST_FLOWS, "billing_request_flows", body, idempotency_key
        )

    # Generic calls

    async def _get(self, resource: _Resource[ItemT], resource_id: str) -> ItemT:
        response = await self._api.send("GET", _item_path(resource, resource_id), retry=True)
        return _parse(resource.one, response).item

    async def _list_page(
        self,
        resource: _Resource[ItemT],
        after: str | None,
        limit: int,
        filters: Mapping[str, Filter],
    ) -> Page[ItemT]:
        params = _list_params(after, limit, filters)
        response = await self._api.send("GET", resource.path, params=params, retry=True)
        envelope = _parse(resource.many, response)
        return Page(envelope.items, envelope.meta.cursors.after)

    async def _iter(
        self, resource: _Resource[ItemT], filters: Mapping[str, Filter]
    ) -> AsyncIterator[ItemT]:
        # One page in memory at a time, however large the account.
        after: str | None = None
        while True:
            page = await self._list_page(resource, after, MAX_PAGE_SIZE, filters)
            for item in page.items:
                yield item
            if not page.after:
                return
            if page.after == after:
                raise GoCardlessError(f"GET {resource.path}: the cursor did not advance")
            after = page.after

    async def _create(
        self,
        resource: _Resource[ItemT],
        envelope_key: str,
        fields: dict[str, Any],
        idempotency_key: str,
    ) -> tuple[ItemT, bool]:
        if not idempotency_key:
            raise ValueError("creates need an idempotency key derived from our own ids")
        try:
            response = await self._api.send(
                "POST",
                resource.path,
                json_body={envelope_key: _without_none(fields)},
                idempotency_key=idempotency_key,
                retry=True,
            )
        except GoCardlessInvalidState as exc:
            original_id = _conflicting_resource_id(exc)
            if original_id is None:
                raise
            return await self._get(resource, original_id), False
        return _parse(resource.one, response).item, True

    async def _action(
        self,
        resource: _Resource[ItemT],
        resource_id: str,
        action: str,
        metadata: dict[str, str] | None,
    ) -> ItemT:
        response = await self._api.send(
            "POST",
            f"{_item_path(resource, resource_id)}/actions/{action}",
            json_body={"data": _without_none({"metadata": metadata})},
            retry=False,
        )
        return _parse(resource.one, response).item


def _item_path(resource: _Resource[Any], resource_id: str) -> str:
    # Ids can come from a widget request; quoting keeps them inside one path segment.
    if not resource_id:
        raise ValueError("an id is required")
    return f"{resource.path}/{quote(resource_id, safe='')}"


def _list_params(after: str | None, limit: int, filters: Mapping[str, Filter]) -> dict[str, str]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    params = {"limit": str(limit)}
    for name, value in filters.items():
        if value is not None:
            params[_query_name(name)] = value if isinstance(value, str) else ",".join(value)
    if after:
        params["after"] = after
    return params


def _query_name(name: str) -> str:
    field, _, operator = name.rpartition("__")
    return f"{field}[{operator}]" if field else name


def _parse(envelope: type[EnvelopeT], response: httpx.Response) -> EnvelopeT:
    try:
        return envelope.model_validate_json(response.content)
    except ValidationError as exc:
        raise GoCardlessError(
            f"unexpected {response.request.method} {response.request.url.path} response: "
            f"{exc.error_count()} problem(s), first at {exc.errors()[0]['loc']}",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
            body_preview=preview(response.text),
        ) from None


def _conflicting_resource_id(exc: GoCardlessError) -> str | None:
    for error in exc.errors:
        links = error.get("links")
        if error.get("reason") == "idempotent_creation_conflict" and isinstance(links, dict):
            resource_id = links.get("conflicting_resource_id")
            if isinstance(resource_id, str) and resource_id:
                return resource_id
    return None


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
