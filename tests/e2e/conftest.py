"""Fixtures for the end-to-end tests: a fresh world (service + both simulators) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.harness import World, open_world


@pytest.fixture
async def world(clean_db: AsyncEngine) -> AsyncIterator[World]:
    async with open_world(clean_db) as world:
        yield world
