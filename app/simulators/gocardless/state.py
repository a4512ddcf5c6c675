"""Everything the simulator remembers: organisations (each with its creditor and data),
access tokens, the OAuth app, webhook endpoints, and the shared clock and switches."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from app.simulators.common import (
    DeliveryPolicy,
    FaultConfig,
    FaultInjector,
    FixedWindowRateLimiter,
    IdGenerator,
    SimClock,
    WebhookDispatcher,
    WebhookEndpoint,
)
from app.simulators.gocardless.billing_resources import BillingRequest, BillingRequestFlow
from app.simulators.gocardless.formats import SCHEME_CURRENCY
from app.simulators.gocardless.resources import (
    Creditor,
    Customer,
    CustomerBankAccount,
    Event,
    Mandate,
    Payment,
    Payout,
    Refund,
    SchemeIdentifier,
)
from app.simulators.gocardless.store import Table
from app.simulators.gocardless.webhooks import render_webhook

Scope = Literal["read_write", "read_only"]
VerificationStatus = Literal["successful", "in_review", "action_required"]


@dataclass(frozen=True, kw_only=True)
class SimulatorOptions:
    """Constructor switches; the admin API changes most of them at run time too."""

    seed: int | None = None
    public_url: str | None = None  # base of links we hand out; default: the request's own
    rate_limit_per_minute: int = 1000
    failure_rate: float = 0.0  # share of collections the "bank" fails at confirmation
    webhook_origin: str = "https://api-sandbox.gocardless.com"
    authorization_code_ttl: timedelta = timedelta(minutes=5)
    flow_lifetime: timedelta = timedelta(days=7)
    start: datetime | None = None
    frozen_clock: bool = False
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    faults: FaultConfig = field(default_factory=FaultConfig)
    webhook_transport: httpx.AsyncBaseTransport | None = None


@dataclass
class AccessToken:
    token: str
    organisation_id: str
    scope: Scope
    created_at: datetime
    client_id: str | None = None
    revoked: bool = False


@dataclass
class OAuthClient:
    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    name: str = "Simulated partner app"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: Scope
    organisation_id: str
    expires_at: datetime
    used: bool = False


@dataclass
class EndpointScope:
    endpoint: WebhookEndpoint
    organisation_id: str | None  # None: the partner app's endpoint, every organisation


@dataclass(order=True)
class ScheduledTransition:
    due: datetime
    sequence: int
    kind: Literal["payment", "mandate", "refund", "payout"] = field(compare=False)
    resource_id: str = field(compare=False)
    from_status: str = field(compare=False)


class Organisation:
    def __init__(self, org_id: str, name: str, email: str, creditor: Creditor) -> None:
        self.id = org_id
        self.name = name
        self.email = email
        self.creditor = creditor
        self.customers: Table[Customer] = Table()
        self.bank_accounts: Table[CustomerBankAccount] = Table("customer")
        self.mandates: Table[Mandate] = Table("customer", "customer_bank_account")
        self.payments: Table[Payment] = Table("mandate", "customer")
        self.refunds: Table[Refund] = Table("payment", "mandate")
        self.payouts: Table[Payout] = Table()
        # (currency, day) -> the payout still gathering that day's collections
        self.open_payouts: dict[tuple[str, date], str] = {}
        self.billing_requests: Table[BillingRequest] = Table("customer")
        self.flows: dict[str, BillingRequestFlow] = {}
        self.events: Table[Event] = Table(
            "resource_type", "payment", "mandate", "billing_request", "creditor", "refund", "payout"
        )
        self.idempotency: dict[tuple[str, str], str] = {}
        self.schedule: list[ScheduledTransition] = []
        self.last_tick: datetime = creditor.created_at

    def remember_creation(self, resource: str, key: str | None, resource_id: str) -> None:
        if key is not None:
            self.idempotency[(resource, key)] = resource_id

    def schedule_transition(self, transition: ScheduledTransition) -> None:
        heapq.heappush(self.schedule, transition)


class SimulatorState:
    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.clock = SimClock(self.options.start, frozen=self.options.frozen_clock)
        self.ids = IdGenerator(self.options.seed)
        self.random = random.Random(self.options.seed)  # noqa: S311 - simulated bank odds
        self.failure_rate = self.options.failure_rate
        self.limiter = FixedWindowRateLimiter(
            self.options.rate_limit_per_minute, timedelta(minutes=1), self.clock
        )
        self.faults = FaultInjector(self.options.faults, seed=self.options.seed)
        self.organisations: dict[str, Organisation] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.authorization_codes: dict[str, AuthorizationCode] = {}
        self.webhook_endpoints: dict[str, EndpointScope] = {}
        self.flow_owners: dict[str, str] = {}  # flow id -> organisation id
        self._transition_sequence = 0
        origin = self.options.webhook_origin
        self.dispatcher: WebhookDispatcher[Event] = WebhookDispatcher(
            lambda endpoint, events: render_webhook(origin, self.ids, endpoint, events),
            policy=self.options.delivery,
            transport=self.options.webhook_transport,
            clock=self.clock,
            seed=self.options.seed,
        )

    def next_transition_sequence(self) -> int:
        self._transition_sequence += 1
        return self._transition_sequence

    def create_organisation(
        self,
        *,
        name: str = "Simulated Merchant Ltd",
        email: str | None = None,
        verification_status: VerificationStatus = "successful",
        currencies: tuple[str, ...] = ("GBP", "EUR"),
    ) -> Organisation:
        org_id = self.ids.next("OR")
        now = self.clock.now()
        schemes = [
            SchemeIdentifier(
                id=self.ids.next("SU"),
                created_at=now,
                scheme=scheme,
                currency=currency,
                name=name,
                reference=self.ids.digits(6),
            )
            for scheme, currency in SCHEME_CURRENCY.items()
            if currency in currencies
        ]
        creditor = Creditor(
            id=self.ids.next("CR"),
            created_at=now,
            name=name,
            email=email or f"admin@{org_id.lower()}.example",
            bank_reference_prefix=name[:4].upper().replace(" ", "X"),
            verification_status=verification_status,
            scheme_identifiers=schemes,
            payout_accounts={s.currency: self.ids.next("BA") for s in schemes},
        )
        organisation = Organisation(org_id, name, creditor.email, creditor)
        self.organisations[org_id] = organisation
        return organisation

    def issue_token(
        self, organisation_id: str, *, scope: Scope = "read_write", client_id: str | None = None
    ) -> AccessToken:
        prefix = "sandbox_" if client_id is None else ""
        token = AccessToken(
            token=prefix + self.ids.token(40),
            organisation_id=organisation_id,
            scope=scope,
            created_at=self.clock.now(),
            client_id=client_id,
        )
        self.tokens[token.token] = token
        return token

    def configure_oauth_client(
        self, client_id: str, client_secret: str, redirect_uri: str, name: str | None = None
    ) -> OAuthClient:
        client = OAuthClient(client_id, SecretStr(client_secret), redirect_uri)
        if name:
            client.name = name
        self.oauth_clients[client_id] = client
        return client

    def add_webhook_endpoint(
        self, url: str, secret: str, *, organisation_id: str | None = None
    ) -> EndpointScope:
        endpoint = WebhookEndpoint(id=self.ids.next("WE"), url=url, secret=SecretStr(secret))
        scope = EndpointScope(endpoint, organisation_id)
        self.webhook_endpoints[endpoint.id] = scope
        return scope

    def endpoints_for(self, organisation_id: str) -> list[WebhookEndpoint]:
        return [
            scope.endpoint
            for scope in self.webhook_endpoints.values()
            if scope.organisation_id in (None, organisation_id)
        ]

    def reset(self) -> None:
        """Forget all data and configuration; the clock and switches stay as they are."""
        self.organisations.clear()
        self.tokens.clear()
        self.oauth_clients.clear()
        self.authorization_codes.clear()
        self.webhook_endpoints.clear()
        self.flow_owners.clear()
        self.dispatcher.clear()
        self.limiter.reset()

    def summary(self) -> dict[str, Any]:
        return {
            "now": self.clock.now().isoformat(),
            "organisations": [
                {
                    "id": org.id,
                    "name": org.name,
                    "creditor": org.creditor.id,
                    "verification_status": org.creditor.verification_status,
                    "customers": len(org.customers),
                    "mandates": len(org.mandates),
                    "payments": len(org.payments),
                    "events": len(org.events),
                }
                for org in self.organisations.values()
            ],
        }
