"""Seeded data is repeatable and covers the statuses the product has to handle."""

from __future__ import annotations

from collections import Counter

from app.simulators.gocardless.seed import seed_organisation

from .conftest import Sim, build_state


def snapshot(seed: int) -> list[tuple[str, str, int]]:
    state = build_state(seed=seed)
    org = state.create_organisation()
    seed_organisation(state, org, customers=30, seed=seed)
    return [(p.id, p.status, p.amount) for p in org.payments.newest_first()]


def test_same_seed_same_data() -> None:
    assert snapshot(11) == snapshot(11)
    assert snapshot(11) != snapshot(12)


async def test_admin_seed_mixes_statuses(sim: Sim) -> None:
    response = await sim.client.post(
        f"/_sim/organisations/{sim.org.id}/seed",
        json={"customers": 400, "mandate_share": 0.5, "payments_per_mandate": 4, "seed": 9},
    )
    counts = response.json()
    assert counts["customers"] == 400
    assert 150 < counts["mandates"] < 250
    statuses = Counter(p.status for p in sim.org.payments.newest_first())
    for status in (
        "paid_out",
        "confirmed",
        "failed",
        "cancelled",
        "charged_back",
        "pending_submission",
    ):
        assert statuses[status] > 0, status
    without_mandate = [
        c
        for c in sim.org.customers.newest_first()
        if not sim.org.mandates.ids_for("customer", c.id)
    ]
    assert without_mandate
