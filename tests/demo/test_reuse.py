"""`.demo/`: fresh by default; `--reuse` finds the same installation and API key again, and
forgets what only the last run's simulators knew."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.demo.config import DemoUrls, ProviderSecrets
from app.demo.database import DataDir, DemoInstallation, open_database
from app.demo.errors import DemoError
from app.demo.lock import LOCK_FILE, demo_lock
from app.models import (
    GcPayment,
    Installation,
    SyncRun,
    SyncState,
    ZohoConnection,
)
from app.runtime import open_runtime
from app.settings import Settings

URLS = DemoUrls("http://127.0.0.1:18000", "http://127.0.0.1:18001", "http://127.0.0.1:18002")
ORG = "4150868000000224001"


async def _start(data: DataDir, *, reuse: bool) -> DemoInstallation:
    _settings, installation = await _open(data, reuse=reuse)
    return installation


async def _open(data: DataDir, *, reuse: bool) -> tuple[Settings, DemoInstallation]:
    return await open_database(data, URLS, ProviderSecrets.generate(), ORG, reuse=reuse)


async def test_reuse_finds_the_same_installation(tmp_path: Path) -> None:
    data = DataDir(tmp_path / ".demo")
    first = await _start(data, reuse=False)
    again = await _start(data, reuse=True)
    assert not first.reused and again.reused
    assert (again.installation_id, again.api_key) == (first.installation_id, first.api_key)
    assert oct(data.kept.stat().st_mode & 0o777) == "0o600"


async def test_a_fresh_start_forgets_the_last_run(tmp_path: Path) -> None:
    data = DataDir(tmp_path / ".demo")
    first = await _start(data, reuse=False)
    fresh = await _start(data, reuse=False)
    assert fresh.installation_id != first.installation_id
    assert fresh.api_key != first.api_key


async def test_reuse_without_the_kept_key_says_to_start_afresh(tmp_path: Path) -> None:
    data = DataDir(tmp_path / ".demo")
    await _start(data, reuse=False)
    data.kept.write_text("not json")
    with pytest.raises(DemoError, match="without --reuse"):
        await _start(data, reuse=True)


async def test_reuse_keeps_our_settings_and_forgets_what_the_simulators_knew(
    tmp_path: Path,
) -> None:
    """The simulators start empty each run: a kept connection, sync or payment would name
    tokens and records no simulator knows."""
    data = DataDir(tmp_path / ".demo")
    settings, first = await _open(data, reuse=False)
    now = datetime.now(UTC)
    async with open_runtime(settings) as runtime, runtime.sessionmaker.begin() as session:
        installation = await session.get(Installation, first.installation_id)
        assert installation is not None
        installation.auto_collect_on_mandate = True
        session.add_all(
            [
                ZohoConnection(
                    installation_id=first.installation_id,
                    org_id=ORG,
                    accounts_server=URLS.zoho,
                    api_domain=URLS.zoho,
                    refresh_token_enc="x",
                    authorized_at=now,
                ),
                SyncRun(
                    installation_id=first.installation_id,
                    state=SyncState.succeeded,
                    started_at=now,
                ),
                GcPayment(
                    installation_id=first.installation_id,
                    id="PM0001",
                    amount=100,
                    currency="GBP",
                    status="pending_submission",
                    fetched_at=now,
                ),
            ]
        )

    settings, again = await _open(data, reuse=True)
    assert again.reused and again.api_key == first.api_key
    async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
        kept = await session.get(Installation, first.installation_id)
        assert kept is not None and kept.auto_collect_on_mandate
        for table in (ZohoConnection, SyncRun, GcPayment):
            assert await session.scalar(select(func.count()).select_from(table)) == 0, table


def test_a_second_demo_in_the_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    refusal = rf"another demo is running here \(pid {os.getpid()}\)"
    with demo_lock(tmp_path), pytest.raises(DemoError, match=refusal), demo_lock(tmp_path):
        pass
    with demo_lock(tmp_path):  # released when the first one ends
        pass


def test_a_lock_left_by_a_dead_demo_is_taken_over(tmp_path: Path) -> None:
    # A demo killed with SIGKILL leaves its pid in the file, but the kernel released its lock.
    holder = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "from pathlib import Path\n"
            "from app.demo.lock import demo_lock\n"
            "demo_lock(Path(sys.argv[1])).__enter__()\n"
            "os._exit(9)\n",
            str(tmp_path),
        ],
        check=False,
    )
    assert holder.returncode == 9
    assert (tmp_path / LOCK_FILE).read_text().strip().isdigit()
    with demo_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
