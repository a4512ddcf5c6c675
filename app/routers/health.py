"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.crypto import constant_time_equal
from app.errors import NotReady, Unauthenticated, ValidationFailed
from app.log import get_logger
from app.migrate import at_head
from app.routers.deps import RuntimeDep, bearer_token, require_operator
from app.runtime import Runtime
from app.schemas.operations import HealthReport, InstallationHealthOut
from app.schemas.problems import problem_responses
from app.services.events.backlog import observe_inbox
from app.services.health import InstallationHealth, installations_health

log = get_logger("app.routers.health")

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to head",
    responses=problem_responses(NotReady),
)
async def readyz(runtime: RuntimeDep) -> dict[str, str]:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        migrated = await at_head(runtime.engine, runtime.migrations_head)
    except (SQLAlchemyError, OSError):
        raise NotReady("the database is unreachable", database="unreachable") from None
    if not migrated:
        raise NotReady("the database is not migrated to head", database="not_migrated")
    return {"status": "ready"}


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
        report = await _health(runtime)
    except (SQLAlchemyError, OSError):
        log.warning("metrics.inbox_unavailable")  # the process's own series still go out
    else:
        _publish(runtime, report)
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/v1/operations/installations",
    summary="Health of every installation (operator)",
    description="Per installation: inbox backlog, parked events, lag (age of the oldest "
    "pending event), CRM backlog and what is left of the merchant's provider budgets, "
    "read from the database so every process gives the same answer.",
    dependencies=[Depends(require_operator)],
    responses=problem_responses(Unauthenticated, ValidationFailed),
)
async def installations_health_view(runtime: RuntimeDep) -> HealthReport:
    report = await _health(runtime)
    return HealthReport(
        installations=[
            InstallationHealthOut(
                installation_id=h.installation_id,
                zoho_org_id=h.zoho_org_id,
                status=h.status,
                pending_events=h.pending_events,
                parked_events=h.parked_events,
                lag_seconds=round(h.lag_seconds, 3),
                crm_backlog=h.crm_backlog,
                gocardless_requests_left=h.gocardless_requests_left,
                zoho_slots_left=h.zoho_slots_left,
            )
            for h in report
        ]
    )


async def _health(runtime: Runtime) -> list[InstallationHealth]:
    async with runtime.sessionmaker() as session:
        return await installations_health(
            session,
            now=datetime.now(UTC),
            gocardless_shape=runtime.gocardless_pacers.shape,
            zoho_concurrency=runtime.settings.zoho_concurrency,
        )


def _publish(runtime: Runtime, report: list[InstallationHealth]) -> None:
    gauges = runtime.metrics.installation
    for gauge in gauges.values():
        gauge.clear()  # an uninstalled installation stops being reported
    for h in report:
        label = str(h.installation_id)
        gauges["event_lag_seconds"].labels(label).set(h.lag_seconds)
        gauges["events_pending"].labels(label).set(h.pending_events)
        gauges["events_parked"].labels(label).set(h.parked_events)
        gauges["crm_backlog"].labels(label).set(h.crm_backlog)
        if h.gocardless_requests_left is not None:
            gauges["gocardless_requests_left"].labels(label).set(h.gocardless_requests_left)
        if h.zoho_slots_left is not None:
            gauges["zoho_slots_left"].labels(label).set(h.zoho_slots_left)
