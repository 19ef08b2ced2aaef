"""What the signal tests share: hand-built candle frames, strategies and a rule's reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from domain.signals import CandleStrategy, Confidence, Reason, Rule, Signal, SignalAction

BUY, SELL, HOLD = SignalAction.BUY, SignalAction.SELL, SignalAction.HOLD
LOW, MEDIUM, HIGH = Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH
MINUTE_MS = 60_000
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
DEFAULTS: dict[str, Any] = {"rsi": {}, "moving_average": {}, "bollinger": {}}
# Steady fall from 30 to 11, then a jump to 14: RSI 14 still oversold (BUY), SMA 2 crosses
# above SMA 3 (11.5 ≤ 12 before, 12.5 > 12.33 now: BUY), the close is over the 3-candle upper
# band (mean 12.33 + std 1.25 = 13.58: SELL), OBV over 2 candles: -1 then +1 (no vote).
REBOUND = [*range(30, 10, -1), 14]
REBOUND_RULES: dict[str, Any] = {
    "rsi": {},
    "moving_average": {"kind": "sma", "fast": 2, "slow": 3},
    "bollinger": {"period": 3, "std": 1},
    "obv": {"period": 2},
}


def candles(
    closes: Sequence[float], volumes: Sequence[float] | None = None, spread: float = 0
) -> pl.DataFrame:
    """One candle a minute, opening at its close, with `spread` above and below."""
    return pl.DataFrame(
        {
            "open_time_ms": [i * MINUTE_MS for i in range(len(closes))],
            "open": list(closes),
            "high": [close + spread for close in closes],
            "low": [close - spread for close in closes],
            "close": list(closes),
            "volume": list(volumes) if volumes is not None else [1.0] * len(closes),
        },
        schema={"open_time_ms": pl.Int64} | dict.fromkeys(CANDLE_COLUMNS, pl.Float64),
    )


def strategy(**rules: Any) -> CandleStrategy:
    return CandleStrategy.model_validate({"timeframe": "1m", **rules})


def reason(signal: Signal, rule: Rule) -> Reason:
    (found,) = (reason for reason in signal.reasons if reason.rule is rule)
    return found
