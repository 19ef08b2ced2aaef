"""Backtests (backtest/): the bots' own Trader on the paper venue's code over real minute
candles (ETH/BTC, data/ohlcv): its funds equal its fills, every fill is at a price the path
reached, no decision sees a later candle, the DCA schedule buys once per cycle, and the CLI
runs from a CSV to a report."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from activities.market_analysis import candle_frame
from adapters.exchanges.paper import DEFAULT_MARKETS, SLIPPAGE
from adapters.exchanges.paper_klines import klines
from adapters.market_data import OHLCV_DIR
from backtest.candles import CandleDataError, Candles, read_candles
from backtest.report import summary
from backtest.runner import Backtest, BacktestMarket
from domain.bots.candle import CandleBotConfig, indicator_values
from domain.bots.kinds import parse_config
from domain.bots.risk import SellReason
from domain.bots.state import BotKind, BotStatus
from domain.market import Candle, MarketRules, Side, epoch_ms
from domain.matching import Fees
from domain.signals import SignalAction, analyse, candles_needed
from tests.workflows.conftest import Tally, assert_funds_match
from workers.cli import main

DATA = OHLCV_DIR / "ETH_BTC-1m.parquet"
HEADER = "open_time_ms,open,high,low,close,volume\n"
RULES = next(rules for rules, _ in DEFAULT_MARKETS if rules.symbol == "ETH-BTC")
SMART: dict[str, Any] = {
    "symbol": "ETH-BTC",
    "order_amount": "0.01",
    "allocated_balance": "0.1",
    "interval_seconds": 3600,
    "risk": {
        "take_profit": {"percent": "2"},
        "stop_loss": {"soft_percent": "3", "hard_percent": "6"},
    },
}


@pytest.fixture(scope="module")
def candles() -> Candles:
    return read_candles(DATA)


def backtest(candles: Candles, config: dict[str, Any], kind: BotKind = BotKind.SMART) -> Backtest:
    run = Backtest(kind, parse_config(kind, config), candles, BacktestMarket(RULES))
    asyncio.run(run.run())
    return run


def test_a_smart_bot_trades_real_candles_and_its_funds_are_its_fills(candles: Candles) -> None:
    run = backtest(candles, SMART)
    funds = run.trader.state.funds
    assert len(run.host.trades) > 10 and len(run.host.orders) > len(run.host.trades)
    assert_funds_match(funds, Tally.of(run.host.fills, "ETH", "BTC"))
    # Fees to the last unit: 0.1 % of each fill, in the asset it received.
    for fill in run.host.fills:
        received = fill.quantity if fill.side is Side.BUY else fill.quantity * fill.price
        assert fill.fee == received * Decimal("0.001")
    # Every fill is at the path's price at that moment, moved against the order by at most
    # the paper venue's slippage (and a tick): no price is invented.
    for fill in run.host.fills:
        at, room = run.path.price_at(fill.at), run.path.price_at(fill.at) * SLIPPAGE
        worse = fill.price - at if fill.side is Side.BUY else at - fill.price
        assert 0 <= worse <= room + RULES.price_tick
    # The timer's buys come an interval apart at least; every sale says why it was made.
    buys = [p.at for p in run.host.orders if p.request.request.side is Side.BUY]
    assert all(b - a >= timedelta(hours=1) for a, b in pairwise(buys))
    sales = [p for p in run.host.orders if p.request.request.side is Side.SELL]
    reasons = {p.request.creation_context["reason"] for p in sales}
    exits = {SellReason.TAKE_PROFIT, SellReason.STOP_LOSS_SOFT, SellReason.STOP_LOSS_HARD}
    assert reasons <= exits and SellReason.TAKE_PROFIT in reasons
    numbers = summary(run)
    assert Decimal(numbers["realized_profit"]) == funds.realized_profit
    assert numbers["trades"] == len(run.host.trades) and numbers["gaps"]


def test_no_decision_sees_a_later_candle(candles: Candles) -> None:
    """A spike planted after hour 100 (5 %: over the take profit, under the sanity check's
    jump limit) is sold into when it comes, and changes nothing the bot did before it."""
    cut = 100 * 60
    spiked = list(candles.rows)
    c = spiked[cut]
    spiked[cut] = Candle.model_construct(
        open_time=c.open_time, open=c.open, high=c.high * Decimal("1.05"), low=c.low,
        close=c.close, volume=c.volume,
    )  # fmt: skip
    planted = Candles(tuple(spiked), candles.interval)
    before = candles.rows[cut].open_time

    def until_cut(run: Backtest) -> list[tuple[Any, ...]]:
        return [
            (p.at, p.request.request, p.order.average_price if p.order else None)
            for p in run.host.orders
            if p.at < before
        ]

    plain, spike = backtest(candles, SMART), backtest(planted, SMART)
    assert until_cut(plain) == until_cut(spike) and until_cut(plain)
    [sale] = [p for p in spike.host.orders if p.at >= before][:1]
    assert sale.at < before + candles.interval and sale.request.request.side is Side.SELL
    assert sale.request.creation_context["reason"] == SellReason.TAKE_PROFIT
    window = [p for p in plain.host.orders if before <= p.at < before + candles.interval]
    assert all(p.request.request.side is Side.BUY for p in window)  # no spike, no sale


def test_a_dca_plan_buys_once_a_cycle_until_its_cycles_are_made(candles: Candles) -> None:
    config = {
        "symbol": "ETH-BTC",
        "purchase_amount": "0.01",
        "frequency": "1h",
        "allocated_balance": "0.05",
        "max_cycles": 4,
    }
    run = backtest(candles, config, BotKind.DCA)
    orders = run.host.orders
    assert [p.request.creation_context["cycle"] for p in orders] == [1, 2, 3, 4]
    assert [p.at - orders[0].at for p in orders] == [timedelta(hours=n) for n in range(4)]
    assert run.trader.state.status is BotStatus.STOPPED  # no exit set: nothing left to do
    assert_funds_match(run.trader.state.funds, Tally.of(run.host.fills, "ETH", "BTC"))


def test_the_cli_runs_a_csv_and_writes_its_report(tmp_path: Path, capsys: Any) -> None:
    frame = pl.read_parquet(DATA).head(3000)
    data = tmp_path / "candles.csv"
    frame.with_columns(pl.col(c).cast(pl.Utf8) for c in frame.columns[1:]).write_csv(data)
    config = tmp_path / "bot.json"
    config.write_text(json.dumps(SMART))
    out = tmp_path / "out"
    argv = ["backtest", "--kind", "smart", "--config", str(config), "--data", str(data)]
    assert main([*argv, "--output", str(out)]) == 0
    written = json.loads((out / "report.json").read_text())
    assert written["summary"]["candles"] == 3000
    assert len(written["orders"]) == written["summary"]["orders"] > 0
    assert "final equity" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 2 and written["summary"]["final_equity"] in html
    # A config the bot would refuse names its field, and nothing runs.
    config.write_text(json.dumps({**SMART, "order_amount": "-1"}))
    assert main(argv) == 2
    assert "order_amount" in capsys.readouterr().out


def test_a_candle_bot_acts_on_the_signals_the_feed_would_make(candles: Candles) -> None:
    config = {
        "symbol": "ETH-BTC",
        "strategy": {"timeframe": "5m", "rsi": {"period": 14}, "bollinger": {"period": 20}},
        "order_amount": "0.01",
        "allocated_balance": "0.1",
        "auto_execute": True,
        "min_confidence": "MEDIUM",
        "risk": {"take_profit": {"percent": "2"}},
    }
    head = Candles(candles.rows[:4000], candles.interval)
    run = backtest(head, config, BotKind.CANDLE)
    strategy = CandleBotConfig.model_validate(config).strategy
    buys = [p for p in run.host.orders if p.request.request.side is Side.BUY]
    assert buys and len(run.host.trades) >= 1
    assert_funds_match(run.trader.state.funds, Tally.of(run.host.fills, "ETH", "BTC"))
    for placed in buys:
        context = placed.request.creation_context
        assert context["detail"].startswith("signal BUY")
        # The signal it bought on is the one the venue's klines give at that moment, read
        # whole (the backtest reads each closed candle once).
        closed = klines(run.path, "5m", placed.at, limit=candles_needed(strategy) + 1)[:-1]
        signal = analyse(candle_frame(closed), strategy)
        assert signal.action is SignalAction.BUY
        assert context["indicators"] == indicator_values(signal)
    # The bot's latest signal is on the last 5-minute candle closed before the data ends.
    last = run.trader.state.signal
    assert last is not None
    assert last.candle_open_ms == (epoch_ms(head.rows[-1].open_time) // 300_000 - 1) * 300_000


def test_the_dca_seed_example_backtests_to_its_average_price() -> None:
    """The seed's DCA example (tests/unit/test_bot_dca.py): R$ 100 an hour at 200,000, 210,000
    and 190,000, on Binance's BTC lot step, without fees or slippage: the average cost is the
    prices' harmonic mean, 199,666.39, to the lot step's rounding."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    prices = [200_000, 210_000, 190_000, 190_000]
    hours = tuple(
        Candle.model_construct(
            open_time=start + timedelta(hours=n),
            open=Decimal(p),
            high=Decimal(p),
            low=Decimal(p),
            close=Decimal(p),
            volume=Decimal(1),
        )
        for n, p in enumerate(prices)
    )
    rules = MarketRules(
        symbol="BTC-BRL", price_tick=Decimal(1), lot_step=Decimal("1e-8"),
        min_quantity=Decimal("1e-8"), max_quantity=Decimal(9000), min_notional=Decimal(10),
    )  # fmt: skip
    config = {"symbol": "BTC-BRL", "purchase_amount": "100", "frequency": "1h",
              "allocated_balance": "300", "max_cycles": 3}  # fmt: skip
    market = BacktestMarket(rules, Fees(maker=Decimal(0), taker=Decimal(0)), Decimal(0))
    run = Backtest(BotKind.DCA, parse_config(BotKind.DCA, config),
                   Candles(hours, timedelta(hours=1)), market)  # fmt: skip
    asyncio.run(run.run())
    assert [p.at - start for p in run.host.orders] == [timedelta(hours=n) for n in range(3)]
    funds = run.trader.state.funds
    assert funds.position_quantity == Decimal("0.0015025")
    assert funds.average_price is not None
    assert abs(funds.average_price - Decimal("199666.39")) < Decimal("0.1")
    assert run.trader.state.status is BotStatus.STOPPED


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("open_time_ms,open,high,low,close\n1,1,1,1,1\n2,1,1,1,1\n", "columns"),
        (f"{HEADER}1,1,1,1,1,1\n2,1,x,1,1,1\n", "not a number"),
        (f"{HEADER}1,1,1,1,1,1\n60001,2,1,1,2,1\n", "is not a candle"),
        (f"{HEADER}1,1,1,1,1,1\n1,1,1,1,1,1\n", "same time"),
        (f"{HEADER}1,1,1,1,1,1\n", "fewer than two"),
    ],
)
def test_candles_that_cannot_be_backtested_are_refused_saying_why(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "candles.csv"
    path.write_text(text)
    with pytest.raises(CandleDataError, match=says):
        read_candles(path)
