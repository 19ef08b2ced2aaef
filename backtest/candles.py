"""A backtest's candles: read from a CSV (header ``open_time_ms,open,high,low,close,volume``) or
a Parquet file with those columns, checked, and held twice: as exact `Candle`s for the venue's
price path and as float arrays for the runner's scan for the next candle that matters.

Gaps (a candle missing where the timeframe says one opens) are reported, never filled in: the
price path holds the previous close across them, as a venue that did not trade would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from domain.market import Candle, epoch_ms, from_epoch_ms

COLUMNS = ("open_time_ms", "open", "high", "low", "close", "volume")


class CandleDataError(ValueError):
    """Candles that cannot be backtested; the message says which file and why."""


@dataclass(frozen=True)
class Gap:
    after: datetime  # the open of the last candle before it
    missing: int  # candles


@dataclass(frozen=True)
class Candles:
    rows: tuple[Candle, ...]
    interval: timedelta

    @property
    def start(self) -> datetime:
        return self.rows[0].open_time

    @property
    def end(self) -> datetime:
        """When the last candle closes."""
        return self.rows[-1].open_time + self.interval

    @cached_property
    def open_ms(self) -> np.ndarray:
        return np.array([int(c.open_time.timestamp() * 1000) for c in self.rows], dtype=np.int64)

    @cached_property
    def lows(self) -> np.ndarray:
        return np.array([float(c.low) for c in self.rows])

    @cached_property
    def highs(self) -> np.ndarray:
        return np.array([float(c.high) for c in self.rows])

    def gaps(self) -> list[Gap]:
        step = int(self.interval.total_seconds() * 1000)
        missing = np.diff(self.open_ms) // step - 1
        return [
            Gap(after=self.rows[i].open_time, missing=int(missing[i]))
            for i in np.flatnonzero(missing > 0)
        ]

    def between(self, start: datetime | None, end: datetime | None) -> Candles:
        """The candles opening in [start, end)."""
        rows = tuple(
            c
            for c in self.rows
            if (start is None or c.open_time >= start) and (end is None or c.open_time < end)
        )
        if len(rows) < 2:
            raise CandleDataError("fewer than two candles in the period asked for")
        return Candles(rows, self.interval)


def frame_of(rows: Sequence[Candle]) -> pl.DataFrame:
    """Candles as a table with the file's columns, exact values as decimal text."""
    return pl.DataFrame(
        {
            "open_time_ms": [epoch_ms(c.open_time) for c in rows],
            **{name: [str(getattr(c, name)) for c in rows] for name in COLUMNS[1:]},
        }
    )


def read_candles(path: Path) -> Candles:
    """The candles of a CSV or Parquet file, oldest first."""
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path, schema_overrides={c: pl.Utf8 for c in COLUMNS[1:]})
    except (OSError, pl.exceptions.PolarsError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CandleDataError(f"{path}: unreadable: {first}") from None
    if tuple(frame.columns) != COLUMNS:
        raise CandleDataError(f"{path}: columns {frame.columns}, expected {list(COLUMNS)}")
    return candles_of(frame.select(pl.col("open_time_ms").cast(pl.Int64), *COLUMNS[1:]), path)


def candles_of(frame: pl.DataFrame, source: object = "candles") -> Candles:
    frame = frame.sort("open_time_ms")
    if frame.height < 2:
        raise CandleDataError(f"{source}: fewer than two candles")
    if frame["open_time_ms"].n_unique() != frame.height:
        raise CandleDataError(f"{source}: two candles open at the same time")
    rows = []
    for number, (open_ms, *values) in enumerate(frame.iter_rows(), start=1):
        try:
            o, h, low, c, v = (Decimal(str(x)) for x in values)
        except (InvalidOperation, TypeError):
            raise CandleDataError(
                f"{source}: candle {number} has a value that is not a number"
            ) from None
        if not (0 < low <= min(o, c) and max(o, c) <= h) or v < 0:
            raise CandleDataError(f"{source}: candle {number} is not a candle ({values})")
        candle = Candle.model_construct(
            open_time=from_epoch_ms(open_ms), open=o, high=h, low=low, close=c, volume=v
        )
        rows.append(candle)
    steps = np.diff(frame["open_time_ms"].to_numpy())
    interval_ms = int(steps.min())
    if interval_ms <= 0 or np.any(steps % interval_ms):
        raise CandleDataError(f"{source}: candles are not on one timeframe")
    return Candles(tuple(rows), timedelta(milliseconds=interval_ms))
