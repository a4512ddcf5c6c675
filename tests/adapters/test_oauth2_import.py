"""Importing the OAuth adapters prints nothing: a notice on every start and every test run
that nobody can act on would hide the warnings that matter."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["app.adapters.oauth2", "app.adapters.zoho.accounts", "app.adapters.gocardless.connect"],
)
def test_importing_an_oauth_adapter_warns_nothing(module: str) -> None:
    # A fresh interpreter: this one imported Authlib long ago, and its notice fires once.
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
