"""Installation endpoints: the operator creates one; the widget reads and removes its own."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from app.errors import (
    GoCardlessAccountInactive,
    GoCardlessNotAuthorized,
    InstallationExists,
    ProviderUnavailable,
    Unauthenticated,
    UserNotInAudience,
    ValidationFailed,
    ZohoNotAuthorized,
)
from app.routers.deps import (
    EarlyWidgetCallerDep,
    RuntimeDep,
    SessionDep,
    UninstallingCallerDep,
    WidgetCallerDep,
    require_operator,
)
from app.schemas.installations import (
    InstallationCreate,
    InstallationCreated,
    InstallationStatusOut,
    SyncStatus,
)
from app.schemas.invoices import InstallationSettings
from app.schemas.problems import problem_responses
from app.services.installation_status import installation_status
from app.services.installations import create_installation
from app.services.sync import CrmModulesMissing, SyncAlreadyDone, start_sync, sync_status
from app.services.uninstall import uninstall

router = APIRouter(prefix="/api/v1", tags=["installations"])


@router.post(
    "/installations",
    status_code=status.HTTP_201_CREATED,
    summary="Create an installation (operator)",
    description="Registers a Zoho org. The API key in the answer is shown once and stored "
    "only as a hash. The two URLs start the OAuth authorizations.",
    dependencies=[Depends(require_operator)],
    responses=problem_responses(Unauthenticated, InstallationExists, ValidationFailed),
)
async def post_installation(
    body: InstallationCreate, session: SessionDep, runtime: RuntimeDep
) -> InstallationCreated:
    created = await create_installation(
        session,
        runtime,
        zoho_org_id=body.zoho_org_id,
        audience=body.audience,
        profile_ids=body.profile_ids,
    )
    return InstallationCreated(
        installation_id=created.installation.id,
        api_key=created.api_key,
        zoho_authorize_url=created.zoho_authorize_url,
        gocardless_authorize_url=created.gocardless_authorize_url,
    )


@router.get(
    "/installation",
    summary="This installation's connections and sync status",
    responses=problem_responses(
        Unauthenticated, UserNotInAudience, ValidationFailed, ProviderUnavailable
    ),
)
async def get_installation(
    caller: EarlyWidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> InstallationStatusOut:
    return await installation_status(session, runtime, caller.installation)


@router.patch(
    "/installation",
    summary="Change this installation's settings",
    description="`auto_collect_on_mandate` (default off): when a customer completes a mandate "
    "setup we emailed, create the waiting invoice's payment at once.",
    responses=problem_responses(Unauthenticated, UserNotInAudience, ValidationFailed),
)
async def patch_installation(
    body: InstallationSettings, caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> InstallationStatusOut:
    caller.installation.auto_collect_on_mandate = body.auto_collect_on_mandate
    await session.flush()
    return await installation_status(session, runtime, caller.installation)


@router.post(
    "/installation/sync",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sync Now: copy every GoCardless customer and payment into the CRM (once)",
    description="Starts the one-time background copy; poll GET /installation/sync for progress. "
    "A failed sync may be started again and resumes where it stopped.",
    responses=problem_responses(
        SyncAlreadyDone,
        GoCardlessNotAuthorized,
        GoCardlessAccountInactive,
        ZohoNotAuthorized,
        CrmModulesMissing,
        Unauthenticated,
        UserNotInAudience,
        ValidationFailed,
    ),
)
async def post_sync(
    caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> SyncStatus:
    return await start_sync(session, runtime, caller.installation)


@router.get(
    "/installation/sync",
    summary="Sync Now's state and progress",
    responses=problem_responses(
        Unauthenticated, UserNotInAudience, ZohoNotAuthorized, ValidationFailed
    ),
)
async def get_sync(caller: WidgetCallerDep, session: SessionDep, runtime: RuntimeDep) -> SyncStatus:
    return await sync_status(session, runtime, caller.installation)


@router.delete(
    "/installation",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Uninstall: revoke both accounts and delete the org's data",
    description="Idempotent: a second call answers 204 too. The API key stops working at once.",
    responses=problem_responses(
        Unauthenticated, UserNotInAudience, ProviderUnavailable, ValidationFailed
    ),
)
async def delete_installation(
    caller: UninstallingCallerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await uninstall(session, runtime, caller.installation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
