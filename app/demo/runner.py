"""`gocardless-zoho demo`: migrate the embedded database, build both simulated accounts,
install the extension for the simulated org, serve all three, print one URL."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from app.demo.config import DemoUrls, ProviderSecrets
from app.demo.database import DATA_DIR_NAME, DataDir, open_database
from app.demo.lock import demo_lock
from app.demo.pages import DemoSite, demo_router
from app.demo.serving import BackgroundServer, PortRequest, base_url, bind_port
from app.demo.world import World, build_world
from app.log import configure_logging, get_logger
from app.main import create_app
from app.simulators.gocardless import create_app as create_gocardless_app
from app.simulators.zoho import create_app as create_zoho_app

log = get_logger("app.demo")

DEFAULT_PORTS = {"service": 8000, "gocardless": 8001, "zoho": 8002}


@dataclass(frozen=True)
class DemoOptions:
    # None: the default port when free, else any free one; 0: any free one.
    port: int | None = None
    gocardless_port: int | None = None
    zoho_port: int | None = None
    reuse: bool = False
    data_dir: Path = Path(DATA_DIR_NAME)  # relative to the working directory


def run_demo(options: DemoOptions) -> int:
    """Serve until Ctrl-C (or SIGTERM); returns the process exit code."""
    configure_logging(json=False, level="INFO")
    # uvicorn would print one "running on <url>" per server, and Alembic a line per revision.
    for noisy in ("uvicorn.error", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    data = DataDir(options.data_dir.resolve())
    with ExitStack() as cleanup:
        # First, so a second demo here never touches this folder's database or ports.
        cleanup.enter_context(demo_lock(data.path))
        service_sock, gocardless_sock, zoho_sock = (
            cleanup.enter_context(bind_port(request)) for request in _port_requests(options)
        )
        urls = DemoUrls(base_url(service_sock), base_url(gocardless_sock), base_url(zoho_sock))
        provider = ProviderSecrets.generate()
        world = build_world(urls, provider)
        settings, installation = asyncio.run(
            open_database(data, urls, provider, world.zoho_org_id, reuse=options.reuse)
        )
        site = DemoSite(urls, world, installation, data.database)
        service = create_app(settings, run_worker=True, site=demo_router(site))
        servers = [
            BackgroundServer(
                "GoCardless simulator", create_gocardless_app(world.gocardless), gocardless_sock
            ),
            BackgroundServer("Zoho simulator", create_zoho_app(world.zoho), zoho_sock),
            BackgroundServer("service", service, service_sock),
        ]
        return _serve(servers, site, world)


def _port_requests(options: DemoOptions) -> list[PortRequest]:
    return [
        PortRequest("service", "--port", options.port, DEFAULT_PORTS["service"]),
        PortRequest(
            "GoCardless simulator",
            "--gocardless-port",
            options.gocardless_port,
            DEFAULT_PORTS["gocardless"],
        ),
        PortRequest("Zoho simulator", "--zoho-port", options.zoho_port, DEFAULT_PORTS["zoho"]),
    ]


def _serve(servers: list[BackgroundServer], site: DemoSite, world: World) -> int:
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for a clean shutdown
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    started: list[BackgroundServer] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        log.info(
            "demo.ready",
            zoho_org_id=world.zoho_org_id,
            gocardless_organisation_id=world.gocardless_organisation_id,
        )
        if stop.is_set():  # Ctrl-C while starting
            return 0
        print(f"\nGoCardless for Zoho CRM demo: open {site.start_url}", flush=True)
        print("Press Ctrl-C to stop it.\n", flush=True)
        while not stop.wait(0.5):
            if not all(server.alive for server in started):
                log.error("demo.server_stopped")
                return 1
        return 0
    finally:
        # Our service first, so its worker stops before the simulators it calls go away.
        for server in reversed(started):
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if started:
            print("demo stopped", file=sys.stderr, flush=True)
