"""The demo's embedded database under `.demo/`: fresh each run unless reused, migrated to
head, holding the simulated org's installation (made through the same service the operator
endpoint uses, audience all users).

The simulators keep their accounts in memory and start afresh every run, so a reused
database keeps only what is ours alone: the installation (id, API key, settings) and the keys
that read it. Everything learnt from the providers (both authorizations, the sync, the mirror,
invoice payments, mandate requests, webhook events) is forgotten, or the demo would show
tokens, records and payments no simulator knows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.demo.config import DatabaseKeys, DemoUrls, ProviderSecrets, demo_settings
from app.demo.errors import DemoError
from app.errors import InstallationExists, Unauthenticated
from app.migrate import upgrade_head_async
from app.models import ApiKey, Audience, Base, Installation, InstallationStatus, Lease
from app.runtime import Runtime, open_runtime
from app.services.installations import create_installation, installation_for_api_key
from app.settings import Settings

DATA_DIR_NAME = ".demo"
DATABASE_FILE = "demo.sqlite3"
# What a later `--reuse` needs: the database keys and the installation's API key (the
# database stores only its hash).
KEEP_FILE = "demo.json"


@dataclass(frozen=True)
class DemoInstallation:
    installation_id: uuid.UUID
    # Kept on disk for `--reuse` only; never shown in a page (the widget signs users in).
    api_key: str
    reused: bool


@dataclass(frozen=True)
class Kept:
    keys: DatabaseKeys
    api_key: str

    def save(self, path: Path) -> None:
        body = {
            "secret_key": self.keys.secret_key,
            "encryption_key": self.keys.encryption_key,
            "api_key": self.api_key,
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(body, indent=2))

    @classmethod
    def load(cls, path: Path) -> Kept | None:
        try:
            body = json.loads(path.read_text())
            keys = DatabaseKeys(str(body["secret_key"]), str(body["encryption_key"]))
            return cls(keys, str(body["api_key"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class DataDir:
    path: Path

    @property
    def database(self) -> Path:
        return self.path / DATABASE_FILE

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database}"

    @property
    def kept(self) -> Path:
        return self.path / KEEP_FILE

    def prepare(self, *, reuse: bool) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if reuse:
            return
        sidecars = [self.database.with_name(self.database.name + s) for s in ("-wal", "-shm")]
        for leftover in (self.database, self.kept, *sidecars):
            leftover.unlink(missing_ok=True)


async def open_database(
    data: DataDir, urls: DemoUrls, provider: ProviderSecrets, zoho_org_id: str, *, reuse: bool
) -> tuple[Settings, DemoInstallation]:
    """The service's settings and the org's installation, the database ready for both."""
    data.prepare(reuse=reuse)
    kept = Kept.load(data.kept) if reuse else None
    keys = kept.keys if kept else DatabaseKeys.generate()
    settings = demo_settings(urls, data.database_url, keys, provider)
    await upgrade_head_async(settings.database_url)
    installation = await _ensure_installation(settings, zoho_org_id, kept.api_key if kept else None)
    Kept(keys, installation.api_key).save(data.kept)
    return settings, installation


async def _ensure_installation(
    settings: Settings, zoho_org_id: str, kept_api_key: str | None
) -> DemoInstallation:
    """The installation `kept_api_key` opens when it is still active for the org, else a
    new one."""
    async with (
        open_runtime(settings) as runtime,
        runtime.sessionmaker() as session,
        session.begin(),
    ):
        kept = None
        if kept_api_key is not None:
            kept = await _active_installation(session, kept_api_key, zoho_org_id)
        if kept is not None and kept_api_key is not None:
            installation_id, api_key = kept, kept_api_key
            await _forget_provider_data(session, installation_id)
        else:
            installation_id, api_key = await _create(session, runtime, zoho_org_id)
    return DemoInstallation(
        installation_id=installation_id, api_key=api_key, reused=kept is not None
    )


async def _active_installation(
    session: AsyncSession, api_key: str, zoho_org_id: str
) -> uuid.UUID | None:
    try:
        installation = await installation_for_api_key(session, api_key)
    except Unauthenticated:
        return None
    if installation.status != InstallationStatus.active or installation.zoho_org_id != zoho_org_id:
        return None
    return installation.id


# Ours alone, so kept by `--reuse`; every other table holds what the providers told us.
_KEPT_TABLES = {Installation.__tablename__, ApiKey.__tablename__}


async def _forget_provider_data(session: AsyncSession, installation_id: uuid.UUID) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in _KEPT_TABLES and "installation_id" in table.c:
            await session.execute(delete(table).where(table.c.installation_id == installation_id))
    await session.execute(delete(Lease))


async def _create(
    session: AsyncSession, runtime: Runtime, zoho_org_id: str
) -> tuple[uuid.UUID, str]:
    try:
        created = await create_installation(
            session, runtime, zoho_org_id=zoho_org_id, audience=Audience.all_users, profile_ids=[]
        )
    except InstallationExists:
        raise DemoError(
            "the reused database holds an installation whose API key was lost; "
            "start the demo without --reuse"
        ) from None
    return created.installation.id, created.api_key
