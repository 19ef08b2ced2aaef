"""A DCA bot's configuration: buy a fixed amount on a fixed rhythm, sell the whole position at
a gain or a loss from its average price.

A DCA bot runs on the SmartBot engine: `DcaBotConfig.engine()` says what it means there (a
CONTINUOUS buy rule with the purchase as its order, take profit and a hard stop measured from
the position's quantity-weighted average price, `max_buys` for the cycles), so its orders, funds,
triggers and commands are the engine's, tested once.

- A *cycle* is one scheduled purchase; `max_cycles` purchases make an *accumulation*, after
  which the bot buys no more and waits for its exit (a bot with no exit set has nothing left to
  do and stops).
- The position closes at `take_profit_percent` over the average price or `stop_loss_percent`
  under it (watched by the market feed). Then the bot stops; with `auto_restart` a take
  profit (a sale at a gain) starts a new accumulation, while a stop loss still stops it.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator

from domain.bots.config import (
    BotMode,
    BotOrderType,
    MarketSymbol,
    PositiveMoney,
    SellRule,
    SmartBotConfig,
    covers_one_order,
)
from domain.bots.risk import (
    CircuitBreaker,
    GainPercent,
    Percent,
    RiskSettings,
    StopLoss,
    TakeProfit,
    TrailingStop,
)

__all__ = ["DcaBotConfig", "DcaFrequency"]


class DcaFrequency(StrEnum):
    HOURLY = "1h"
    SIX_HOURS = "6h"
    DAILY = "24h"
    WEEKLY = "7d"
    MONTHLY = "30d"

    @property
    def seconds(self) -> int:
        return _SECONDS[self]


_SECONDS = {
    DcaFrequency.HOURLY: 3_600,
    DcaFrequency.SIX_HOURS: 21_600,
    DcaFrequency.DAILY: 86_400,
    DcaFrequency.WEEKLY: 604_800,
    DcaFrequency.MONTHLY: 2_592_000,
}


class DcaBotConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: MarketSymbol  # amounts in the quote currency
    purchase_amount: PositiveMoney  # quote spent by each cycle's purchase
    # One of the named frequencies, or any number of seconds (tests, a custom rhythm).
    frequency: DcaFrequency | Annotated[int, Strict(), Field(ge=1)] = DcaFrequency.DAILY
    allocated_balance: PositiveMoney  # the most the bot ever spends
    take_profit_percent: GainPercent | None = None
    stop_loss_percent: Percent | None = None
    max_cycles: int | None = Field(default=None, ge=1)  # None: buy for as long as funds last
    auto_restart: bool = False

    @field_validator("allocated_balance")
    @classmethod
    def _covers_one_purchase(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return covers_one_order(value, info, "purchase_amount")

    @property
    def interval_seconds(self) -> int:
        frequency = self.frequency
        return frequency.seconds if isinstance(frequency, DcaFrequency) else frequency

    def engine(self) -> SmartBotConfig:
        """The SmartBot config that trades this DCA plan: market buys on the interval, the
        exits from the average price, nothing else (no trailing stop, no circuit breaker: a
        DCA bot means to keep buying through a fall). The sanity check stays: no purchase on
        a market that jumped or whose spread is wide."""
        take_profit, stop_loss = self.take_profit_percent, self.stop_loss_percent
        return SmartBotConfig(
            symbol=self.symbol,
            mode=BotMode.CONTINUOUS,
            interval_seconds=self.interval_seconds,
            order_amount=self.purchase_amount,
            allocated_balance=self.allocated_balance,
            max_buys=self.max_cycles,
            order_type=BotOrderType.MARKET,
            sell=SellRule(stop_after_sell=not self.auto_restart, stop_after_loss=True),
            risk=RiskSettings(
                take_profit=(
                    TakeProfit(percent=take_profit)
                    if take_profit is not None
                    else TakeProfit(enabled=False)
                ),
                stop_loss=(
                    StopLoss(soft_percent=None, hard_percent=stop_loss)
                    if stop_loss is not None
                    else StopLoss(enabled=False)
                ),
                trailing_stop=TrailingStop(enabled=False),
                circuit_breaker=CircuitBreaker.model_validate({"enabled": False}),
            ),
        )

    def purchase_rule(self, cycle: int) -> str:
        """Why a cycle's purchase was made, in words, for its creation context."""
        frequency = self.frequency
        every = frequency.value if isinstance(frequency, DcaFrequency) else f"{frequency}s"
        of = "" if self.max_cycles is None else f" of {self.max_cycles}"
        return f"DCA cycle {cycle}{of}: buy {self.purchase_amount} of the quote every {every}"
