"""Binding an OAuth flow to the browser that started it.

Starting a sign-in or an authorization sets a random browser id in an HttpOnly cookie (kept if
the browser already has one, so flows started side by side all stay valid); the flow's state
holds only its digest. A consent URL passed to someone else cannot be finished in their browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

BROWSER_COOKIE = "gcz_browser"
BROWSER_COOKIE_MAX_AGE = 3600


def browser_id_or_new(cookie: str | None) -> str:
    if cookie and 16 <= len(cookie) <= 128 and cookie.isascii():
        return cookie
    return secrets.token_urlsafe(32)


def browser_hash(browser_id: str) -> str:
    return hashlib.sha256(browser_id.encode()).hexdigest()


def same_browser(expected_hash: str | None, cookie: str | None) -> bool:
    if not expected_hash or not cookie:
        return False
    return hmac.compare_digest(expected_hash, browser_hash(cookie))
