"""How long a backtest of a year of one-minute candles takes (issue 14: under 2 s on 2 cores).

`.venv/bin/python -m benchmarks.backtest [--kind smart|candle] [--candles 525600] [--seed 7]`

The candles are a seeded random walk (0.1 % a minute, BTC-BRL from R$ 350,000), made with
numpy and turned into exact candles first (timed apart: it is the file's reading, not the
backtest's). The SmartBot buys R$ 100 every 30 minutes out of R$ 10,000 with every risk
mechanism on: take profit, soft and hard stop, trailing stop, circuit breaker, sanity check.
The Candle bot buys R$ 100 on an RSI (14) and Bollinger (20) signal of each minute's close and
sells on its take profit or a SELL signal.
Printed: the load time, the run time (the bot's decisions and the paper venue's matching),
orders, trades, the wake-ups the loop looked at, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from adapters.exchanges.paper import DEFAULT_MARKETS
from backtest.candles import candles_of
from backtest.runner import Backtest, BacktestMarket
from domain.bots.kinds import parse_config
from domain.bots.state import BotKind

CANDLE = {
    "symbol": "BTC-BRL",
    "strategy": {"timeframe": "1m", "rsi": {"period": 14}, "bollinger": {"period": 20}},
    "order_amount": "100",
    "allocated_balance": "10000",
    "auto_execute": True,
    "min_confidence": "MEDIUM",
    "risk": {"take_profit": {"percent": "1"}},
}
SMART = {
    "symbol": "BTC-BRL",
    "order_amount": "100",
    "allocated_balance": "10000",
    "interval_seconds": 1800,
    "risk": {
        "take_profit": {"percent": "3"},
        "stop_loss": {"soft_percent": "4", "hard_percent": "8", "confirmation_seconds": 300},
        "trailing_stop": {"enabled": True, "activation_percent": "2", "trail_percent": "1"},
        "circuit_breaker": {"preset": "moderate"},
    },
}


def walk(count: int, seed: int) -> pl.DataFrame:
    """`count` minute candles of a random walk, prices on BTC-BRL's R$ 1 tick."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
    steps = rng.normal(0, 0.001, size=(count, 4))
    path = 350_000 * np.exp(np.cumsum(steps.ravel())).reshape(count, 4)
    opens = np.concatenate(([350_000.0], path[:-1, 3]))
    closes = path[:, 3]
    highs = np.maximum(np.maximum(opens, closes), path[:, :3].max(axis=1))
    lows = np.minimum(np.minimum(opens, closes), path[:, :3].min(axis=1))
    return pl.DataFrame(
        {
            "open_time_ms": start + 60_000 * np.arange(count, dtype=np.int64),
            "open": np.round(opens),
            "high": np.round(highs),
            "low": np.round(lows),
            "close": np.round(closes),
            "volume": np.round(rng.uniform(0.1, 5, count), 5),
        }
    ).with_columns(pl.col(c).cast(pl.Int64).cast(pl.Utf8) for c in ("open", "high", "low", "close"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("smart", "candle"), default="smart")
    parser.add_argument("--candles", type=int, default=525_600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began = time.perf_counter()
    candles = candles_of(walk(args.candles, args.seed), "random walk")
    loaded = time.perf_counter() - began
    rules = next(rules for rules, _ in DEFAULT_MARKETS if rules.symbol == "BTC-BRL")
    kind = BotKind(args.kind)
    config = parse_config(kind, SMART if kind is BotKind.SMART else CANDLE)
    began = time.perf_counter()
    run = Backtest(kind, config, candles, BacktestMarket(rules))
    asyncio.run(run.run())
    ran = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{kind.value}: candles {len(candles.rows):,}  load {loaded:.2f} s  backtest {ran:.2f} s  "
        f"orders {len(run.host.orders):,}  trades {len(run.host.trades):,}  "
        f"wake-ups {len(run.funds_at):,}  peak RSS {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
