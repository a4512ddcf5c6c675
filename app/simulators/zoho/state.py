"""Everything one simulator instance knows: orgs (each with users, modules, records), the
Accounts server, the outbox of sent mail, counters and injected faults."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.simulators.zoho.accounts import Accounts
from app.simulators.zoho.faults import FaultRule
from app.simulators.zoho.ids import IdSequence
from app.simulators.zoho.options import ZohoSimOptions
from app.simulators.zoho.schema import ModuleDef
from app.simulators.zoho.store import ModuleStore, Record

DEFAULT_CLIENT_ID = "1000.SIMULATORCLIENT0000000000000000"
DEFAULT_CLIENT_SECRET = "simulator-client-secret-0000000000000000000"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/oauth/zoho/callback"
# What an admin-minted token may do when the caller names no scopes.
FULL_SCOPES = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.users.ALL",
    "ZohoCRM.org.ALL",
    "ZohoCRM.send_mail.all.CREATE",
)


@dataclass
class User:
    id: str
    zuid: str
    first_name: str
    last_name: str
    email: str
    profile_id: str
    role_id: str
    status: str = "active"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Currency:
    iso_code: str
    name: str
    symbol: str
    exchange_rate: Decimal


@dataclass
class FromAddress:
    id: str
    email: str
    user_name: str


@dataclass
class Org:
    id: str
    zgid: str
    company_name: str
    domain_name: str
    location: str
    namespace: str
    time_zone: str
    country_code: str
    home_currency: str
    ids: IdSequence
    currencies: dict[str, Currency] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)  # id -> name
    roles: dict[str, str] = field(default_factory=dict)  # id -> name
    users: dict[str, User] = field(default_factory=dict)
    stores: dict[str, ModuleStore] = field(default_factory=dict)  # casefolded api name -> store
    org_from_addresses: list[FromAddress] = field(default_factory=list)
    admin_user_id: str = ""
    next_invoice_number: int = 1

    def store(self, module_api_name: str) -> ModuleStore | None:
        return self.stores.get(module_api_name.casefold())

    def modules(self) -> list[ModuleDef]:
        return [s.module for s in self.stores.values()]

    def add_module(self, module: ModuleDef) -> None:
        self.stores[module.api_name.casefold()] = ModuleStore(module)

    def record_name(self, module_api_name: str, record_id: str) -> str | None:
        """Display name CRM shows for a lookup to this record."""
        store = self.store(module_api_name)
        record = store.records.get(record_id) if store else None
        if record is None:
            return None
        for name_field in ("Name", "Full_Name", "Subject"):
            if name_field in record:
                return str(record[name_field])
        return record_id


@dataclass
class Mail:
    message_id: str
    org_id: str
    module: str
    record_id: str
    sent_by_user_id: str
    sent_at: str
    from_: dict[str, str]
    to: list[dict[str, str]]
    cc: list[dict[str, str]]
    bcc: list[dict[str, str]]
    subject: str
    content: str
    mail_format: str

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "org_id": self.org_id,
            "module": self.module,
            "record_id": self.record_id,
            "sent_by_user_id": self.sent_by_user_id,
            "sent_at": self.sent_at,
            "from": self.from_,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "subject": self.subject,
            "content": self.content,
            "mail_format": self.mail_format,
        }


@dataclass(frozen=True)
class WriteLog:
    """One record write as the CRM received it: which automations it asked to run
    (`trigger` as sent; None when left out, which runs them all)."""

    org_id: str
    module: str
    operation: str
    trigger: tuple[str, ...] | None
    rows: int

    def as_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "module": self.module,
            "operation": self.operation,
            "trigger": list(self.trigger) if self.trigger is not None else None,
            "rows": self.rows,
        }


@dataclass
class PageCursor:
    org_id: str
    module: str
    bound: tuple[str, ...]  # fields, sort_by, sort_order: changing them voids the token
    last_id: int
    served: int
    page: int
    expires_at: float


class ZohoSimState:
    def __init__(self, options: ZohoSimOptions | None = None) -> None:
        self.options = options or ZohoSimOptions()
        self._clear()

    def _clear(self) -> None:
        self.counters: Counter[str] = Counter()
        self.accounts = Accounts(self.options, self.counters)
        self.orgs: dict[str, Org] = {}
        self.outbox: list[Mail] = []
        self.writes: list[WriteLog] = []
        self.faults: list[FaultRule] = []
        self.in_flight: Counter[str] = Counter()
        self.page_cursors: dict[str, PageCursor] = {}
        self.accounts.register_client(
            DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI
        )

    def now(self) -> float:
        return self.options.clock()

    def reset(self) -> None:
        """Forget every org, token, mail and fault; options and the default client stay."""
        self._clear()

    def org(self, org_id: str) -> Org | None:
        return self.orgs.get(org_id) or next(
            (o for o in self.orgs.values() if o.zgid == org_id), None
        )

    def find_record(self, module_api_name: str, record_id: str) -> tuple[Org, Record] | None:
        """Record ids carry their org's prefix, so an id alone finds its org (demo pages)."""
        for org in self.orgs.values():
            store = org.store(module_api_name)
            if store is not None and record_id in store.records:
                return org, store.records[record_id]
        return None
