"""Org, users and metadata endpoints (`/org`, `/users`, `/settings/...`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from app.simulators.zoho.crm_context import CrmContext, CrmDep
from app.simulators.zoho.errors import api_error, invalid_param, required_param_missing
from app.simulators.zoho.jsonio import ZohoJSONResponse
from app.simulators.zoho.schema import FieldDef, ModuleDef
from app.simulators.zoho.state import Org, User

router = APIRouter(prefix="/crm/v8")

# type -> keep(user, is_admin)
_USER_FILTERS: dict[str, Callable[[User, bool], bool]] = {
    "AllUsers": lambda u, admin: True,
    "ActiveUsers": lambda u, admin: u.status == "active",
    "DeactiveUsers": lambda u, admin: u.status == "disabled",
    "ConfirmedUsers": lambda u, admin: True,
    "NotConfirmedUsers": lambda u, admin: False,
    "DeletedUsers": lambda u, admin: False,
    "ActiveConfirmedUsers": lambda u, admin: u.status == "active",
    "AdminUsers": lambda u, admin: admin,
    "ActiveConfirmedAdmins": lambda u, admin: admin and u.status == "active",
}


def user_json(org: Org, user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "zuid": user.zuid,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": user.full_name,
        "email": user.email,
        "status": user.status,
        "confirm": True,
        "profile": {"name": org.profiles[user.profile_id], "id": user.profile_id},
        "role": {"name": org.roles[user.role_id], "id": user.role_id},
        "time_zone": org.time_zone,
        "locale": "en_GB",
        "country_locale": "en_GB",
    }


def _is_admin(org: Org, user: User) -> bool:
    return org.profiles[user.profile_id] == "Administrator"


@router.get("/org")
async def get_org(ctx: CrmDep) -> Response:
    ctx.require("org", None, "READ")
    org = ctx.org
    home = org.currencies[org.home_currency]
    admin = org.users[org.admin_user_id]
    return ZohoJSONResponse(
        {
            "org": [
                {
                    "id": org.id,
                    "zgid": org.zgid,
                    "company_name": org.company_name,
                    "domain_name": org.domain_name,
                    "primary_email": admin.email,
                    "primary_zuid": admin.zuid,
                    "currency": home.name,
                    "iso_code": home.iso_code,
                    "currency_symbol": home.symbol,
                    "currency_locale": "en_GB",
                    "mc_status": len(org.currencies) > 1,
                    "time_zone": org.time_zone,
                    "country_code": org.country_code,
                    "max_per_page": 200,
                    "license_details": {
                        "paid": True,
                        "paid_type": "enterprise",
                        "users_license_purchased": 10,
                    },
                }
            ]
        }
    )


@router.get("/users")
async def list_users(ctx: CrmDep, type: str = "AllUsers") -> Response:
    ctx.require("users", None, "READ")
    org = ctx.org
    if type == "CurrentUser":
        users = [org.users[ctx.user_id]]
    elif type in _USER_FILTERS:
        keep = _USER_FILTERS[type]
        users = [u for u in org.users.values() if keep(u, _is_admin(org, u))]
    else:
        raise invalid_param("type")
    if not users:
        return Response(status_code=204)
    return ZohoJSONResponse(
        {
            "users": [user_json(org, u) for u in users],
            "info": {"per_page": 200, "count": len(users), "page": 1, "more_records": False},
        }
    )


@router.get("/users/{user_id}")
async def get_user(ctx: CrmDep, user_id: str) -> Response:
    ctx.require("users", None, "READ")
    user = ctx.org.users.get(user_id)
    if user is None:
        return Response(status_code=204)
    return ZohoJSONResponse({"users": [user_json(ctx.org, user)]})


def module_json(module: ModuleDef) -> dict[str, Any]:
    return {
        "api_name": module.api_name,
        "module_name": module.api_name,
        "singular_label": module.singular_label,
        "plural_label": module.plural_label,
        "id": module.id,
        "generated_type": "custom" if module.custom else "default",
        "api_supported": True,
        "creatable": True,
        "editable": True,
        "deletable": True,
        "viewable": True,
        "visible": True,
        "status": "visible",
    }


def field_json(org: Org, field: FieldDef) -> dict[str, Any]:
    lookup: dict[str, Any] = {}
    if field.data_type == "lookup" and field.lookup_module:
        target = org.store(field.lookup_module)
        lookup = {
            "api_name": field.api_name,
            "display_label": field.label,
            "module": {
                "api_name": field.lookup_module,
                "id": target.module.id if target else None,
            },
        }
    return {
        "api_name": field.api_name,
        "field_label": field.label,
        "display_label": field.label,
        "data_type": field.data_type,
        "json_type": field.json_type,
        "length": field.length,
        "id": field.id,
        "system_mandatory": field.mandatory,
        "custom_field": field.custom,
        "read_only": field.read_only,
        "field_read_only": field.read_only,
        "visible": True,
        "unique": {"casesensitive": "false"} if field.unique else {},
        "lookup": lookup,
        "decimal_place": 2 if field.data_type == "currency" else None,
        "pick_list_values": [
            {"display_value": v, "actual_value": v, "reference_value": v}
            for v in field.pick_list_values
        ],
    }


def _settings_module(ctx: CrmContext, module: str | None, scope: str) -> ModuleDef:
    ctx.require("settings", scope, "READ")
    if not module:
        raise required_param_missing("module")
    store = ctx.org.store(module)
    if store is None:
        raise api_error(
            400,
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            {"param_name": "module"},
        )
    return store.module


@router.get("/settings/modules")
async def list_modules(ctx: CrmDep) -> Response:
    ctx.require("settings", "modules", "READ")
    return ZohoJSONResponse({"modules": [module_json(m) for m in ctx.org.modules()]})


@router.get("/settings/modules/{module}")
async def get_module(ctx: CrmDep, module: str) -> Response:
    found = _settings_module(ctx, module, "modules")
    return ZohoJSONResponse({"modules": [module_json(found)]})


@router.get("/settings/fields")
async def list_fields(ctx: CrmDep, module: str | None = None) -> Response:
    found = _settings_module(ctx, module, "fields")
    return ZohoJSONResponse({"fields": [field_json(ctx.org, f) for f in found.fields.values()]})


@router.get("/settings/emails/actions/from_addresses")
async def from_addresses(ctx: CrmDep) -> Response:
    ctx.require("settings", "emails", "READ")
    user = ctx.org.users[ctx.user_id]
    addresses = [
        {
            "email": user.email,
            "type": "primary",
            "id": user.id,
            "user_name": user.full_name,
            "default": True,
        }
    ]
    addresses += [
        {
            "email": a.email,
            "type": "org_email",
            "id": a.id,
            "user_name": a.user_name,
            "default": False,
        }
        for a in ctx.org.org_from_addresses
    ]
    return ZohoJSONResponse({"from_addresses": addresses})
