"""Parameter sweeps (backtest/sweep.py): the grid's combinations, runs in other processes equal
to the same runs here, the ranking, and the CLI's ranked table, warning and walk-forward."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.exchanges.paper import DEFAULT_MARKETS
from adapters.market_data import OHLCV_DIR
from backtest.candles import Candles, read_candles
from backtest.report import summary
from backtest.runner import Backtest, BacktestMarket
from backtest.sweep import MAX_RUNS, Axis, Job, SweepError, configs, ranked, sweep
from domain.bots.kinds import parse_config
from domain.bots.state import BotKind
from workers.cli import main

DATA = OHLCV_DIR / "ETH_BTC-1m.parquet"
MARKET = BacktestMarket(next(rules for rules, _ in DEFAULT_MARKETS if rules.symbol == "ETH-BTC"))
BASE: dict[str, Any] = {
    "symbol": "ETH-BTC",
    "order_amount": "0.01",
    "allocated_balance": "0.1",
    "interval_seconds": 3600,
    "risk": {"take_profit": {"percent": "2"}},
}


def test_a_grid_makes_every_combination_on_a_copy_of_the_config() -> None:
    axes = [Axis.parse("risk.take_profit.percent=1,2.5"), Axis.parse("interval_seconds=600,1800")]
    made = configs(BASE, axes)
    assert [(c["risk"]["take_profit"]["percent"], c["interval_seconds"]) for c in made] == [
        (1, 600), (1, 1800), (2.5, 600), (2.5, 1800),
    ]  # fmt: skip
    assert BASE["risk"]["take_profit"]["percent"] == "2"  # the base is left as it was
    assert configs(BASE, [Axis.parse("risk.stop_loss.hard_percent=4")])[0]["risk"]["stop_loss"]
    for bad in ("interval_seconds", "=1,2", "interval_seconds="):
        with pytest.raises(SweepError):
            Axis.parse(bad)
    with pytest.raises(SweepError, match="a group of settings"):
        configs(BASE, [Axis.parse("symbol.x=1")])
    many = Axis("order_amount", tuple(range(MAX_RUNS + 1)))
    with pytest.raises(SweepError, match="at most"):
        configs(BASE, [many])


def test_runs_in_other_processes_equal_runs_here_and_rank_by_the_metric() -> None:
    whole = read_candles(DATA)
    candles = Candles(whole.rows[:3000], whole.interval)
    grid = configs(BASE, [Axis.parse("risk.take_profit.percent=1,2,3")])
    results = sweep(candles, [Job(BotKind.SMART, raw, MARKET, 0, 3000) for raw in grid], 2)
    for raw, result in zip(grid, results, strict=True):
        here = Backtest(BotKind.SMART, parse_config(BotKind.SMART, raw), candles, MARKET)
        asyncio.run(here.run())
        assert summary(here) == result
    order = ranked(results, "pnl")
    pnls = [float(results[i]["pnl"]) for i in order]
    assert pnls == sorted(pnls, reverse=True) and len(set(pnls)) == 3
    with pytest.raises(SweepError):
        ranked(results, "luck")


def test_the_cli_ranks_warns_and_walks_forward(tmp_path: Path, capsys: Any) -> None:
    config = tmp_path / "bot.json"
    config.write_text(json.dumps(BASE))
    out = tmp_path / "out"
    argv = [
        "backtest", "--kind", "smart", "--config", str(config), "--data", str(DATA),
        "--to", "2017-11-08", "--grid", "risk.take_profit.percent=1,2,3", "--rank", "return",
        "--walk-forward", "0.6", "--processes", "2", "--output", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 configurations were tried on the same candles" in printed
    assert "Walk-forward" in printed
    written = json.loads((out / "sweep.json").read_text())
    returns = [float(run["summary"]["return"]) for run in written["runs"]]
    assert returns == sorted(returns, reverse=True)
    unseen = written["walk_forward"]
    assert [run["config"] for run in unseen] == [run["config"] for run in written["runs"]]
    assert all(run["summary"]["from"] >= written["runs"][0]["summary"]["to"] for run in unseen)
    # A value the bot refuses stops the sweep, named, before anything runs.
    bad = [*argv[:-2], "--grid", "order_amount=-1"]
    assert main(bad) == 2 and "order_amount" in capsys.readouterr().out
    # A split that leaves a part too short to backtest is refused the same way.
    short = [*argv[:-2], "--from", "2017-11-07T23:40", "--walk-forward", "0.99"]
    assert main(short) == 2 and "walk-forward" in capsys.readouterr().out
