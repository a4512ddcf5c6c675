"""Sync Now's in-memory feed of payments from the listing to the CRM writer."""

from __future__ import annotations

import asyncio

import pytest

from app.services.crm.batches import BATCH, Ready
from app.services.sync.feed import PaymentFeed


def ready(first: int, count: int) -> list[Ready]:
    return [
        ({"GoCardless_Payment_ID": f"PM{i:04d}"}, (f"PM{i:04d}", 1))
        for i in range(first, first + count)
    ]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_batches_go_out_full_and_in_order_and_a_partial_one_stays() -> None:
    feed = PaymentFeed(capacity=10 * BATCH)
    await feed.put(ready(0, 250))
    first = await feed.read()
    second = await feed.read()
    assert first is not None and second is not None
    assert [key for key, _ in first.keys] == [f"PM{i:04d}" for i in range(100)]
    assert first.records[0] == {"GoCardless_Payment_ID": "PM0000"}
    assert second.last_id == "PM0199"
    # Fifty are left: the reader waits for more rather than send a short batch...
    waiting = asyncio.create_task(feed.read())
    await settle()
    assert not waiting.done()
    # ...and once nothing more comes, leaves them to the CRM stages (pending in the mirror).
    await feed.close()
    assert await waiting is None
    assert len(feed) == 50


async def test_a_full_feed_holds_the_listing_back_until_the_writer_takes_a_batch() -> None:
    feed = PaymentFeed(capacity=2 * BATCH)
    await feed.put(ready(0, 2 * BATCH))
    putting = asyncio.create_task(feed.put(ready(200, 10)))
    await settle()
    assert not putting.done()
    assert len(feed) == 2 * BATCH
    assert await feed.read() is not None
    await asyncio.wait_for(putting, 1)
    assert len(feed) == BATCH + 10


async def test_a_stopped_writer_never_holds_the_listing_back() -> None:
    feed = PaymentFeed(capacity=BATCH)
    await feed.put(ready(0, BATCH))
    putting = asyncio.create_task(feed.put(ready(100, BATCH)))
    await settle()
    assert not putting.done()
    # The CRM failed a batch: what is fed from now on stays pending in the mirror.
    await feed.stop()
    await asyncio.wait_for(putting, 1)
    await feed.put(ready(200, BATCH))
    assert len(feed) == 0
    assert await feed.read() is None


@pytest.mark.parametrize("count", [0, BATCH - 1])
async def test_nothing_or_less_than_a_batch_is_never_sent_once_closed(count: int) -> None:
    feed = PaymentFeed()
    await feed.put(ready(0, count))
    await feed.close()
    assert await feed.read() is None
