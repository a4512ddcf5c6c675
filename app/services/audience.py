"""Who may use the extension: admins only, all users, or chosen profiles (install-time choice).

The user id comes from the widget and could be forged by anyone holding the API key, so it is
re-checked server-side against the CRM's users API, cached for a minute.
"""

from __future__ import annotations

import uuid

from app.adapters.zoho.errors import ZohoError
from app.errors import UserNotInAudience
from app.log import get_logger
from app.models import Audience, Installation, ZohoConnection
from app.runtime import Runtime
from app.services.providers import zoho_crm

log = get_logger("app.services.audience")

ADMIN_PROFILE = "Administrator"
ACTIVE_USER = "active"


async def ensure_in_audience(
    runtime: Runtime, installation: Installation, connection: ZohoConnection, user_id: str
) -> None:
    key = (str(installation.id), user_id)
    allowed = runtime.audience_cache.get(key)
    if allowed is None:
        allowed = await _ask_crm(runtime, installation, connection, user_id)
        runtime.audience_cache.put(key, allowed)
    if not allowed:
        raise UserNotInAudience(
            "Your Zoho CRM user is not allowed to use GoCardless for Zoho CRM; "
            "ask your CRM administrator to add your profile."
        )


async def _ask_crm(
    runtime: Runtime, installation: Installation, connection: ZohoConnection, user_id: str
) -> bool:
    try:
        user = await zoho_crm(runtime, connection).get_user(user_id)
    except ZohoError as exc:
        if exc.status_code in (400, 404):
            user = None
        else:
            raise
    if user is None or (user.status or "").lower() != ACTIVE_USER:
        return False
    audience = Audience(installation.audience)
    if audience is Audience.all_users:
        return True
    if audience is Audience.admins:
        return user.profile is not None and user.profile.name == ADMIN_PROFILE
    return user.profile is not None and user.profile.id in set(installation.profile_ids)


def forget_audience(runtime: Runtime, installation_id: uuid.UUID) -> None:
    """Drop cached answers after the installation's Zoho grant changes or it is removed."""
    runtime.audience_cache.discard_where(lambda key: key[0] == str(installation_id))
