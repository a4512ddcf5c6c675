"""The simulator served by uvicorn on a real port: the official `gocardless-pro` client,
an OAuth round trip, a flow completed through the HTML page, and webhooks to a receiver
server, all over sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import gocardless_pro
import httpx
import pytest
from gocardless_pro import errors as gc_errors
from gocardless_pro import webhooks as official_webhooks
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.simulators.common import DeliveryPolicy, ServerHandle, serve_in_thread
from app.simulators.gocardless.app import create_app
from app.simulators.gocardless.cli import main as cli_main
from app.simulators.gocardless.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    prepare_account,
)

SECRET = "receiver-secret"
REDIRECT = "http://localhost:8000/oauth/gocardless/callback"


class WebhookSink:
    """A tiny server that accepts only correctly signed webhooks (498 otherwise)."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.arrived = threading.Event()

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            parsed = official_webhooks.parse(body, SECRET, request.headers["Webhook-Signature"])
        except gc_errors.InvalidSignatureError:
            return Response(status_code=498)
        self.events += [event.attributes for event in parsed]
        self.arrived.set()
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks", self.receive, methods=["POST"])])


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[WebhookSink, ServerHandle]]:
    receiver = WebhookSink()
    with serve_in_thread(receiver.app()) as handle:
        yield receiver, handle


@pytest.fixture(scope="module")
def served(sink: tuple[WebhookSink, ServerHandle]) -> Iterator[tuple[ServerHandle, str, str]]:
    _receiver, sink_handle = sink
    account = prepare_account(
        webhook_url=f"{sink_handle.base_url}/hooks",
        webhook_secret=SECRET,
        oauth_redirect_uri=REDIRECT,
    )
    account.state.dispatcher.configure(
        DeliveryPolicy(batch_window_seconds=0.01, retry_delays_seconds=[0.05])
    )
    with serve_in_thread(create_app(account.state)) as handle:
        yield handle, account.access_token, account.organisation_id


def official_client(handle: ServerHandle, token: str) -> gocardless_pro.Client:
    return gocardless_pro.Client(access_token=token, base_url=handle.base_url)


def test_official_client_pages_creates_idempotently_and_cancels(
    served: tuple[ServerHandle, str, str],
) -> None:
    handle, token, _org = served
    client = official_client(handle, token)
    customers = list(client.customers.all(params={"limit": 7}))
    assert len(customers) == len({c.id for c in customers}) == 40
    assert client.rate_limit["ratelimit-limit"] == 1000

    mandate = next(
        m for m in client.mandates.all(params={"status": "active"}) if m.scheme == "bacs"
    )
    params = {"amount": 1999, "currency": "GBP", "links": {"mandate": mandate.id}}
    headers = {"Idempotency-Key": "zoho:org1:INV-77:payment:v1"}
    first = client.payments.create(params=params, headers=headers)
    again = client.payments.create(params=params, headers=headers)
    assert (again.id, again.amount, first.status) == (first.id, 1999, "pending_submission")

    cancelled = client.payments.cancel(first.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(gc_errors.InvalidStateError) as refused:
        client.payments.cancel(first.id)
    assert refused.value.errors[0]["reason"] == "cancellation_failed"
    with pytest.raises(gc_errors.ValidationFailedError):
        client.payments.create(params={**params, "currency": "EUR"})


def test_oauth_flow_and_webhooks_over_http(
    served: tuple[ServerHandle, str, str], sink: tuple[WebhookSink, ServerHandle]
) -> None:
    handle, _token, organisation_id = served
    receiver, _sink_handle = sink
    with httpx.Client(base_url=handle.base_url) as browser:
        consent = browser.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": DEFAULT_CLIENT_ID,
                "redirect_uri": REDIRECT,
                "scope": "read_write",
                "state": "s1",
            },
        )
        assert consent.status_code == 200
        approved = browser.post(
            "/oauth/authorize",
            data={
                "response_type": "code",
                "client_id": DEFAULT_CLIENT_ID,
                "redirect_uri": REDIRECT,
                "scope": "read_write",
                "state": "s1",
                "organisation_id": organisation_id,
                "decision": "approve",
            },
        )
        code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
        token = browser.post(
            "/oauth/access_token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            },
        ).json()
        assert token["organisation_id"] == organisation_id

        client = official_client(handle, token["access_token"])
        request = client.billing_requests.create(params={"mandate_request": {"currency": "GBP"}})
        flow = client.billing_request_flows.create(
            params={
                "links": {"billing_request": request.id},
                "redirect_uri": "https://crm.example/done",
            }
        )
        assert flow.authorisation_url.startswith(handle.base_url)
        assert browser.get(flow.authorisation_url).status_code == 200
        done = browser.post(
            "/billing/static/flow",
            data={
                "id": flow.id,
                "given_name": "Ada",
                "family_name": "Lovelace",
                "email": "ada@example.com",
                "sort_code": "400000",
                "account_number": "12345678",
            },
        )
        assert (done.status_code, done.headers["location"]) == (303, "https://crm.example/done")

    mandate_id = client.billing_requests.get(request.id).links.mandate_request_mandate
    assert client.mandates.get(mandate_id).status == "pending_submission"
    assert receiver.arrived.wait(5)
    with httpx.Client(base_url=handle.base_url) as admin:
        assert admin.post("/_sim/webhooks/drain").status_code == 200
    fulfilled = [e for e in receiver.events if e["action"] == "fulfilled"]
    assert fulfilled and fulfilled[0]["links"]["mandate_request_mandate"] == mandate_id  # type: ignore[index]


def test_cli_advances_time_and_moves_statuses(
    served: tuple[ServerHandle, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    handle, token, organisation_id = served
    client = official_client(handle, token)
    before = client.payments.list(params={"status": "pending_submission"}).records
    assert cli_main(["--url", handle.base_url, "advance", "--days", "8"]) == 0
    assert '"events_emitted"' in capsys.readouterr().out
    moved = [client.payments.get(p.id).status for p in before]
    assert "pending_submission" not in moved
    paid = client.payments.list(params={"status": "paid_out", "limit": 1}).records[0]
    assert cli_main(["--url", handle.base_url, "move-payment", paid.id, "charged_back"]) == 0
    assert client.payments.get(paid.id).status == "charged_back"
    assert cli_main(["--url", handle.base_url, "move-payment", paid.id, "paid_out"]) == 1
    assert cli_main(["--url", handle.base_url, "verification", organisation_id, "in_review"]) == 0
    assert client.creditors.list().records[0].verification_status == "in_review"


def test_ready_account_banner_names_what_a_client_needs() -> None:
    account = prepare_account("http://127.0.0.1:8001", seed=False)
    banner = account.banner()
    for needed in (account.access_token, account.organisation_id, "http://127.0.0.1:8001/_sim"):
        assert needed in banner
    assert len(account.state.organisations[account.organisation_id].customers) == 0
