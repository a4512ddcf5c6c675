"""Offline, stateful simulator of Zoho Accounts (OAuth) and the Zoho CRM REST API v8 subset
the product uses. Shares no code with `app.adapters`: it is written from Zoho's documented
behaviour so the adapters' assumptions are tested, not mirrored."""

from app.simulators.zoho.options import ManualClock, ZohoSimOptions
from app.simulators.zoho.server import create_app, run
from app.simulators.zoho.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    ZohoSimState,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URI",
    "ManualClock",
    "ZohoSimOptions",
    "ZohoSimState",
    "create_app",
    "run",
]
