"""GoCardless webhooks: verified and stored in one transaction, answered at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from app.errors import BadRequest
from app.routers.deps import RuntimeDep
from app.schemas.problems import problem_responses
from app.services.webhooks import InvalidSignature, receive_webhook

PREFIX = "/webhooks/"
router = APIRouter(tags=["webhooks"])


@router.post(
    f"{PREFIX}gocardless",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="GoCardless webhook receiver",
    description="Verifies `Webhook-Signature` (hex HMAC-SHA256 of the raw body), stores every "
    "event in the inbox (deduplicated by event id) and answers 204; processing happens in the "
    "worker. Events for organisations we don't serve are acknowledged and dropped.",
    responses=problem_responses(InvalidSignature, BadRequest),
)
async def gocardless_webhook(
    request: Request,
    runtime: RuntimeDep,
    webhook_signature: Annotated[str | None, Header()] = None,
) -> Response:
    body = await request.body()
    await receive_webhook(runtime, body, webhook_signature)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
