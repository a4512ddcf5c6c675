"""Swagger UI and ReDoc pages whose JavaScript and CSS come from the app itself.

FastAPI's own pages load them from a CDN, which the offline demo cannot reach. The files come
from the fastapi-offline package, which ships them for exactly this; the pages are FastAPI's.
Our service and both simulators are built here, so every docs page works without a network.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
# Nothing but our own server: ReDoc would otherwise fetch its maker's logo from a CDN. The
# pages start with an inline script, and both UIs style themselves inline.
DOCS_PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def app_with_offline_docs(*, prefix: str = "", docs: bool = True, **options: Any) -> FastAPI:
    """A FastAPI app (`options` as for FastAPI) with its OpenAPI document, Swagger UI, ReDoc
    and their files under `prefix`: `{prefix}/openapi.json`, `{prefix}/docs`, `{prefix}/redoc`,
    `{prefix}/docs-assets/`. The simulators pass `/_sim`, the part of their paths that no
    simulated API uses and no injected fault touches. The pages show the app's own
    `/favicon.ico`, so their tabs tell the three servers apart. `docs=False` leaves all of
    it out."""
    openapi_url = f"{prefix}/openapi.json"
    assets = f"{prefix}/docs-assets"
    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=openapi_url if docs else None, **options
    )
    if not docs:
        return app
    app.mount(assets, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.ico",
        )
        page.headers["Content-Security-Policy"] = DOCS_PAGE_POLICY
        return page

    @app.get(f"{prefix}/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{root}/favicon.ico",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_PAGE_POLICY
        return page

    return app
