"""Alembic, driven from code so `gocardless-zoho migrate` works wherever the package runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine


def migrations_dir() -> Path:
    # Beside the package in a checkout or an editable install; the Dockerfile copies it there too.
    return Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_head(database_url: str) -> None:
    """Run in a worker thread when called from async code: env.py starts its own event loop."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_head_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade_head, database_url)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


async def at_head(engine: AsyncEngine, head: str | None) -> bool:
    # A plain read: MigrationContext would log two INFO lines on every readiness probe.
    async with engine.connect() as connection:
        try:
            current = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
        except ProgrammingError:
            return False
    return current == head
