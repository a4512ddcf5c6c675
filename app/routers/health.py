"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.crypto import constant_time_equal
from app.errors import Unauthenticated
from app.log import get_logger
from app.migrate import at_head
from app.routers.deps import RuntimeDep, bearer_token
from app.schemas.problems import problem_responses
from app.services.events.backlog import observe_inbox

log = get_logger("app.routers.health")

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to head",
    responses={503: {"description": "Database unreachable or migrations behind"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        migrated = await at_head(runtime.engine, runtime.migrations_head)
    except (SQLAlchemyError, OSError):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if not migrated:
        return JSONResponse({"status": "unavailable", "database": "not migrated"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Needs `Authorization: Bearer <METRICS_TOKEN>` when that setting is set.",
    response_class=Response,
    responses=problem_responses(Unauthenticated),
)
async def metrics(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    token = runtime.settings.metrics_token
    if token is not None and not constant_time_equal(
        bearer_token(authorization), token.get_secret_value()
    ):
        raise Unauthenticated("invalid metrics token")
    try:
        await observe_inbox(runtime)
    except (SQLAlchemyError, OSError):
        log.warning("metrics.inbox_unavailable")  # the process's own series still go out
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
