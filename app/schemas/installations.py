"""Request and response bodies of the installation endpoints (CONTRACT.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models import Audience
from app.schemas.identifiers import ZOHO_ID, ZOHO_ID_MAX

ProfileId = Annotated[str, Field(pattern=ZOHO_ID, max_length=ZOHO_ID_MAX)]

# The service's rule, stated in the schema so clients (and generators) know it: profile ids
# go with the audience "profiles" (at least one) and with no other.
_AUDIENCE_RULE = [
    {
        "properties": {"audience": {"const": "profiles"}, "profile_ids": {"minItems": 1}},
        "required": ["audience", "profile_ids"],
    },
    {
        "properties": {
            "audience": {"enum": ["admins", "all_users"]},
            "profile_ids": {"maxItems": 0},
        }
    },
]


class InstallationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "oneOf": _AUDIENCE_RULE,  # type: ignore[dict-item]
            "examples": [
                {
                    "zoho_org_id": "60012345678",
                    "audience": "profiles",
                    "profile_ids": ["4150868000000026011"],
                }
            ],
        },
    )

    zoho_org_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
    # Strict mode would want an Audience instance; the JSON string is what is sent.
    audience: Audience = Field(strict=False)
    profile_ids: list[ProfileId] = Field(default_factory=list, max_length=100)


class InstallationCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "installation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                    "api_key": "gcz_3q2+7w...",
                    "zoho_authorize_url": "https://gc-zoho.example.com/oauth/zoho/start?link=...",
                    "gocardless_authorize_url": (
                        "https://gc-zoho.example.com/oauth/gocardless/start?link=..."
                    ),
                }
            ]
        }
    )

    installation_id: uuid.UUID
    api_key: str = Field(description="Shown once; only its hash is stored.")
    zoho_authorize_url: str
    gocardless_authorize_url: str


class ZohoStatus(BaseModel):
    connected: bool
    org_id: str | None
    status: Literal["not_connected", "connected", "needs_reauthorization"]
    authorize_url: str | None = Field(
        description="Single-use link (15 minutes) to authorize; only for administrators"
    )


class GoCardlessStatus(BaseModel):
    connected: bool
    environment: str
    organisation_id: str | None
    creditor_id: str | None
    verification_status: str | None
    active: bool
    status: Literal["not_connected", "connected", "revoked"]
    inactive_reason: str | None
    authorize_url: str | None = Field(
        description="Single-use link (15 minutes) to authorize; only for administrators"
    )


class SyncChainStatus(BaseModel):
    """One cursor chain of Sync Now's listing: a resource, or a `created_at` window of it."""

    name: str
    resource: Literal["customers", "mandates", "payments"]
    created_from: datetime | None = Field(description="The window's `created_at[gte]`")
    created_before: datetime | None = Field(description="The window's `created_at[lt]`")
    listed: int
    pages: int
    pages_left: int | None = Field(description="Estimated; null until it can be estimated")
    done: bool


class CrmWriteStatus(BaseModel):
    written: int = Field(description="Records the CRM holds")
    rejected: int = Field(description="Records the CRM refused (each keeps its reason)")
    waiting: int = Field(description="Listed, not written yet")
    expected: int | None = Field(
        description="Listed plus the estimate of what is still to list; null until estimable"
    )


class CrmWrites(BaseModel):
    customers: CrmWriteStatus
    payments: CrmWriteStatus


class SyncStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "state": "running",
                    "can_sync_now": False,
                    "customers_synced": 1200,
                    "payments_synced": 800,
                    "progress": 0.57,
                    "stage": "listing",
                    "seconds_left": 9,
                    "chains": [
                        {
                            "name": "customers",
                            "resource": "customers",
                            "created_from": None,
                            "created_before": None,
                            "listed": 1500,
                            "pages": 3,
                            "pages_left": 0,
                            "done": True,
                        },
                        {
                            "name": "payments",
                            "resource": "payments",
                            "created_from": "2026-03-01T10:00:00.000Z",
                            "created_before": None,
                            "listed": 4000,
                            "pages": 8,
                            "pages_left": 6,
                            "done": False,
                        },
                    ],
                    "crm_writes": {
                        "customers": {
                            "written": 1200,
                            "rejected": 0,
                            "waiting": 300,
                            "expected": 1500,
                        },
                        "payments": {
                            "written": 800,
                            "rejected": 0,
                            "waiting": 3200,
                            "expected": 7000,
                        },
                    },
                }
            ]
        }
    )

    state: Literal["not_started", "running", "succeeded", "failed"]
    can_sync_now: bool
    customers_synced: int
    payments_synced: int
    progress: float = Field(ge=0.0, le=1.0)
    stage: str | None = None
    customers_listed: int = 0
    mandates_listed: int = 0
    payments_listed: int = 0
    customers_rejected: int = 0
    payments_rejected: int = 0
    contacts_linked: int = 0
    contacts_ambiguous: int = 0
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds_left: int | None = Field(
        default=None, description="Estimated time left; null until it can be estimated"
    )
    chains: list[SyncChainStatus] = Field(default_factory=list)
    crm_writes: CrmWrites | None = None
    customers_added_since: int = Field(
        default=0, description="Customers that reached the CRM after Sync Now finished"
    )
    payments_added_since: int = Field(
        default=0, description="Payments that reached the CRM after Sync Now finished"
    )


class EventCounts(BaseModel):
    pending: int = Field(description="GoCardless events accepted and not yet processed")
    failed: int = Field(description="Events given up on after retries; an operator can replay them")


class CallerOut(BaseModel):
    user_id: str | None = Field(description="The signed-in CRM user; null for the API key")
    admin: bool = Field(description="May manage the installation (CRM Administrator profile)")


class InstallationStatusOut(BaseModel):
    installation_id: uuid.UUID
    audience: Audience
    profile_ids: list[str]
    auto_collect_on_mandate: bool
    invoice_status_on_collection: str | None = Field(
        description="Reconciliation: the Invoice Status set once a payment is collected"
    )
    invoice_collected_on: Literal["confirmed", "paid_out"]
    invoice_status_on_failure: str | None = Field(
        description="Reconciliation: the Invoice Status set when a payment fails or is charged back"
    )
    zoho: ZohoStatus
    gocardless: GoCardlessStatus
    sync: SyncStatus
    events: EventCounts
    caller: CallerOut
