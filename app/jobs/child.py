"""`serve`'s worker, in a process of its own at a lower CPU priority.

In one process the worker and the webhook receiver share an event loop and a GIL: a storm's
refresh (pages of 500 events parsed, CRM batches of 100 built) holds the loop for tens of
milliseconds at a time, and acknowledgements queued behind it reached seconds at 500
webhooks a second. As a child process the worker runs beside the receiver, and its
niceness (`WORKER_NICENESS`) lets the receiver have a core first when both want one.

The child stops when `serve` stops (SIGTERM, then the same grace as any worker), and on its
own when `serve` dies without stopping it (it watches its parent), so a `kill -9` of `serve`
leaves no orphan behind. A child that exits while `serve` runs is started again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from app.jobs.worker import STOP_GRACE_SECONDS
from app.log import get_logger

log = get_logger("app.jobs.child")

# A child that keeps failing at start-up is started again this long after, not in a loop.
RESTART_DELAY_SECONDS = 2.0


class WorkerProcess:
    """Runs `gocardless-zoho worker --parent <this pid>` until `stop()`."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-process")

    def start(self) -> None:
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                # Our own interpreter and module, no outside input: S603 does not apply.
                self._process = subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "app.cli", "worker", "--parent", str(os.getpid())]
                )
            code = self._process.wait()
            if self._stopping.is_set():
                return
            log.error("worker_process.exited", exit_code=code)
            self._stopping.wait(RESTART_DELAY_SECONDS)

    def signal_stop(self) -> None:
        """Ask the child to stop now, alongside the requests `serve` is finishing."""
        with self._lock:
            self._stopping.set()
            if self._process is not None and self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Stop the child and wait for it: its own grace, then a kill."""
        self.signal_stop()
        process = self._process
        if process is not None:
            try:
                process.wait(timeout=STOP_GRACE_SECONDS + 4.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._supervisor.is_alive():
            self._supervisor.join()
