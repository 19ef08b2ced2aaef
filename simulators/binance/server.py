"""Serving the simulator: `run` for ``crypteras sim binance`` and a background-thread server for
tests."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from fastapi import FastAPI

from simulators.binance.app import create_app
from simulators.binance.config import AccountConfig, SimConfig, parse_account
from simulators.serving import ThreadedServer as SimServer
from simulators.serving import serve

DEFAULT_PORT = 9100


def build_config(
    accounts: Sequence[str | AccountConfig],
    *,
    speed: float = 1.0,
    fee: Decimal = Decimal("0.001"),
    slippage: Decimal = Decimal(0),
    partial_fill_ratio: Decimal = Decimal(1),
    weight_limit: int = 6000,
) -> SimConfig:
    return SimConfig(
        accounts=[a if isinstance(a, AccountConfig) else parse_account(a) for a in accounts],
        clock_speed=speed,
        maker_fee=fee,
        taker_fee=fee,
        slippage=slippage,
        partial_fill_ratio=partial_fill_ratio,
        weight_limit=weight_limit,
    )


def run(
    port: int,
    accounts: Sequence[str],
    *,
    host: str = "127.0.0.1",
    speed: float = 1.0,
    fee: Decimal = Decimal("0.001"),
    slippage: Decimal = Decimal(0),
    partial_fill_ratio: Decimal = Decimal(1),
    weight_limit: int = 6000,
) -> None:
    """Serve until interrupted. `accounts` use the --account syntax ``KEY:SECRET:BTC=1,BRL=100``.
    The /_sim/ control API is unauthenticated: keep `host` on loopback outside a container."""
    config = build_config(
        accounts,
        speed=speed,
        fee=fee,
        slippage=slippage,
        partial_fill_ratio=partial_fill_ratio,
        weight_limit=weight_limit,
    )
    serve(create_app(config), host=host, port=port, name="binance")


def _account(text: str) -> str:
    try:
        parse_account(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``crypteras sim binance``; pass the parsed namespace to `run_from_args`."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--account",
        dest="accounts",
        action="append",
        type=_account,
        default=[],
        metavar="KEY:SECRET[:ASSET=AMOUNT,...]",
        help="an API key with its secret and balances, e.g. alice:s3cret:BTC=1,BRL=100000",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="market seconds per second")
    parser.add_argument("--fee", type=_decimal, default=Decimal("0.001"))
    parser.add_argument("--slippage", type=_decimal, default=Decimal(0))
    parser.add_argument("--partial-fill-ratio", type=_decimal, default=Decimal(1))
    parser.add_argument("--weight-limit", type=int, default=6000)


def main(argv: Sequence[str] | None = None) -> None:
    """``crypteras sim binance [options]``."""
    parser = argparse.ArgumentParser(
        prog="crypteras sim binance", description="Binance Spot API v3 simulator"
    )
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> None:
    run(
        args.port,
        args.accounts,
        host=args.host,
        speed=args.speed,
        fee=args.fee,
        slippage=args.slippage,
        partial_fill_ratio=args.partial_fill_ratio,
        weight_limit=args.weight_limit,
    )


class ThreadedServer(SimServer):
    """This simulator served in a background thread (see `simulators.serving`)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app, name="binance-sim", lifespan="off")
