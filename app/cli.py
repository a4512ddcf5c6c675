"""The `gocardless-zoho` console script: serve, worker, migrate, demo, simulator."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from app.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.jobs.child import WorkerProcess

SIMULATOR_PORTS = {"gocardless": 8001, "zoho": 8002}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigurationError as exc:
        print(f"gocardless-zoho: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gocardless-zoho", description="GoCardless for Zoho CRM service"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="API + webhook receiver (+ worker)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="HTTP processes sharing the port, e.g. one per core (default: %(default)s); "
        "each keeps its own database pool",
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not start the worker (by default a `worker` process of its own, stopped with us)",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="background worker alone")
    # `serve` starts its worker with this: the worker stops when that process is gone.
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="upgrade the database to the latest schema")
    migrate.set_defaults(handler=_migrate)

    replay = commands.add_parser(
        "replay-events", help="put events parked after failed retries back in the queue"
    )
    replay.add_argument("--installation", help="only this installation id")
    replay.set_defaults(handler=_replay_events)

    demo = commands.add_parser(
        "demo",
        help="everything offline, one URL to open",
        description="Our service, both simulators and seeded data on an embedded SQLite file "
        "under ./.demo. Ports default to 8000/8001/8002, or any free one when taken; "
        "0 asks for any free port.",
    )
    demo.add_argument("--port", type=int, help="our service's port (default 8000)")
    demo.add_argument("--gocardless-port", type=int, help="GoCardless simulator (default 8001)")
    demo.add_argument("--zoho-port", type=int, help="Zoho simulator (default 8002)")
    demo.add_argument(
        "--reuse",
        action="store_true",
        help="keep the last run's installation (its id, API key and settings); the simulators "
        "start afresh each run, so both authorizations, the sync and all payments are forgotten",
    )
    demo.set_defaults(handler=_demo)

    simulator = commands.add_parser("simulator", help="run one provider simulator alone")
    simulator.add_argument("provider", choices=["gocardless", "zoho"])
    simulator.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    simulator.add_argument(
        "--port",
        type=int,
        help=f"port (default: {SIMULATOR_PORTS['gocardless']} for gocardless, "
        f"{SIMULATOR_PORTS['zoho']} for zoho, as in the demo)",
    )
    simulator.set_defaults(handler=_simulator)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.jobs.child import WorkerProcess
    from app.jobs.worker import STOP_GRACE_SECONDS
    from app.log import configure_logging

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    if args.processes < 1:
        raise ConfigurationError("--processes must be at least 1")
    worker = None if args.no_worker else WorkerProcess()
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "proxy_headers": True,
        # Requests in flight get as long as the worker's jobs do: a stop ends within 10 s.
        "timeout_graceful_shutdown": int(STOP_GRACE_SECONDS),
    }
    if worker is not None:
        worker.start()
    try:
        if args.processes == 1:
            _serve_here(settings, uvicorn.Config(_app(settings), **options), worker)
        else:
            from uvicorn.supervisors import Multiprocess

            class Processes(Multiprocess):
                def handle_signals(self) -> None:
                    super().handle_signals()
                    # The worker stops alongside the HTTP processes, not after them.
                    if self.should_exit.is_set() and worker is not None:
                        worker.signal_stop()

            # Each process builds its own app (and pool) from the environment.
            config = uvicorn.Config(
                "app.cli:app_from_environment", factory=True, workers=args.processes, **options
            )
            Processes(config, sockets=[config.bind_socket()]).run()
    finally:
        if worker is not None:
            worker.stop()
    return 0


def _app(settings: Settings) -> FastAPI:
    from app.main import create_app

    app = create_app(settings)
    _freeze_heap()
    return app


def _freeze_heap() -> None:
    """Leave what start-up built (modules, models, the app) out of garbage collection: every
    full collection walked all of it, a 150 ms pause in the middle of a request now and
    then, and a quarter of the CPU of a webhook of 100 events."""
    gc.freeze()


def app_from_environment() -> FastAPI:
    """The app of one of `serve --processes N`'s processes."""
    from app.log import configure_logging

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    _stop_when_orphaned(os.getppid())
    return _app(settings)


def _stop_when_orphaned(parent: int) -> None:
    """Stop this process (as SIGTERM does) once `parent`, the `serve` that started it, is
    gone: a `kill -9` of `serve` sends its processes no signal, and they would otherwise go
    on (HTTP ones keeping the port) with nobody minding them. An orphan is adopted by
    another process, so its parent id changes."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve_here(settings: Settings, config: Any, worker: WorkerProcess | None) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # The worker stops alongside the requests in flight, not after them.
            if worker is not None:
                worker.signal_stop()
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            # Here, not after run(): uvicorn ends a signalled run by raising the signal again.
            if worker is not None:
                await asyncio.to_thread(worker.stop)

    Server(config).run()


def _worker(args: argparse.Namespace) -> int:
    from app.log import configure_logging

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    os.nice(settings.worker_niceness)
    asyncio.run(_run_worker_until_signalled(settings, parent=args.parent))
    return 0


async def _run_worker_until_signalled(settings: Settings, *, parent: int | None = None) -> None:
    from app.jobs.worker import run_worker
    from app.runtime import open_runtime

    # The worker's commits do not wait for the WAL to reach the disk: each waited for a flush
    # of its own, and the webhook receiver's commits, which must wait (they are answered),
    # queued behind them. What a database crash could lose of the worker's last fraction of
    # a second is done again: an event not marked done is processed again, a mirror row is
    # refreshed again, a CRM upsert is keyed by the GoCardless id, a Note or Task by its
    # event id, and the payment it creates once a mandate is set up by an idempotency key
    # derived from the invoice and attempt, so creating it again returns the same payment.
    async with open_runtime(settings, wait_for_flush=False) as runtime:
        _freeze_heap()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, runtime.stopping.set)
        if settings.worker_metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(
                settings.worker_metrics_port,
                addr=settings.worker_metrics_host,
                registry=runtime.metrics.registry,
            )
        if parent is not None:
            # After the SIGTERM handler above, so an orphaned worker stops as if told to.
            _stop_when_orphaned(parent)
        await run_worker(runtime)


def _migrate(_args: argparse.Namespace) -> int:
    from app.log import configure_logging
    from app.migrate import upgrade_head

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    upgrade_head(settings.database_url)
    print("database is at the latest schema")
    return 0


def _replay_events(args: argparse.Namespace) -> int:
    from app.log import configure_logging

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    installation = uuid.UUID(args.installation) if args.installation else None
    count = asyncio.run(_replay(settings, installation))
    print(f"{count} parked event(s) queued again")
    return 0


async def _replay(settings: Settings, installation: uuid.UUID | None) -> int:
    from app.runtime import open_runtime
    from app.services.events import replay_failed

    async with open_runtime(settings) as runtime:
        return await replay_failed(runtime, installation)


def _demo(args: argparse.Namespace) -> int:
    from app.demo import DemoError, DemoOptions, run_demo

    options = DemoOptions(
        port=args.port,
        gocardless_port=args.gocardless_port,
        zoho_port=args.zoho_port,
        reuse=args.reuse,
    )
    try:
        return run_demo(options)
    except DemoError as exc:
        print(f"gocardless-zoho demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C while setting up, or a second one while stopping: nothing left to tidy.
        return 130


def _simulator(args: argparse.Namespace) -> int:
    port = args.port if args.port is not None else SIMULATOR_PORTS[args.provider]
    if args.provider == "gocardless":
        from app.simulators.gocardless.server import run as run_gocardless

        run_gocardless(host=args.host, port=port)
    else:
        from app.simulators.zoho.server import run as run_zoho

        run_zoho(host=args.host, port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
