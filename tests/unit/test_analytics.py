"""The dashboard's metrics (domain/analytics): hand-computed series, the edge cases (no trade,
one trade, only losses, only wins, one day, no variation), and the ratios held to empyrical
(empyrical-reloaded) on the same return series, real and random."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import empyrical
import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.market_data import data_dir
from domain.analytics import (
    PERIODS_PER_YEAR,
    ClosedTrade,
    Period,
    average_hold,
    buy_and_hold,
    max_drawdown,
    periodic_returns,
    profit_factor,
    sharpe,
    sortino,
    unrealized_pnl,
    win_rate,
)

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def series(values: list[float]) -> pl.Series:
    return pl.Series(values, dtype=pl.Float64)


def days(count: int) -> pl.Series:
    return pl.Series([T0 + DAY * i for i in range(count)])


# Hand-computed.


def test_returns_are_each_periods_change_and_none_from_nothing() -> None:
    returns = periodic_returns(series([100, 110, 99, 0, 50])).to_list()
    assert returns[:3] == pytest.approx([0.1, -0.1, -1.0])
    assert returns[3] is None  # from no equity at all


def test_sharpe_and_sortino_by_hand() -> None:
    # Mean 0.01, sample deviation √0.0002, a year of 365 days.
    assert sharpe(series([0.02, 0.0]), Period.DAY) == pytest.approx(
        0.01 / math.sqrt(0.0002) * math.sqrt(365)
    )
    # Shortfalls under 0: (0, -0.01): downside deviation √(0.0001 / 2); mean 0.005.
    assert sortino(series([0.02, -0.01]), Period.DAY) == pytest.approx(
        0.005 * math.sqrt(365) / math.sqrt(0.00005)
    )
    hourly = sharpe(series([0.02, 0.0]), Period.HOUR)
    assert hourly == pytest.approx(0.01 / math.sqrt(0.0002) * math.sqrt(8760))
    assert PERIODS_PER_YEAR == {Period.HOUR: 8760, Period.DAY: 365}


def test_a_risk_free_rate_and_a_required_return_are_per_period() -> None:
    assert sharpe(series([0.03, 0.01]), Period.DAY, risk_free=0.01) == sharpe(
        series([0.02, 0.0]), Period.DAY
    )
    assert sortino(series([0.03, 0.0]), Period.DAY, required=0.01) == pytest.approx(
        sortino(series([0.02, -0.01]), Period.DAY)
    )


def test_ratios_are_undefined_without_two_returns_or_any_variation() -> None:
    for returns in ([], [0.01], [0.01, 0.01, 0.01]):
        assert sharpe(series(returns), Period.DAY) is None
    assert sortino(series([0.01, 0.02, 0.0]), Period.DAY) is None  # never under 0: no downside
    assert sortino(series([0.01]), Period.DAY) is None


def test_the_deepest_drawdown_with_its_peak_and_trough() -> None:
    equity = series([100, 120, 90, 110, 130, 104, 125])
    drawdown = max_drawdown(days(7), equity)
    assert drawdown is not None
    assert drawdown.depth == pytest.approx(0.25)  # 120 -> 90, deeper than 130 -> 104 (20 %)
    assert (drawdown.peak_at, drawdown.trough_at) == (T0 + DAY, T0 + 2 * DAY)


def test_no_drawdown_without_a_fall() -> None:
    assert max_drawdown(days(3), series([100, 100, 130])) is None
    assert max_drawdown(days(0), series([])) is None
    assert max_drawdown(days(1), series([100])) is None  # one day of data


# Against empyrical.


def _ours_and_theirs(returns: np.ndarray) -> list[tuple[float | None, float]]:
    ours = series(returns.tolist())
    equity = series([100.0, *(100 * np.cumprod(1 + returns)).tolist()])
    drawdown = max_drawdown(days(len(equity)), equity)
    return [
        (sharpe(ours, Period.DAY), empyrical.sharpe_ratio(returns, annualization=365)),
        (sortino(ours, Period.DAY), empyrical.sortino_ratio(returns, annualization=365)),
        (sharpe(ours, Period.HOUR), empyrical.sharpe_ratio(returns, annualization=8760)),
        (-(drawdown.depth if drawdown else 0.0), empyrical.max_drawdown(returns)),
    ]


def _agree(pairs: list[tuple[float | None, float]]) -> None:
    for ours, theirs in pairs:
        if ours is None:  # undefined here; empyrical says nan or ±inf
            assert not math.isfinite(theirs) or theirs == 0
        else:
            assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["ETH_BTC-1m", "ETH_BTC-5m", "LTC_BTC-5m", "TRX_BTC-5m"])
def test_ratios_agree_with_empyrical_on_real_prices(name: str) -> None:
    """Holding the coin, sampled every 12 candles: a real equity curve's returns."""
    closes = pl.read_parquet(data_dir() / f"{name}.parquet")["close"].cast(pl.Float64)
    equity = closes.gather_every(12)
    returns = periodic_returns(equity).to_numpy()
    _agree(_ours_and_theirs(returns))


@given(
    st.lists(
        st.floats(min_value=-0.5, max_value=0.5, allow_nan=False, allow_subnormal=False),
        min_size=2,
        max_size=200,
    )
)
def test_ratios_agree_with_empyrical_on_random_returns(values: list[float]) -> None:
    returns = np.array(values)
    if np.std(returns) < 1e-9:  # no variation: both undefined, in different ways
        return
    _agree(_ours_and_theirs(returns))


# Trades, exact.


def trade(profit: str, hours: int = 1) -> ClosedTrade:
    return ClosedTrade(opened_at=T0, closed_at=T0 + timedelta(hours=hours), profit=D(profit))


def test_win_rate_profit_factor_and_hold_time() -> None:
    trades = [trade("30", 2), trade("-10", 4), trade("0", 6), trade("20", 12)]
    assert win_rate(trades) == D("0.5")  # two of four; a zero profit is not a win
    assert profit_factor(trades) == D(5)  # 50 won over 10 lost
    assert average_hold(trades) == timedelta(hours=6)


def test_edge_cases_of_the_trade_metrics() -> None:
    assert (win_rate([]), profit_factor([]), average_hold([])) == (None, None, None)
    one = [trade("12.5", 3)]
    assert (win_rate(one), profit_factor(one), average_hold(one)) == (
        D(1),
        None,  # no loss: undefined, not infinite
        timedelta(hours=3),
    )
    losses = [trade("-1"), trade("-2")]
    assert (win_rate(losses), profit_factor(losses)) == (D(0), D(0))
    wins = [trade("1"), trade("2")]
    assert (win_rate(wins), profit_factor(wins)) == (D(1), None)


def test_unrealized_pnl_and_buy_and_hold_are_exact() -> None:
    # 0.00099900 BTC bought for 350.35 BRL (fees in): at 360,000.01 it is worth 359.6400...
    assert unrealized_pnl(D("0.000999"), D("350.35"), D("360000.01")) == D("9.29000999")
    assert unrealized_pnl(D(0), D(0), D("360000")) == 0
    assert buy_and_hold(D("200000"), D("230000")) == D("0.15")
    with pytest.raises(ValueError):
        buy_and_hold(D(0), D(1))
