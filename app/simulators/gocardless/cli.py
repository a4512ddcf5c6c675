"""`python -m app.simulators.gocardless ...`: serve the simulator, or drive a running one
(advance time, move a payment or mandate, set verification) through its admin API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import httpx

from app.simulators.gocardless.server import run

DEFAULT_URL = "http://127.0.0.1:8001"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.simulators.gocardless")
    parser.add_argument("--url", default=DEFAULT_URL, help="base URL of a running simulator")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the simulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--no-seed", action="store_true")
    serve.add_argument("--webhook-url")
    serve.add_argument("--webhook-secret")
    advance = commands.add_parser("advance", help="move time forward and apply what falls due")
    for unit in ("days", "hours", "minutes"):
        advance.add_argument(f"--{unit}", type=float, default=0)
    for kind in ("payment", "mandate"):
        move = commands.add_parser(f"move-{kind}", help=f"take a {kind} to a status")
        move.add_argument("id")
        move.add_argument("status")
    verification = commands.add_parser("verification", help="set a creditor's verification")
    verification.add_argument("organisation_id")
    verification.add_argument("status", choices=["successful", "in_review", "action_required"])
    commands.add_parser("state", help="show organisations and counts")
    return parser


def _call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    try:
        response = httpx.request(method, f"{url}{path}", json=body, timeout=30)
    except httpx.HTTPError as exc:
        print(f"cannot reach the simulator at {url}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(response.json(), indent=2))
    return 0 if response.is_success else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        run(
            args.host,
            args.port,
            seed=not args.no_seed,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
        )
        return 0
    if args.command == "advance":
        body = {"days": args.days, "hours": args.hours, "minutes": args.minutes}
        return _call(args.url, "POST", "/_sim/clock/advance", body)
    if args.command in ("move-payment", "move-mandate"):
        kind = "payments" if args.command == "move-payment" else "mandates"
        return _call(args.url, "POST", f"/_sim/{kind}/{args.id}/status", {"status": args.status})
    if args.command == "verification":
        path = f"/_sim/organisations/{args.organisation_id}/verification"
        return _call(args.url, "PUT", path, {"status": args.status})
    return _call(args.url, "GET", "/_sim/state")
