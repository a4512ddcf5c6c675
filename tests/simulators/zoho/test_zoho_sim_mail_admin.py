"""Send Mail into the outbox, and the admin API around it."""

from __future__ import annotations

from typing import Any

from tests.simulators.zoho.conftest import Sim


def mail(sender: str, **extra: Any) -> dict[str, Any]:
    return {
        "data": [
            {
                "from": {"user_name": "Ada Admin", "email": sender},
                "to": [{"user_name": "Jane Doe", "email": "jane.doe@example.com"}],
                "subject": "Set up your Direct Debit",
                "content": "<p>Please <a href='https://pay.example/x'>set up</a>.</p>",
                "mail_format": "html",
                **extra,
            }
        ]
    }


async def test_send_mail_lands_in_the_outbox(sim: Sim) -> None:
    contact_id = sim.seeded.contact_ids[0]
    froms = (await sim.crm("GET", "/settings/emails/actions/from_addresses")).json()
    own = next(a["email"] for a in froms["from_addresses"] if a["default"])
    answer = await sim.crm("POST", f"/Contacts/{contact_id}/actions/send_mail", json=mail(own))
    assert answer.status_code == 200
    row = answer.json()["data"][0]
    assert (row["code"], row["status"]) == ("SUCCESS", "success")
    outbox = (await sim.http.get("/_sim/outbox.json", params={"to": "jane.doe@example.com"})).json()
    sent = [(m["record_id"], m["subject"], m["message_id"]) for m in outbox]
    assert sent == [(contact_id, "Set up your Direct Debit", row["details"]["message_id"])]
    page = await sim.http.get("/_sim/outbox")
    assert "Set up your Direct Debit" in page.text


async def test_send_mail_checks_sender_and_fields(sim: Sim) -> None:
    contact_id = sim.seeded.contact_ids[0]
    path = f"/Contacts/{contact_id}/actions/send_mail"
    stranger = await sim.crm("POST", path, json=mail("someone@elsewhere.example"))
    assert stranger.status_code == 400
    assert stranger.json()["data"][0]["details"]["api_name"] == "from"
    org_address = sim.seeded.org.org_from_addresses[0].email
    without_flag = await sim.crm("POST", path, json=mail(org_address))
    assert without_flag.status_code == 400
    with_flag = await sim.crm("POST", path, json=mail(org_address, org_email=True))
    assert with_flag.status_code == 200
    no_to = await sim.crm("POST", path, json=mail(org_address, org_email=True, to=[]))
    assert no_to.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    no_scope = sim.mint(("ZohoCRM.modules.ALL",))["access_token"]
    denied = await sim.crm("POST", path, token=no_scope, json=mail(org_address, org_email=True))
    assert denied.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    assert len(sim.state.outbox) == 1


async def test_admin_seed_token_and_org_scoping(sim: Sim) -> None:
    second = (await sim.http.post("/_sim/seed", json={"location": "in"})).json()
    assert second["org_id"] != sim.org_id and second["location"] == "in"
    token = (await sim.http.post("/_sim/tokens", json={"org_id": second["org_id"]})).json()
    theirs = await sim.crm(
        "GET", "/Contacts", token=token["access_token"], params={"fields": "Email"}
    )
    ours = await sim.crm("GET", "/Contacts", params={"fields": "Email"})
    their_ids = {r["id"] for r in theirs.json()["data"]}
    our_ids = {r["id"] for r in ours.json()["data"]}
    assert their_ids and our_ids and not their_ids & our_ids
    foreign = await sim.crm(
        "GET", f"/Contacts/{sim.seeded.contact_ids[0]}", token=token["access_token"]
    )
    assert foreign.status_code == 204


async def test_admin_bulk_load_read_and_schema_surgery(sim: Sim) -> None:
    path = f"/_sim/orgs/{sim.org_id}/modules/Invoices/records"
    loaded = await sim.http.post(
        path, json={"records": [{"Subject": "Big one", "Grand_Total": 1234.56, "Currency": "EUR"}]}
    )
    assert "id" in loaded.json()["data"][0]
    listing = (await sim.http.get(path, params={"offset": 6})).json()
    assert listing["total"] == 7
    assert listing["data"][0]["Subject"] == "Big one"

    field = f"/_sim/orgs/{sim.org_id}/modules/GoCardless_Payments/fields/GoCardless_Payment_ID"
    assert (await sim.http.patch(field, json={"unique": False})).status_code == 200
    refused = await sim.crm(
        "POST",
        "/GoCardless_Payments/upsert",
        json={"data": [{"Name": "x"}], "duplicate_check_fields": ["GoCardless_Payment_ID"]},
    )
    assert refused.status_code == 400
    assert (await sim.http.delete(field)).status_code == 204
    names = {
        f["api_name"]
        for f in (
            await sim.crm("GET", "/settings/fields", params={"module": "GoCardless_Payments"})
        ).json()["fields"]
    }
    assert "GoCardless_Payment_ID" not in names
    assert (
        await sim.http.delete(f"/_sim/orgs/{sim.org_id}/modules/GoCardless_Customers")
    ).status_code == 204
    gone = await sim.crm("GET", "/GoCardless_Customers", params={"fields": "Name"})
    assert gone.json()["code"] == "INVALID_MODULE"


async def test_admin_config_counters_and_reset(sim: Sim) -> None:
    config = (await sim.http.patch("/_sim/config", json={"access_token_lifetime": 60})).json()
    assert config["access_token_lifetime"] == 60
    token = (await sim.http.post("/_sim/tokens", json={"org_id": sim.org_id})).json()
    assert token["expires_in"] == 60
    sim.clock.advance(61)
    expired = await sim.crm("GET", "/org", token=token["access_token"])
    assert expired.json()["code"] == "INVALID_TOKEN"
    assert (await sim.crm("GET", "/org")).status_code == 200
    counters = (await sim.http.get("/_sim/counters")).json()
    assert counters["crm.requests"] == 1
    assert (await sim.http.post("/_sim/reset")).status_code == 204
    assert (await sim.http.get("/_sim/orgs")).json() == []
