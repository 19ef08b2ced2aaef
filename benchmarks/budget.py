"""Bots on ONE Binance key against the simulator with Binance's real limits: do they stay under
every limit, without a single 429?

    .venv/bin/python -m benchmarks.budget [--bots 20] [--processes 2] [--duration 60]
        [--database postgres|sqlite] [--order-every 10]

The simulator runs in this process (a uvicorn thread) with Binance's limits: REQUEST_WEIGHT
6000/min per IP, ORDERS 50/10 s per account, RAW_REQUESTS 61000/5 min (its exchangeInfo
announces these three; it has no daily order limit). The bots run in `--processes` worker
processes (real OS processes, each with its own `ExchangeFactory` and database engine, the
budget coordinated through the `venue_budgets` table of a fresh database), all on one API key.
Each bot loops as fast as the budget lets it, a realistic tick: the market's ticker
(ticker/24hr, weight 2), its open orders (openOrders with a symbol, weight 6), and every
`--order-every` ticks a resting LIMIT buy (weight 1, one ORDERS), canceling its previous one
first (weight 1 + the order read back, 4).

Reports requests/s at the venue, its answers by status (429 and 418 must be absent), the
highest ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-10S`` any response carried against
the limits, and the budget's statements to the database. Exits 1 on any 429 or 418.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from adapters.db.budgets import DbBudgetStore
from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade
from adapters.exchanges.budget import WindowKey, account_scope
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Environment, Settings
from benchmarks.api import database
from domain.market import OrderRequest, OrderType, Side, Venue
from simulators.binance import SimConfig, SymbolConfig, ThreadedServer, create_app
from simulators.binance.config import FixedPath

WEIGHT_LIMIT, ORDERS_LIMIT = 6000, 50
PRICE = Decimal(350000)
STARTUP_SECONDS = 8.0


class CountingStore(DbBudgetStore):
    """The database store, counting its reservations (the budget's traffic to the database)."""

    reservations = 0

    async def reserve(self, key: WindowKey, amount: int, cap: int, floor: int) -> int:
        self.reservations += 1
        return await super().reserve(key, amount, cap, floor)


@dataclass
class Outcome:
    ticks: int
    orders: int
    errors: list[str]
    peak_weight: int
    peak_orders: int
    reservations: int


async def _bot(
    factory: ExchangeFactory, key: str, secret: str, n: int, until: float, every: int
) -> tuple[int, int, list[str]]:
    ticks = orders = 0
    errors: list[str] = []
    previous: str | None = None
    # Activities call with retry=False: a 429 would surface here, not be retried away.
    async with factory.connect(Venue.BINANCE, key, secret, retry=False) as exchange:
        while time.monotonic() < until:
            try:
                await exchange.ticker("BTC-BRL")
                await exchange.open_orders("BTC-BRL")
                if ticks % every == every - 1:
                    if previous is not None:
                        await exchange.cancel_order("BTC-BRL", client_order_id=previous)
                    previous = f"bench-{n}-{uuid.uuid4().hex[:12]}"
                    await exchange.create_order(
                        OrderRequest(
                            client_order_id=previous,
                            symbol="BTC-BRL",
                            side=Side.BUY,
                            type=OrderType.LIMIT,
                            quantity=Decimal("0.0001"),
                            price=PRICE * Decimal("0.95"),
                        )
                    )
                    orders += 1
            except Exception as error:  # reported, never retried: a bot must not see one
                errors.append(f"{type(error).__name__}: {error}")
                await asyncio.sleep(1)
            ticks += 1
    return ticks, orders, errors


async def _process(
    url: str,
    database_url: str,
    key: str,
    secret: str,
    bots: range,
    until: float,
    duration: float,
    every: int,
) -> Outcome:
    engine = create_engine(database_url)
    store = CountingStore(session_factory(engine))
    settings = Settings(
        _env_file=None,
        environment=Environment.TEST,
        database_url=database_url,
        binance_base_url=url,
    )
    factory = ExchangeFactory(settings, budget_store=store, host="bench-host")
    await asyncio.sleep(until - duration - time.monotonic())  # every process starts at once
    try:
        results = await asyncio.gather(*(_bot(factory, key, secret, n, until, every) for n in bots))
        budget = factory.binance_venue().budget
        return Outcome(
            ticks=sum(r[0] for r in results),
            orders=sum(r[1] for r in results),
            errors=[e for r in results for e in r[2]],
            peak_weight=budget.peak("REQUEST_WEIGHT_1M"),
            peak_orders=budget.peak("ORDERS_10S", account=account_scope(key)),
            reservations=store.reservations,
        )
    finally:
        await factory.aclose()
        await engine.dispose()


def _run_process(args: tuple[str, str, str, str, range, float, float, int]) -> Outcome:
    return asyncio.run(_process(*args))


async def _account(base_url: str) -> tuple[str, str]:
    key, secret = f"bench-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=base_url) as http:
        body = {"api_key": key, "secret": secret, "balances": {"BRL": "100000000"}}
        (await http.post("/_sim/accounts", json=body)).raise_for_status()
    return key, secret


async def _stats(base_url: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.get("/_sim/stats")
        response.raise_for_status()
        stats: dict[str, object] = response.json()
        return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--order-every", type=int, default=10)
    options = parser.parse_args()

    config = SimConfig(
        symbols=[SymbolConfig(base="BTC", quote="BRL", path=FixedPath(price=PRICE))],
        weight_limit=WEIGHT_LIMIT,
        weight_window_seconds=60,
        orders_per_10s=ORDERS_LIMIT,
    )
    server = ThreadedServer(create_app(config)).start()
    with tempfile.TemporaryDirectory() as workdir, database(options.database, Path(workdir)) as db:
        upgrade(db)
        key, secret = asyncio.run(_account(server.base_url))
        # Time for the processes to start; then they all run for `duration`.
        until = time.monotonic() + STARTUP_SECONDS + options.duration
        share = [range(p, options.bots, options.processes) for p in range(options.processes)]
        jobs = [
            (server.base_url, db, key, secret, bots, until, options.duration, options.order_every)
            for bots in share
        ]
        # Spawned: each worker process starts clean, as a deployment's workers do.
        with multiprocessing.get_context("spawn").Pool(options.processes) as pool:
            outcomes = pool.map(_run_process, jobs)
        stats = asyncio.run(_stats(server.base_url))
        elapsed = options.duration
    server.stop()

    requests = stats["requests"]
    statuses = stats["statuses"]
    assert isinstance(requests, dict) and isinstance(statuses, dict)
    total = sum(requests.values())
    errors = [e for o in outcomes for e in o.errors]
    print(f"bots {options.bots} on one key, {options.processes} processes, {elapsed:.0f} s")
    print(f"requests at the venue: {total} ({total / elapsed:.1f}/s), answers {statuses}")
    print(f"ticks {sum(o.ticks for o in outcomes)}, orders {sum(o.orders for o in outcomes)}")
    print(f"max X-MBX-USED-WEIGHT-1M {max(o.peak_weight for o in outcomes)} / {WEIGHT_LIMIT}")
    print(f"max X-MBX-ORDER-COUNT-10S {max(o.peak_orders for o in outcomes)} / {ORDERS_LIMIT}")
    print(f"budget reservations in the database: {sum(o.reservations for o in outcomes)}")
    print(f"errors seen by bots: {len(errors)} {errors[:3]}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    limited = statuses.get("429", 0) or statuses.get("418", 0)
    return 1 if limited or errors else 0


if __name__ == "__main__":
    sys.exit(main())
