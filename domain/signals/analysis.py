"""A strategy applied to the latest closed candles: the rules' votes combined into a signal.

Pure and deterministic (it runs inside Temporal activities and backtests): the same candles
and strategy always give the same signal.

How the votes combine:
- a gate over its maximum (volatility, ATR) holds whatever the votes, with HIGH confidence:
  the strategy is sure it should not trade; a gate still unknown (too few candles) holds too,
  with LOW confidence: the user's limit is never skipped because it cannot be measured yet;
- otherwise BUY when buy votes outnumber sell votes and reach `combine.min_votes`, SELL
  symmetrically, else HOLD with LOW confidence;
- a BUY or SELL is as confident as its rules agree: with n the voting rules enabled (voting
  this time or not), (winning - opposing votes) / n is HIGH from 2/3, MEDIUM from 1/3, else
  LOW; a volume spike raises it one level (never above HIGH).
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from domain.signals.results import Confidence, Reason, Signal, SignalAction
from domain.signals.rules import (
    Window,
    atr_gate,
    bollinger_vote,
    last,
    moving_average_vote,
    obv_vote,
    oscillator_vote,
    volatility_gate,
    volume_profile_vote,
    volume_spike,
    vwap_vote,
)
from domain.signals.strategy import (
    VOTING_RULES,
    CandleStrategy,
    Rule,
    candles_needed,
    enabled_rules,
)

__all__ = ["analyse"]


def analyse(candles: pl.DataFrame, strategy: CandleStrategy) -> Signal:
    """The signal of `strategy` on the last of `candles`.

    `candles`: closed candles only (the caller drops the one still open), oldest first, with
    the columns ``open_time_ms open high low close volume`` (decimals or floats). Only the
    latest `candles_needed(strategy)` are read, so any longer history gives the same signal.
    Raises ValueError without a candle, without a needed column, or out of order.
    """
    if candles.height == 0:
        raise ValueError("no closed candle to analyse: the signal is about the last one")
    window = Window.of(candles.tail(candles_needed(strategy)))
    opened = _last_open_ms(window.candles)
    close = candles["close"][-1]  # exact, not the indicators' float
    if close is None or last(window.close) is None:
        raise ValueError("the last candle has no close")

    reasons: list[Reason] = []
    gates: list[bool | None] = []
    spike = False
    for rule in enabled_rules(strategy):
        match rule:
            case Rule.RSI:
                assert strategy.rsi is not None
                reasons.append(oscillator_vote(window, rule, strategy.rsi))
            case Rule.MOVING_AVERAGE:
                assert strategy.moving_average is not None
                reasons.append(moving_average_vote(window, strategy.moving_average))
            case Rule.BOLLINGER:
                assert strategy.bollinger is not None
                reasons.append(bollinger_vote(window, strategy.bollinger))
            case Rule.MFI:
                assert strategy.mfi is not None
                reasons.append(oscillator_vote(window, rule, strategy.mfi))
            case Rule.VWAP:
                assert strategy.vwap is not None
                reasons.append(vwap_vote(window, strategy.vwap))
            case Rule.OBV:
                assert strategy.obv is not None
                reasons.append(obv_vote(window, strategy.obv))
            case Rule.VOLUME_PROFILE:
                assert strategy.volume_profile is not None
                reasons.append(volume_profile_vote(window, strategy.volume_profile))
            case Rule.VOLUME:
                assert strategy.volume is not None
                reason, spike = volume_spike(window, strategy.volume)
                reasons.append(reason)
            case Rule.VOLATILITY:
                assert strategy.volatility is not None
                reason, holds = volatility_gate(window, strategy.volatility)
                reasons.append(reason)
                gates.append(holds)
            case Rule.ATR:
                assert strategy.atr is not None
                reason, holds = atr_gate(window, strategy.atr)
                reasons.append(reason)
                gates.append(holds)

    action, confidence = _combine(strategy, reasons, gates, spike)
    return Signal(
        action=action,
        confidence=confidence,
        reasons=tuple(reasons),
        candle_open_ms=opened,
        close=Decimal(str(close)),  # a float input: its shortest decimal, not its binary one
    )


def _last_open_ms(candles: pl.DataFrame) -> int:
    """The last candle's open time, once the window is checked to be oldest first."""
    if "open_time_ms" not in candles.columns:
        raise ValueError("the candles have no 'open_time_ms' column")
    times = candles.get_column("open_time_ms").cast(pl.Int64)
    steps = times.diff().drop_nulls()
    if times.null_count() or (steps <= 0).any():
        raise ValueError("the candles must be oldest first, one per open time")
    return int(times[-1])


def _combine(
    strategy: CandleStrategy, reasons: list[Reason], gates: list[bool | None], spike: bool
) -> tuple[SignalAction, Confidence]:
    if any(gates):
        return SignalAction.HOLD, Confidence.HIGH
    if None in gates:
        return SignalAction.HOLD, Confidence.LOW
    buys = sum(reason.vote is SignalAction.BUY for reason in reasons)
    sells = sum(reason.vote is SignalAction.SELL for reason in reasons)
    if buys > sells and buys >= strategy.combine.min_votes:
        action, margin = SignalAction.BUY, buys - sells
    elif sells > buys and sells >= strategy.combine.min_votes:
        action, margin = SignalAction.SELL, sells - buys
    else:
        return SignalAction.HOLD, Confidence.LOW
    voting = sum(rule in VOTING_RULES for rule in enabled_rules(strategy))
    # margin / voting against 2/3 and 1/3, in integers: no rounding at the boundaries.
    if 3 * margin >= 2 * voting:
        confidence = Confidence.HIGH
    elif 3 * margin >= voting:
        confidence = Confidence.MEDIUM
    else:
        confidence = Confidence.LOW
    return action, confidence.raised() if spike else confidence
