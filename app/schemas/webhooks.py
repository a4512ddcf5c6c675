"""The GoCardless webhook body, as documented for the receiver (parsed by the adapter)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WebhookEventLinks(BaseModel):
    model_config = ConfigDict(extra="allow")

    organisation: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    payment: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    mandate: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    customer: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    created_at: datetime | None = None
    resource_type: str = Field(max_length=64, pattern=r"^[a-z_]+$")
    action: str = Field(max_length=64, pattern=r"^[a-z_]+$")
    links: WebhookEventLinks = Field(default_factory=WebhookEventLinks)
    details: dict[str, object] = Field(default_factory=dict)


class WebhookMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    webhook_id: str | None = None


class GoCardlessWebhook(BaseModel):
    """What GoCardless POSTs: a batch of events, each naming its merchant in `links`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "EV0001ABCD",
                            "created_at": "2026-11-30T10:00:00.000Z",
                            "resource_type": "payments",
                            "action": "confirmed",
                            "links": {"payment": "PM0001ABCD", "organisation": "OR0001ABCD"},
                            "details": {"origin": "gocardless", "cause": "payment_confirmed"},
                        }
                    ],
                    "meta": {"webhook_id": "WB0001ABCD"},
                }
            ]
        },
    )

    events: list[WebhookEvent]
    meta: WebhookMeta = Field(default_factory=WebhookMeta)
