"""Zoho CRM API v8 for one installation: records, users, org, metadata, send mail.

Callers speak logical module and field names (see `names.py`); records go out and come
back through the namespace mapping. Record ids stay strings throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import httpx

from app.adapters.zoho import schema
from app.adapters.zoho.errors import (
    ZohoError,
    ZohoInvalidData,
    ZohoNotFound,
    ZohoSchemaMissing,
)
from app.adapters.zoho.models import (
    FailedRecord,
    MailAddress,
    RecordResult,
    UpsertedRecord,
    UpsertOutcome,
    ZohoOrg,
    ZohoUser,
)
from app.adapters.zoho.names import MODULE_FIELDS, ZohoNames
from app.adapters.zoho.requester import Sleep, ZohoRequester, ZohoTokenSource, error_from_envelope

__all__ = ["ZohoCRM", "ZohoTokenSource"]

PER_PAGE = 200
BATCH_SIZE = 100
MAX_LIST_FIELDS = 50
# Zoho's search stops at 2000 records whatever the paging (page * per_page <= 2000).
SEARCH_LIMIT = 2000
_ZOHO_ID = re.compile(r"[0-9]{1,25}")


def _rows(body: Any, key: str = "data") -> list[dict[str, Any]]:
    if isinstance(body, dict) and isinstance(body.get(key), list):
        return [row for row in body[key] if isinstance(row, dict)]
    return []


def _info(body: Any) -> dict[str, Any]:
    info = body.get("info") if isinstance(body, dict) else None
    return info if isinstance(info, dict) else {}


def _about_the_id(error: ZohoError) -> bool:
    """An INVALID_DATA that blames the id in the path: Zoho's way of saying "no such record"."""
    return isinstance(error, ZohoInvalidData) and error.details.get("api_name", "id") == "id"


class ZohoCRM:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        tokens: ZohoTokenSource,
        names: ZohoNames,
        limiter: contextlib.AbstractAsyncContextManager[Any] | None = None,
        triggers: Sequence[str] = ("workflow",),
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.names = names
        self._triggers = list(triggers)
        self._api = ZohoRequester(
            http,
            api_base=api_base,
            tokens=tokens,
            limiter=limiter if limiter is not None else contextlib.nullcontext(),
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            sleep=sleep,
        )

    # -- org, users -------------------------------------------------------------------

    async def get_org(self) -> ZohoOrg:
        orgs = _rows(await self._api.call("GET", "/org"), "org")
        if not orgs:
            raise ZohoError("INVALID_RESPONSE", "the org answer holds no org")
        return ZohoOrg.model_validate(orgs[0])

    async def current_user(self) -> ZohoUser:
        """The user the token belongs to (`users?type=CurrentUser`)."""
        users = _rows(
            await self._api.call("GET", "/users", params={"type": "CurrentUser"}), "users"
        )
        if not users:
            raise ZohoError("INVALID_RESPONSE", "the current-user answer holds no user")
        return ZohoUser.model_validate(users[0])

    async def get_user(self, user_id: str) -> ZohoUser | None:
        """The CRM user, or None when the org has no such user (ids come from callers)."""
        if not _ZOHO_ID.fullmatch(user_id):
            return None
        try:
            users = _rows(await self._api.call("GET", f"/users/{user_id}"), "users")
        except (ZohoNotFound, ZohoInvalidData):
            return None
        return ZohoUser.model_validate(users[0]) if users else None

    # -- records ----------------------------------------------------------------------

    async def get_record(
        self, module: str, record_id: str, fields: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        if not _ZOHO_ID.fullmatch(record_id):
            return None
        params = {"fields": self._fields_param(module, fields)} if fields else None
        try:
            body = await self._api.call(
                "GET", f"/{self.names.module(module)}/{record_id}", params=params
            )
        except ZohoNotFound:
            return None
        except ZohoInvalidData as exc:
            if _about_the_id(exc):
                return None
            raise
        rows = _rows(body)
        return self.names.from_api(module, rows[0]) if rows else None

    async def iter_records(
        self, module: str, fields: Sequence[str]
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record, following `page_token`: `page` alone stops at 2000 records."""
        params: dict[str, str | int] = {
            "fields": self._fields_param(module, fields),
            "per_page": PER_PAGE,
        }
        path = f"/{self.names.module(module)}"
        while True:
            body = await self._api.call("GET", path, params=params)
            for row in _rows(body):
                yield self.names.from_api(module, row)
            info = _info(body)
            if not info.get("more_records"):
                return
            token = info.get("next_page_token")
            if not token:
                # Stopping quietly here would drop records without anyone noticing.
                raise ZohoError("INVALID_RESPONSE", "more records announced without a page token")
            params["page_token"] = str(token)

    async def search_records(self, module: str, criteria: str) -> list[dict[str, Any]]:
        """Records matching `criteria`, built with `ZohoNames.criterion` (API names, escaped)."""
        return await self._search(module, {"criteria": criteria})

    async def search_by_email(self, module: str, email: str) -> list[dict[str, Any]]:
        return await self._search(module, {"email": email})

    async def _search(self, module: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        path = f"/{self.names.module(module)}/search"
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self._api.call(
                "GET", path, params={**query, "per_page": PER_PAGE, "page": page}
            )
            found.extend(self.names.from_api(module, row) for row in _rows(body))
            if not _info(body).get("more_records") or page * PER_PAGE >= SEARCH_LIMIT:
                return found
            page += 1

    async def upsert_records(
        self,
        module: str,
        records: Sequence[Mapping[str, Any]],
        duplicate_check_fields: Sequence[str],
    ) -> UpsertOutcome:
        """Insert-or-update by `duplicate_check_fields`, 100 per call; one result per input."""
        path = f"/{self.names.module(module)}/upsert"
        keys = [self.names.api_field(module, f) for f in duplicate_check_fields]
        results: list[RecordResult] = []
        for start in range(0, len(records), BATCH_SIZE):
            batch = records[start : start + BATCH_SIZE]
            body = await self._api.call(
                "POST",
                path,
                body={
                    "data": [self.names.to_api(module, record) for record in batch],
                    "duplicate_check_fields": keys,
                    "trigger": self._triggers,
                },
                rows=True,
            )
            rows = _rows(body)
            for offset in range(len(batch)):
                row = rows[offset] if offset < len(rows) else None
                results.append(self._row_result(module, start + offset, row))
        return UpsertOutcome(results=results)

    async def insert_record(self, module: str, record: Mapping[str, Any]) -> str:
        """Create one record of a Zoho module (Notes, Tasks); returns its id.

        Not repeated after an ambiguous failure: the caller finds out whether it exists.
        """
        body = await self._api.call(
            "POST",
            f"/{self.names.module(module)}",
            body={"data": [self.names.to_api(module, record)], "trigger": self._triggers},
            idempotent=False,
            rows=True,
        )
        return self._written_id(module, body)

    async def update_record(self, module: str, record_id: str, values: Mapping[str, Any]) -> str:
        """Set these fields of one record (the same values twice change nothing)."""
        if not _ZOHO_ID.fullmatch(record_id):
            raise ValueError("a Zoho record id is a string of digits")
        body = await self._api.call(
            "PUT",
            f"/{self.names.module(module)}",
            body={
                "data": [{**self.names.to_api(module, values), "id": record_id}],
                "trigger": self._triggers,
            },
            rows=True,
        )
        return self._written_id(module, body)

    def _written_id(self, module: str, body: Any) -> str:
        result = self._row_result(module, 0, next(iter(_rows(body)), None))
        if isinstance(result, FailedRecord):
            raise error_from_envelope(
                {"code": result.code, "message": result.message, "details": result.details},
                None,
            )
        return result.id

    async def related_records(
        self, module: str, record_id: str, related: str, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """One page (200) of a record's related list, e.g. an Invoice's Notes."""
        if not _ZOHO_ID.fullmatch(record_id):
            return []
        body = await self._api.call(
            "GET",
            f"/{self.names.module(module)}/{record_id}/{related}",
            params={"fields": ",".join(fields), "per_page": PER_PAGE},
        )
        return _rows(body)

    def _row_result(self, module: str, index: int, row: Mapping[str, Any] | None) -> RecordResult:
        if row is None:
            return FailedRecord(
                index=index, code="NO_RESULT", message="Zoho returned no result for this record"
            )
        raw_details = row.get("details")
        details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
        message = str(row.get("message") or "")
        if row.get("status") == "success":
            if not details.get("id"):
                return FailedRecord(
                    index=index,
                    code="NO_RECORD_ID",
                    message="Zoho reported success without a record id",
                    details=details,
                )
            action = row.get("action")
            if action not in ("insert", "update"):
                action = "update" if "updated" in message else "insert"
            duplicate = row.get("duplicate_field")
            # Built validated: pydantic's model_construct, in Python, took twice as long.
            return UpsertedRecord(
                index=index,
                id=str(details["id"]),
                action=action,
                duplicate_field=(
                    self.names.logical_field(module, str(duplicate)) if duplicate else None
                ),
            )
        blamed = details.get("api_name")
        return FailedRecord(
            index=index,
            code=str(row.get("code") or "UNKNOWN_ERROR"),
            message=message,
            details=details,
            field=self.names.logical_field(module, str(blamed)) if blamed else None,
        )

    def _fields_param(self, module: str, fields: Sequence[str]) -> str:
        if not fields or len(fields) > MAX_LIST_FIELDS:
            raise ValueError(f"Zoho takes 1 to {MAX_LIST_FIELDS} fields, got {len(fields)}")
        return ",".join(self.names.api_field(module, f) for f in fields)

    # -- metadata ---------------------------------------------------------------------

    async def check_schema(self) -> None:
        """Raise ZohoSchemaMissing naming each missing module/field and non-unique id field."""
        modules = _rows(await self._api.call("GET", "/settings/modules"), "modules")
        unusable = schema.module_problems(self.names, modules)
        problems = list(unusable.values())
        for logical in MODULE_FIELDS:
            if logical in unusable:
                continue
            body = await self._api.call(
                "GET", "/settings/fields", params={"module": self.names.module(logical)}
            )
            problems += schema.field_problems(self.names, logical, _rows(body, "fields"))
        if problems:
            raise ZohoSchemaMissing(problems)

    async def picklist_values(self, module: str, field: str) -> list[str] | None:
        """The values a picklist field takes (its `actual_value`s); None when the module has
        no such picklist."""
        body = await self._api.call(
            "GET", "/settings/fields", params={"module": self.names.module(module)}
        )
        api_name = self.names.api_field(module, field)
        for meta in _rows(body, "fields"):
            if meta.get("api_name") == api_name and meta.get("data_type") == "picklist":
                values = meta.get("pick_list_values")
                return [
                    str(v.get("actual_value"))
                    for v in (values if isinstance(values, list) else [])
                    if isinstance(v, dict) and v.get("actual_value") is not None
                ]
        return None

    # -- mail -------------------------------------------------------------------------

    async def send_mail(
        self,
        module: str,
        record_id: str,
        *,
        from_address: MailAddress,
        to: Sequence[MailAddress],
        subject: str,
        content: str,
        mail_format: Literal["html", "text"] = "html",
    ) -> str:
        """Send through the CRM so the mail is logged on the record; returns Zoho's message id.

        Not repeated after an ambiguous failure (timeout, 5xx): a second mail is worse than none.
        """
        if not _ZOHO_ID.fullmatch(record_id):
            raise ValueError("a Zoho record id is a string of digits")
        mail: dict[str, Any] = {
            "from": _address(from_address),
            "to": [_address(a) for a in to],
            "subject": subject,
            "content": content,
            "mail_format": mail_format,
        }
        if from_address.type == "org_email":
            mail["org_email"] = True
        body = await self._api.call(
            "POST",
            f"/{self.names.module(module)}/{record_id}/actions/send_mail",
            body={"data": [mail]},
            idempotent=False,
        )
        rows = _rows(body)
        if not rows or rows[0].get("status") != "success":
            raise error_from_envelope(rows[0] if rows else {"code": "NO_RESULT"}, None)
        details = rows[0].get("details")
        message_id = details.get("message_id") if isinstance(details, dict) else None
        if not message_id:
            raise ZohoError("INVALID_RESPONSE", "send_mail succeeded without a message id")
        return str(message_id)

    async def from_addresses(self) -> list[MailAddress]:
        body = await self._api.call("GET", "/settings/emails/actions/from_addresses")
        return [MailAddress.model_validate(a) for a in _rows(body, "from_addresses")]


def _address(address: MailAddress) -> dict[str, str]:
    out = {"email": address.email}
    if address.user_name:
        out["user_name"] = address.user_name
    return out
