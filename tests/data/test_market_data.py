"""The candle data ships in the repository as exact decimals, and a bad file is a one-line error
naming it, at start-up, in every process."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from adapters.market_data import (
    FILES,
    OHLCV_DIR,
    SCHEMA,
    MarketDataError,
    check_files,
    read_candles,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# The row counts stated in data/README.md.
ROWS = {
    "ADA_BTC-5m.parquet": 5720,
    "ETH_BTC-1m.parquet": 13681,
    "ETH_BTC-5m.parquet": 5760,
    "LTC_BTC-5m.parquet": 5760,
    "TRX_BTC-5m.parquet": 5754,
    "XLM_BTC-5m.parquet": 5760,
}


def test_the_data_folder_is_inside_the_repository_and_holds_every_file() -> None:
    assert OHLCV_DIR == REPO_ROOT / "data" / "ohlcv"
    assert sorted(p.name for p in OHLCV_DIR.iterdir()) == sorted(FILES) == sorted(ROWS)
    assert "Provenance" in (REPO_ROOT / "data" / "README.md").read_text()


@pytest.mark.parametrize("name", FILES)
def test_each_file_holds_well_formed_candles_as_exact_decimals(name: str) -> None:
    frame = pl.read_parquet(OHLCV_DIR / name)
    assert dict(frame.schema) == SCHEMA  # decimal(18, 8), never float
    candles = read_candles(OHLCV_DIR / name)
    assert len(candles) == ROWS[name]
    assert all(isinstance(c.open, Decimal) and c.open.as_tuple().exponent == -8 for c in candles)
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)
    assert all(a.open_time < b.open_time for a, b in itertools.pairwise(candles))


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    for name in FILES[1:]:
        shutil.copy(OHLCV_DIR / name, tmp_path / name)
    with pytest.raises(MarketDataError) as raised:
        check_files(tmp_path)
    assert str(raised.value) == (
        f"market data file {tmp_path / FILES[0]} is missing (see data/README.md)"
    )


def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    for name in FILES:
        shutil.copy(OHLCV_DIR / name, tmp_path / name)
    (tmp_path / FILES[2]).write_bytes(b"not parquet at all")
    with pytest.raises(
        MarketDataError, match=rf"^market data file {tmp_path / FILES[2]} is unreadable"
    ):
        check_files(tmp_path)


def test_a_file_with_float_prices_is_refused(tmp_path: Path) -> None:
    float_prices = pl.read_parquet(OHLCV_DIR / FILES[0]).with_columns(
        pl.col("open").cast(pl.Float64)
    )
    float_prices.write_parquet(tmp_path / FILES[0])
    with pytest.raises(MarketDataError, match="has columns"):
        read_candles(tmp_path / FILES[0])


@pytest.mark.parametrize(
    "command",
    [
        ["api"],
        ["worker"],
        ["sim", "binance", "--port", "0"],
        ["sim", "mercadobitcoin", "--port", "0"],
    ],
)
def test_a_process_refuses_to_start_without_its_data_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli", *command],
        env={"PATH": "/usr/bin:/bin", "PAPER_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"crypteras: market data file {tmp_path / FILES[0]} is missing (see data/README.md)\n"
    )
