"""The problem+json schema and the `responses=` entries routes use to document their errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from app.errors import PROBLEM_JSON, AppError


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries with one example per error code, grouped by status."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        examples = {error.code: {"value": problem_example(error)} for error in group}
        responses[status] = {
            "model": Problem,
            "description": ", ".join(error.title for error in group),
            "content": {PROBLEM_JSON: {"examples": examples}},
        }
    return responses


def problem_example(error: type[AppError]) -> dict[str, Any]:
    detail = (error.__doc__ or error.title).strip().splitlines()[0]
    return error("…").problem() | {"detail": detail}
