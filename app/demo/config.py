"""The demo's configuration, built in code: fresh secrets, every provider URL aimed at a
simulator, the embedded SQLite file, readable (not JSON) log lines."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet

from app.settings import Settings, load_settings
from app.simulators.zoho import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

GOCARDLESS_CLIENT_ID = "gocardless-zoho-demo"
# The Zoho simulator's own client, registered again with our callback URL.
ZOHO_CLIENT_ID = DEFAULT_CLIENT_ID
ZOHO_CLIENT_SECRET = DEFAULT_CLIENT_SECRET
# Missed webhooks are looked for this often; short, so a demo shows the healing quickly.
CATCH_UP_SECONDS = 30.0


@dataclass(frozen=True)
class DemoUrls:
    service: str
    gocardless: str
    zoho: str


@dataclass(frozen=True)
class ProviderSecrets:
    """Shared with the GoCardless simulator, which starts afresh every run, so new each run."""

    gocardless_client_secret: str
    gocardless_webhook_secret: str

    @classmethod
    def generate(cls) -> ProviderSecrets:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24))


@dataclass(frozen=True)
class DatabaseKeys:
    """What reading the database needs: the key that signs links and the one that encrypts
    tokens. New with a fresh database, kept with a reused one."""

    secret_key: str
    encryption_key: str

    @classmethod
    def generate(cls) -> DatabaseKeys:
        return cls(secrets.token_urlsafe(32), Fernet.generate_key().decode())


def demo_settings(
    urls: DemoUrls, database_url: str, keys: DatabaseKeys, provider: ProviderSecrets
) -> Settings:
    return load_settings(
        database_url=database_url,
        public_base_url=urls.service,
        secret_key=keys.secret_key,
        encryption_keys=keys.encryption_key,
        admin_token=secrets.token_urlsafe(32),
        gocardless_environment="sandbox",
        gocardless_api_url=urls.gocardless,
        gocardless_connect_url=urls.gocardless,
        gocardless_client_id=GOCARDLESS_CLIENT_ID,
        gocardless_client_secret=provider.gocardless_client_secret,
        gocardless_webhook_secret=provider.gocardless_webhook_secret,
        zoho_client_id=ZOHO_CLIENT_ID,
        zoho_client_secret=ZOHO_CLIENT_SECRET,
        zoho_accounts_url=urls.zoho,
        zoho_api_url=urls.zoho,
        zoho_namespace="",
        catch_up_interval_seconds=CATCH_UP_SECONDS,
        # The simulated CRM frames the widget, as Zoho CRM's hosts do.
        widget_frame_ancestors=urls.zoho,
        log_json=False,
    )
