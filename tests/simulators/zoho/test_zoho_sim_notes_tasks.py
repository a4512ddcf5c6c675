"""Notes and Tasks: records attached to a record of another module, as Zoho takes them."""

from __future__ import annotations

from tests.simulators.zoho.conftest import Sim


async def test_a_note_is_attached_to_its_parent_and_listed_with_it(sim: Sim) -> None:
    invoice_id = sim.seeded.invoice_ids[0]
    parent = {"module": {"api_name": "Invoices"}, "id": invoice_id}
    made = await sim.crm(
        "POST",
        "/Notes",
        json={
            "data": [{"Note_Title": "Failed", "Note_Content": "It failed.", "Parent_Id": parent}]
        },
    )
    assert made.status_code == 201, made.text
    note_id = made.json()["data"][0]["details"]["id"]
    listed = await sim.crm(
        "GET", f"/Invoices/{invoice_id}/Notes", params={"fields": "Note_Title,Note_Content"}
    )
    assert [n["id"] for n in listed.json()["data"]] == [note_id]
    other = sim.seeded.invoice_ids[1]
    none = await sim.crm("GET", f"/Invoices/{other}/Notes", params={"fields": "Note_Title"})
    assert none.status_code == 204
    read = (await sim.crm("GET", f"/Notes/{note_id}")).json()["data"][0]
    assert read["Parent_Id"]["id"] == invoice_id
    assert read["Parent_Id"]["module"]["api_name"] == "Invoices"

    # What the CRM refuses: no content, no parent, a parent that does not exist.
    for row, code in (
        ({"Note_Title": "x", "Parent_Id": parent}, "MANDATORY_NOT_FOUND"),
        ({"Note_Content": "x"}, "MANDATORY_NOT_FOUND"),
        (
            {"Note_Content": "x", "Parent_Id": {**parent, "id": "4150868000000999999"}},
            "INVALID_DATA",
        ),
        ({"Note_Content": "x", "Parent_Id": {"id": invoice_id}}, "MANDATORY_NOT_FOUND"),
    ):
        refused = await sim.crm("POST", "/Notes", json={"data": [row]})
        assert refused.status_code == 400, row
        assert refused.json()["data"][0]["code"] == code, row


async def test_a_task_names_its_record_and_module(sim: Sim) -> None:
    invoice_id = sim.seeded.invoice_ids[0]
    owner = next(u for u in sim.seeded.org.users.values() if u.first_name == "Sam")
    task = {
        "Subject": "Call the customer",
        "What_Id": {"id": invoice_id},
        "$se_module": "Invoices",
        "Owner": {"id": owner.id},
        "Status": "Not Started",
    }
    made = await sim.crm("POST", "/Tasks", json={"data": [task]})
    assert made.status_code == 201, made.text
    task_id = made.json()["data"][0]["details"]["id"]
    read = (await sim.crm("GET", f"/Tasks/{task_id}")).json()["data"][0]
    assert (read["What_Id"]["id"], read["$se_module"]) == (invoice_id, "Invoices")
    assert read["Owner"]["id"] == owner.id
    found = await sim.crm(
        "GET", "/Tasks/search", params={"criteria": "(Subject:equals:Call the customer)"}
    )
    assert [t["id"] for t in found.json()["data"]] == [task_id]

    without_module = {k: v for k, v in task.items() if k != "$se_module"}
    refused = await sim.crm("POST", "/Tasks", json={"data": [without_module]})
    assert refused.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    bad_status = await sim.crm("POST", "/Tasks", json={"data": [{**task, "Status": "Done-ish"}]})
    assert bad_status.json()["data"][0]["code"] == "INVALID_DATA"
