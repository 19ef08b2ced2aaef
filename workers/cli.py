"""The `crypteras` command: `up` for the whole local stack; `api`, `worker`, `migrate` for
production-style separate processes; `backtest` for a bot's configuration over past candles."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from adapters.logging import configure_logging
from adapters.market_data import MarketDataError, check_files, data_dir
from adapters.settings import MAX_WORKER_PROCESSES, get_settings


def _up(args: argparse.Namespace) -> int:
    from workers.stack import StackError, StackOptions, run_stack
    from workers.supervisor import StartError

    options = StackOptions(
        state_dir=args.state_dir,
        host=args.host,
        api_port=args.api_port,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        worker_metrics_port=args.worker_metrics_port,
        workers=args.workers or get_settings().worker_processes,
        demo=args.demo,
    )
    try:
        return asyncio.run(run_stack(options))
    except (StackError, StartError) as exc:
        print(f"crypteras: {exc}", file=sys.stderr)
        return 1


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    check_files(data_dir(settings.paper_data_dir))
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_config=None,
        # What uvicorn[standard] would pick anyway, said outright: a missing one is an error
        # at start, not a silently slower API.
        loop="uvloop",
        http="httptools",
        server_header=False,  # no banner naming the server and its version
        proxy_headers=False,  # the app resolves the client IP (TRUSTED_PROXIES)
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from workers.worker import run_worker

    settings = get_settings()
    if args.metrics_address is not None:  # `up` gives each of its workers a port of its own
        settings = settings.model_copy(update={"worker_metrics_address": args.metrics_address})
    check_files(data_dir(settings.paper_data_dir))
    configure_logging(settings)
    asyncio.run(run_worker(settings))
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from adapters.db.migrate import upgrade

    settings = get_settings()
    configure_logging(settings)
    upgrade(settings.database_url)
    print("database is at the latest schema")
    return 0


def _reseal(_args: argparse.Namespace) -> int:
    from adapters.credentials import reseal_all
    from adapters.db.engine import create_engine, session_factory
    from adapters.vault import Vault

    settings = get_settings()
    configure_logging(settings)

    async def reseal() -> int:
        engine = create_engine(settings.database_url)
        try:
            vault = Vault(settings.credential_keys, settings.credentials_key_version)
            return await reseal_all(session_factory(engine), vault)
        finally:
            await engine.dispose()

    changed = asyncio.run(reseal())
    print(f"{changed} credential(s) re-sealed under the active key version")
    return 0


# `crypteras sim NAME ...`: each simulator parses the rest of the command line itself.
REPLAYING_SIMULATORS = {"binance", "mercadobitcoin"}  # their ETH-BTC replays real candles
SIMULATORS = {
    "binance": "simulators.binance.server",
    "mercadobitcoin": "simulators.mercadobitcoin.server",
    "stripe": "simulators.stripe.server",
    "mercadopago": "simulators.mercadopago.server",
}


def _sim(args: argparse.Namespace) -> int:
    import importlib

    if args.name in REPLAYING_SIMULATORS:
        check_files(data_dir())
    importlib.import_module(SIMULATORS[args.name]).main(args.options)
    return 0


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port")
    return port


def _workers(text: str) -> int:
    count = int(text)
    if not 1 <= count <= MAX_WORKER_PROCESSES:
        raise argparse.ArgumentTypeError(f"{count} is not between 1 and {MAX_WORKER_PROCESSES}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crypteras", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Temporal, the database, the worker and the API")
    up.add_argument("--state-dir", type=Path, default=Path(".crypteras"), help="local data")
    up.add_argument("--host", default="127.0.0.1", help="address every service binds")
    up.add_argument("--api-port", type=_port, default=8000)
    up.add_argument("--temporal-port", type=_port, default=7233)
    up.add_argument("--ui-port", type=_port, default=8233, help="Temporal Web UI")
    up.add_argument("--worker-metrics-port", type=_port, default=None, help="default: API port + 1")
    up.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="worker processes, each serving metrics on the next port (default: WORKER_PROCESSES"
        ", else 1)",
    )
    up.add_argument(
        "--demo",
        action="store_true",
        help="make (once per state folder) a demo user with a paper bot trading ETH-BTC, and "
        "print its e-mail and password",
    )
    up.set_defaults(handler=_up)

    api = commands.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=_port, default=None)
    api.set_defaults(handler=_api)

    worker = commands.add_parser("worker", help="run the Temporal worker")
    worker.add_argument(
        "--metrics-address", default=None, help="host:port for metrics (default: settings)"
    )
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    reseal = commands.add_parser(
        "reseal-credentials",
        help="key rotation: re-encrypt every exchange secret under CREDENTIALS_KEY_VERSION",
    )
    reseal.set_defaults(handler=_reseal)

    sim = commands.add_parser(
        "sim",
        help="run a simulator of an outside service (options: crypteras sim NAME --help)",
    )
    sim.add_argument("name", choices=sorted(SIMULATORS))
    sim.add_argument("options", nargs=argparse.REMAINDER, help="the simulator's own options")
    sim.set_defaults(handler=_sim)

    from backtest.cli import add_parser as add_backtest

    add_backtest(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except MarketDataError as exc:  # one line naming the file, before anything started
        print(f"crypteras: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
