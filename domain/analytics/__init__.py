"""The numbers a trader judges bots by (issue 13), as pure functions: money exact in `Decimal`
(`trades`), ratios of an equity curve's periodic returns in floats with their period and
annualisation stated (`returns`). The dashboard's endpoints, its reports and backtests call
these, on what the database aggregated."""

from domain.analytics.returns import (
    PERIODS_PER_YEAR,
    Drawdown,
    Period,
    max_drawdown,
    periodic_returns,
    sharpe,
    sortino,
)
from domain.analytics.trades import (
    ClosedTrade,
    average_hold,
    buy_and_hold,
    profit_factor,
    unrealized_pnl,
    win_rate,
)

__all__ = [
    "PERIODS_PER_YEAR",
    "ClosedTrade",
    "Drawdown",
    "Period",
    "average_hold",
    "buy_and_hold",
    "max_drawdown",
    "periodic_returns",
    "profit_factor",
    "sharpe",
    "sortino",
    "unrealized_pnl",
    "win_rate",
]
