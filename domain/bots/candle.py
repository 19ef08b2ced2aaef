"""A Candle bot: its strategy's signals (domain/signals) decide its entries and exits.

A Candle bot runs on the SmartBot engine: `CandleBotConfig.engine()` is a MANUAL bot (no buy
rule of its own: the signals are its buy rule) with the same risk settings, so take profit,
stop loss and trailing stop are triggers on its market feed like any bot's. Its market feed
computes the strategy's signal when a candle of its timeframe closes (once per strategy for
every bot of the market, `activities/market_analysis.py`) and sends it to the bot, which
decides here, on its own state, whether to act.

- With `auto_execute` off the bot only records its signals (the user trades by hand).
- A BUY of at least `min_confidence` buys `order_amount` of the quote while funds last, at most
  `max_buys` times per position; a SELL of at least `min_confidence` sells the whole position
  when `sell_on_signal`.
- A signal about a candle that closed before the bot started is shown, never traded on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from domain.bots.config import (
    BotMode,
    BotOrderType,
    MarketSymbol,
    PositiveMoney,
    SmartBotConfig,
    covers_one_order,
)
from domain.bots.risk import RiskSettings
from domain.indicators.availability import timeframe_seconds
from domain.market import from_epoch_ms
from domain.signals import CandleStrategy, Confidence, Signal, SignalAction, decimal_text

__all__ = ["CandleBotConfig", "SignalDecision", "indicator_values", "signal_decision"]


class CandleBotConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: MarketSymbol  # amounts in the quote currency
    strategy: CandleStrategy  # its timeframe must be one the venue serves (the API checks)
    order_amount: PositiveMoney  # quote spent by each buy a signal makes
    allocated_balance: PositiveMoney
    auto_execute: bool = False  # off: the bot records its signals and trades only by hand
    min_confidence: Confidence = Confidence.MEDIUM
    max_buys: int = Field(default=1, ge=1)  # BUY signals acted on per position
    sell_on_signal: bool = True  # a SELL signal sells the position (risk exits apply anyway)
    risk: RiskSettings = RiskSettings()

    @field_validator("allocated_balance")
    @classmethod
    def _covers_one_order(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return covers_one_order(value, info, "order_amount")

    def engine(self) -> SmartBotConfig:
        return SmartBotConfig(
            symbol=self.symbol,
            mode=BotMode.MANUAL,
            order_amount=self.order_amount,
            allocated_balance=self.allocated_balance,
            max_buys=self.max_buys,
            order_type=BotOrderType.MARKET,
            risk=self.risk,
        )


class SignalDecision(StrEnum):
    BUY = "buy"
    SELL = "sell"
    NONE = "none"


def signal_decision(
    config: CandleBotConfig,
    signal: Signal,
    *,
    started: datetime,
    holding: bool,
    buy_blocker: str | None,
) -> tuple[SignalDecision, str]:
    """What the bot does on `signal`, and why in words. `started`: when the bot began
    trading on signals; `holding`: it has a position to sell; `buy_blocker`: why a buy cannot
    happen now (`domain.bots.smart.buy_blocker`), None when it can."""
    said = f"{signal.action.value} ({signal.confidence.value})"
    if not config.auto_execute:
        return SignalDecision.NONE, f"signal {said} recorded; auto-execution is off"
    length = timedelta(seconds=timeframe_seconds(config.strategy.timeframe))
    closed = from_epoch_ms(signal.candle_open_ms) + length
    if closed <= started:
        return SignalDecision.NONE, f"signal {said} is about a candle closed before the start"
    if signal.action is SignalAction.HOLD:
        return SignalDecision.NONE, f"signal {said}"
    if not signal.confidence.at_least(config.min_confidence):
        wanted = config.min_confidence.value
        return SignalDecision.NONE, f"signal {said} is under the minimum confidence {wanted}"
    if signal.action is SignalAction.BUY:
        if buy_blocker is not None:
            return SignalDecision.NONE, f"signal {said}; no buy: {buy_blocker}"
        return SignalDecision.BUY, f"signal {said}: {_votes(signal)}"
    if not config.sell_on_signal:
        return SignalDecision.NONE, f"signal {said}; selling on signals is off"
    if not holding:
        return SignalDecision.NONE, f"signal {said}; no position to sell"
    return SignalDecision.SELL, f"signal {said}: {_votes(signal)}"


def _votes(signal: Signal) -> str:
    """The reasons of the rules that voted with the signal."""
    return "; ".join(r.detail for r in signal.reasons if r.vote is signal.action)


def indicator_values(signal: Signal) -> dict[str, dict[str, str | None]]:
    """Every rule's indicator values, by rule, as decimal text: what an order's creation
    context carries."""
    return {
        reason.rule.value: {
            name: None if value is None else decimal_text(value)
            for name, value in reason.values.items()
        }
        for reason in signal.reasons
    }
