"""Convert the candle CSVs (`open_time_ms,open,high,low,close,volume`) into the Parquet files
under data/ohlcv, then prove the conversion lossless: every value read back from Parquet must
equal the CSV text digit for digit (same Decimal sign, digits and exponent).

    .venv/bin/python scripts/convert_ohlcv.py SOURCE_DIR [TARGET_DIR]

Run once when the data set changes; the repository ships the Parquet files, never reads CSVs.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl

from adapters.market_data import COLUMNS, OHLCV_DIR, SCHEMA


def convert(source: Path, target: Path) -> Path:
    out = target / f"{source.stem}.parquet"
    frame = pl.read_csv(source, schema=SCHEMA)
    frame.write_parquet(out, compression="zstd", compression_level=19)
    back = pl.read_parquet(out)
    with source.open(newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != list(COLUMNS) or len(rows) - 1 != back.height:
        raise SystemExit(f"{source}: header or row count differs after conversion")
    for line, (text, value) in enumerate(zip(rows[1:], back.iter_rows(), strict=True), start=2):
        exact = int(text[0]) == value[0] and all(
            Decimal(t).as_tuple() == v.as_tuple() for t, v in zip(text[1:], value[1:], strict=True)
        )
        if not exact:
            raise SystemExit(f"{source}:{line}: {text} read back as {value}")
    return out


def main(argv: list[str]) -> None:
    source_dir = Path(argv[0])
    target = Path(argv[1]) if len(argv) > 1 else OHLCV_DIR
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(source_dir.glob("*.csv")):
        out = convert(source, target)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        print(f"{source.name}  sha256 {digest}  ->  {out.name}  ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
