"""Typed shapes of what the Zoho adapter hands upwards."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Zoho's ids are 18-19 digit numbers sent as strings, sometimes as JSON numbers: never ints here.
_ZOHO = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class ZohoOrg(BaseModel):
    model_config = _ZOHO

    id: str
    zgid: str | None = None
    company_name: str | None = None
    primary_email: str | None = None
    currency: str | None = None
    iso_code: str | None = None
    currency_symbol: str | None = None
    mc_status: bool | None = None


class ZohoProfile(BaseModel):
    model_config = _ZOHO

    id: str
    name: str


class ZohoUser(BaseModel):
    model_config = _ZOHO

    id: str
    full_name: str | None = None
    email: str | None = None
    status: str | None = None
    profile: ZohoProfile | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class MailAddress(BaseModel):
    model_config = _ZOHO

    email: str
    user_name: str | None = None
    # From `from_addresses` only: e.g. "primary" or "org_email", and the user's default.
    type: str | None = None
    default: bool = False


class UpsertedRecord(BaseModel):
    model_config = _ZOHO

    index: int
    ok: Literal[True] = True
    id: str
    action: Literal["insert", "update"]
    duplicate_field: str | None = None


class FailedRecord(BaseModel):
    model_config = _ZOHO

    index: int
    ok: Literal[False] = False
    code: str
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    # The logical name of the field Zoho blamed, when it named one.
    field: str | None = None


RecordResult = UpsertedRecord | FailedRecord


class UpsertOutcome(BaseModel):
    """One result per input record, in input order: nothing rejected goes unnoticed."""

    model_config = ConfigDict(frozen=True)

    results: list[RecordResult]

    @property
    def succeeded(self) -> list[UpsertedRecord]:
        return [r for r in self.results if isinstance(r, UpsertedRecord)]

    @property
    def failed(self) -> list[FailedRecord]:
        return [r for r in self.results if isinstance(r, FailedRecord)]

    @property
    def all_ok(self) -> bool:
        return not self.failed
