"""A candle strategy and the candles it reads: the config's refusals and the field each names,
its defaults, `uses_advanced` / `advanced_rules`, `candles_needed` and too few candles, the
candles analyse refuses, signals and strategies as JSON, a property over random strategies and
candles, and the default strategy on real candles."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.signals import (
    ADVANCED_RULES,
    MAX_CANDLES,
    VOTING_RULES,
    CandleStrategy,
    Confidence,
    Rule,
    Signal,
    SignalAction,
    advanced_rules,
    analyse,
    candles_needed,
    enabled_rules,
    uses_advanced,
)
from tests.unit.signal_candles import (
    BUY,
    DEFAULTS,
    HOLD,
    LOW,
    MINUTE_MS,
    REBOUND,
    REBOUND_RULES,
    SELL,
    candles,
    reason,
    strategy,
)

ETH_BTC_5M = Path(__file__).resolve().parents[2] / "data" / "ohlcv" / "ETH_BTC-5m.parquet"


# The strategy.


def refusals(data: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        CandleStrategy.model_validate({"timeframe": "5m", **data})
    return {tuple(error["loc"]): error["msg"] for error in caught.value.errors()}


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"timeframe": "", "rsi": {}}, ("timeframe",), "at least 1 character"),
        ({"timeframe": "15mm", "rsi": {}}, ("timeframe",), "at most 3 characters"),
        ({"rsi": {"oversold": 0}}, ("rsi", "oversold"), "greater than 0"),
        ({"rsi": {"overbought": 100}}, ("rsi", "overbought"), "less than 100"),
        (
            {"rsi": {"oversold": 70, "overbought": 30}},
            ("rsi", "overbought"),
            "must be above oversold (70",
        ),
        ({"rsi": {"period": 0}}, ("rsi", "period"), "greater than or equal to 1"),
        ({"rsi": {"period": 501}}, ("rsi", "period"), "less than or equal to 500"),
        ({"rsi": {"periods": 3}}, ("rsi", "periods"), "Extra inputs"),
        ({"rsii": {}, "rsi": {}}, ("rsii",), "Extra inputs"),
        (
            {"mfi": {"oversold": 80, "overbought": 80}},
            ("mfi", "overbought"),
            "must be above oversold (80",
        ),
        (
            {"moving_average": {"fast": 21, "slow": 9}},
            ("moving_average", "slow"),
            "must be longer than fast (21)",
        ),
        ({"moving_average": {"kind": "wma"}}, ("moving_average", "kind"), "'ema' or 'sma'"),
        ({"bollinger": {"std": 0}}, ("bollinger", "std"), "greater than 0"),
        ({"bollinger": {"period": 1}}, ("bollinger", "period"), "greater than or equal to 2"),
        ({"vwap": {"distance_percent": 0}}, ("vwap", "distance_percent"), "greater than 0"),
        ({"volume_profile": {"bins": 1}}, ("volume_profile", "bins"), "greater than or equal to 2"),
        (
            {"volume_profile": {"lookback": 1001}},
            ("volume_profile", "lookback"),
            "less than or equal to 1000",
        ),
        ({"rsi": {}, "volume": {"spike": 1}}, ("volume", "spike"), "greater than 1"),
        ({"rsi": {}, "volume": {"spike": "inf"}}, ("volume", "spike"), "finite number"),
        ({"rsi": {}, "volatility": {}}, ("volatility", "max"), "Field required"),
        ({"rsi": {}, "volatility": {"max": 0}}, ("volatility", "max"), "greater than 0"),
        ({"rsi": {}, "atr": {}}, ("atr", "max_percent"), "Field required"),
        (
            {"rsi": {}, "combine": {"min_votes": 0}},
            ("combine", "min_votes"),
            "greater than or equal to 1",
        ),
        (
            {"rsi": {}, "bollinger": {}, "combine": {"min_votes": 3}},
            ("combine",),
            "min_votes (3) is more than the 2 rules that vote",
        ),
        (
            {"volume": {}, "volatility": {"max": 1}},
            (),
            "enable at least one rule that votes: rsi, moving_average",
        ),
    ],
)
def test_strategy_refusals_name_the_field(
    data: dict[str, Any], loc: tuple[str, ...], message: str
) -> None:
    found = refusals(data)
    assert list(found) == [loc]
    assert message in found[loc]


def test_strategy_defaults_and_round_trip() -> None:
    rules = strategy(**DEFAULTS, volatility={"max": 0.02})
    assert rules.rsi is not None and (
        rules.rsi.period,
        rules.rsi.oversold,
        rules.rsi.overbought,
    ) == (14, 30, 70)
    assert rules.moving_average is not None and rules.moving_average.kind == "ema"
    assert (rules.moving_average.fast, rules.moving_average.slow) == (9, 21)
    assert rules.combine.min_votes == 1 and rules.mfi is None
    assert enabled_rules(rules) == (Rule.RSI, Rule.MOVING_AVERAGE, Rule.BOLLINGER, Rule.VOLATILITY)
    assert CandleStrategy.model_validate_json(rules.model_dump_json()) == rules


def test_signal_travels_as_json() -> None:
    signal = analyse(candles(REBOUND), strategy(**REBOUND_RULES, volume={"period": 3}))
    assert Signal.model_validate_json(signal.model_dump_json()) == signal


def test_the_close_is_the_venues_decimal_exactly() -> None:
    """The indicators compute in floats; the signal's close is the candle's own decimal (a
    float input gives its shortest decimal, 0.1 not 0.1000000000000000055...)."""
    frame = pl.read_parquet(ETH_BTC_5M).tail(30)
    [close] = frame.get_column("close").tail(1).to_list()
    assert isinstance(close, Decimal)
    assert analyse(frame, strategy(**DEFAULTS)).close == close
    floats = frame.with_columns(pl.col("close").cast(pl.Float64))
    assert analyse(floats, strategy(**DEFAULTS)).close == Decimal(str(float(close)))


def test_uses_advanced() -> None:
    standard: dict[str, Any] = {rule.value: {} for rule in Rule if rule not in ADVANCED_RULES}
    gates = {"volatility": {"max": 0.02}, "atr": {"max_percent": 2}}
    assert not uses_advanced(strategy(**standard | {"volatility": gates["volatility"]}))
    for rule in ADVANCED_RULES:
        rules = strategy(rsi={}, **{rule.value: gates.get(rule.value, {})})
        assert uses_advanced(rules) and advanced_rules(rules) == (rule,)


# How many candles a strategy reads.


@pytest.mark.parametrize(
    ("rules", "needed"),
    [
        ({"rsi": {}}, 1 + 7 * 14),  # the start, then 7 time constants of 14 candles
        ({"moving_average": {}}, 2 + 77),  # EMA 21: 7 * 22 / 2 steps, the start, the one before
        ({"moving_average": {"kind": "sma"}}, 22),  # SMA 21 and the candle before
        ({"bollinger": {}}, 20),
        ({"mfi": {}}, 14),
        ({"vwap": {}}, 14),
        ({"obv": {}}, 21),
        ({"volume_profile": {}}, 200),
        ({"rsi": {}, "volume": {}}, 99),
        ({"bollinger": {}, "volume": {}}, 21),
        ({"bollinger": {}, "volatility": {"max": 1}}, 21),
        ({"bollinger": {}, "atr": {"max_percent": 1}}, 14 + 7 * 14),  # seeded by 14 ranges
        (DEFAULTS, 99),
        ({"rsi": {"period": 103}}, 722),  # exact: 7 * 103 is not rounded up
        ({"rsi": {"period": 200}}, MAX_CANDLES),
        ({"volume_profile": {"lookback": 1000}}, MAX_CANDLES),
    ],
)
def test_candles_needed(rules: dict[str, Any], needed: int) -> None:
    assert candles_needed(strategy(**rules)) == needed


def test_only_the_needed_candles_are_read() -> None:
    closes = [100 + math.sin(i / 5) * 10 for i in range(300)]
    rules = strategy(**DEFAULTS)
    frame = candles(closes)
    assert analyse(frame, rules) == analyse(frame.tail(candles_needed(rules)), rules)


# Too few candles, bad input.


def test_too_few_candles_for_a_rule() -> None:
    signal = analyse(candles([10.0 - i for i in range(9)]), strategy(**DEFAULTS))
    assert (signal.action, signal.confidence) == (HOLD, LOW)
    assert [(reason.vote, reason.detail) for reason in signal.reasons] == [
        (None, "RSI needs 14 candles, 9 closed"),
        (None, "EMA 9/EMA 21 needs 22 candles, 9 closed"),
        (None, "Bollinger needs 20 candles, 9 closed"),
    ]
    assert reason(signal, Rule.RSI).values == {"rsi": None}


def test_one_candle_is_enough_to_answer() -> None:
    every: dict[str, Any] = {rule.value: {} for rule in VOTING_RULES} | {"volume": {}}
    signal = analyse(candles([10]), strategy(**every))
    assert (signal.action, signal.confidence, signal.close) == (HOLD, LOW, 10.0)
    assert all(reason.vote is None for reason in signal.reasons)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (candles([]), "no closed candle"),
        (candles([1, 2]).reverse(), "oldest first"),
        (candles([1, 2]).with_columns(open_time_ms=pl.lit(0)), "oldest first"),
        (candles([1, 2]).drop("open_time_ms"), "open_time_ms"),
        (candles([1, 2]).drop("volume"), "volume"),
    ],
)
def test_bad_candles_are_refused(frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        analyse(frame, strategy(rsi={}, obv={}))


# Properties.


@st.composite
def ohlcv(draw: st.DrawFn) -> pl.DataFrame:
    count = draw(st.integers(min_value=1, max_value=60))
    price = st.floats(min_value=0.01, max_value=1000)
    rows = draw(
        st.lists(
            st.tuples(price, price, st.floats(0, 1), st.floats(0, 1), st.floats(0, 1e6)),
            min_size=count,
            max_size=count,
        )
    )
    top = [max(open_, close) * (1 + up) for open_, close, up, _, _ in rows]
    bottom = [min(open_, close) * (1 - down / 2) for open_, close, _, down, _ in rows]
    return pl.DataFrame(
        {
            "open_time_ms": [i * MINUTE_MS for i in range(count)],
            "open": [row[0] for row in rows],
            "high": top,
            "low": bottom,
            "close": [row[1] for row in rows],
            "volume": [row[4] for row in rows],
        }
    )


# Short periods, so random windows of up to 60 candles reach every rule's values.
SHORT: dict[Rule, dict[str, Any]] = {
    Rule.RSI: {"period": 3},
    Rule.MOVING_AVERAGE: {"fast": 2, "slow": 3},
    Rule.BOLLINGER: {"period": 3},
    Rule.MFI: {"period": 3},
    Rule.VWAP: {"period": 3},
    Rule.OBV: {"period": 3},
    Rule.VOLUME_PROFILE: {"bins": 4, "lookback": 10},
    Rule.VOLUME: {"period": 3},
    Rule.VOLATILITY: {"period": 3},
    Rule.ATR: {"period": 3},
}


@st.composite
def strategies(draw: st.DrawFn) -> CandleStrategy:
    voting = draw(st.sets(st.sampled_from(sorted(VOTING_RULES)), min_size=1))
    others = draw(st.sets(st.sampled_from([Rule.VOLUME, Rule.VOLATILITY, Rule.ATR])))
    short = draw(st.booleans())
    limit = st.floats(min_value=0.001, max_value=50)
    data: dict[str, Any] = {}
    for rule in voting | others:
        block = dict(SHORT[rule]) if short else {}
        if rule is Rule.VOLATILITY:
            block["max"] = draw(limit)
        elif rule is Rule.ATR:
            block["max_percent"] = draw(limit)
        data[rule.value] = block
    data["combine"] = {"min_votes": draw(st.integers(1, len(voting)))}
    return strategy(**data)


@hypothesis_settings(deadline=None)
@given(frame=ohlcv(), rules=strategies())
def test_analyse_answers_any_valid_candles(frame: pl.DataFrame, rules: CandleStrategy) -> None:
    signal = analyse(frame, rules)
    assert signal.action in set(SignalAction) and signal.confidence in set(Confidence)
    assert tuple(reason.rule for reason in signal.reasons) == enabled_rules(rules)
    assert all(reason.vote in (BUY, SELL, None) for reason in signal.reasons)
    assert all(reason.vote is None for reason in signal.reasons if reason.rule not in VOTING_RULES)
    assert signal.close == Decimal(str(frame.get_column("close")[-1]))


# Real candles.


def test_real_candles_give_some_signals() -> None:
    """ETH/BTC 5-minute candles (Decimal columns): the default thresholds fire now and then."""
    frame = pl.read_parquet(ETH_BTC_5M)
    rules = strategy(**DEFAULTS)
    needed = candles_needed(rules)
    actions = [
        analyse(frame.slice(end - needed, needed), rules).action
        for end in range(frame.height - 299, frame.height + 1)
    ]
    assert actions.count(BUY) >= 1 and actions.count(SELL) >= 1
    assert actions.count(HOLD) > len(actions) / 2
