"""`gocardless-zoho serve` runs its worker as a process of its own, at a lower CPU priority,
and never leaves it behind: stopped with `serve`, and gone soon after a `kill -9` of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.servers import children, free_port, service_processes
from tests.conftest import ENCRYPTION_KEY, TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@contextmanager
def _serve(*extra: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "SECRET_KEY": "serve-test-secret-key-0123456789",
        "ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "ADMIN_TOKEN": "serve-test-admin-token-0123456789abcdef",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *extra], env=env
    )
    try:

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                return False
            return True

        assert _until(listening, 60), "serve did not start listening"
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _worker_of(serve: subprocess.Popen[bytes]) -> int:
    assert _until(lambda: len(children(serve.pid)) == 1, 30), "no worker process"
    return children(serve.pid)[0]


def test_serve_runs_its_worker_in_a_lower_priority_process(clean_db: AsyncEngine) -> None:
    with _serve() as (serve, _):
        worker = _worker_of(serve)
        ours = os.getpriority(os.PRIO_PROCESS, serve.pid)
        # The child lowers its own priority once it has started.
        assert _until(lambda: os.getpriority(os.PRIO_PROCESS, worker) == ours + 10, 30)
        started = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        # uvicorn ends a signalled run by raising the signal again, once it has shut down.
        assert serve.wait(timeout=15) in (0, -signal.SIGTERM)
        assert not _alive(worker)
        assert time.monotonic() - started < 10


def test_a_killed_serve_leaves_no_worker_behind(clean_db: AsyncEngine) -> None:
    with _serve() as (serve, _):
        worker = _worker_of(serve)
        serve.kill()
        serve.wait()
        # The orphan notices its parent is gone and stops within its grace.
        assert _until(lambda: not _alive(worker), 10)


def test_no_worker_means_no_child(clean_db: AsyncEngine) -> None:
    with _serve("--no-worker") as (serve, _):
        time.sleep(1.0)
        assert children(serve.pid) == []


def test_http_processes_share_the_port_and_stop_together(clean_db: AsyncEngine) -> None:
    with _serve("--processes", "2") as (serve, port):
        started_here: set[int] = set()

        def all_started() -> bool:
            started_here.update(children(serve.pid))
            processes = service_processes(serve.pid)
            return len(processes["HTTP"]) == 1 + 2 and len(processes["worker"]) == 1

        assert _until(all_started, 60)
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert client.recv(64).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=15) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 10
        # multiprocessing's resource tracker ends a moment after the processes it watched.
        assert _until(lambda: not any(_alive(child) for child in started_here), 5)


def test_a_killed_serve_leaves_no_http_process_behind(clean_db: AsyncEngine) -> None:
    with _serve("--processes", "2") as (serve, port):
        started_here: set[int] = set()

        def all_started() -> bool:
            started_here.update(children(serve.pid))
            return len(service_processes(serve.pid)["HTTP"]) == 1 + 2

        assert _until(all_started, 60)
        serve.kill()
        serve.wait()
        assert _until(lambda: not any(_alive(child) for child in started_here), 10)

        def port_free() -> bool:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    return False
                return True

        assert _until(port_free, 5)


async def test_only_the_worker_commits_without_waiting_for_the_disk(clean_db: AsyncEngine) -> None:
    from sqlalchemy import text

    from app.db import create_engine

    for wait_for_flush, expected in ((True, "on"), (False, "off")):
        engine = create_engine(TEST_DATABASE_URL, wait_for_flush=wait_for_flush)
        try:
            async with engine.connect() as connection:
                setting = await connection.execute(text("SHOW synchronous_commit"))
                assert setting.scalar_one() == expected
        finally:
            await engine.dispose()
