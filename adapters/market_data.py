"""The real candles that the paper venue, the exchange simulators and the tests replay: Parquet
files (zstd) in the repository's data/ohlcv, provenance in data/README.md. One row per candle,
`open_time_ms` (UTC) and the prices and volume as exact decimals (Decimal(18, 8)), never floats.

Every process checks the files when it starts (`check_files`): a missing or unreadable one
stops it with one line naming the file, rather than a 500 on the first request that needs it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import polars as pl

from domain.market import Candle, from_epoch_ms

OHLCV_DIR = Path(__file__).resolve().parents[1] / "data" / "ohlcv"
COLUMNS = ("open_time_ms", "open", "high", "low", "close", "volume")
SCHEMA: dict[str, pl.DataType] = {
    "open_time_ms": pl.Int64(),
    **{column: pl.Decimal(18, 8) for column in COLUMNS[1:]},
}
# Every file the product replays (paper venue: the 5m ones; exchange simulators: ETH_BTC-1m).
FILES = (
    "ADA_BTC-5m.parquet",
    "ETH_BTC-1m.parquet",
    "ETH_BTC-5m.parquet",
    "LTC_BTC-5m.parquet",
    "TRX_BTC-5m.parquet",
    "XLM_BTC-5m.parquet",
)


class MarketDataError(Exception):
    """A data file that cannot be used; the message is one line and names the file."""


def data_dir(configured: str | Path | None = None) -> Path:
    """`configured` (the PAPER_DATA_DIR setting), else $PAPER_DATA_DIR (where the data lives
    outside a checkout, as in the container image), else the repository's data/ohlcv."""
    return Path(configured or os.environ.get("PAPER_DATA_DIR") or OHLCV_DIR)


def _frame(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise MarketDataError(f"market data file {path} is missing (see data/README.md)")
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MarketDataError(f"market data file {path} is unreadable: {reason}") from None
    if dict(frame.schema) != SCHEMA:
        raise MarketDataError(
            f"market data file {path} has columns {dict(frame.schema)}, expected {SCHEMA}"
        )
    if frame.height < 2:
        raise MarketDataError(f"market data file {path} holds fewer than two candles")
    return frame


@lru_cache(maxsize=32)
def read_candles(path: Path) -> tuple[Candle, ...]:
    """The candles of one file, in file order; parsed once per process (files are read-only)."""
    return tuple(
        Candle(
            open_time=from_epoch_ms(open_ms),
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
        )
        for open_ms, open_, high, low, close, volume in _frame(path.resolve()).iter_rows()
    )


def check_files(directory: Path | None = None) -> None:
    """Read every shipped file once, so a bad one stops start-up rather than a request."""
    folder = directory or data_dir()
    for name in FILES:
        _frame(folder / name)
