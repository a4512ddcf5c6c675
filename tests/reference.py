"""Where the project's copies of the providers' published fixtures live (with their licences)."""

from __future__ import annotations

from pathlib import Path

GOCARDLESS_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gocardless"
