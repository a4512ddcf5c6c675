"""The demo's configuration, built in code: fresh secrets, every provider URL aimed at a
simulator, the embedded SQLite file under `.demo/` in the working directory."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from app.settings import Settings, load_settings
from app.simulators.zoho import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

GOCARDLESS_CLIENT_ID = "gocardless-zoho-demo"
# The Zoho simulator's own client, registered again with our callback URL.
ZOHO_CLIENT_ID = DEFAULT_CLIENT_ID
ZOHO_CLIENT_SECRET = DEFAULT_CLIENT_SECRET
DATA_DIR_NAME = ".demo"
DATABASE_FILE = "demo.sqlite3"
# What a later `--reuse` needs to read the database it finds: the key that encrypted its
# tokens and the installation's API key (stored there only as a hash).
KEEP_FILE = "demo.json"
# Missed webhooks are looked for this often; short, so a demo shows the healing quickly.
CATCH_UP_SECONDS = 30.0


@dataclass(frozen=True)
class DemoUrls:
    service: str
    gocardless: str
    zoho: str


@dataclass(frozen=True)
class DemoSecrets:
    secret_key: str
    encryption_key: str
    gocardless_client_secret: str
    gocardless_webhook_secret: str

    @classmethod
    def generate(cls) -> DemoSecrets:
        return cls(
            secret_key=secrets.token_urlsafe(32),
            encryption_key=Fernet.generate_key().decode(),
            gocardless_client_secret=secrets.token_urlsafe(24),
            gocardless_webhook_secret=secrets.token_urlsafe(24),
        )


@dataclass(frozen=True)
class Kept:
    """What one run leaves in `.demo/` for the next `--reuse`."""

    secrets: DemoSecrets
    api_key: str

    def save(self, path: Path) -> None:
        body = {
            "secret_key": self.secrets.secret_key,
            "encryption_key": self.secrets.encryption_key,
            "api_key": self.api_key,
        }
        path.write_text(json.dumps(body, indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> Kept | None:
        try:
            body = json.loads(path.read_text())
            kept_secrets = DemoSecrets(
                secret_key=str(body["secret_key"]),
                encryption_key=str(body["encryption_key"]),
                gocardless_client_secret=secrets.token_urlsafe(24),
                gocardless_webhook_secret=secrets.token_urlsafe(24),
            )
            return cls(kept_secrets, str(body["api_key"]))
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
        for leftover in (self.database, self.kept, *self._sqlite_sidecars()):
            leftover.unlink(missing_ok=True)

    def _sqlite_sidecars(self) -> list[Path]:
        return [self.database.with_name(self.database.name + s) for s in ("-wal", "-shm")]


def demo_settings(urls: DemoUrls, data: DataDir, demo_secrets: DemoSecrets) -> Settings:
    return load_settings(
        database_url=data.database_url,
        public_base_url=urls.service,
        secret_key=demo_secrets.secret_key,
        encryption_keys=demo_secrets.encryption_key,
        admin_token=secrets.token_urlsafe(32),
        gocardless_environment="sandbox",
        gocardless_api_url=urls.gocardless,
        gocardless_connect_url=urls.gocardless,
        gocardless_client_id=GOCARDLESS_CLIENT_ID,
        gocardless_client_secret=demo_secrets.gocardless_client_secret,
        gocardless_webhook_secret=demo_secrets.gocardless_webhook_secret,
        zoho_client_id=ZOHO_CLIENT_ID,
        zoho_client_secret=ZOHO_CLIENT_SECRET,
        zoho_accounts_url=urls.zoho,
        zoho_api_url=urls.zoho,
        zoho_namespace="",
        catch_up_interval_seconds=CATCH_UP_SECONDS,
        log_json=False,
    )
