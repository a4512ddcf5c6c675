"""What one widget call asks of PostgreSQL: the burst of 100 concurrent calls is CPU-bound,
and each statement costs our process about half a millisecond."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event

from tests.e2e.harness import World, settle
from tests.e2e.merchant import Merchant
from tests.e2e.test_invoice_payers import invoice_id, popup, ready


async def test_a_popup_reads_the_installation_and_its_connections_once(world: World) -> None:
    installed = await ready(world)
    async with Merchant(world) as merchant:
        await merchant.new_customer(
            given_name="Jane", family_name="Doe", email="jane.doe@example.com"
        )
    await settle(world)
    invoice = invoice_id(world, "Website redesign")
    await popup(world, installed, invoice)  # statements prepared, tokens fresh
    tables: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        tables.append(re.findall(r"\bFROM (\w+)", statement)[0])

    engine = world.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        body = await popup(world, installed, invoice)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(body["mandates"]) == 1
    # The API key's installation with its connections and sync run: one query.
    assert tables[:1] == ["installations"]
    assert "gocardless_connections" not in tables and "sync_runs" not in tables
    assert len(tables) <= 7, tables
