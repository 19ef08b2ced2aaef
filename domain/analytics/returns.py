"""Risk and return of an equity curve: its periodic returns, Sharpe and Sortino ratios and its
deepest drawdown.

Conventions (the same as empyrical's, against which the tests hold them):
- a return series is one simple return per period (hour or day), oldest first, no gaps: the
  equity curve is sampled at the end of every period, whether or not anything traded;
- annualised by the number of periods in a year of a market that never closes: 365 days, 8,760
  hours (not equities' 252 trading days);
- the risk-free rate (Sharpe) and the required return (Sortino) are per period, 0 by default:
  crypto has no risk-free asset of its own, and a user comparing with a savings rate passes it;
- Sharpe divides by the sample standard deviation (ddof 1); Sortino by the downside deviation,
  the root mean square of the returns' shortfalls under the required return over every period
  (not only the losing ones);
- a ratio is None where it is undefined: fewer than two returns, or no variation (no downside,
  for Sortino) to divide by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import polars as pl


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"


PERIODS_PER_YEAR = {Period.HOUR: 24 * 365, Period.DAY: 365}


def periodic_returns(equity: pl.Series) -> pl.Series:
    """Each period's simple return from the equity at the end of the periods (one fewer value
    than `equity`). A period starting at no equity has no return (null)."""
    values = equity.cast(pl.Float64)
    previous = values.shift(1)
    returns = pl.select(
        pl.when(previous > 0).then(values / previous - 1).otherwise(None).alias("return")
    ).to_series()
    return returns.slice(1)


def sharpe(returns: pl.Series, period: Period, risk_free: float = 0.0) -> float | None:
    """Annualised Sharpe ratio: mean excess return over its sample standard deviation, times
    the square root of the periods in a year."""
    excess = returns.cast(pl.Float64).drop_nulls() - risk_free
    if excess.len() < 2:
        return None
    deviation = excess.std(ddof=1)
    if deviation is None or not isinstance(deviation, float) or deviation == 0:
        return None
    mean = excess.mean()
    assert isinstance(mean, float)
    return mean / deviation * math.sqrt(PERIODS_PER_YEAR[period])


def sortino(returns: pl.Series, period: Period, required: float = 0.0) -> float | None:
    """Annualised Sortino ratio: mean return above `required` over the downside deviation."""
    excess = returns.cast(pl.Float64).drop_nulls() - required
    if excess.len() < 2:
        return None
    shortfall = excess.clip(upper_bound=0.0)
    downside = (shortfall * shortfall).mean()
    mean = excess.mean()
    assert isinstance(downside, float) and isinstance(mean, float)
    if downside == 0:
        return None
    return mean * math.sqrt(PERIODS_PER_YEAR[period]) / math.sqrt(downside)


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall of the equity from a previous high: `depth` as a fraction of that high
    (0.25 is 25 %), from the high's time to the low's."""

    depth: float
    peak_at: datetime
    trough_at: datetime


def max_drawdown(times: pl.Series, equity: pl.Series) -> Drawdown | None:
    """The equity curve's deepest drawdown; None without a fall (or without equity)."""
    frame = pl.DataFrame({"at": times, "equity": equity.cast(pl.Float64)}).with_columns(
        high=pl.col("equity").cum_max()
    )
    frame = frame.with_columns(
        depth=pl.when(pl.col("high") > 0).then(1 - pl.col("equity") / pl.col("high")).otherwise(0.0)
    )
    if frame.height == 0:
        return None
    trough = frame.select(pl.col("depth").arg_max()).item()
    depth = frame["depth"][trough]
    if trough is None or not depth > 0:
        return None
    before = frame.slice(0, trough + 1)
    peak = before.select(pl.col("equity").arg_max()).item()  # the first time the high was set
    return Drawdown(depth=depth, peak_at=before["at"][peak], trough_at=frame["at"][trough])
