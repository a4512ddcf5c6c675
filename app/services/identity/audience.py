"""Who may use the extension (admins only, all users, or chosen profiles: the install-time
choice) and who is a CRM administrator.

A widget user's membership is proven at sign-in with their own Zoho token, and re-checked
with the installation's token at least every `AUDIENCE_RECHECK_SECONDS` (5 minutes) while
their session is used, so a user removed from the audience (or from the Administrator
profile) loses that access within the window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.adapters.zoho.errors import ZohoError
from app.adapters.zoho.models import ZohoUser
from app.log import get_logger
from app.models import Audience, Installation, ZohoConnection
from app.runtime import Runtime
from app.services.providers import zoho_crm

log = get_logger("app.services.identity.audience")

ADMIN_PROFILE = "Administrator"
ACTIVE_USER = "active"


@dataclass(frozen=True)
class Membership:
    in_audience: bool
    admin: bool
    checked_at: datetime


def membership_of(installation: Installation, user: ZohoUser | None, now: datetime) -> Membership:
    if user is None or (user.status or "").lower() != ACTIVE_USER:
        return Membership(in_audience=False, admin=False, checked_at=now)
    admin = user.profile is not None and user.profile.name == ADMIN_PROFILE
    audience = Audience(installation.audience)
    if audience is Audience.all_users:
        member = True
    elif audience is Audience.admins:
        member = admin
    else:
        member = user.profile is not None and user.profile.id in set(installation.profile_ids)
    return Membership(in_audience=member, admin=admin, checked_at=now)


def remember_membership(
    runtime: Runtime, installation_id: uuid.UUID, user_id: str, membership: Membership
) -> None:
    runtime.audience_cache.put((str(installation_id), user_id), membership)


def fresh_membership(
    runtime: Runtime, installation_id: uuid.UUID, user_id: str
) -> Membership | None:
    """The last answer for this user if it is recent enough to act on."""
    known = runtime.audience_cache.get((str(installation_id), user_id))
    if known is None or not is_fresh(runtime, known.checked_at):
        return None
    return known


def is_fresh(runtime: Runtime, checked_at: datetime) -> bool:
    window = timedelta(seconds=runtime.settings.audience_recheck_seconds)
    return runtime.clock() - checked_at < window


async def recheck_membership(
    runtime: Runtime, installation: Installation, connection: ZohoConnection, user_id: str
) -> Membership:
    """Ask the CRM (with the installation's token) about the user, and remember the answer."""
    try:
        user = await zoho_crm(runtime, connection).get_user(user_id)
    except ZohoError as exc:
        if exc.status_code not in (400, 404):
            raise
        user = None
    membership = membership_of(installation, user, runtime.clock())
    remember_membership(runtime, installation.id, user_id, membership)
    if not membership.in_audience:
        log.info("identity.audience.left", installation_id=str(installation.id), user_id=user_id)
    return membership


def forget_audience(runtime: Runtime, installation_id: uuid.UUID) -> None:
    """Drop cached answers after the installation's Zoho grant changes or it is removed."""
    runtime.audience_cache.discard_where(lambda key: key[0] == str(installation_id))
