"""Serving the simulator: `run` for ``crypteras sim stripe`` and a background-thread server for
tests."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from simulators.serving import ThreadedServer as SimServer
from simulators.serving import serve
from simulators.stripe.app import create_app
from simulators.stripe.config import DEFAULT_API_KEY, DeliveryConfig, SimConfig

DEFAULT_PORT = 12111  # stripe-mock's port, familiar to Stripe developers


def run(
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
    delivery: DeliveryConfig | None = None,
    state_file: Path | None = None,
) -> None:
    """Serve until interrupted (`port` 0: any free one, printed). The /_sim/ control API is
    unauthenticated: keep `host` on loopback outside a container."""
    config = SimConfig(
        api_keys=api_keys,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        delivery=delivery or DeliveryConfig(),
    )
    serve(create_app(config, state_file), host=host, port=port, name="stripe")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``crypteras sim stripe``; pass the parsed namespace to `run_from_args`.
    The webhook secret defaults to $STRIPE_WEBHOOK_SECRET so it stays out of process lists."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument(
        "--state-file",
        type=Path,
        help="keep the account and undelivered webhooks here, to survive a restart",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--webhook-url", help="where events are POSTed, e.g. .../api/webhooks/stripe"
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET"),
        help="the endpoint's whsec_ signing secret (default: $STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        help=f"an accepted secret key (repeatable; default: $STRIPE_API_KEY or {DEFAULT_API_KEY})",
    )
    parser.add_argument("--max-attempts", type=int, default=DeliveryConfig().max_attempts)
    parser.add_argument(
        "--backoff-base",
        type=float,
        default=DeliveryConfig().backoff_base,
        help="seconds before the first retry; later retries wait 3x longer each",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``crypteras sim stripe [options]``."""
    parser = argparse.ArgumentParser(prog="crypteras sim stripe", description="Stripe simulator")
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> None:
    keys = args.api_keys or [os.environ.get("STRIPE_API_KEY") or DEFAULT_API_KEY]
    if args.webhook_secret is not None and not args.webhook_secret.startswith("whsec_"):
        raise SystemExit("--webhook-secret must start with whsec_")
    run(
        args.port,
        host=args.host,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        api_keys=tuple(keys),
        delivery=DeliveryConfig(max_attempts=args.max_attempts, backoff_base=args.backoff_base),
        state_file=args.state_file,
    )


class ThreadedServer(SimServer):
    """This simulator served in a background thread (see `simulators.serving`)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app, name="stripe-sim", lifespan="on")
