"""A bot's risk mechanisms as data: one frozen settings model per mechanism, grouped in
`RiskSettings` (a part of the SmartBot config), and the `RiskState` a bot carries between
observations. The rules that read them are in `domain.bots.risk_rules`.

Percentages are plain percent (`Decimal("2.5")` is 2.5 %), amounts and prices `Decimal`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.market import Money, Side

# A share of a price or an amount, strictly between nothing and everything (a stop at 100 %
# below the average could never fire).
Percent = Annotated[Money, Field(gt=0, lt=100)]
# A gain target may exceed 100 %.
GainPercent = Annotated[Money, Field(gt=0)]


class _Settings(BaseModel):
    # Unknown fields are refused so a misspelt setting is named, not silently defaulted.
    model_config = ConfigDict(frozen=True, extra="forbid")


class TakeProfit(_Settings):
    """Sell the whole position once the price reaches `percent` over the average price."""

    enabled: bool = True
    percent: GainPercent = Decimal("3")


class StopLoss(_Settings):
    """Limit a losing position. The soft stop sells only when the price stays at or below
    `soft_percent` under the average price through `confirmation_seconds` (a brief wick does
    not sell); the hard stop, deeper, sells at once. Either may be off (None)."""

    enabled: bool = True
    soft_percent: Percent | None = Decimal("5")
    confirmation_seconds: int = Field(default=60, ge=0)
    hard_percent: Percent | None = Decimal("10")

    @model_validator(mode="after")
    def _hard_below_soft(self) -> Self:
        if self.enabled and self.soft_percent is None and self.hard_percent is None:
            raise ValueError("an enabled stop loss needs soft_percent or hard_percent")
        if (
            self.soft_percent is not None
            and self.hard_percent is not None
            and self.hard_percent <= self.soft_percent
        ):
            raise ValueError("hard_percent must be deeper than soft_percent")
        return self


class TrailingStop(_Settings):
    """Arm once the price has gained `activation_percent` over the average price, then sell
    when it falls `trail_percent` below the highest price seen since the position opened.
    Independent of take profit: with both on, the first level reached sells (disable take
    profit, or set it above the activation, to let a gain run)."""

    enabled: bool = False
    activation_percent: GainPercent = Decimal("2")
    trail_percent: Percent = Decimal("1")


class AdaptiveSell(_Settings):
    """Scale the sell distances (take profit, stops, trailing activation and trail) by recent
    volatility:
    factor = volatility / `reference_volatility_percent`, kept within [`min_factor`,
    `max_factor`]. A calm market narrows the targets, a wild one widens them so noise does not
    stop the bot out. Volatility is the daily one in percent (`domain.volatility`)."""

    enabled: bool = False
    reference_volatility_percent: GainPercent = Decimal("3")
    min_factor: Money = Field(default=Decimal("0.5"), gt=0)
    max_factor: Money = Field(default=Decimal("2"), gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_factor > self.max_factor:
            raise ValueError("min_factor must not exceed max_factor")
        return self


class CircuitBreakerPreset(StrEnum):
    CONSERVATIVE = "conservative"
    MODERATE = "moderate"
    AGGRESSIVE = "aggressive"
    CUSTOM = "custom"


# Consecutive losing trades, and the day's realized loss in percent of the allocation.
PRESETS: dict[CircuitBreakerPreset, tuple[int, Decimal]] = {
    CircuitBreakerPreset.CONSERVATIVE: (3, Decimal("5")),
    CircuitBreakerPreset.MODERATE: (5, Decimal("10")),
    CircuitBreakerPreset.AGGRESSIVE: (8, Decimal("15")),
}


class CircuitBreaker(_Settings):
    """Pause the bot after `max_consecutive_losses` losing trades in a row (a win resets the
    count) or when the day's net realized loss (UTC day) reaches `max_daily_loss_percent` of
    the allocation. Only the user's explicit reset resumes it.

    A preset fills both limits (the model always shows the ones in force); `custom` requires
    them. Limits given with a preset must be the preset's own."""

    enabled: bool = True
    preset: CircuitBreakerPreset = CircuitBreakerPreset.MODERATE
    max_consecutive_losses: int = Field(ge=1)
    max_daily_loss_percent: Percent

    @model_validator(mode="before")
    @classmethod
    def _preset_limits(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = CircuitBreakerPreset(data.get("preset", CircuitBreakerPreset.MODERATE))
        if preset is CircuitBreakerPreset.CUSTOM:
            return data  # both limits required, the field validators say which is missing
        losses, loss_percent = PRESETS[preset]
        given = (
            data.get("max_consecutive_losses", losses),
            data.get("max_daily_loss_percent", loss_percent),
        )
        try:
            same = int(given[0]) == losses and Decimal(str(given[1])) == loss_percent
        except (TypeError, ValueError, ArithmeticError):
            same = False
        if not same:
            raise ValueError(
                f"preset {preset.value} means {losses} losses / {loss_percent}% daily loss; "
                "choose preset custom for other limits"
            )
        return {**data, "max_consecutive_losses": losses, "max_daily_loss_percent": loss_percent}


class SanityCheck(_Settings):
    """Refuse to trade on a suspicious market: a price that moved more than
    `max_price_jump_percent` from the previous observation less than `jump_window_seconds`
    before (an older previous price is no reference), or a spread wider than
    `max_spread_percent` of the mid price."""

    enabled: bool = True
    max_price_jump_percent: Percent = Decimal("10")
    jump_window_seconds: int = Field(default=300, ge=1)
    max_spread_percent: Percent = Decimal("2")


class AutoCancel(_Settings):
    """Cancel an open limit order whose price drifted more than `drift_percent` from the
    market (a buy from the best bid, a sell from the best ask, else from the last price)."""

    enabled: bool = True
    drift_percent: Percent = Decimal("5")


class RiskSettings(_Settings):
    take_profit: TakeProfit = TakeProfit()
    stop_loss: StopLoss = StopLoss()
    trailing_stop: TrailingStop = TrailingStop()
    adaptive_sell: AdaptiveSell = AdaptiveSell()
    circuit_breaker: CircuitBreaker = CircuitBreaker.model_validate({})
    sanity_check: SanityCheck = SanityCheck()
    auto_cancel: AutoCancel = AutoCancel()


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class TripReason(StrEnum):
    CONSECUTIVE_LOSSES = "consecutive_losses"
    DAILY_LOSS = "daily_loss"


class CircuitBreakerTrip(_Data):
    reason: TripReason
    at: datetime
    detail: str  # what the user reads beside the pause: which limit, at which values


class RiskState(_Data):
    """What the risk rules remember between observations; a bot keeps it in its own state."""

    peak_price: Money | None = None  # highest price seen while holding the position
    soft_stop_since: datetime | None = None  # when the soft-stop condition began to hold
    last_price: Money | None = None  # the previous observation, the sanity check's reference
    last_price_at: datetime | None = None
    consecutive_losses: int = 0
    day: date | None = None  # the UTC day `day_realized_pnl` belongs to
    day_realized_pnl: Money = Decimal(0)  # net: wins offset losses
    tripped: CircuitBreakerTrip | None = None
    # The warnings given for the open position (`domain.bots.warnings`), once each.
    warned: frozenset[str] = frozenset()


class Position(_Data):
    quantity: Money  # base held
    average_price: Money  # cost per unit, fees included as the funds count them


class Observation(_Data):
    """One look at the market, as the bot or its market feed saw it."""

    price: Money = Field(gt=0)  # last trade price
    at: datetime
    # Best bid and ask; both None when no book was read, one None when that side is empty.
    bid: Money | None = Field(default=None, gt=0)
    ask: Money | None = Field(default=None, gt=0)
    # Highest price since the bot's previous observation (the feed tracks it between wake-ups),
    # so a peak or a recovery the bot slept through still counts.
    high: Money | None = None
    volatility_percent: Money | None = None  # recent daily volatility, for adaptive sell
    # The reader's previous look at the market (a feed reads every few seconds): the sanity
    # check's reference for a jump when it is more recent than the bot's own last look, which
    # may be long ago for a bot that sleeps until a trigger fires.
    previous_price: Money | None = Field(default=None, gt=0)
    previous_at: datetime | None = None


class RestingOrder(_Data):
    """An open limit order of the bot, as auto-cancel needs it."""

    client_order_id: str
    side: Side
    price: Money


class Action(StrEnum):
    HOLD = "hold"
    SELL = "sell"  # sell the whole position (market)
    REFUSE = "refuse"  # trade nothing now, buys included; the reason is recorded
    CANCEL = "cancel"  # cancel `cancel_order_ids`, nothing else
    EMERGENCY_SELL = "emergency_sell"  # cancel every open order, then sell the whole position


class SellReason(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS_SOFT = "stop_loss_soft"
    STOP_LOSS_HARD = "stop_loss_hard"
    TRAILING_STOP = "trailing_stop"
    EMERGENCY = "emergency"


class RefusalReason(StrEnum):
    CIRCUIT_BREAKER = "circuit_breaker"
    PRICE_JUMP = "price_jump"
    WIDE_SPREAD = "wide_spread"


class RiskDecision(_Data):
    action: Action
    sell_reason: SellReason | None = None
    refusal: RefusalReason | None = None
    cancel_order_ids: tuple[str, ...] = ()  # with SELL or CANCEL: drifted orders go first
    sell_quantity: Money | None = None
    detail: str = ""  # why, in words, for the bot's last-decision record


class RiskTriggers(_Data):
    """The price levels and the moment that would make a bot's risk rules act, published to
    its market feed. The feed evaluates `fired` on every price it reads; the woken bot decides
    again from its own state (a trigger is a hint, never an order). Built by
    `risk_rules.triggers`."""

    sell_at_or_above: Money | None = None  # take profit
    sell_at_or_below: Money | None = None  # the hard stop, or the trailing level when higher
    soft_stop_at_or_below: Money | None = None  # wakes the bot to start (or end) the window
    # Trailing stop not yet armed or its peak still rising: the feed follows the peak itself.
    trailing_arm_at_or_above: Money | None = None
    trailing_peak: Money | None = None
    trailing_percent: Money | None = None
    wake_at: datetime | None = None  # the soft stop's confirmation window ends
    # Open orders all stay undrifted while the price is inside [low, high].
    orders_band_low: Money | None = None
    orders_band_high: Money | None = None
