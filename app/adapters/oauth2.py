"""Authlib's OAuth 2.0 client for httpx, imported in one place without its import-time notice.

Authlib 1.9 announces on import that its httpx integration will move to the `httpx2` package,
and its warnings module installs an "always show" filter of its own, in front of any set
beforehand (pytest's, ours). Nobody running this service can act on the notice: we stay on
httpx, which respx and every adapter use. So it is silenced here, for this import only.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401  (installs Authlib's filter, so ours goes in front)

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = ["AsyncOAuth2Client"]
