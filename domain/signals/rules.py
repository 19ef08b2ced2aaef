"""Each rule's reading of the last closed candle: a vote (or a gate, or a confirmation) and
the `Reason` a user reads.

Every function computes its own indicators over the window, once, and looks at the last row
(and the one before, for a cross). An indicator still null there gives no vote, and the
reason says how many candles it needs. Numbers in the text are rounded for reading; the
reason's `values` carry them unrounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from domain.indicators import (
    atr,
    bollinger,
    ema,
    mfi,
    obv,
    relative_volume,
    rsi,
    sma,
    volatility,
    volume_profile,
    vwap,
)
from domain.indicators.columns import column
from domain.signals.results import Reason, SignalAction
from domain.signals.strategy import (
    AtrRule,
    BollingerRule,
    MfiRule,
    MovingAverageKind,
    MovingAverageRule,
    ObvRule,
    RsiRule,
    Rule,
    VolatilityRule,
    VolumeProfileRule,
    VolumeRule,
    VwapRule,
)

BUY, SELL = SignalAction.BUY, SignalAction.SELL


@dataclass(frozen=True)
class Window:
    """The closed candles a signal reads, oldest first, with the close as floats."""

    candles: pl.DataFrame
    close: pl.Series

    @classmethod
    def of(cls, candles: pl.DataFrame) -> Window:
        return cls(candles, column(candles, "close"))

    @property
    def count(self) -> int:
        return self.candles.height


def last(series: pl.Series, back: int = 0) -> float | None:
    """The value `back` rows before the last; None where null, NaN or before the first row."""
    if back >= len(series):
        return None
    value = series[len(series) - 1 - back]
    return None if value is None or math.isnan(value) else float(value)


def _short(what: str, needs: int, window: Window) -> str:
    return f"{what} needs {needs} candles, {window.count} closed"


def _p(value: float) -> str:
    """A price or an amount, to six significant digits (prices of 0.0001 BTC keep theirs)."""
    return f"{value:.6g}"


def _reason(rule: Rule, vote: SignalAction | None, detail: str, **values: float | None) -> Reason:
    return Reason(rule=rule, vote=vote, detail=detail, values=values)


# Voting rules.


def oscillator_vote(window: Window, rule: Rule, block: RsiRule | MfiRule) -> Reason:
    """RSI or MFI against their oversold and overbought levels."""
    name = rule.value.upper()
    compute = rsi if rule is Rule.RSI else mfi
    value = last(compute(window.candles, period=block.period))
    values = {rule.value: value}
    if value is None:
        return _reason(rule, None, _short(name, block.period, window), **values)
    if value <= block.oversold:
        return _reason(rule, BUY, f"{name} {value:.1f} ≤ {block.oversold:g}: oversold", **values)
    if value >= block.overbought:
        detail = f"{name} {value:.1f} ≥ {block.overbought:g}: overbought"
        return _reason(rule, SELL, detail, **values)
    detail = f"{name} {value:.1f} between {block.oversold:g} and {block.overbought:g}"
    return _reason(rule, None, detail, **values)


def moving_average_vote(window: Window, block: MovingAverageRule) -> Reason:
    """A cross of the fast average over the slow one, on the last candle only."""
    average = ema if block.kind is MovingAverageKind.EMA else sma
    fast_line = average(window.candles, period=block.fast)
    slow_line = average(window.candles, period=block.slow)
    fast, slow = last(fast_line), last(slow_line)
    fast_before, slow_before = last(fast_line, 1), last(slow_line, 1)
    values = {"fast": fast, "slow": slow, "fast_before": fast_before, "slow_before": slow_before}
    kind = block.kind.value.upper()
    fast_name, slow_name = f"{kind} {block.fast}", f"{kind} {block.slow}"
    rule = Rule.MOVING_AVERAGE
    if fast is None or slow is None or fast_before is None or slow_before is None:
        detail = _short(f"{fast_name}/{slow_name}", block.slow + 1, window)
        return _reason(rule, None, detail, **values)
    now = f"{_p(fast)} against {_p(slow)}"
    if fast_before <= slow_before and fast > slow:
        return _reason(rule, BUY, f"{fast_name} crossed above {slow_name}: {now}", **values)
    if fast_before >= slow_before and fast < slow:
        return _reason(rule, SELL, f"{fast_name} crossed below {slow_name}: {now}", **values)
    side = "above" if fast > slow else "below" if fast < slow else "at"
    detail = f"{fast_name} {side} {slow_name}, no cross on this candle: {now}"
    return _reason(rule, None, detail, **values)


def bollinger_vote(window: Window, block: BollingerRule) -> Reason:
    bands = bollinger(window.candles, period=block.period, std=block.std)
    upper, middle, lower = (last(bands.get_column(name)) for name in ("upper", "middle", "lower"))
    close = last(window.close)
    values = {"close": close, "upper": upper, "middle": middle, "lower": lower}
    rule = Rule.BOLLINGER
    if upper is None or lower is None or close is None:
        return _reason(rule, None, _short("Bollinger", block.period, window), **values)
    if upper <= lower:  # equal closes: the close sits on both bands, which says nothing
        detail = f"Bollinger bands flat: the last {block.period} closes are equal"
        return _reason(rule, None, detail, **values)
    if close <= lower:
        detail = f"close {_p(close)} ≤ lower band {_p(lower)}: oversold"
        return _reason(rule, BUY, detail, **values)
    if close >= upper:
        detail = f"close {_p(close)} ≥ upper band {_p(upper)}: overbought"
        return _reason(rule, SELL, detail, **values)
    detail = f"close {_p(close)} inside the bands {_p(lower)} to {_p(upper)}"
    return _reason(rule, None, detail, **values)


def vwap_vote(window: Window, block: VwapRule) -> Reason:
    average, close = last(vwap(window.candles, period=block.period)), last(window.close)
    distance = None if average is None or close is None else (close / average - 1) * 100
    values = {"close": close, "vwap": average, "distance_percent": distance}
    rule = Rule.VWAP
    if window.count < block.period:
        return _reason(rule, None, _short("VWAP", block.period, window), **values)
    if average is None or distance is None:
        detail = f"no volume traded in the last {block.period} candles: no VWAP"
        return _reason(rule, None, detail, **values)
    side = "under" if distance < 0 else "over"
    detail = f"close {abs(distance):.2f} % {side} VWAP {_p(average)}"
    if distance <= -block.distance_percent:
        return _reason(rule, BUY, f"{detail} (≥ {block.distance_percent:g} %)", **values)
    if distance >= block.distance_percent:
        return _reason(rule, SELL, f"{detail} (≥ {block.distance_percent:g} %)", **values)
    return _reason(rule, None, f"{detail}, within {block.distance_percent:g} %", **values)


def obv_vote(window: Window, block: ObvRule) -> Reason:
    """Volume confirming the price: both rising (BUY) or both falling (SELL)."""
    balance = obv(window.candles)
    obv_now, obv_then = last(balance), last(balance, block.period)
    close_now, close_then = last(window.close), last(window.close, block.period)
    rule = Rule.OBV
    if obv_now is None or obv_then is None or close_now is None or close_then is None:
        values: dict[str, float | None] = {"obv_change": None, "close_change": None}
        return _reason(rule, None, _short("OBV", block.period + 1, window), **values)
    obv_change, close_change = obv_now - obv_then, close_now - close_then
    values = {"obv_change": obv_change, "close_change": close_change}
    detail = (
        f"over {block.period} candles OBV {_change(obv_change)} and the close "
        f"{_change(close_change)}"
    )
    if obv_change > 0 and close_change > 0:
        return _reason(rule, BUY, f"{detail}: buying pressure", **values)
    if obv_change < 0 and close_change < 0:
        return _reason(rule, SELL, f"{detail}: selling pressure", **values)
    return _reason(rule, None, f"{detail}: no agreement", **values)


def _change(value: float) -> str:
    return f"rose {_p(value)}" if value > 0 else f"fell {_p(-value)}" if value < 0 else "held"


def volume_profile_vote(window: Window, block: VolumeProfileRule) -> Reason:
    """The close against the point of control of the last `lookback` candles."""
    close = last(window.close)
    rule = Rule.VOLUME_PROFILE
    values: dict[str, float | None] = {"close": close, "poc_low": None, "poc_high": None}
    if window.count < block.lookback or close is None:
        return _reason(rule, None, _short("volume profile", block.lookback, window), **values)
    profile = volume_profile(window.candles.tail(block.lookback), bins=block.bins)
    if not profile.get_column("volume").sum() > 0:
        detail = f"no volume traded in the last {block.lookback} candles: no profile"
        return _reason(rule, None, detail, **values)
    poc = profile.filter(pl.col("poc")).row(0, named=True)
    low, high = float(poc["price_low"]), float(poc["price_high"])
    values |= {"poc_low": low, "poc_high": high}
    bucket = f"the point of control {_p(low)} to {_p(high)}"
    if close < low:
        return _reason(rule, BUY, f"close {_p(close)} under {bucket}", **values)
    if close > high:
        return _reason(rule, SELL, f"close {_p(close)} over {bucket}", **values)
    return _reason(rule, None, f"close {_p(close)} inside {bucket}", **values)


# The volume confirmation and the gates: no vote.


def volume_spike(window: Window, block: VolumeRule) -> tuple[Reason, bool]:
    """Whether the last candle traded at least `spike` times the usual volume."""
    relative = last(relative_volume(window.candles, period=block.period))
    values = {"relative_volume": relative}
    rule = Rule.VOLUME
    if window.count < block.period + 1:
        return _reason(rule, None, _short("volume", block.period + 1, window), **values), False
    if relative is None:
        detail = f"no volume in the {block.period} candles before: no usual volume"
        return _reason(rule, None, detail, **values), False
    usual = f"volume {relative:.2f}x the {block.period}-candle average"
    if relative >= block.spike:
        detail = f"{usual}, ≥ {block.spike:g}x: the volume confirms the move"
        return _reason(rule, None, detail, **values), True
    return _reason(rule, None, f"{usual}, under {block.spike:g}x", **values), False


def volatility_gate(window: Window, block: VolatilityRule) -> tuple[Reason, bool | None]:
    """True when too volatile to trade, None while unknown (the gate holds then too)."""
    value = last(volatility(window.candles, period=block.period))
    values = {"volatility": value}
    rule = Rule.VOLATILITY
    if value is None:
        detail = _short("volatility", block.period + 1, window) + ": holding until known"
        return _reason(rule, None, detail, **values), None
    if value > block.max:
        detail = f"volatility {value:.4g} > {block.max:g} per candle: too volatile, holding"
        return _reason(rule, None, detail, **values), True
    detail = f"volatility {value:.4g} ≤ {block.max:g} per candle"
    return _reason(rule, None, detail, **values), False


def atr_gate(window: Window, block: AtrRule) -> tuple[Reason, bool | None]:
    """The ATR as a percent of the close; like `volatility_gate`."""
    value, close = last(atr(window.candles, period=block.period)), last(window.close)
    percent = None if value is None or not close else value / close * 100
    values = {"atr": value, "atr_percent": percent}
    rule = Rule.ATR
    if percent is None:
        detail = _short("ATR", block.period, window) + ": holding until known"
        return _reason(rule, None, detail, **values), None
    if percent > block.max_percent:
        detail = f"ATR {percent:.2f} % of the close > {block.max_percent:g} %: too volatile"
        return _reason(rule, None, f"{detail}, holding", **values), True
    detail = f"ATR {percent:.2f} % of the close ≤ {block.max_percent:g} %"
    return _reason(rule, None, detail, **values), False
