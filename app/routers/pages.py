"""Small HTML pages for people outside the CRM (the mandate-setup thank-you page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.routers.oauth import templates

router = APIRouter(tags=["pages"])


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
