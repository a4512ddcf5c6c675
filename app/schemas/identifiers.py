"""The shapes of the identifiers callers send us, checked before anything else sees them.

Written with ASCII classes on purpose: in Python and in pydantic's regex engine `\\d` also
matches other scripts' digits (`٣٤`, `²`), which Zoho and GoCardless would only refuse
after a call.
"""

from __future__ import annotations

import re

# Zoho CRM record, user and profile ids: up to 19 digits today.
ZOHO_ID = r"^[0-9]{1,20}$"
ZOHO_ID_MAX = 20
# GoCardless ids: a two-letter resource prefix (MD, PM, EV, OR, BRQ...) and upper-case base 36.
GOCARDLESS_ID = r"^[A-Z]{2}[0-9A-Z]{1,30}$"
GOCARDLESS_ID_MAX = 32
MANDATE_ID = r"^MD[0-9A-Z]{1,30}$"
PAYMENT_ID = r"^PM[0-9A-Z]{1,30}$"


def is_zoho_id(value: str) -> bool:
    # fullmatch, because Python's `$` also matches before a trailing newline.
    return re.fullmatch(r"[0-9]{1,20}", value) is not None
