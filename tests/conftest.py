"""Shared fixtures: a real PostgreSQL database built by the migrations, the app over ASGI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.migrate import upgrade_head
from app.settings import Settings
from tests.reference import GOCARDLESS_FIXTURES

ADMIN_URL = os.environ.get(
    "TEST_ADMIN_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TEST_DB = os.environ.get("TEST_DATABASE_NAME", "gocardless_zoho_test")
TEST_DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + f"/{TEST_DB}"


# Fixed per run so tests can build ciphers that read what the app wrote.
ENCRYPTION_KEY = Fernet.generate_key().decode()
ZOHO_ACCOUNTS = "https://accounts.zoho.com"
ZOHO_API = "https://www.zohoapis.com"
GOCARDLESS_API = "https://api-sandbox.gocardless.com"
GOCARDLESS_CONNECT = "https://connect-sandbox.gocardless.com"
PUBLIC_BASE = "http://testserver"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": TEST_DATABASE_URL,
        "public_base_url": PUBLIC_BASE,
        "secret_key": "test-secret-key-0123456789abcdef",
        "encryption_keys": ENCRYPTION_KEY,
        "admin_token": "operator-token-0123456789abcdefghij",
        "gocardless_client_id": "gc-client",
        "gocardless_client_secret": "gc-secret",
        "gocardless_webhook_secret": "gc-webhook-secret",
        "zoho_client_id": "zoho-client",
        "zoho_client_secret": "zoho-secret",
        "zoho_accounts_url": ZOHO_ACCOUNTS,
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def _recreate_database() -> None:
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{TEST_DB}"'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def migrated_database() -> AsyncIterator[str]:
    await _recreate_database()
    import asyncio

    await asyncio.to_thread(upgrade_head, TEST_DATABASE_URL)
    yield TEST_DATABASE_URL


@pytest.fixture(scope="session")
async def engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated_database, pool_size=30, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean_db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    # Truncate rather than roll back: services open their own sessions and commit.
    async with engine.begin() as connection:
        tables = (
            (
                await connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        if tables:
            await connection.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
            )


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def fixtures_dir() -> Iterator[Path]:
    yield GOCARDLESS_FIXTURES
