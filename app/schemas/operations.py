"""The operator's health view of every installation."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field


class InstallationHealthOut(BaseModel):
    installation_id: uuid.UUID
    zoho_org_id: str
    status: Literal["ok", "lagging", "parked_events"] = Field(
        description="`lagging`: the oldest pending event waited more than a minute"
    )
    pending_events: int
    parked_events: int
    lag_seconds: float = Field(description="Age of the oldest pending event")
    crm_backlog: int = Field(description="Mirror rows waiting to be written to the CRM")
    gocardless_requests_left: int | None = Field(
        description="Requests this merchant may send at once now (shared by every process)"
    )
    zoho_slots_left: int | None = Field(description="Zoho calls that may start now")


class HealthReport(BaseModel):
    installations: list[InstallationHealthOut]
