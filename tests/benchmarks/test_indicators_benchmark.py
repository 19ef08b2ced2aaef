"""The indicators benchmark at a tiny size: its report has every indicator, each timed (not the
speed-up: at 2,000 candles fixed costs dominate; timings belong to benchmarks/README.md)."""

from __future__ import annotations

from benchmarks.indicators import describe, run

INDICATORS = [
    "rsi",
    "sma",
    "ema",
    "bollinger",
    "atr",
    "obv",
    "mfi",
    "vwap",
    "volatility",
    "volume_average",
    "relative_volume",
    "volume_profile",
]


def test_indicators_benchmark_reports_every_indicator() -> None:
    report = run(candles=2_000, repeat=1)
    assert sorted(t.name for t in report.timings) == sorted(INDICATORS)
    for timing in report.timings:
        assert timing.ours_ms > 0, timing.name
        # Every indicator has a reference (ta or pandas) but the volume profile.
        if timing.name == "volume_profile":
            assert timing.reference_ms is None and timing.speedup is None
        else:
            assert timing.reference_ms is not None and timing.reference_ms > 0, timing.name
    assert report.ours_ms > 0 and report.reference_ms > 0
    text = describe(report)
    assert all(name in text for name in INDICATORS) and "None" not in text
