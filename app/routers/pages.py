"""Small HTML pages for people outside the CRM: the root page, the favicon and the
mandate-setup thank-you page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from app import __version__
from app.routers.oauth import templates

router = APIRouter(tags=["pages"])

FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"
_CACHED = {"Cache-Control": "public, max-age=86400"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def root(request: Request) -> HTMLResponse:
    """The first address a person types: what this is, and where the docs and health are."""
    return templates.TemplateResponse(request, "root.html", {"version": __version__})


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    return FileResponse(FAVICON, media_type="image/x-icon", headers=_CACHED)


@router.get(
    "/mandate-setup/complete",
    response_class=HTMLResponse,
    summary="Where GoCardless sends the customer after the mandate setup",
)
async def mandate_setup_complete(request: Request, exited: bool = False) -> HTMLResponse:
    if exited:
        title = "Direct Debit not set up"
        message = (
            "You left the setup before it was finished. You can use the link in the email "
            "again at any time."
        )
    else:
        title = "Thank you: your Direct Debit is set up"
        message = (
            "GoCardless will email you a confirmation, and notify you before each payment "
            "is collected."
        )
    return templates.TemplateResponse(
        request,
        "oauth_result.html",
        {
            "kind": "warning" if exited else "ok",
            "title": title,
            "message": message,
            "warning": None,
            "hide_close_hint": True,
        },
    )
