"""The people on GoCardless's side of an end-to-end test, acting over HTTP through the router:
the merchant (API calls with their own token, retried like any careful client when the
simulator's injected faults hit them), a payer (the hosted mandate page) and the bank (the
simulator's admin moves and clock)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.simulators.gocardless.http import API_VERSION
from tests.e2e.harness import GOCARDLESS, World

GBP_ACCOUNT = {"sort_code": "200000", "account_number": "55779911"}
EUR_ACCOUNT = {"iban": "FR1420041010050500013M02606"}
RETRIES = 20


class Merchant:
    def __init__(self, world: World) -> None:
        self.world = world
        token = world.gocardless.issue_token(world.merchant.id).token
        self.http = httpx.AsyncClient(
            transport=world.router,
            base_url=GOCARDLESS,
            headers={"Authorization": f"Bearer {token}", "GoCardless-Version": API_VERSION},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Merchant:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, create: bool = False
    ) -> dict[str, Any]:
        response = await self.send(method, path, body, create=create)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async def send(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, create: bool = False
    ) -> httpx.Response:
        """The answer once it is not an injected fault (5xx, 429); a create keeps its key."""
        headers = {"Idempotency-Key": uuid.uuid4().hex} if create else {}
        for _ in range(RETRIES):
            response = await self.http.request(method, path, json=body, headers=headers)
            if response.status_code < 500 and response.status_code != 429:
                break
        return response

    async def create_payment(self, mandate_id: str, amount: int, currency: str) -> str:
        body = {
            "payments": {"amount": amount, "currency": currency, "links": {"mandate": mandate_id}}
        }
        created = await self.api("POST", "/payments", body, create=True)
        return str(created["payments"]["id"])

    async def cancel_payment(self, payment_id: str) -> None:
        await self.api("POST", f"/payments/{payment_id}/actions/cancel", {"data": {}})

    async def retry_payment(self, payment_id: str) -> None:
        await self.api("POST", f"/payments/{payment_id}/actions/retry", {"data": {}})

    async def cancel_mandate(self, mandate_id: str) -> None:
        await self.api("POST", f"/mandates/{mandate_id}/actions/cancel", {"data": {}})

    async def new_customer(
        self, *, given_name: str, family_name: str, email: str, currency: str = "GBP"
    ) -> str:
        """A mandate request the payer completes on the hosted page; returns the mandate id."""
        request = await self.api(
            "POST",
            "/billing_requests",
            {"billing_requests": {"mandate_request": {"currency": currency}}},
            create=True,
        )
        flow = await self.api(
            "POST",
            "/billing_request_flows",
            {
                "billing_request_flows": {
                    "links": {"billing_request": request["billing_requests"]["id"]}
                }
            },
            create=True,
        )
        flow_id = flow["billing_request_flows"]["id"]
        page = await self.http.post(
            "/billing/static/flow",
            data={
                "id": flow_id,
                "given_name": given_name,
                "family_name": family_name,
                "email": email,
                **(GBP_ACCOUNT if currency == "GBP" else EUR_ACCOUNT),
            },
        )
        assert page.status_code == 200, page.text
        fulfilled = self.world.merchant.billing_requests.get(request["billing_requests"]["id"])
        assert fulfilled is not None and fulfilled.mandate is not None
        return fulfilled.mandate

    # The bank and time: the simulator's admin API (never faulted).

    async def bank_moves_payment(self, payment_id: str, status: str) -> None:
        assert await self.bank_tries_to_move(payment_id, status), (payment_id, status)

    async def bank_tries_to_move(self, payment_id: str, status: str) -> bool:
        """False when the payment's own status machine cannot make that move (409)."""
        response = await self.http.post(
            f"/_sim/payments/{payment_id}/status", json={"status": status}
        )
        assert response.status_code in (200, 409), response.text
        return response.status_code == 200

    async def days_pass(self, days: float) -> int:
        response = await self.http.post("/_sim/clock/advance", json={"days": days})
        assert response.status_code == 200, response.text
        emitted: int = response.json()["events_emitted"]
        return emitted
