"""Installation endpoints: the operator creates one; the widget reads and removes its own."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from app.errors import (
    AdminRequired,
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
    AdminCallerDep,
    EarlyAdminCallerDep,
    EarlyWidgetCallerDep,
    RuntimeDep,
    SessionDep,
    UninstallingCallerDep,
    WidgetCallerDep,
    require_operator,
)
from app.routers.routing import AuthenticateBeforeBody
from app.schemas.installations import (
    InstallationCreate,
    InstallationCreated,
    InstallationStatusOut,
    SyncStatus,
)
from app.schemas.invoices import InstallationSettings
from app.schemas.problems import problem_responses
from app.services.gocardless_disconnect import disconnect_gocardless
from app.services.installation_settings import (
    STATUS_SETTINGS,
    InvoiceStatusNotInPicklist,
    SettingsChange,
    apply_settings,
)
from app.services.installation_status import installation_status
from app.services.installations import create_installation
from app.services.providers import zoho_crm
from app.services.sync import CrmModulesMissing, SyncAlreadyDone, start_sync, sync_status
from app.services.uninstall import uninstall

router = APIRouter(prefix="/api/v1", tags=["installations"], route_class=AuthenticateBeforeBody)


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
    description="Any member of the audience. The authorize links (single use, valid 15 "
    "minutes) are handed to administrators only; others see them as null.",
    responses=problem_responses(
        Unauthenticated, UserNotInAudience, ValidationFailed, ProviderUnavailable
    ),
)
async def get_installation(
    caller: EarlyWidgetCallerDep, session: SessionDep, runtime: RuntimeDep
) -> InstallationStatusOut:
    return await installation_status(
        session, runtime, caller.installation, admin=caller.admin, user_id=caller.user_id
    )


@router.patch(
    "/installation",
    summary="Change this installation's settings",
    description="Administrators only; only the fields sent change. `auto_collect_on_mandate` "
    "(default off): when a customer completes a mandate setup we emailed, create the waiting "
    "invoice's payment at once. Reconciliation (off by default): "
    "`invoice_status_on_collection` is set on the Invoice once its payment is collected "
    "(`invoice_collected_on`: `confirmed` or `paid_out`), `invoice_status_on_failure` when it "
    "fails or is charged back; both must be values of the Invoice Status picklist.",
    responses=problem_responses(
        Unauthenticated,
        UserNotInAudience,
        AdminRequired,
        ValidationFailed,
        InvoiceStatusNotInPicklist,
        ZohoNotAuthorized,
        ProviderUnavailable,
    ),
)
async def patch_installation(
    body: InstallationSettings,
    caller: EarlyAdminCallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> InstallationStatusOut:
    change = SettingsChange(
        auto_collect_on_mandate=body.auto_collect_on_mandate,
        collected_on=body.invoice_collected_on,
        statuses={
            name: getattr(body, name) for name in STATUS_SETTINGS if name in body.model_fields_set
        },
    )
    crm = zoho_crm(runtime, caller.zoho) if caller.zoho is not None else None
    await apply_settings(caller.installation, crm, change)
    await session.flush()
    return await installation_status(
        session, runtime, caller.installation, admin=True, user_id=caller.user_id
    )


@router.post(
    "/installation/sync",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sync Now: copy every GoCardless customer and payment into the CRM (once)",
    description="Administrators only. Starts the one-time background copy; poll "
    "GET /installation/sync for progress. A failed sync may be started again and resumes "
    "where it stopped.",
    responses=problem_responses(
        SyncAlreadyDone,
        GoCardlessNotAuthorized,
        GoCardlessAccountInactive,
        ZohoNotAuthorized,
        CrmModulesMissing,
        Unauthenticated,
        UserNotInAudience,
        AdminRequired,
        ValidationFailed,
    ),
)
async def post_sync(caller: AdminCallerDep, session: SessionDep, runtime: RuntimeDep) -> SyncStatus:
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
    description="Administrators only. Idempotent with the API key: a second call answers 204 "
    "too. The API key and every session stop working at once.",
    responses=problem_responses(
        Unauthenticated, UserNotInAudience, AdminRequired, ProviderUnavailable, ValidationFailed
    ),
)
async def delete_installation(
    caller: UninstallingCallerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await uninstall(session, runtime, caller.installation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/installation/gocardless",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disconnect the GoCardless account (to switch accounts)",
    description="Administrators only. The connected GoCardless account is pinned: "
    "authorizing another organisation is refused (409 `gocardless_account_mismatch`). This "
    "revokes the token and purges that organisation's mirror, webhook inbox and pending work "
    "(Sync Now, payment slots, mandate requests); GoCardless can then be authorized anew, "
    "with any organisation.",
    responses=problem_responses(
        Unauthenticated,
        UserNotInAudience,
        AdminRequired,
        GoCardlessNotAuthorized,
        ValidationFailed,
    ),
)
async def delete_gocardless(
    caller: EarlyAdminCallerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await disconnect_gocardless(session, runtime, caller.installation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
