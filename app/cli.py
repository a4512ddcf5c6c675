"""The `gocardless-zoho` console script: serve, worker, migrate, demo, simulator."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
import warnings
from collections.abc import Sequence
from types import FrameType

from app.settings import ConfigurationError, Settings, load_settings

SIMULATOR_PORTS = {"gocardless": 8001, "zoho": 8002}


def main(argv: Sequence[str] | None = None) -> int:
    # Authlib warns about its own httpx integration on import; operators can't act on it.
    # Its module installs an "always show" filter when imported, so import it first.
    import authlib.deprecate  # noqa: F401

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
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
    serve.add_argument("--no-worker", action="store_true", help="do not run the worker in-process")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="background worker alone")
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

    from app.jobs.worker import STOP_GRACE_SECONDS
    from app.log import configure_logging
    from app.main import create_app

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    app = create_app(settings, run_worker=not args.no_worker)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # The worker stops alongside the requests in flight, not after them.
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                asyncio.get_event_loop().call_soon_threadsafe(runtime.stopping.set)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        # Requests in flight get as long as the worker's jobs do: a stop ends within 10 s.
        timeout_graceful_shutdown=int(STOP_GRACE_SECONDS),
    )
    Server(config).run()
    return 0


def _worker(_args: argparse.Namespace) -> int:
    from app.log import configure_logging

    settings = load_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    asyncio.run(_run_worker_until_signalled(settings))
    return 0


async def _run_worker_until_signalled(settings: Settings) -> None:
    from app.jobs.worker import run_worker
    from app.runtime import open_runtime

    async with open_runtime(settings) as runtime:
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
