"""The CRM writer's outcomes: those of batches finishing while one is recorded go together."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import pytest

from app.models import GcPayment
from app.runtime import Runtime
from app.services.crm import push
from app.services.crm.push import _Recorder


class Flushes:
    """Stands in for the statement: notes each group and holds it until let go."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def __call__(self, synced: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
        self.groups.append([o["b_id"] for o in [*synced, *rejected]])
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database went away")


def outcome(payment_id: str) -> list[dict[str, Any]]:
    return [{"b_id": payment_id, "b_version": 1, "b_value": "1000"}]


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> Flushes:
    fake = Flushes()
    monkeypatch.setattr(push._Recorder, "_flush", fake)
    return fake


def recorder() -> _Recorder:
    return _Recorder(cast(Runtime, None), GcPayment, uuid.uuid4())


async def test_outcomes_finishing_meanwhile_are_recorded_in_one_statement(
    flushes: Flushes,
) -> None:
    outcomes = recorder()
    first = asyncio.create_task(outcomes.record(outcome("PM1"), []))
    await asyncio.sleep(0)
    later = [asyncio.create_task(outcomes.record(outcome(p), [])) for p in ("PM2", "PM3")]
    await asyncio.sleep(0)
    assert flushes.groups == [["PM1"]] and not first.done()
    flushes.release.set()
    await asyncio.gather(first, *later)
    assert flushes.groups == [["PM1"], ["PM2", "PM3"]]


async def test_a_failed_statement_fails_each_of_its_batches_and_not_the_next(
    flushes: Flushes,
) -> None:
    outcomes = recorder()
    flushes.fail_next = True
    first = asyncio.create_task(outcomes.record(outcome("PM1"), []))
    await asyncio.sleep(0)
    second = asyncio.create_task(outcomes.record([], outcome("PM2")))
    await asyncio.sleep(0)
    flushes.release.set()
    with pytest.raises(RuntimeError):
        await first
    await second
    assert flushes.groups == [["PM1"], ["PM2"]]


async def test_a_cancelled_batch_still_has_its_outcome_recorded(flushes: Flushes) -> None:
    outcomes = recorder()
    waiting = asyncio.create_task(outcomes.record(outcome("PM1"), []))
    await asyncio.sleep(0)
    waiting.cancel()
    flushes.release.set()
    await outcomes.settle()
    assert waiting.cancelled() and flushes.groups == [["PM1"]]
