"""`run()` serves on a real port and prints a token that works against it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_run_prints_a_working_token() -> None:
    port = _free_port()
    script = f"from app.simulators.zoho import run; run(port={port})"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        printed = {}
        for _ in range(8):
            label, _, value = proc.stdout.readline().strip().partition("  ")
            printed[label.strip()] = value.strip()
        token = printed["access token"]
        assert printed["api_domain"] == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/crm/v8/org",
                    headers={"Authorization": f"Zoho-oauthtoken {token}"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.json()["org"][0]["id"] == printed["org id"].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
