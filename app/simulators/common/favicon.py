"""Each simulator's tab icon, so a browser's `/favicon.ico` finds one instead of a 404 (and a
person tells the simulators' tabs apart: G on dark grey, Z on red)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

ICONS = Path(__file__).resolve().parent / "static"


def favicon_router(icon: str) -> APIRouter:
    """`icon`: the file name under `static/` (gocardless.ico, zoho.ico)."""
    path = ICONS / icon
    router = APIRouter(include_in_schema=False)

    @router.get("/favicon.ico")
    async def favicon() -> FileResponse:
        return FileResponse(
            path, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
        )

    return router
