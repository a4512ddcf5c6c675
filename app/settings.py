"""Configuration, read once from the environment (see CONTRACT.md)."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GOCARDLESS_API_URLS = {
    "sandbox": "https://api-sandbox.gocardless.com",
    "live": "https://api.gocardless.com",
}
GOCARDLESS_CONNECT_URLS = {
    "sandbox": "https://connect-sandbox.gocardless.com",
    "live": "https://connect.gocardless.com",
}


# Signing and operator secrets shorter than this are guessable: refused at start-up.
MIN_SECRET_LENGTH = 32
# Where Zoho CRM runs in each data centre: the pages that may frame the widget.
ZOHO_CRM_HOSTS = (
    "https://crm.zoho.com",
    "https://crm.zoho.eu",
    "https://crm.zoho.in",
    "https://crm.zoho.com.au",
    "https://crm.zoho.jp",
    "https://crm.zohocloud.ca",
    "https://crm.zoho.sa",
    "https://crm.zoho.uk",
    "https://crm.zoho.com.cn",
    "https://*.zoho.com",
    "https://*.zoho.eu",
    "https://*.zohosandbox.com",
)


class GoCardlessEnvironment(StrEnum):
    sandbox = "sandbox"
    live = "live"


class ConfigurationError(Exception):
    """A missing or invalid variable; the message is one line naming it."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    # Connections per process: at most size + overflow (see README "Sizing the pool"). A
    # request holds one connection at most, so these bound concurrent requests, not deadlock.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    # How long a request waits for a free connection before it fails with a 500.
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    public_base_url: str = "http://localhost:8000"
    secret_key: SecretStr
    encryption_keys: Annotated[list[SecretStr], NoDecode]
    admin_token: SecretStr

    gocardless_environment: GoCardlessEnvironment = GoCardlessEnvironment.sandbox
    gocardless_api_url: str | None = None
    gocardless_connect_url: str | None = None
    gocardless_client_id: str = ""
    gocardless_client_secret: SecretStr = SecretStr("")
    gocardless_webhook_secret: SecretStr = SecretStr("")

    zoho_client_id: str = ""
    zoho_client_secret: SecretStr = SecretStr("")
    zoho_accounts_url: str = "https://accounts.zoho.com"
    zoho_api_url: str | None = None
    zoho_namespace: str = ""
    zoho_crm_triggers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["workflow"])
    # Zoho's concurrency cap per org is 5-25 calls by edition; 10 suits Standard.
    zoho_concurrency: int = 10
    # GoCardless sends no event when a customer's details change: re-list them this often
    # (ceil(customers / 500) calls per installation, logged each time).
    customer_reconcile_interval_seconds: float = 3600.0
    # GoCardless's budget per merchant token, shared by all our processes through the database.
    gocardless_rate_per_minute: int = 1000

    # Origins allowed to call the API from a browser: the widget served by Zoho (zet pack
    # upload) is on Zoho's domain; the widget served under /widget needs none.
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Inbox resources processed side by side, and the most time one may take before it uses
    # up an attempt and waits its turn again (so none holds up the others).
    inbox_concurrency: int = Field(default=8, ge=1)
    # Installations a worker serves at once for each kind of work (events, Sync Now, CRM
    # pushes); beyond that they take turns step by step.
    worker_lanes: int = Field(default=8, ge=1)
    event_timeout_seconds: float = Field(default=20.0, gt=0)
    # How much lower a worker process's CPU priority is than `serve`'s (0-19, added to the
    # niceness it starts with): on shared cores the webhook receiver answers first.
    worker_niceness: int = Field(default=10, ge=0, le=19)
    # Above this many webhooks a second the worker takes one step at a time and rests nine
    # times as long after each (jobs/receiver_load.py), so that acknowledgements come first;
    # the events reach the CRM once the burst has passed.
    worker_yield_above_webhooks_per_second: float = Field(default=200.0, gt=0)
    # A worker process (standalone or serve's) serves its own /metrics here when set.
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    # How often missed webhooks are looked for in GoCardless's event list.
    catch_up_interval_seconds: float = 300.0
    # Most `created_at` windows Sync Now splits the payments listing into, each a cursor
    # chain of its own (1: one chain). Windows cost about a call each and pay off when
    # GoCardless's latency, not its rate limit, bounds the listing.
    sync_payment_windows: int = Field(default=4, ge=1, le=16)

    # Widget sign-in: how long a session lasts, and how stale its proof of audience
    # membership (and of the Administrator profile) may get before the CRM is asked again.
    session_ttl_seconds: int = Field(default=8 * 3600, gt=0)
    audience_recheck_seconds: int = Field(default=300, gt=0, le=300)
    # Authorize links are bearer capabilities handed to admins: short-lived and single use.
    authorize_link_ttl_seconds: int = Field(default=900, gt=0, le=900)
    # Pages allowed to frame the widget (Zoho CRM's hosts); OAuth pages are never framed.
    widget_frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(ZOHO_CRM_HOSTS)
    )
    # Setup-link emails: once per invoice per interval, and at most this many an hour per
    # installation (the CRM's send-mail quota is the merchant's, and customers must not be
    # mail-bombed).
    mandate_email_interval_seconds: int = Field(default=600, ge=0)
    mandate_emails_per_hour: int = Field(default=50, ge=1)
    # When set, GET /metrics needs `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = None
    # False removes /docs, /redoc and /openapi.json.
    docs_enabled: bool = True
    # Request bodies: the widget's JSON is small; a webhook batch holds up to 250 events.
    api_max_body_bytes: int = Field(default=64 * 1024, gt=0)
    webhook_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # A body still arriving this long after the request began is refused (slow senders).
    body_read_timeout_seconds: float = Field(default=30.0, gt=0)

    log_json: bool = True
    log_level: str = "INFO"

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator(
        "zoho_crm_triggers", "cors_allowed_origins", "widget_frame_ancestors", mode="before"
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("secret_key", "admin_token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters long")
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("encryption_keys")
    @classmethod
    def _valid_fernet(cls, value: list[SecretStr]) -> list[SecretStr]:
        if not value:
            raise ValueError(
                "is empty; set it to one or more comma-separated Fernet keys (make one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`)'
            )
        for key in value:
            try:
                Fernet(key.get_secret_value().encode())
            except (ValueError, TypeError) as exc:
                raise ValueError("each key must be a url-safe base64 32-byte Fernet key") from exc
        return value

    @field_validator("zoho_crm_triggers")
    @classmethod
    def _known_triggers(cls, value: list[str]) -> list[str]:
        unknown = set(value) - {"workflow", "approval", "blueprint"}
        if unknown:
            raise ValueError(f"unknown trigger(s): {', '.join(sorted(unknown))}")
        return value

    @field_validator("public_base_url", "zoho_accounts_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def gocardless_api_base(self) -> str:
        return (self.gocardless_api_url or GOCARDLESS_API_URLS[self.gocardless_environment]).rstrip(
            "/"
        )

    @cached_property
    def gocardless_connect_base(self) -> str:
        base = self.gocardless_connect_url or GOCARDLESS_CONNECT_URLS[self.gocardless_environment]
        return base.rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a problem becomes one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        if first["type"] == "missing":
            raise ConfigurationError(f"missing required environment variable {name}") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"invalid environment variable {name}: {message}") from None
