"""Serving the simulator: `run` for the CLI, `running` for tests (loopback, free port)."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from simulators.mercadobitcoin.app import PREFIX, create_app
from simulators.mercadobitcoin.config import RateLimits, SimConfig, parse_account
from simulators.mercadobitcoin.state import Venue
from simulators.serving import serve

LOOPBACK = "127.0.0.1"


def build_config(
    accounts: Sequence[str],
    *,
    speed: float = 1.0,
    token_lifetime: float = 3600.0,
    rate_limits: bool = True,
) -> SimConfig:
    return SimConfig(
        accounts=[parse_account(a) for a in accounts],
        clock_speed=speed,
        token_lifetime_seconds=token_lifetime,
        rate_limits=RateLimits(enabled=rate_limits),
    )


def run(
    port: int,
    accounts: list[str],
    *,
    speed: float = 1.0,
    token_lifetime: float = 3600.0,
    rate_limits: bool = True,
    host: str = LOOPBACK,
) -> None:
    """Serve until interrupted. `accounts` are ``KEY:SECRET[:ASSET=AMOUNT,...]`` strings."""
    config = build_config(
        accounts, speed=speed, token_lifetime=token_lifetime, rate_limits=rate_limits
    )
    serve(create_app(config), host=host, port=port, name="mercadobitcoin")


def parser(prog: str = "crypteras sim mercadobitcoin") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Mercado Bitcoin API v4 simulator")
    p.add_argument("--port", type=int, default=8502)
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="KEY:SECRET[:ASSET=AMOUNT,...]",
        help="API token and its balances, e.g. key1:secret1:BTC=1,BRL=100000 (repeatable)",
    )
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--token-lifetime", type=float, default=3600.0, help="access token seconds")
    p.add_argument("--no-rate-limits", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    for account in args.account:
        try:
            parse_account(account)
        except ValueError as exc:
            parser().error(str(exc))
    run(
        args.port,
        args.account,
        speed=args.speed,
        token_lifetime=args.token_lifetime,
        rate_limits=not args.no_rate_limits,
        host=args.host,
    )


@dataclass(frozen=True)
class RunningSim:
    url: str  # http://127.0.0.1:PORT
    venue: Venue  # in-process state, for assertions the HTTP API cannot make

    @property
    def api_url(self) -> str:
        return self.url + PREFIX


@asynccontextmanager
async def running(config: SimConfig | None = None) -> AsyncIterator[RunningSim]:
    """Serve on a free loopback port in this event loop for the duration of the block."""
    app = create_app(config)
    venue: Venue = app.state.venue
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    # Inherited by accepted connections: without it Nagle + delayed ACK add ~40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Listening before uvicorn starts: early connections wait in the backlog, so callers need
    # not wait for a "started" event.
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield RunningSim(url=f"http://{LOOPBACK}:{sock.getsockname()[1]}", venue=venue)
    finally:
        venue.shutdown.set()  # releases responses held by an injected delay
        server.should_exit = True
        await task
        sock.close()
