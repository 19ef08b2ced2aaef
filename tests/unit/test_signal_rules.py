"""Candle bots' signals, one rule at a time: each rule's vote on small hand-built candle
windows (values worked out by hand in the comments), how the votes combine into an action and
a confidence, the volume spike that raises it, and the gates that hold."""

from __future__ import annotations

import math
from typing import Any

import pytest

from domain.signals import Confidence, Rule, Signal, SignalAction, analyse
from tests.unit.signal_candles import (
    BUY,
    HIGH,
    HOLD,
    LOW,
    MEDIUM,
    MINUTE_MS,
    REBOUND,
    REBOUND_RULES,
    SELL,
    candles,
    reason,
    strategy,
)


def assert_reason(
    signal: Signal, rule: Rule, vote: SignalAction | None, detail: str, **values: float | None
) -> None:
    found = reason(signal, rule)
    assert (found.vote, found.detail) == (vote, detail)
    assert found.values == pytest.approx(values)


# Voting rules, one at a time: a lone voting rule that votes is unanimous, HIGH.


def test_rsi_oversold_by_hand() -> None:
    # Period 2 (alpha 1/2), changes 0, +1, -1, -1: gains 0, .5, .25, .125; losses 0, 0, .5,
    # .75; RS 1/6, RSI 100 - 100 / (7/6) = 100/7.
    signal = analyse(candles([10, 11, 10, 9]), strategy(rsi={"period": 2}))
    assert (signal.action, signal.confidence) == (BUY, HIGH)
    assert (signal.candle_open_ms, signal.close) == (3 * MINUTE_MS, 9.0)
    assert_reason(signal, Rule.RSI, BUY, "RSI 14.3 ≤ 30: oversold", rsi=100 / 7)


@pytest.mark.parametrize(
    ("closes", "action", "detail", "value"),
    [
        (list(range(20, 0, -1)), BUY, "RSI 0.0 ≤ 30: oversold", 0.0),  # only losses
        (list(range(1, 21)), SELL, "RSI 100.0 ≥ 70: overbought", 100.0),  # only gains
        ([10] * 20, HOLD, "RSI 50.0 between 30 and 70", 50.0),  # no move: neutral
    ],
)
def test_rsi_on_steady_series(
    closes: list[float], action: SignalAction, detail: str, value: float
) -> None:
    signal = analyse(candles(closes), strategy(rsi={}))
    assert signal.action is action
    assert_reason(signal, Rule.RSI, None if action is HOLD else action, detail, rsi=value)


def test_ema_cross_on_a_jump_after_a_flat_series() -> None:
    # 21 closes at 10, then 13: EMA 9 = 10 + 0.2 * 3, EMA 21 = 10 + 3 * 2/22; both 10 before.
    signal = analyse(candles([10] * 21 + [13]), strategy(moving_average={}))
    assert (signal.action, signal.confidence) == (BUY, HIGH)
    assert_reason(
        signal,
        Rule.MOVING_AVERAGE,
        BUY,
        "EMA 9 crossed above EMA 21: 10.6 against 10.2727",
        fast=10.6,
        slow=10 + 6 / 22,
        fast_before=10,
        slow_before=10,
    )


def test_sma_cross_down_then_no_cross() -> None:
    average = {"kind": "sma", "fast": 2, "slow": 3}
    down = analyse(candles([10, 10, 10, 7]), strategy(moving_average=average))
    assert down.action is SELL
    assert_reason(
        down,
        Rule.MOVING_AVERAGE,
        SELL,
        "SMA 2 crossed below SMA 3: 8.5 against 9",
        fast=8.5,
        slow=9,
        fast_before=10,
        slow_before=10,
    )
    # The candle after a cross up: still above, but the cross was the candle before.
    after = analyse(candles([10, 10, 10, 10, 13, 13]), strategy(moving_average=average))
    assert (after.action, after.confidence) == (HOLD, LOW)
    assert reason(after, Rule.MOVING_AVERAGE).detail == (
        "SMA 2 above SMA 3, no cross on this candle: 13 against 12"
    )


@pytest.mark.parametrize(
    ("last", "action", "detail"),
    [
        (6, BUY, "close 6 ≤ lower band 7.26795: oversold"),
        (14, SELL, "close 14 ≥ upper band 12.7321: overbought"),
    ],
)
def test_bollinger_by_hand(last: float, action: SignalAction, detail: str) -> None:
    # Closes 10, 10, 10 and `last`: deviations ±1 three times and ±3, population std √3.
    middle = (30 + last) / 4
    signal = analyse(candles([10, 10, 10, last]), strategy(bollinger={"period": 4, "std": 1}))
    assert signal.action is action
    spread = math.sqrt(3)
    values = {"close": last, "upper": middle + spread, "middle": middle, "lower": middle - spread}
    assert_reason(signal, Rule.BOLLINGER, action, detail, **values)


def test_flat_bollinger_bands_do_not_vote() -> None:
    signal = analyse(candles([10] * 4), strategy(bollinger={"period": 4}))
    assert (signal.action, signal.confidence) == (HOLD, LOW)
    assert_reason(
        signal,
        Rule.BOLLINGER,
        None,
        "Bollinger bands flat: the last 4 closes are equal",
        close=10,
        upper=10,
        middle=10,
        lower=10,
    )


def test_mfi_oversold_by_hand() -> None:
    # Point candles (typical price = close): over the last 2, flows -10 and -9, none rising.
    signal = analyse(candles([10, 11, 10, 9]), strategy(mfi={"period": 2}))
    assert signal.action is BUY
    assert_reason(signal, Rule.MFI, BUY, "MFI 0.0 ≤ 20: oversold", mfi=0.0)


@pytest.mark.parametrize(
    ("last", "action", "detail", "average"),
    [
        (7, BUY, "close 22.22 % under VWAP 9 (≥ 1 %)", 9),
        (13, SELL, "close 18.18 % over VWAP 11 (≥ 1 %)", 11),
        (10, HOLD, "close 0.00 % over VWAP 10, within 1 %", 10),
    ],
)
def test_vwap_by_hand(last: float, action: SignalAction, detail: str, average: float) -> None:
    # Equal volumes: the VWAP of 3 point candles is the mean of their closes.
    signal = analyse(candles([10, 10, last]), strategy(vwap={"period": 3}))
    assert signal.action is action
    distance = (last / average - 1) * 100
    vote = None if action is HOLD else action
    assert_reason(
        signal, Rule.VWAP, vote, detail, close=last, vwap=average, distance_percent=distance
    )


def test_vwap_without_volume_does_not_vote() -> None:
    signal = analyse(candles([10, 10, 7], volumes=[0, 0, 0]), strategy(vwap={"period": 3}))
    assert signal.action is HOLD
    assert reason(signal, Rule.VWAP).detail == "no volume traded in the last 3 candles: no VWAP"


@pytest.mark.parametrize(
    ("closes", "action", "detail", "obv_change", "close_change"),
    [
        (
            [10, 11, 12],
            BUY,
            "over 2 candles OBV rose 5 and the close rose 2: buying pressure",
            5,
            2,
        ),
        (
            [12, 11, 10],
            SELL,
            "over 2 candles OBV fell 5 and the close fell 2: selling pressure",
            -5,
            -2,
        ),
        ([10, 11, 10], HOLD, "over 2 candles OBV fell 1 and the close held: no agreement", -1, 0),
    ],
)
def test_obv_by_hand(
    closes: list[float], action: SignalAction, detail: str, obv_change: float, close_change: float
) -> None:
    # Volumes 1, 2, 3: OBV 0, then ±2, then ±3.
    signal = analyse(candles(closes, volumes=[1, 2, 3]), strategy(obv={"period": 2}))
    assert signal.action is action
    vote = None if action is HOLD else action
    assert_reason(signal, Rule.OBV, vote, detail, obv_change=obv_change, close_change=close_change)


@pytest.mark.parametrize(
    ("closes", "action", "detail", "poc"),
    [
        # 10 to 20 in two buckets; most volume at 10 (bucket 10 to 15), the close over it.
        ([10, 10, 20], SELL, "close 20 over the point of control 10 to 15", (10, 15)),
        ([20, 20, 10], BUY, "close 10 under the point of control 15 to 20", (15, 20)),
        ([10, 12, 12], HOLD, "close 12 inside the point of control 11 to 12", (11, 12)),
    ],
)
def test_volume_profile_by_hand(
    closes: list[float], action: SignalAction, detail: str, poc: tuple[float, float]
) -> None:
    rules = strategy(volume_profile={"bins": 2, "lookback": 3})
    signal = analyse(candles(closes, volumes=[5, 5, 1]), rules)
    assert signal.action is action
    vote = None if action is HOLD else action
    assert_reason(
        signal, Rule.VOLUME_PROFILE, vote, detail, close=closes[-1], poc_low=poc[0], poc_high=poc[1]
    )


# Combining the votes into an action and a confidence.


@pytest.mark.parametrize(
    ("rules", "action", "confidence"),
    [
        (["rsi", "moving_average"], BUY, HIGH),  # 2 buys of 2 rules
        (["rsi", "moving_average", "bollinger"], BUY, MEDIUM),  # (2 - 1) / 3
        (["rsi", "moving_average", "bollinger", "obv"], BUY, LOW),  # (2 - 1) / 4
        (["rsi", "bollinger"], HOLD, LOW),  # a tie is no majority
        (["bollinger", "obv"], SELL, MEDIUM),  # (1 - 0) / 2
    ],
)
def test_votes_combine(rules: list[str], action: SignalAction, confidence: Confidence) -> None:
    signal = analyse(candles(REBOUND), strategy(**{rule: REBOUND_RULES[rule] for rule in rules}))
    assert (signal.action, signal.confidence) == (action, confidence)
    assert [reason.rule.value for reason in signal.reasons] == rules  # each, in Rule order


@pytest.mark.parametrize(
    ("min_votes", "action", "confidence"), [(1, BUY, MEDIUM), (2, BUY, MEDIUM), (3, HOLD, LOW)]
)
def test_min_votes(min_votes: int, action: SignalAction, confidence: Confidence) -> None:
    rules = {rule: REBOUND_RULES[rule] for rule in ("rsi", "moving_average", "bollinger")}
    signal = analyse(candles(REBOUND), strategy(**rules, combine={"min_votes": min_votes}))
    assert (signal.action, signal.confidence) == (action, confidence)


def test_confidence_order() -> None:
    assert HIGH.at_least(MEDIUM) and MEDIUM.at_least(MEDIUM) and not LOW.at_least(MEDIUM)
    assert (LOW.raised(), MEDIUM.raised(), HIGH.raised()) == (MEDIUM, HIGH, HIGH)


# RSI 2 votes BUY on [10, 11, 10, 9]; Bollinger (4, 2) does not (9 is inside 8.59 to 11.41).
LONE_BUY: dict[str, Any] = {"rsi": {"period": 2}, "bollinger": {"period": 4}}


@pytest.mark.parametrize(
    ("volumes", "confidence", "detail"),
    [
        ([1, 1, 1, 1], MEDIUM, "volume 1.00x the 3-candle average, under 1.5x"),
        (
            [1, 1, 1, 3],
            HIGH,
            "volume 3.00x the 3-candle average, ≥ 1.5x: the volume confirms the move",
        ),
    ],
)
def test_volume_spike_raises_confidence(
    volumes: list[float], confidence: Confidence, detail: str
) -> None:
    rules = strategy(**LONE_BUY, volume={"period": 3})
    signal = analyse(candles([10, 11, 10, 9], volumes=volumes), rules)
    assert (signal.action, signal.confidence) == (BUY, confidence)  # 1 of 2: MEDIUM
    assert_reason(signal, Rule.VOLUME, None, detail, relative_volume=volumes[-1])


@pytest.mark.parametrize(
    ("closes", "rules", "action", "confidence"),
    [
        ([10, 11, 10, 9], {"rsi": {"period": 2}}, BUY, HIGH),  # HIGH stays HIGH
        ([10, 11, 10, 10], {"rsi": {"period": 2}}, HOLD, LOW),  # nothing to confirm
    ],
)
def test_volume_spike_bounds(
    closes: list[float], rules: dict[str, Any], action: SignalAction, confidence: Confidence
) -> None:
    signal = analyse(candles(closes, [1, 1, 1, 3]), strategy(**rules, volume={"period": 3}))
    assert (signal.action, signal.confidence) == (action, confidence)


# The gates. SMA 2 crosses above SMA 3 on [100, 100, 100, 110] (BUY); its returns 0, 0.1 have
# a sample std of √0.005; with high/low ±1, true ranges 2, 2, 2, 11 give a Wilder ATR (2) of
# 2, 2, 6.5: 6.5 / 110 of the close.
JUMP = candles([100, 100, 100, 110], spread=1)
CROSS: dict[str, Any] = {"moving_average": {"kind": "sma", "fast": 2, "slow": 3}}


@pytest.mark.parametrize(
    ("gate", "action", "confidence", "detail", "values"),
    [
        (
            {"volatility": {"period": 2, "max": 0.05}},
            HOLD,
            HIGH,
            "volatility 0.07071 > 0.05 per candle: too volatile, holding",
            {"volatility": math.sqrt(0.005)},
        ),
        (
            {"volatility": {"period": 2, "max": 0.1}},
            BUY,
            HIGH,
            "volatility 0.07071 ≤ 0.1 per candle",
            {"volatility": math.sqrt(0.005)},
        ),
        (
            {"atr": {"period": 2, "max_percent": 5}},
            HOLD,
            HIGH,
            "ATR 5.91 % of the close > 5 %: too volatile, holding",
            {"atr": 6.5, "atr_percent": 650 / 110},
        ),
        (
            {"atr": {"period": 2, "max_percent": 10}},
            BUY,
            HIGH,
            "ATR 5.91 % of the close ≤ 10 %",
            {"atr": 6.5, "atr_percent": 650 / 110},
        ),
        (
            {"volatility": {"max": 0.05}},  # period 20: unknown on 4 candles, so it holds
            HOLD,
            LOW,
            "volatility needs 21 candles, 4 closed: holding until known",
            {"volatility": None},
        ),
    ],
)
def test_gates(
    gate: dict[str, Any],
    action: SignalAction,
    confidence: Confidence,
    detail: str,
    values: dict[str, float | None],
) -> None:
    signal = analyse(JUMP, strategy(**CROSS, **gate))
    assert (signal.action, signal.confidence) == (action, confidence)
    (rule,) = gate
    assert_reason(signal, Rule(rule), None, detail, **values)
    assert reason(signal, Rule.MOVING_AVERAGE).vote is BUY  # the votes are still shown
