"""Send Mail action: the mail is not delivered anywhere, it lands in the simulator's outbox."""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.simulators.zoho.crm_context import CrmContext, CrmDep
from app.simulators.zoho.errors import ZohoApiError, api_error, invalid_module
from app.simulators.zoho.jsonio import ZohoJSONResponse, loads
from app.simulators.zoho.records import iso
from app.simulators.zoho.state import Mail
from app.simulators.zoho.validation import row_error

router = APIRouter(prefix="/crm/v8")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _fail(code: str, message: str, api_name: str) -> ZohoApiError:
    return ZohoApiError(
        400,
        {
            "data": [
                row_error(
                    code, message, {"api_name": api_name, "json_path": f"$.data[0].{api_name}"}
                )
            ]
        },
    )


def _address(value: Any, api_name: str) -> dict[str, str]:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("email"), str)
        or not _EMAIL.match(value["email"])
    ):
        raise _fail("INVALID_DATA", "invalid data", api_name)
    return {"user_name": str(value.get("user_name", "")), "email": value["email"]}


def _addresses(mail: dict[str, Any], api_name: str, *, required: bool) -> list[dict[str, str]]:
    value = mail.get(api_name)
    if value is None or value == []:
        if required:
            raise _fail("MANDATORY_NOT_FOUND", "required field not found", api_name)
        return []
    if not isinstance(value, list):
        raise _fail("INVALID_DATA", "invalid data", api_name)
    return [_address(item, api_name) for item in value]


def _check_sender(ctx: CrmContext, sender: dict[str, str], org_email: bool) -> None:
    """The user's own address, or an org-wide one when `org_email` is set."""
    wanted = sender["email"].casefold()
    if not org_email and wanted == ctx.org.users[ctx.user_id].email.casefold():
        return
    if org_email and any(a.email.casefold() == wanted for a in ctx.org.org_from_addresses):
        return
    raise _fail("INVALID_DATA", "the given from address is not allowed", "from")


@router.post("/{module}/{record_id}/actions/send_mail")
async def send_mail(ctx: CrmDep, request: Request, module: str, record_id: str) -> Response:
    store = ctx.org.store(module)
    if store is None:
        raise invalid_module()
    ctx.require("send_mail", store.module.scope_name(), "CREATE")
    if record_id not in store.records:
        raise api_error(
            400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 1}
        )
    try:
        body = loads(await request.body())
    except ValueError:
        raise api_error(
            400, "INVALID_DATA", "invalid data", {"expected_data_type": "jsonobject"}
        ) from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        raise api_error(
            400, "INVALID_DATA", "invalid data", {"api_name": "data", "json_path": "$.data"}
        )
    mail: dict[str, Any] = data[0]
    if mail.get("from") is None:
        raise _fail("MANDATORY_NOT_FOUND", "required field not found", "from")
    sender = _address(mail["from"], "from")
    to = _addresses(mail, "to", required=True)
    for name in ("subject", "content"):
        if not isinstance(mail.get(name), str) or not mail[name]:
            raise _fail("MANDATORY_NOT_FOUND", "required field not found", name)
    mail_format = mail.get("mail_format", "html")
    if mail_format not in ("html", "text"):
        raise _fail("INVALID_DATA", "invalid data", "mail_format")
    _check_sender(ctx, sender, mail.get("org_email") is True)
    message_id = secrets.token_hex(32)
    ctx.state.outbox.append(
        Mail(
            message_id=message_id,
            org_id=ctx.org.id,
            module=store.module.api_name,
            record_id=record_id,
            sent_by_user_id=ctx.user_id,
            sent_at=iso(ctx.state.now()),
            from_=sender,
            to=to,
            cc=_addresses(mail, "cc", required=False),
            bcc=_addresses(mail, "bcc", required=False),
            subject=mail["subject"],
            content=mail["content"],
            mail_format=mail_format,
        )
    )
    ctx.state.counters["crm.send_mail"] += 1
    return ZohoJSONResponse(
        {
            "data": [
                {
                    "code": "SUCCESS",
                    "details": {"message_id": message_id},
                    "message": "Mail sent successfully",
                    "status": "success",
                }
            ]
        }
    )
