"""`--help` tells a person what each option does and what it defaults to."""

from __future__ import annotations

import pytest

from app.cli import main


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_serve_help_shows_host_and_port_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "serve")
    assert "--host HOST interface to listen on (default: 127.0.0.1)" in text
    assert "--port PORT port (default: 8000)" in text


def test_simulator_help_shows_host_and_port_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "simulator")
    assert "(default: 127.0.0.1)" in text
    assert "8001 for gocardless, 8002 for zoho" in text


def test_demo_help_says_what_reuse_keeps(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "demo")
    assert "keep the last run's installation (its id, API key and settings)" in text
    assert "both authorizations, the sync and all payments are forgotten" in text
