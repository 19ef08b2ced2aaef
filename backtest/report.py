"""What a backtest produced, and the dashboard's metrics of it (domain/analytics): the orders
with why each was made, the fills, the closed trades, the funds at the end and the daily equity
curve, with P&L, win rate, profit factor, average hold, Sharpe and Sortino (daily, annualised
over 365 days, no risk-free rate), the deepest drawdown and holding the coin instead.

Money stays exact (`Decimal`, written as strings); the ratios are floats, as on the dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from adapters.db.bots_rows import venue_status
from backtest.candles import Candles
from backtest.runner import Backtest
from domain.analytics.returns import Period, max_drawdown, periodic_returns, sharpe, sortino
from domain.analytics.trades import (
    ClosedTrade,
    average_hold,
    buy_and_hold,
    profit_factor,
    win_rate,
)

_DAY = timedelta(days=1)


def equity_curve(backtest: Backtest) -> tuple[list[datetime], list[Decimal]]:
    """The bot's equity (its quote, free and blocked, and its position at the close) at the
    end of every day of the candles, and at the last close."""
    candles = backtest.candles
    first = candles.start.replace(hour=0, minute=0, second=0, microsecond=0) + _DAY
    ends = [first + _DAY * n for n in range(int((candles.end - first) / _DAY) + 1)]
    ends = [end for end in ends if end < candles.end] + [candles.end]
    records = backtest.funds_at
    record_ms = np.array([int(at.timestamp() * 1000) for at, _ in records], dtype=np.int64)
    values = []
    for end in ends:
        end_ms = int(end.timestamp() * 1000)
        funds = records[max(int(np.searchsorted(record_ms, end_ms, side="right")) - 1, 0)][1]
        close = close_before(candles, end_ms)
        values.append(funds.free + funds.blocked + funds.position_quantity * close)
    return ends, values


def close_before(candles: Candles, end_ms: int) -> Decimal:
    """The close of the last candle that ended by `end_ms`."""
    step = int(candles.interval.total_seconds() * 1000)
    index = int(np.searchsorted(candles.open_ms, end_ms - step, side="right")) - 1
    return candles.rows[max(index, 0)].close


def summary(backtest: Backtest) -> dict[str, Any]:
    """The report's numbers, ready for JSON."""
    state = backtest.trader.state
    funds = state.funds
    times, equity = equity_curve(backtest)
    final = equity[-1]
    trades = [
        ClosedTrade(t.opened_at or t.closed_at, t.closed_at, t.profit) for t in backtest.host.trades
    ]
    returns = periodic_returns(pl.Series(equity, dtype=pl.Float64))
    drawdown = max_drawdown(pl.Series(times), pl.Series(equity, dtype=pl.Float64))
    hold = average_hold(trades)
    factor = profit_factor(trades)
    rate = win_rate(trades)
    candles = backtest.candles
    sharpe_ratio = sharpe(returns, Period.DAY)
    sortino_ratio = sortino(returns, Period.DAY)
    return {
        "symbol": backtest.bot.symbol,
        "from": _iso(candles.start),
        "to": _iso(candles.end),
        "candles": len(candles.rows),
        "timeframe_seconds": int(candles.interval.total_seconds()),
        "gaps": [
            {"after": _iso(gap.after), "missing_candles": gap.missing} for gap in candles.gaps()
        ],
        "allocated": str(funds.allocated_balance),
        "final_equity": str(final),
        "pnl": str(final - funds.allocated_balance),
        "return": str(final / funds.allocated_balance - 1) if funds.allocated_balance else None,
        "realized_profit": str(funds.realized_profit),
        "position_quantity": str(funds.position_quantity),
        "fees": {asset: str(amount) for asset, amount in funds.fees.items()},
        "orders": len(backtest.host.orders),
        "fills": len(backtest.host.fills),
        "trades": len(trades),
        "win_rate": None if rate is None else str(rate),
        "profit_factor": None if factor is None else str(factor),
        "average_hold_seconds": None if hold is None else hold.total_seconds(),
        "sharpe": sharpe_ratio,
        "sortino": sortino_ratio,
        "max_drawdown": None
        if drawdown is None
        else {
            "depth": drawdown.depth,
            "peak_at": _iso(drawdown.peak_at),
            "trough_at": _iso(drawdown.trough_at),
        },
        "buy_and_hold_return": str(buy_and_hold(candles.rows[0].open, candles.rows[-1].close)),
        "status": state.status.value,
        "last_decision": None
        if state.last_decision is None
        else state.last_decision.model_dump(mode="json"),
        "alerts": [
            {"kind": n.kind, "message": n.message, "at": _iso(n.at)} for n in backtest.host.notices
        ],
    }


def report(backtest: Backtest) -> dict[str, Any]:
    """The whole report: the summary, the equity curve, every order and fill."""
    times, equity = equity_curve(backtest)
    return {
        "summary": summary(backtest),
        "equity": [{"at": _iso(t), "equity": str(v)} for t, v in zip(times, equity, strict=True)],
        "orders": [
            {
                "client_order_id": p.request.request.client_order_id,
                "at": _iso(p.at),
                "side": p.request.request.side.value,
                "type": p.request.request.type.value,
                "status": venue_status(p.order.status) if p.order else "REJECTED",
                "quantity": _text(p.order.quantity if p.order else p.request.request.quantity),
                "filled_quantity": _text(p.order.filled_quantity if p.order else Decimal(0)),
                "average_price": _text(p.order.average_price if p.order else None),
                "rejected": p.rejected,
                "creation_context": p.request.creation_context,
            }
            for p in backtest.host.orders
        ],
        "fills": [fill.model_dump(mode="json") for fill in backtest.host.fills],
        "trades": [trade.model_dump(mode="json") for trade in backtest.host.trades],
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
