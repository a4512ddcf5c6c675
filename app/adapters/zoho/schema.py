"""Does the org have the modules and fields we write to, with unique GoCardless ids?

Upserts are keyed by the GoCardless id fields; custom modules have no system duplicate
check, so unless those fields refuse duplicates a replayed webhook would add a second
record. Every problem is named with the API names an admin sees in the CRM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.adapters.zoho.names import ID_FIELDS, LOOKUPS, MODULE_FIELDS, ZohoNames


def _unique(field: Mapping[str, Any]) -> bool:
    # v8 metadata gives `"unique": {}` for an ordinary field and a non-empty object
    # (e.g. {"casesensitive": false}) for "do not allow duplicate values"; older shapes
    # used booleans. An External ID field is unique by definition.
    return any(
        value is True or (isinstance(value, Mapping) and bool(value))
        for value in (field.get("unique"), field.get("external"))
    )


def _lookup_target(field: Mapping[str, Any]) -> str | None:
    lookup = field.get("lookup")
    if isinstance(lookup, Mapping):
        module = lookup.get("module")
        if isinstance(module, Mapping) and module.get("api_name"):
            return str(module["api_name"])
    return None


def module_problems(names: ZohoNames, modules: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Per logical module: missing from `GET /settings/modules`, or not usable by the API."""
    by_name = {str(m.get("api_name")): m for m in modules}
    problems = {}
    for logical in MODULE_FIELDS:
        api_name = names.module(logical)
        module = by_name.get(api_name)
        if module is None:
            problems[logical] = f"module {api_name} is missing"
        elif module.get("api_supported") is False:
            problems[logical] = f"module {api_name} is not available through the API"
    return problems


def field_problems(
    names: ZohoNames, logical_module: str, fields: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Missing fields, non-unique id field and mis-targeted lookups of one of our modules."""
    module = names.module(logical_module)
    by_name = {str(f.get("api_name")): f for f in fields}
    problems = []
    for logical in MODULE_FIELDS[logical_module]:
        api_name = names.field(logical)
        field = by_name.get(api_name)
        if field is None:
            problems.append(f"field {api_name} is missing from module {module}")
            continue
        if ID_FIELDS[logical_module] == logical and not _unique(field):
            problems.append(f"field {api_name} of module {module} must not allow duplicate values")
        target = LOOKUPS[logical_module].get(logical)
        actual = _lookup_target(field)
        # A lookup whose metadata names no module is given the benefit of the doubt.
        if target is not None and actual is not None and actual != names.module(target):
            problems.append(
                f"field {api_name} of module {module} must be a lookup to {names.module(target)}"
                f", not {actual}"
            )
    return problems
