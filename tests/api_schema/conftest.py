"""Prints the Schemathesis run's figures at the end of the session (when it ran)."""

from __future__ import annotations

import pytest

from tests.api_schema.figures import FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES.operations:
        for line in FIGURES.lines():
            terminalreporter.write_line(line)
