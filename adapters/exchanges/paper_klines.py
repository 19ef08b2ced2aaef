"""Candles of the paper venue, with the semantics of Binance's klines over a `PricePath`: its
16 intervals (1M a calendar month), `limit` default 500 and at most 1000, none in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.exchanges.errors import InvalidOrder
from domain.market import Candle, Venue
from domain.price_paths import KLINE_INTERVALS, PricePath, bucket_start

INTERVALS = KLINE_INTERVALS
DEFAULT_CANDLES, MAX_CANDLES = 500, 1000  # as Binance's klines


def klines(
    path: PricePath,
    interval: str,
    now: datetime,
    *,
    limit: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Candle]:
    """`limit` candles from `start`, or the last `limit` ending with the one that holds `end`
    (default now), oldest first."""
    if interval not in INTERVALS:
        raise InvalidOrder(f"unknown interval {interval!r}", venue=Venue.PAPER.value)
    count = min(limit or DEFAULT_CANDLES, MAX_CANDLES)
    if count < 1:
        raise InvalidOrder("limit must be positive", venue=Venue.PAPER.value)
    until = min(end, now) if end else now
    if start is not None and start > until:
        return []
    if interval == "1M":
        return _month_candles(path, count, start, until, now)
    seconds = INTERVALS[interval]
    size = timedelta(seconds=seconds)
    last_open = bucket_start(until, seconds)
    first = start if start is not None else last_open - (count - 1) * size
    return path.candles(seconds, first, min(last_open + size, _just_after(now)))[:count]


def _month_candles(
    path: PricePath, count: int, start: datetime | None, until: datetime, now: datetime
) -> list[Candle]:
    months: list[Candle] = []
    opened = _month(start) if start else _add_months(_month(until), 1 - count)
    while opened <= until and len(months) < count:
        months.append(path.candle(opened, min(_add_months(opened, 1), _just_after(now))))
        opened = _add_months(opened, 1)
    return months


def _just_after(now: datetime) -> datetime:
    """End of the forming candle: includes `now` even when a candle opens exactly then."""
    return now + timedelta(microseconds=1)


def _month(t: datetime) -> datetime:
    return datetime(t.year, t.month, 1, tzinfo=UTC)


def _add_months(t: datetime, months: int) -> datetime:
    index = t.year * 12 + t.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
