"""Provider clients for one installation, built from its stored (encrypted) connection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from app.adapters.gocardless.client import GoCardlessClient
from app.adapters.zoho.crm import ZohoCRM, ZohoTokenSource
from app.adapters.zoho.names import ZohoNames
from app.models import GoCardlessConnection, ZohoConnection
from app.runtime import Runtime
from app.services.zoho_tokens import ZohoTokenStore


def zoho_crm(
    runtime: Runtime,
    connection: ZohoConnection,
    *,
    tokens: ZohoTokenSource | None = None,
    api_domain: str | None = None,
    triggers: Sequence[str] | None = None,
    priority: Literal["interactive", "background"] = "interactive",
) -> ZohoCRM:
    """`triggers` overrides ZOHO_CRM_TRIGGERS: Sync Now writes with none (`()`). Background
    work leaves the org's interactive reserve of Zoho slots to the widget."""
    settings = runtime.settings
    return ZohoCRM(
        runtime.http,
        # ZOHO_API_URL wins so tests and the simulator can stand in for every data centre.
        api_base=settings.zoho_api_url or api_domain or connection.api_domain,
        tokens=tokens or ZohoTokenStore(runtime, connection.installation_id, connection),
        names=ZohoNames(settings.zoho_namespace),
        limiter=runtime.zoho_limiters.for_org(connection.org_id, priority),
        triggers=settings.zoho_crm_triggers if triggers is None else triggers,
        sleep=runtime.provider_sleep,
    )


def gocardless_client(
    runtime: Runtime,
    connection: GoCardlessConnection,
    *,
    priority: Literal["interactive", "background"] = "interactive",
) -> GoCardlessClient:
    return gocardless_client_for_token(
        runtime,
        runtime.cipher.decrypt(connection.access_token_enc),
        organisation_id=connection.organisation_id,
        priority=priority,
    )


def gocardless_client_for_token(
    runtime: Runtime,
    access_token: str,
    *,
    organisation_id: str,
    priority: Literal["interactive", "background"] = "interactive",
) -> GoCardlessClient:
    return GoCardlessClient(
        runtime.http,
        api_url=runtime.settings.gocardless_api_base,
        access_token=access_token,
        pacer=runtime.gocardless_pacers.for_organisation(organisation_id),
        priority=priority,
        sleep=runtime.provider_sleep,
    )


class StaticZohoToken:
    """A token source for the moment right after the code exchange, before anything is stored."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    async def access_token(self) -> str:
        return self._token

    async def refreshed_access_token(self, stale: str) -> str:
        return self._token


def idempotency_key(installation_id: uuid.UUID, *operation: str | int) -> str:
    """The key of one GoCardless create, derived from what it does for which installation.

    Per installation, not per org: a reinstall starts its counters (attempt 1, request 1)
    again, and an org-based key would hand back the old installation's payment or fulfilled
    billing request instead of creating a new one.
    """
    return ":".join(("gz", str(installation_id), *map(str, operation)))
