"""Our indicators (domain/indicators, polars) against the `ta` library's (pandas), in one run.

    .venv/bin/python -m benchmarks.indicators [--candles 1000000] [--repeat 3]

Generates `--candles` seeded synthetic 1-minute candles (a random walk of the close on a 0.01
tick, wicks around the body, positive log-normal volume), given to ours as a polars DataFrame of
Float64 columns and to ta as pandas Series of the same float64 values (the conversion is not
timed). Each indicator runs with its default period `--repeat` times and the best wall time
(`time.perf_counter`) is kept: ours from the DataFrame to its result, ta's from its Series to
the indicator's Series, as ta computes it (RSIIndicator, SMAIndicator, EMAIndicator, the three
bands of BollingerBands, AverageTrueRange, OnBalanceVolumeIndicator, MFIIndicator,
VolumeWeightedAveragePrice). ta has no volatility, volume average or relative volume: their
reference is the pandas expression the tests compare with. volume_profile has no reference at
all: it is timed, but left out of the totals and the speed-up.

Polars may use every core (see nproc in the report); ta and pandas use one. It exits 1 unless
the total speed-up (the references' summed time over ours, on the indicators that have one) is
at least 30x and no indicator is slower than its reference.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import polars as pl
from ta.momentum import RSIIndicator  # type: ignore[import-untyped]
from ta.trend import EMAIndicator, SMAIndicator  # type: ignore[import-untyped]
from ta.volatility import AverageTrueRange, BollingerBands  # type: ignore[import-untyped]
from ta.volume import (  # type: ignore[import-untyped]
    MFIIndicator,
    OnBalanceVolumeIndicator,
    VolumeWeightedAveragePrice,
)

from domain import indicators

GOAL_SPEEDUP = 30.0
T0_MS = 1_800_000_000_000  # the first candle's open time; the indicators ignore it


def synthetic_candles(
    n: int,
    *,
    seed: int = 0,
    start: float = 100.0,
    tick: float = 0.01,
    step: float = 2e-3,
    volume: float = 50.0,
    zero_volume: float = 0.0,
) -> pl.DataFrame:
    """`n` seeded 1m candles shaped like an exchange's: the close a random walk of log returns
    (sd `step`) rounded to `tick` (so some closes repeat, as in the real files), each open the
    previous close, high and low a tick-rounded wick beyond the body (often none), volume
    log-normal around `volume` with a `zero_volume` share of empty candles."""
    rng = np.random.default_rng(seed)
    walk = start * np.exp(np.cumsum(rng.normal(0.0, step, n)))
    close = np.maximum(np.round(walk / tick), 1.0) * tick
    open_ = np.concatenate((close[:1], close[:-1]))
    top, bottom = np.maximum(open_, close), np.minimum(open_, close)
    wicks = np.abs(rng.normal(0.0, step / 2, (2, n)))
    high = np.maximum(np.round(top * (1 + wicks[0]) / tick) * tick, top)
    low = np.clip(np.round(bottom * (1 - wicks[1]) / tick) * tick, 0.0, bottom)
    volumes = rng.lognormal(np.log(volume), 1.0, n) * (rng.random(n) >= zero_volume)
    return pl.DataFrame(
        {
            "open_time_ms": T0_MS + 60_000 * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volumes,
        }
    )


Series = dict[str, pd.Series]  # the pandas columns ta takes


def _pandas_volatility(s: Series) -> Any:
    return s["close"].pct_change().rolling(20).std()


def _pandas_relative_volume(s: Series) -> Any:
    return s["volume"] / s["volume"].rolling(20).mean().shift(1)


def _ta_bollinger(s: Series) -> Any:
    bands = BollingerBands(s["close"], window=20, window_dev=2)
    return bands.bollinger_hband(), bands.bollinger_mavg(), bands.bollinger_lband()


# name: (ours, its reference's name, the reference on pandas Series or None); default periods.
INDICATORS: dict[str, tuple[Callable[[pl.DataFrame], Any], str, Callable[[Series], Any] | None]] = {
    "rsi": (indicators.rsi, "ta RSIIndicator", lambda s: RSIIndicator(s["close"], 14).rsi()),
    "sma": (
        indicators.sma,
        "ta SMAIndicator",
        lambda s: SMAIndicator(s["close"], 20).sma_indicator(),
    ),
    "ema": (
        indicators.ema,
        "ta EMAIndicator",
        lambda s: EMAIndicator(s["close"], 20).ema_indicator(),
    ),
    "bollinger": (indicators.bollinger, "ta BollingerBands", _ta_bollinger),
    "atr": (
        indicators.atr,
        "ta AverageTrueRange",
        lambda s: AverageTrueRange(s["high"], s["low"], s["close"], 14).average_true_range(),
    ),
    "obv": (
        indicators.obv,
        "ta OnBalanceVolumeIndicator",
        lambda s: OnBalanceVolumeIndicator(s["close"], s["volume"]).on_balance_volume(),
    ),
    "mfi": (
        indicators.mfi,
        "ta MFIIndicator",
        lambda s: MFIIndicator(s["high"], s["low"], s["close"], s["volume"], 14).money_flow_index(),
    ),
    "vwap": (
        indicators.vwap,
        "ta VolumeWeightedAveragePrice",
        lambda s: VolumeWeightedAveragePrice(
            s["high"], s["low"], s["close"], s["volume"], 14
        ).volume_weighted_average_price(),
    ),
    "volatility": (indicators.volatility, "pandas", _pandas_volatility),
    "volume_average": (
        indicators.volume_average,
        "pandas",
        lambda s: s["volume"].rolling(20).mean(),
    ),
    "relative_volume": (indicators.relative_volume, "pandas", _pandas_relative_volume),
    "volume_profile": (indicators.volume_profile, "none", None),
}


@dataclass(frozen=True)
class Timing:
    name: str
    reference: str  # what ours was compared with
    ours_ms: float
    reference_ms: float | None  # None: no reference (volume_profile)

    @property
    def speedup(self) -> float | None:
        return None if self.reference_ms is None else self.reference_ms / self.ours_ms


@dataclass(frozen=True)
class Report:
    candles: int
    repeat: int
    timings: list[Timing]

    @property
    def compared(self) -> list[Timing]:
        return [t for t in self.timings if t.reference_ms is not None]

    @property
    def ours_ms(self) -> float:
        return sum(t.ours_ms for t in self.compared)

    @property
    def reference_ms(self) -> float:
        return sum(t.reference_ms or 0.0 for t in self.compared)

    @property
    def speedup(self) -> float:
        return self.reference_ms / self.ours_ms

    @property
    def slower(self) -> list[str]:
        return [t.name for t in self.compared if (t.speedup or 0.0) < 1.0]

    @property
    def ok(self) -> bool:
        return self.speedup >= GOAL_SPEEDUP and not self.slower


def _best_ms(call: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def run(candles: int, repeat: int, seed: int = 0) -> Report:
    frame = synthetic_candles(candles, seed=seed)
    series = {name: pd.Series(frame[name].to_numpy()) for name in frame.columns[1:]}
    timings = []
    for name, (ours, reference, theirs) in INDICATORS.items():
        ours_ms = _best_ms(partial(ours, frame), repeat)
        theirs_ms = None if theirs is None else _best_ms(partial(theirs, series), repeat)
        timings.append(Timing(name, reference, ours_ms, theirs_ms))
    return Report(candles, repeat, timings)


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({model}); Python {platform.python_version()}, "
        f"polars {pl.__version__}, pandas {pd.__version__}, ta {version('ta')}"
    )


def describe(report: Report) -> str:
    lines = [
        f"{report.candles:,} candles, best of {report.repeat}",
        f"{'indicator':16} {'ours (ms)':>10} {'ta (ms)':>10} {'speed-up':>9}  reference",
    ]
    for t in report.timings:
        theirs = "-" if t.reference_ms is None else f"{t.reference_ms:10.1f}"
        speedup = "-" if t.speedup is None else f"{t.speedup:8.1f}x"
        lines.append(f"{t.name:16} {t.ours_ms:10.1f} {theirs:>10} {speedup:>9}  {t.reference}")
    lines += [
        f"{'total':16} {report.ours_ms:10.1f} {report.reference_ms:10.1f} "
        f"{report.speedup:8.1f}x  (without volume_profile, which has no reference)",
        machine(),
        f"goal: total speed-up >= {GOAL_SPEEDUP:.0f}x and none slower than its reference: "
        + ("met" if report.ok else f"NOT met (slower: {', '.join(report.slower) or 'none'})"),
    ]
    return "\n".join(lines)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--candles", type=int, default=1_000_000)
    args.add_argument("--repeat", type=int, default=3, help="runs per indicator; the best counts")
    options = args.parse_args()
    report = run(options.candles, options.repeat)
    print(describe(report))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
