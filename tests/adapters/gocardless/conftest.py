"""Fixture bodies exactly as GoCardless's official client ships them, served through respx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# CI checks shared/ out beside the repository, as on a developer's machine.
REFERENCE = Path(__file__).parents[3] / ".." / "shared" / "reference" / "gocardless"
FIXTURES = REFERENCE / "fixtures"
FIXTURES_EXTRA = REFERENCE / "fixtures-extra"


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_body(resource: str, method: str) -> dict[str, Any]:
    """The response body of one method in a resource fixture file (e.g. payments/create)."""
    body: dict[str, Any] = fixture_json(f"{resource}.json")[method]["body"]
    return body
