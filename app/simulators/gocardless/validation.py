"""Request bodies and query strings checked the way the real API checks them.

Shape problems (not JSON, no envelope, keys the schema does not permit, wrong JSON types)
are 400 `invalid_api_usage` "Invalid document structure", e.g. `"scheme" is not a
permitted key.` (emfcamp/Website#587). Bad values are 422 `validation_failed` with `field`
and `request_pointer`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from starlette.datastructures import QueryParams

from app.simulators.gocardless import errors
from app.simulators.gocardless.errors import FieldErrors
from app.simulators.gocardless.formats import parse_date, parse_timestamp
from app.simulators.gocardless.store import PageQuery

# A schema is a mapping of permitted keys to a nested schema, or to FREE (any value).
FREE: None = None
Schema = Mapping[str, Any]

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
METADATA_MAX_KEYS = 3
METADATA_KEY_MAX = 50
METADATA_VALUE_MAX = 500
_RANGE_PARAM = re.compile(r"^(?P<name>\w+)\[(?P<op>gt|gte|lt|lte)\]$")


def parse_json(raw: bytes, *, allow_empty: bool) -> dict[str, Any]:
    if not raw.strip() and allow_empty:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise errors.document_structure([{"message": "Request body is not valid JSON."}]) from exc
    if body is None and allow_empty:
        return {}
    if not isinstance(body, dict):
        raise errors.document_structure([{"message": "Root element must be an object."}])
    return body


def envelope(raw: bytes, name: str, schema: Schema, *, optional: bool = False) -> dict[str, Any]:
    """The object inside `{"<name>": {...}}`, with its keys checked against `schema`."""
    body = parse_json(raw, allow_empty=optional)
    if not body and optional:
        return {}
    if set(body) != {name} or not isinstance(body[name], dict):
        raise errors.document_structure(
            [{"message": f"Data sent to this endpoint must be wrapped in a `{name}` envelope"}]
        )
    inner: dict[str, Any] = body[name]
    check_keys(inner, schema, f"/{name}")
    return inner


def check_keys(value: dict[str, Any], schema: Schema, pointer: str) -> None:
    unknown = sorted(set(value) - set(schema))
    if unknown:
        quoted = ", ".join(f'"{key}"' for key in unknown)
        verb = "is not a permitted key." if len(unknown) == 1 else "are not permitted keys."
        raise errors.document_structure(
            [
                {
                    "field": pointer.rsplit("/", 1)[-1],
                    "message": f"{quoted} {verb}",
                    "request_pointer": pointer,
                }
            ]
        )
    for key, nested in schema.items():
        if nested is FREE or key not in value or value[key] is None:
            continue
        if not isinstance(value[key], dict):
            raise wrong_type(f"{pointer}/{key}", "an object")
        check_keys(value[key], nested, f"{pointer}/{key}")


def wrong_type(pointer: str, expected: str) -> errors.GoCardlessError:
    return errors.document_structure(
        [
            {
                "field": pointer.rsplit("/", 1)[-1],
                "message": f"must be {expected}",
                "request_pointer": pointer,
            }
        ]
    )


def optional_str(body: dict[str, Any], key: str, pointer: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise wrong_type(f"{pointer}/{key}", "a string")
    return value


def optional_bool(body: dict[str, Any], key: str, pointer: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise wrong_type(f"{pointer}/{key}", "a boolean")
    return value


def optional_int(body: dict[str, Any], key: str, pointer: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise wrong_type(f"{pointer}/{key}", "an integer")
    return value


def metadata(body: dict[str, Any], problems: FieldErrors, path: str = "metadata") -> dict[str, str]:
    """At most 3 keys, names up to 50 characters, string values up to 500 characters."""
    value = body.get(path.rsplit("/", 1)[-1])
    if value is None:
        return {}
    pointer = f"/{problems.envelope}/{path}" if problems.envelope else f"/{path}"
    if not isinstance(value, dict):
        raise wrong_type(pointer, "an object")
    if len(value) > METADATA_MAX_KEYS:
        problems.add(path, f"must have no more than {METADATA_MAX_KEYS} keys")
    for key, item in value.items():
        if len(key) > METADATA_KEY_MAX:
            problems.add(path, f"key names must be no more than {METADATA_KEY_MAX} characters")
        if not isinstance(item, str):
            problems.add(path, "values must be strings")
        elif len(item) > METADATA_VALUE_MAX:
            problems.add(path, f"values must be no more than {METADATA_VALUE_MAX} characters")
    return {str(k): str(v) for k, v in value.items()}


@dataclass
class ListQuery:
    page: PageQuery
    filters: dict[str, str] = field(default_factory=dict)
    created_at: list[tuple[str, datetime]] = field(default_factory=list)
    ranges: dict[str, list[tuple[str, date]]] = field(default_factory=dict)

    def created_ok(self, moment: datetime) -> bool:
        if not self.created_at:
            return True
        shown = _shown(moment)
        return all(_compare(shown, op, bound) for op, bound in self.created_at)

    def created_side(self, moment: datetime) -> int:
        """-1 before the created_at window, 1 after it, 0 in it (see `created_ok`)."""
        shown = _shown(moment)
        bounds = self.created_at
        if not all(_compare(shown, op, bound) for op, bound in bounds if op in ("gt", "gte")):
            return -1
        return 0 if all(_compare(shown, op, bound) for op, bound in bounds) else 1

    def range_ok(self, name: str, day: date) -> bool:
        return all(_compare(day, op, bound) for op, bound in self.ranges.get(name, []))


@lru_cache(maxsize=2**18)
def _shown(moment: datetime) -> datetime:
    """At the millisecond resolution timestamps are shown with, which filters compare at
    (cached: a windowed listing tests every payment it passes over)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _compare(value: Any, op: str, bound: Any) -> bool:
    if op == "gt":
        return bool(value > bound)
    if op == "gte":
        return bool(value >= bound)
    if op == "lt":
        return bool(value < bound)
    return bool(value <= bound)


def list_query(
    params: QueryParams, filters: set[str], *, date_ranges: frozenset[str] = frozenset()
) -> ListQuery:
    problems = FieldErrors("")
    unknown: list[str] = []
    query = ListQuery(PageQuery())
    limit = DEFAULT_LIMIT
    after = before = None
    for key, value in params.multi_items():
        bracket = _RANGE_PARAM.match(key)
        if key == "limit":
            if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
                problems.add("limit", f"must be a number between 1 and {MAX_LIMIT}")
            else:
                limit = int(value)
        elif key in ("after", "before"):
            after, before = (value, before) if key == "after" else (after, value)
        elif bracket and bracket["name"] == "created_at":
            moment = parse_timestamp(value)
            if moment is None:
                problems.add(key, "is not a valid date-time")
            else:
                query.created_at.append((bracket["op"], moment))
        elif bracket and bracket["name"] in date_ranges:
            day = parse_date(value)
            if day is None:
                problems.add(key, "is not a valid date")
            else:
                query.ranges.setdefault(bracket["name"], []).append((bracket["op"], day))
        elif key in filters:
            query.filters[key] = value
        else:
            unknown.append(key)
    if unknown:
        quoted = ", ".join(f'"{key}"' for key in sorted(unknown))
        verb = "is not a permitted key." if len(unknown) == 1 else "are not permitted keys."
        raise errors.document_structure([{"message": f"{quoted} {verb}"}])
    problems.raise_if_any()
    query.page = PageQuery(limit=limit, after=after, before=before)
    return query


def multi(value: str | None) -> set[str] | None:
    """Multi-valued filters arrive comma-separated (`status=active,submitted`)."""
    return None if value is None else {part for part in value.split(",") if part}
