"""A Candle bot's strategy: which rules read its closed candles, with their periods and
thresholds, and how their votes combine (`domain.signals.analysis` applies it).

Every rule block is optional; absent means off. Three kinds of rule:
- voting rules say BUY, SELL or nothing on the last closed candle (rsi, moving_average,
  bollinger; advanced: mfi, vwap, obv, volume_profile); at least one is required;
- the volume rule never votes: a volume spike raises the signal's confidence one level;
- gates (volatility; advanced: atr) never vote: above their maximum the signal is HOLD.

The advanced rules are for the Max plan on Binance only; the API refuses them elsewhere with
`advanced_rules` / `uses_advanced`. Validated whole; every refusal names its field (pydantic's
error ``loc``), unknown fields included.

Thresholds are floats, as the indicators are: they describe a market, they never size an
order. In JSON they are decimal text, as the API's amounts are ("30", "1.5"), so no float ever
reaches a stored config.
"""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "ADVANCED_RULES",
    "MAX_CANDLES",
    "MAX_PERIOD",
    "VOTING_RULES",
    "AtrRule",
    "BollingerRule",
    "CandleStrategy",
    "CombineRule",
    "MfiRule",
    "MovingAverageKind",
    "MovingAverageRule",
    "ObvRule",
    "RsiRule",
    "Rule",
    "VolatilityRule",
    "VolumeProfileRule",
    "VolumeRule",
    "VwapRule",
    "advanced_rules",
    "candles_needed",
    "decimal_text",
    "enabled_rules",
    "uses_advanced",
]

# Binance's largest klines page: the most closed candles one request returns, so the most an
# analysis asks for.
MAX_CANDLES = 1000
# Half a page: every rule's bare warm-up fits in MAX_CANDLES, with room left to converge.
MAX_PERIOD = MAX_CANDLES // 2
# Periods of an exponential mean after which its starting value weighs under e^-7 ≈ 0.1 %
# (its weight after k steps is (1 - alpha)^k ≤ e^(-k·alpha)). `candles_needed` reads it.
TIME_CONSTANTS = 7

Period = Annotated[int, Field(ge=1, le=MAX_PERIOD)]
# A deviation needs two values: one return, or one close, has none.
SpreadPeriod = Annotated[int, Field(ge=2, le=MAX_PERIOD)]


def decimal_text(value: float) -> str:
    """A float as its shortest decimal text, without exponent or trailing zeros ("30",
    "0.0123"): how thresholds and indicator values are written wherever JSON is stored, so a
    float never reaches a stored document. ValueError for NaN and infinities."""
    if not math.isfinite(value):
        raise ValueError(f"{value} has no decimal text")
    return format(Decimal(repr(value)).normalize(), "f")


Threshold = Annotated[float, PlainSerializer(decimal_text, return_type=str, when_used="json")]
Level = Annotated[Threshold, Field(gt=0, lt=100)]  # an oscillator's threshold, 0..100 exclusive


class Rule(StrEnum):
    """A rule, named as its field in `CandleStrategy`; the order is the reasons' order."""

    RSI = "rsi"
    MOVING_AVERAGE = "moving_average"
    BOLLINGER = "bollinger"
    MFI = "mfi"
    VWAP = "vwap"
    OBV = "obv"
    VOLUME_PROFILE = "volume_profile"
    VOLUME = "volume"
    VOLATILITY = "volatility"
    ATR = "atr"


VOTING_RULES = frozenset(
    {
        Rule.RSI,
        Rule.MOVING_AVERAGE,
        Rule.BOLLINGER,
        Rule.MFI,
        Rule.VWAP,
        Rule.OBV,
        Rule.VOLUME_PROFILE,
    }
)
ADVANCED_RULES = frozenset({Rule.MFI, Rule.VWAP, Rule.OBV, Rule.ATR, Rule.VOLUME_PROFILE})


class _Config(BaseModel):
    # Unknown fields are refused so a misspelt setting is named, not silently defaulted;
    # NaN would make every comparison false, an infinite threshold would never be reached.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class _Oscillator(_Config):
    """BUY at or below `oversold`, SELL at or above `overbought`."""

    period: Period = 14
    oversold: Level = 30.0
    overbought: Level = 70.0

    @field_validator("overbought")
    @classmethod
    def _above_oversold(cls, value: float, info: ValidationInfo) -> float:
        oversold = info.data.get("oversold")  # absent when oversold itself was refused
        if oversold is not None and value <= oversold:
            raise PydanticCustomError(
                "threshold_order", "must be above oversold ({oversold})", {"oversold": oversold}
            )
        return value


class RsiRule(_Oscillator):
    pass


class MfiRule(_Oscillator):
    oversold: Level = 20.0
    overbought: Level = 80.0


class MovingAverageKind(StrEnum):
    EMA = "ema"
    SMA = "sma"


class MovingAverageRule(_Config):
    """BUY when the fast average crossed above the slow one on the last closed candle, SELL
    when it crossed below; no vote between crosses."""

    kind: MovingAverageKind = MovingAverageKind.EMA
    fast: Period = 9
    slow: Period = 21

    @field_validator("slow")
    @classmethod
    def _longer_than_fast(cls, value: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and value <= fast:
            raise PydanticCustomError(
                "period_order", "must be longer than fast ({fast})", {"fast": fast}
            )
        return value


class BollingerRule(_Config):
    """BUY when the close is at or under the lower band, SELL at or over the upper one."""

    period: SpreadPeriod = 20
    std: Threshold = Field(default=2.0, gt=0)  # 0 would put both bands on the middle line


class VwapRule(_Config):
    """BUY when the close is at least `distance_percent` under the VWAP, SELL at least that
    over it."""

    period: Period = 14
    distance_percent: Threshold = Field(default=1.0, gt=0)


class ObvRule(_Config):
    """BUY when both OBV and the close rose over the last `period` candles, SELL when both
    fell: volume confirms the price's direction."""

    period: Period = 20


class VolumeProfileRule(_Config):
    """The profile of the last `lookback` candles: BUY when the close is under the point of
    control's bucket (cheap against where most volume traded), SELL when over it."""

    bins: int = Field(default=24, ge=2, le=MAX_PERIOD)  # one bucket always holds the close
    lookback: int = Field(default=200, ge=2, le=MAX_CANDLES)


class VolumeRule(_Config):
    """No vote: a last candle of at least `spike` times the usual volume raises confidence."""

    period: Period = 20
    spike: Threshold = Field(default=1.5, gt=1)


class VolatilityRule(_Config):
    """A gate: HOLD while the per-candle standard deviation of returns is over `max` (0.02:
    2 % per candle). No default: what is calm depends on the timeframe and the market."""

    period: SpreadPeriod = 20
    max: Threshold = Field(gt=0)


class AtrRule(_Config):
    """A gate: HOLD while the ATR is over `max_percent` of the close."""

    period: Period = 14
    max_percent: Threshold = Field(gt=0)


class CombineRule(_Config):
    """BUY when buy votes outnumber sell votes and reach `min_votes`; SELL symmetrically."""

    min_votes: int = Field(default=1, ge=1)


class CandleStrategy(_Config):
    timeframe: str = Field(min_length=1, max_length=3)  # the venue's interval, e.g. 5m, 1h
    rsi: RsiRule | None = None
    moving_average: MovingAverageRule | None = None
    bollinger: BollingerRule | None = None
    mfi: MfiRule | None = None
    vwap: VwapRule | None = None
    obv: ObvRule | None = None
    volume_profile: VolumeProfileRule | None = None
    volume: VolumeRule | None = None
    volatility: VolatilityRule | None = None
    atr: AtrRule | None = None
    # Last, so its validator sees which rules are on.
    combine: CombineRule = Field(default=CombineRule(), validate_default=True)

    @field_validator("combine")
    @classmethod
    def _reachable(cls, value: CombineRule, info: ValidationInfo) -> CombineRule:
        if any(rule.value not in info.data for rule in VOTING_RULES):
            return value  # a rule was refused: its own error says why
        voting = sum(info.data[rule.value] is not None for rule in VOTING_RULES)
        if voting and value.min_votes > voting:
            raise PydanticCustomError(
                "unreachable_votes",
                "min_votes ({min_votes}) is more than the {voting} rules that vote: the "
                "strategy could never buy or sell",
                {"min_votes": value.min_votes, "voting": voting},
            )
        return value

    @model_validator(mode="after")
    def _votes(self) -> CandleStrategy:
        if not any(rule in VOTING_RULES for rule in enabled_rules(self)):
            raise PydanticCustomError(
                "no_voting_rule",
                "enable at least one rule that votes: {rules}",
                {"rules": ", ".join(rule.value for rule in Rule if rule in VOTING_RULES)},
            )
        return self


def enabled_rules(strategy: CandleStrategy) -> tuple[Rule, ...]:
    """The rules that are on, in `Rule` order."""
    return tuple(rule for rule in Rule if getattr(strategy, rule.value) is not None)


def advanced_rules(strategy: CandleStrategy) -> tuple[Rule, ...]:
    """The advanced rules that are on, for the API to name in its refusal."""
    return tuple(rule for rule in enabled_rules(strategy) if rule in ADVANCED_RULES)


def uses_advanced(strategy: CandleStrategy) -> bool:
    """Whether the strategy needs the Max plan on Binance."""
    return bool(advanced_rules(strategy))


def _converged(time_constant: Fraction) -> int:
    """Steps of an exponential mean (time constant 1 / alpha) until its start weighs under
    e^-TIME_CONSTANTS. Exact fractions: in floats 7 / (1 / 103) is 721.0000000000001, which
    would round up to 722."""
    return math.ceil(TIME_CONSTANTS * time_constant)


def candles_needed(strategy: CandleStrategy) -> int:
    """How many closed candles `analyse` reads: the most any enabled rule needs, capped at
    MAX_CANDLES (one klines page). `analyse` keeps only that many of the latest, so a live
    bot and a backtest over the same candles give the same signal whatever history they hold.

    A rule's need is its warm-up (the rows before its indicator has a value) and, for the
    exponential means (EMA, Wilder's RSI and ATR), enough steps after their start for it to
    weigh under 0.1 % (TIME_CONSTANTS), so the value no longer depends on where the window
    begins. The cap only binds on an RSI or ATR over ~140 candles or an EMA over ~280: they
    still warm up (periods stop at MAX_PERIOD), with their start weighing a little more.
    """
    needs = [_rule_needs(strategy, rule) for rule in enabled_rules(strategy)]
    return min(max(needs), MAX_CANDLES)


def _rule_needs(strategy: CandleStrategy, rule: Rule) -> int:
    match rule:
        case Rule.RSI:
            assert strategy.rsi is not None
            # Row 0 is the start (a change of 0), then one step per row.
            return 1 + _converged(Fraction(strategy.rsi.period))
        case Rule.MOVING_AVERAGE:
            assert strategy.moving_average is not None
            slow = strategy.moving_average.slow
            if strategy.moving_average.kind is MovingAverageKind.SMA:
                return slow + 1  # the cross reads the candle before the last
            return 2 + _converged(Fraction(slow + 1, 2))  # the start, the steps, the candle before
        case Rule.ATR:
            assert strategy.atr is not None
            period = strategy.atr.period
            return period + _converged(Fraction(period))  # seeded by the mean of `period` ranges
        case Rule.VOLUME_PROFILE:
            assert strategy.volume_profile is not None
            return strategy.volume_profile.lookback
        case Rule.BOLLINGER | Rule.MFI | Rule.VWAP:
            block = getattr(strategy, rule.value)
            return int(block.period)
        case Rule.OBV | Rule.VOLUME | Rule.VOLATILITY:
            # A change over `period` candles, or `period` candles before the last one.
            block = getattr(strategy, rule.value)
            return int(block.period) + 1
