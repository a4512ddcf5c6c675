"""Recursive shape comparison of a simulator body against a fixture body.

Fixture values are placeholders, so only keys, nesting and JSON types are compared. The
real API returns every attribute (null when unset) but `links` and event `details` only
carry what applies, and `metadata` is free-form.
"""

from __future__ import annotations

from typing import Any

SUBSET_KEYS = frozenset({"links", "details"})
FREE_KEYS = frozenset({"metadata", "resource_metadata"})


def shape_problems(
    expected: Any, actual: Any, path: str = "$", *, may_omit: frozenset[str] = frozenset()
) -> list[str]:
    if actual is None or expected is None:
        return []  # nullable attribute: null in one of them is a value, not a shape
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        return _object_problems(expected, actual, path, may_omit)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {type(actual).__name__}"]
        if not expected:
            return []
        problems: list[str] = []
        for n, item in enumerate(actual):
            problems += shape_problems(expected[0], item, f"{path}[{n}]", may_omit=may_omit)
        return problems
    if _kind(expected) != _kind(actual):
        return [f"{path}: expected {_kind(expected)}, got {_kind(actual)}"]
    return []


def _object_problems(
    expected: dict[str, Any], actual: dict[str, Any], path: str, may_omit: frozenset[str]
) -> list[str]:
    name = path.rsplit(".", 1)[-1]
    if name in FREE_KEYS:
        return []
    problems = []
    extra = set(actual) - set(expected)
    missing = set(expected) - set(actual) - may_omit
    if name in SUBSET_KEYS:
        missing = set()
    if extra:
        problems.append(f"{path}: unexpected keys {sorted(extra)}")
    if missing:
        problems.append(f"{path}: missing keys {sorted(missing)}")
    for key in set(expected) & set(actual):
        problems += shape_problems(expected[key], actual[key], f"{path}.{key}", may_omit=may_omit)
    return problems


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
