"""Candles for a backtest from a venue, through its exchange adapter: read page by page from the
start, kept on disk as Parquet (one file per venue, market and timeframe) and written after
every page, so a download that stops is resumed where it stopped and a period read once is
never read again.

Only closed candles are kept (one still open would change). The venue's own gaps (a market
that did not trade, an outage) are kept as gaps: `Candles.gaps` reports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

from adapters.exchanges.base import Exchange
from backtest.candles import COLUMNS, CandleDataError, Candles, candles_of, frame_of
from domain.indicators.availability import timeframe_seconds
from domain.market import Candle, epoch_ms, from_epoch_ms

PAGE = 1000  # candles a request asks for (Binance's klines maximum)


def cache_path(folder: Path, venue: str, symbol: str, timeframe: str) -> Path:
    return folder / venue / f"{symbol}-{timeframe}.parquet"


async def download(
    exchange: Exchange,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime,
    folder: Path,
    progress: Callable[[datetime], None] | None = None,
) -> Candles:
    """The closed candles opening in [start, end), read from the cache where it has them and
    from the venue after its last one; `progress` is told how far the download got."""
    if timeframe == "1M":
        raise CandleDataError("monthly candles vary in length: pick a shorter timeframe")
    step = timedelta(seconds=timeframe_seconds(timeframe))
    end = min(end, datetime.now(UTC) - step)  # the last candle that may be closed
    path = cache_path(folder, exchange.venue.value, symbol, timeframe)
    cached = _read(path)
    known = {epoch_ms(c.open_time) for c in cached}
    cursor = start
    if cached and cached[0].open_time <= start:
        cursor = max(start, cached[-1].open_time + step)
    while cursor < end:
        page = await exchange.candles(symbol, timeframe, start=cursor, limit=PAGE)
        fresh = [
            c for c in page if c.open_time >= cursor and c.open_time + step <= datetime.now(UTC)
        ]
        if not fresh:
            break  # nothing after `cursor` yet: the venue has no more
        cached = sorted(
            [*cached, *(c for c in fresh if epoch_ms(c.open_time) not in known)],
            key=lambda c: c.open_time,
        )
        known.update(epoch_ms(c.open_time) for c in fresh)
        _write(path, cached)
        cursor = fresh[-1].open_time + step
        if progress is not None:
            progress(min(cursor, end))
    rows = [c for c in cached if start <= c.open_time < end]
    if len(rows) < 2:
        raise CandleDataError(f"{exchange.venue.value} has fewer than two candles in that period")
    return candles_of(frame_of(rows), f"{exchange.venue.value} {symbol} {timeframe}")


def _read(path: Path) -> list[Candle]:
    if not path.is_file():
        return []
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError):
        return []  # unreadable: read from the venue again, and written over
    return [
        Candle.model_construct(
            open_time=from_epoch_ms(ms),
            open=Decimal(o),
            high=Decimal(h),
            low=Decimal(low),
            close=Decimal(c),
            volume=Decimal(v),
        )
        for ms, o, h, low, c, v in frame.select(COLUMNS).iter_rows()
    ]


def _write(path: Path, rows: list[Candle]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this writer's own: workers of one machine share the cache.
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    frame_of(rows).write_parquet(partial)
    partial.replace(path)  # whole or not at all: a crash leaves the previous file
