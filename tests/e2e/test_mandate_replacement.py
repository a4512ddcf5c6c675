"""GoCardless replaces mandates when the creditor moves to a new scheme identifier (a Bacs
upgrade to its own Service User Number): the old one is cancelled with `links.new_mandate`
and a `replaced` event. We store the link and follow it: the contact's popup lists the new
mandate, and a payment asked for on the old one is made on the new one. Against both
simulators."""

from __future__ import annotations

from tests.e2e.harness import GOCARDLESS, settle
from tests.e2e.test_invoice_retries import Collecting, collecting  # noqa: F401  (fixture)


async def replace_bacs_mandates(collecting: Collecting) -> str:  # noqa: F811
    world = collecting.world
    response = await collecting.merchant.http.post(
        f"{GOCARDLESS}/_sim/organisations/{world.merchant.id}/scheme-identifier-change",
        json={"scheme": "bacs"},
    )
    assert response.status_code == 200, response.text
    (new,) = response.json()["new_mandates"]
    old = world.merchant.mandates.get(collecting.mandate_id)
    assert old is not None and (old.status, old.new_mandate) == ("cancelled", new)
    return str(new)


async def test_the_popup_shows_the_new_mandate_after_a_replacement(
    collecting: Collecting,  # noqa: F811
) -> None:
    new = await replace_bacs_mandates(collecting)
    await settle(collecting.world)
    (shown,) = (await collecting.popup())["mandates"]
    assert (shown["id"], shown["status"], shown["usable"]) == (new, "active", True)
    assert shown["payer"]["name"] == "Jane Doe"

    # A popup opened before the replacement still sends the old id: the new one collects.
    created = await collecting.pay()
    assert created.status_code == 201, created.text
    assert created.json()["payment"]["mandate_id"] == new
    (payment,) = collecting.world.merchant.payments.newest_first()
    assert payment.mandate == new


async def test_a_replacement_we_have_not_heard_of_is_followed_from_gocardless_answer(
    collecting: Collecting,  # noqa: F811
) -> None:
    new = await replace_bacs_mandates(collecting)
    # The `replaced` event has not been processed: our copy still says the old one is active,
    # and GoCardless refuses the payment with `mandate_replaced`, naming the new mandate.
    created = await collecting.pay()
    assert created.status_code == 201, created.text
    assert created.json()["payment"]["mandate_id"] == new
    assert len(list(collecting.world.merchant.payments.newest_first())) == 1
    await settle(collecting.world)
    assert [m["id"] for m in (await collecting.popup())["mandates"]] == [new]
