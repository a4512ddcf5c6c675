"""Ports and servers of the demo: three uvicorn servers in one process, each in its own thread.

The sockets are bound before anything is built, because every URL (our callbacks, the
simulators' links, the widget address) must name its final port up front. Threads rather
than one event loop: uvicorn captures Ctrl-C only in the main thread, so the main thread
keeps the signals and stops the servers in order.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from app.demo.errors import DemoError

HOST = "127.0.0.1"


@dataclass(frozen=True)
class PortRequest:
    name: str  # what the port is for, in the error message
    option: str  # the command-line option that sets it
    port: int | None  # None: `default` when free, else any free port; 0: any free port
    default: int


def bind_port(request: PortRequest) -> socket.socket:
    """A listening socket for the request, or a `DemoError` naming the option to change."""
    if request.port is None:
        try:
            return _listen(request.default)
        except OSError:
            return _listen(0)
    try:
        return _listen(request.port)
    except OSError as exc:
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
        raise DemoError(
            f"port {request.port} for the {request.name} {reason}; "
            f"pick another with {request.option} N, or {request.option} 0 for any free port"
        ) from None


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class BackgroundServer:
    """One ASGI app served on an already bound socket from a daemon thread."""

    def __init__(self, name: str, app: ASGIApp, sock: socket.socket) -> None:
        self.name = name
        self._sock = sock
        # log_config=None keeps the demo's own log format; uvicorn's banner lines (one URL per
        # server) are silenced by the caller so the person sees exactly one URL.
        config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"demo-{name}", daemon=True
        )

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise DemoError(f"the {self.name} stopped while starting; see the log above")
            if time.monotonic() > deadline:
                self._server.should_exit = True
                raise DemoError(f"the {self.name} did not start within {timeout:.0f} s")
            time.sleep(0.02)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful: in-flight requests finish and the app's lifespan shutdown runs."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()
