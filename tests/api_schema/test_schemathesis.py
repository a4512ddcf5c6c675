"""Schemathesis against the service in-process, with a real installation behind it.

One test per operation of our OpenAPI document (`/openapi.json`), each on a freshly
connected world (tests/api_schema/world.py): an installation authorized against both
simulators, synced, with a customer holding an active mandate. Widget endpoints carry the
installation's API key, operator endpoints the ADMIN_TOKEN, webhooks a correct
`Webhook-Signature` of the exact bytes sent, so generated requests reach the real logic.
Settings (examples, seed, the statuses our contract adds) are in ../../schemathesis.toml;
every default check is on.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import Case, CheckContext
from schemathesis.python import asgi

from app.errors import PROBLEM_JSON
from app.main import create_app
from tests.api_schema.figures import FIGURES
from tests.api_schema.world import FuzzWorld
from tests.conftest import make_settings

SETTINGS = make_settings()
CONFIG = schemathesis.Config.from_path(Path(__file__).parents[2] / "schemathesis.toml")
WORLD = FuzzWorld()
# The document the service serves at /openapi.json, built without starting it: cases are
# generated at collection, before any database exists.
schema = schemathesis.openapi.from_dict(create_app(SETTINGS).openapi(), config=CONFIG)
schema.config.update(base_url="http://testserver")
schema.app = WORLD  # every request goes in-process, through Schemathesis's ASGI transport


class ApiKey(requests.auth.AuthBase):
    """The installation's API key, read as the request is sent: each operation gets a new
    installation, and Schemathesis builds some cases at collection time."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {WORLD.api_key}"
        return request


class AdminToken(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {SETTINGS.admin_token.get_secret_value()}"
        return request


class WebhookSignature(requests.auth.AuthBase):
    """GoCardless's signature: hex HMAC-SHA256 of the body exactly as it goes out."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else body
        secret = SETTINGS.gocardless_webhook_secret.get_secret_value().encode()
        request.headers["Webhook-Signature"] = hmac.new(secret, raw, hashlib.sha256).hexdigest()
        return request


# Schemathesis leaves these off where a case tests a missing or wrong credential.
schema.auth.set_from_requests(AdminToken()).apply_to(
    path=["/api/v1/installations", "/api/v1/operations/installations"]
)
schema.auth.set_from_requests(ApiKey()).apply_to(
    path_regex=r"^/api/v1/(installation|invoices/|payments/)"
)
schema.auth.set_from_requests(WebhookSignature()).apply_to(path="/webhooks/gocardless")

# Codes of our problems that mean "the request is malformed" (not a business rule).
MALFORMED = {"validation_failed", "bad_request"}


@schemathesis.check
def positive_data_passes_validation(ctx: CheckContext, response: Any, case: Case) -> None:
    """A request the schema allows must get past our validation: schemathesis.toml lets
    some operations answer schema-valid data with 422 or 400 for business rules, and this
    keeps that from hiding a rule the schema should state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if not response.headers.get("content-type", [""])[0].startswith(PROBLEM_JSON):
        return
    code = response.json().get("code")
    assert code not in MALFORMED, (
        f"a schema-valid request was refused as malformed ({response.status_code} {code}): "
        "the schema should state the rule"
    )


@pytest.fixture(scope="module")
def fuzz_world(migrated_database: str) -> Iterator[FuzzWorld]:
    with asgi.get_client(WORLD):  # starts the lifespan: builds the first world
        pass
    yield WORLD
    asgi.shutdown_lifespans()  # closes the world, empties the tables, disposes the engine


# Operations after which the installation is gone or disconnected: the next one gets a
# freshly connected world. The others leave it usable (their records are more to work on).
DESTRUCTIVE = ("DELETE /api/v1/installation]", "DELETE /api/v1/installation/gocardless]")


@pytest.fixture(autouse=True)
def world_after(fuzz_world: FuzzWorld, request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.perf_counter()
    yield
    name = request.node.name
    FIGURES.operation_done(name.removeprefix("test_api[")[:-1], time.perf_counter() - started)
    if name.endswith(DESTRUCTIVE):
        fuzz_world.reset()


POSITIVE_SEEN: Counter[str] = Counter()


def use_seeded_ids(case: Case) -> None:
    """Every other schema-valid case names records that exist (an invoice of the CRM, a
    mandate, a payment, the connected merchant, a value of the CRM's Invoice Status
    picklist), so it goes past the lookups into the rules: collect, refuse a currency, email
    a setup link, cancel, retry, refund, keep settings, store webhook events.
    Still schema-valid: the ids match their patterns. The others keep their drawn ids."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    POSITIVE_SEEN[case.operation.label] += 1
    turn, other = divmod(POSITIVE_SEEN[case.operation.label], 2)
    seeded = WORLD.seeded
    if other or seeded is None:
        return
    path = case.path_parameters if isinstance(case.path_parameters, dict) else {}
    if "invoice_id" in path:
        path["invoice_id"] = seeded.invoices[turn % len(seeded.invoices)]
    if "payment_id" in path:
        path["payment_id"] = seeded.payments[turn % len(seeded.payments)]
    body = case.body
    if isinstance(body, dict) and "mandate_id" in body:
        body["mandate_id"] = seeded.mandates[turn % len(seeded.mandates)]
    for setting in ("invoice_status_on_collection", "invoice_status_on_failure"):
        if isinstance(body, dict) and isinstance(body.get(setting), str):
            body[setting] = seeded.invoice_statuses[turn % len(seeded.invoice_statuses)]
    if case.path == "/webhooks/gocardless" and isinstance(body, dict):
        for event in body.get("events", []):
            if isinstance(event, dict):
                links = event.get("links") if isinstance(event.get("links"), dict) else {}
                event["links"] = {**links, "organisation": seeded.organisation}


@schema.parametrize()
def test_api(case: Case) -> None:
    use_seeded_ids(case)
    response = case.call_and_validate()
    FIGURES.case(case.operation.label, response.status_code)
