"""Serving the simulator: `run` / `main` for ``crypteras sim mercadopago``, `running` for tests
(loopback, free port, in the caller's event loop)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from simulators.mercadopago.app import create_app
from simulators.mercadopago.config import Delivery, SimConfig
from simulators.mercadopago.state import Account
from simulators.serving import serve

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8505


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options, for ``crypteras sim mercadopago`` (see `config_from_args`)."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument(
        "--state-file",
        type=Path,
        help="keep the account and undelivered notifications here, to survive a restart",
    )
    parser.add_argument("--host", default=LOOPBACK, help="keep on loopback: /_sim/ is open")
    parser.add_argument(
        "--access-token",
        action="append",
        default=[],
        help="a Bearer token the API accepts (repeatable; default $MERCADOPAGO_ACCESS_TOKEN)",
    )
    parser.add_argument("--webhook-url", help="where notifications go (also PUT /_sim/webhook)")
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("MERCADOPAGO_WEBHOOK_SECRET"),
        help="the secret signature for x-signature (default $MERCADOPAGO_WEBHOOK_SECRET)",
    )
    parser.add_argument("--delivery-attempts", type=int, default=Delivery().max_attempts)
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=Delivery().initial_delay_seconds,
        help="seconds before the first retry of an unanswered notification (then doubling)",
    )
    parser.add_argument("--retry-max-delay", type=float, default=Delivery().max_delay_seconds)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Raises ValueError when a token or the webhook secret is missing."""
    tokens = list(args.access_token) or [
        t for t in [os.environ.get("MERCADOPAGO_ACCESS_TOKEN")] if t
    ]
    if not tokens:
        raise ValueError("give --access-token or set MERCADOPAGO_ACCESS_TOKEN")
    if not args.webhook_secret:
        raise ValueError("give --webhook-secret or set MERCADOPAGO_WEBHOOK_SECRET")
    return SimConfig(
        access_tokens=tokens,
        webhook_secret=args.webhook_secret,
        webhook_url=args.webhook_url,
        delivery=Delivery(
            max_attempts=args.delivery_attempts,
            initial_delay_seconds=args.retry_delay,
            max_delay_seconds=args.retry_max_delay,
        ),
    )


def run(
    port: int, config: SimConfig, *, host: str = LOOPBACK, state_file: Path | None = None
) -> None:
    """Serve until interrupted (`port` 0: any free one, printed)."""
    serve(create_app(config, state_file), host=host, port=port, name="mercadopago")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="crypteras sim mercadopago", description="Mercado Pago API simulator"
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    run(args.port, config, host=args.host, state_file=args.state_file)


@dataclass(frozen=True)
class RunningSim:
    url: str  # http://127.0.0.1:PORT, the API root the gateway's api_base points at
    account: Account  # in-process state, for assertions the HTTP API cannot make


@asynccontextmanager
async def running(config: SimConfig) -> AsyncIterator[RunningSim]:
    """Serve on a free loopback port in this event loop for the duration of the block."""
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    # Inherited by accepted connections: without it Nagle + delayed ACK add ~40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(128)  # connections made before uvicorn starts wait in the backlog
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield RunningSim(
            url=f"http://{LOOPBACK}:{sock.getsockname()[1]}", account=app.state.account
        )
    finally:
        server.should_exit = True
        await task
        sock.close()
