"""Serving the simulator: `run` for ``crypteras sim stripe`` and a background-thread server for
tests."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI

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
) -> None:
    """Serve until interrupted. The /_sim/ control API is unauthenticated: keep `host` on
    loopback outside a container."""
    config = SimConfig(
        api_keys=api_keys,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        delivery=delivery or DeliveryConfig(),
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``crypteras sim stripe``; pass the parsed namespace to `run_from_args`.
    The webhook secret defaults to $STRIPE_WEBHOOK_SECRET so it stays out of process lists."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
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
    )


class ThreadedServer:
    """uvicorn on a loopback socket that already listens before the thread starts: early
    requests wait in the backlog, so nobody polls for readiness. The app's lifespan (the
    webhook deliverer) runs in the server's own event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])),
            name=f"stripe-sim-{self.port}",
            daemon=True,
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
