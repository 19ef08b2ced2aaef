"""P&L and equity over time, one point per hour or day with none missing (the returns'
convention, `returns`): each bucket's realized profit, its running total, and the equity it
makes of the capital the bots were given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.analytics.returns import Period

STEP = {Period.HOUR: timedelta(hours=1), Period.DAY: timedelta(days=1)}
_ZERO = Decimal(0)


def bucket_start(at: datetime, period: Period) -> datetime:
    """The start of the hour or (UTC) day `at` falls in."""
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour if period is Period.HOUR else hour.replace(hour=0)


def buckets(start: datetime, end: datetime, period: Period) -> list[datetime]:
    """Every bucket from the one `start` falls in to the one `end` falls in."""
    first, last = bucket_start(start, period), bucket_start(end, period)
    return [first + STEP[period] * i for i in range(int((last - first) / STEP[period]) + 1)]


@dataclass(frozen=True)
class Point:
    at: datetime  # the bucket's start
    trades: int  # closed in the bucket
    pnl: Decimal  # their realized profit
    cumulative_pnl: Decimal  # since the series' first bucket
    equity: Decimal  # capital + cumulative_pnl


def equity_series(
    closed: Mapping[datetime, tuple[int, Decimal]],
    start: datetime,
    end: datetime,
    period: Period,
    capital: Decimal,
) -> list[Point]:
    """`closed`: (trades, profit) by bucket start; a bucket without trades adds nothing."""
    points, running = [], _ZERO
    for at in buckets(start, end, period):
        trades, pnl = closed.get(at, (0, _ZERO))
        running += pnl
        points.append(Point(at, trades, pnl, running, capital + running))
    return points
