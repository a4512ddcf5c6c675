"""Who did it comes from the session: a claimed user id changes nothing, and the API key acts
as the installation itself."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from app.models import InvoicePayment
from app.services.identity.sessions import issue_session
from tests.foundation.conftest import ADMIN_USER, STANDARD_USER
from tests.invoices.conftest import INVOICE, FakeApis, Ready

PAYMENTS = f"/api/v1/invoices/{INVOICE}/payments"


async def collect_and_cancel(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis, headers: dict[str, str]
) -> tuple[str | None, dict[str, Any]]:
    """Proceed then Cancel; the stored creator and the metadata sent with the cancel."""
    created = await client.post(PAYMENTS, headers=headers, json={"mandate_id": "MD0001"})
    assert created.status_code == 201, created.text
    payment_id = created.json()["payment"]["id"]
    cancelled = await client.post(f"/api/v1/payments/{payment_id}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    async with ready.app.state.runtime.sessionmaker() as session:
        creator = await session.scalar(select(InvoicePayment.created_by_user))
    [cancel] = [c for c in apis.router.calls if c.request.url.path.endswith("/actions/cancel")]
    metadata: dict[str, Any] = json.loads(cancel.request.content)["data"]["metadata"]
    return creator, metadata


async def test_audit_fields_name_the_signed_in_user(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    session = issue_session(
        ready.app.state.runtime, ready.installed.installation_id, STANDARD_USER, admin=False
    )
    # The v1 header claiming to be the admin is ignored.
    headers = {"Authorization": f"Bearer {session.token}", "X-Zoho-User-Id": ADMIN_USER}
    creator, metadata = await collect_and_cancel(client, ready, apis, headers)
    assert creator == STANDARD_USER
    assert metadata == {"cancelled_by_zoho_user": STANDARD_USER}


async def test_the_api_key_acts_as_the_installation(
    client: httpx.AsyncClient, ready: Ready, apis: FakeApis
) -> None:
    headers = {**ready.installed.headers(), "X-Zoho-User-Id": STANDARD_USER}
    creator, metadata = await collect_and_cancel(client, ready, apis, headers)
    assert creator is None
    assert metadata == {"cancelled_by_zoho_user": "api_key"}
