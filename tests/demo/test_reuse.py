"""`.demo/`: fresh by default; `--reuse` finds the same installation and API key again."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.demo.config import DemoUrls, ProviderSecrets
from app.demo.database import DataDir, DemoInstallation, open_database
from app.demo.errors import DemoError

URLS = DemoUrls("http://127.0.0.1:18000", "http://127.0.0.1:18001", "http://127.0.0.1:18002")
ORG = "4150868000000224001"


async def _start(data: DataDir, *, reuse: bool) -> DemoInstallation:
    _settings, installation = await open_database(
        data, URLS, ProviderSecrets.generate(), ORG, reuse=reuse
    )
    return installation


async def test_reuse_finds_the_same_installation(tmp_path: Path) -> None:
    data = DataDir(tmp_path / ".demo")
    first = await _start(data, reuse=False)
    again = await _start(data, reuse=True)
    assert not first.reused and again.reused
    assert (again.installation_id, again.api_key) == (first.installation_id, first.api_key)
    assert again.zoho_authorize_url.startswith(f"{URLS.service}/oauth/zoho/start?link=")
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
