"""The Binance simulator's price work per request, with 300 markets on seeded random walks.

    .venv/bin/python -m benchmarks.sim_markets [--markets 300] [--requests 3000] [--rate 1000]

Runs the venue in this process, without HTTP (whose cost does not depend on the number of
markets), on a simulated wall clock that moves 1/`--rate` seconds per request, so a second of
market time passes every `--rate` requests and each random walk takes a new step each second.
Each request is what the HTTP layer does: `venue.sync()` (catch every market asked for so far
up with the clock) and then the handler. It reports this process's CPU time per request and
the path evaluations per request (`SymbolMarket.evaluations`) in three cases:

- one market asked for, the other 299 never touched;
- every market asked for once (they all follow the clock from then on), then single-market
  reads: the realistic engine load, each market repriced once a second of market time;
- every request an all-symbol `ticker/price`: the worst case.
"""

from __future__ import annotations

import argparse
import resource
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from simulators.binance import SimConfig, SymbolConfig, public
from simulators.binance.config import RandomWalkPath
from simulators.binance.venue import BinanceVenue
from simulators.binance.wire import Params

T0 = 1_800_000_000.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _venue(markets: int) -> tuple[BinanceVenue, list[float]]:
    symbols = [
        SymbolConfig(
            base=f"C{i:03d}", quote="USDT", path=RandomWalkPath(start_price=Decimal(100), seed=i)
        )
        for i in range(markets)
    ]
    now = [T0]
    return BinanceVenue(SimConfig(symbols=symbols), wall=lambda: now[0]), now


def _run(
    venue: BinanceVenue, now: list[float], requests: int, rate: int, handler: Callable[[int], Any]
) -> tuple[float, float]:
    """(CPU µs per request, path evaluations per request)."""
    before = sum(m.evaluations for m in venue.markets.values())
    started = _cpu()
    for i in range(requests):
        now[0] += 1 / rate
        venue.sync()
        handler(i)
    cpu = _cpu() - started
    evaluations = sum(m.evaluations for m in venue.markets.values()) - before
    return cpu / requests * 1e6, evaluations / requests


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--markets", type=int, default=300)
    args.add_argument("--requests", type=int, default=3000)
    args.add_argument("--rate", type=int, default=1000, help="simulated requests per second")
    options = args.parse_args()
    n, requests, rate = options.markets, options.requests, options.rate

    def one(venue: BinanceVenue, name: str) -> Callable[[int], Any]:
        return lambda _i: public.ticker_price(venue, Params(f"symbol={name}", ""))

    venue, now = _venue(n)
    single = _run(venue, now, requests, rate, one(venue, "C042USDT"))
    touched = sum(1 for m in venue.markets.values() if m.evaluations)

    venue, now = _venue(n)
    public.ticker_price(venue, Params("", ""))  # every market asked for once
    names = list(venue.markets)
    spread = _run(
        venue,
        now,
        requests,
        rate,
        lambda i: public.ticker_price(venue, Params(f"symbol={names[i % n]}", "")),
    )

    venue, now = _venue(n)
    every = _run(
        venue, now, requests // 10, rate, lambda _i: public.ticker_price(venue, Params("", ""))
    )

    print(f"{n} markets, {rate} simulated requests/s")
    for label, (us, evaluations) in (
        (f"one market asked for ({touched} computed)", single),
        ("all markets following the clock", spread),
        ("all-symbol ticker/price each request", every),
    ):
        print(f"{label:42} {us:8.1f} µs/request {evaluations:7.3f} path evaluations/request")


if __name__ == "__main__":
    main()
