"""A SmartBot's configuration: what it trades, when it buys, how much, and its risk settings.

Validated whole (the API on creation, the workflow's Update validator on a change); every
refusal names its field (pydantic's error ``loc``), unknown fields included.

Modes:
- ``CONTINUOUS``: every ``interval_seconds`` the bot buys ``order_amount`` of the quote
  currency while its buy rule allows and free funds last;
- ``SCHEDULED``: the same buy at each fire of ``cron`` read in ``timezone``
  (`domain.bots.schedule`);
- ``MANUAL``: only the user's commands buy.
In every mode the risk settings decide the sells, and the bot never spends beyond
``allocated_balance``.

Fields of another mode: ``interval_seconds`` and ``limit_offset_percent`` keep their defaults
and are ignored where they do not apply, so a config read back can be sent again with only the
mode changed; ``cron`` and ``timezone`` (no defaults) are required by SCHEDULED and refused
elsewhere, where they would suggest a schedule that never runs.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from domain.bots.risk import Percent, RiskSettings
from domain.bots.schedule import validate_cron, validate_timezone
from domain.market import AMOUNT_PRECISION, AMOUNT_SCALE, Money, OrderType, Symbol

__all__ = ["BotMode", "BotOrderType", "SellRule", "SmartBotConfig"]


def _storable(amount: Decimal) -> Decimal:
    """An amount the user gives is refused, never rounded, when it could not be stored."""
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite: NaN and infinities are refused before
    if -exponent > AMOUNT_SCALE or amount.adjusted() >= AMOUNT_PRECISION - AMOUNT_SCALE:
        raise PydanticCustomError(
            "amount_precision",
            "at most {digits} digits before the point and {scale} after",
            {"digits": AMOUNT_PRECISION - AMOUNT_SCALE, "scale": AMOUNT_SCALE},
        )
    return amount


PositiveMoney = Annotated[Money, Field(gt=0), AfterValidator(_storable)]
# A market as BASE-QUOTE, e.g. BTC-BRL (normalised: upper case, one dash).
MarketSymbol = Annotated[str, AfterValidator(lambda value: str(Symbol.parse(value)))]


def covers_one_order(allocated: Decimal, info: ValidationInfo, order_field: str) -> Decimal:
    """A bot's allocation must pay for at least one of its orders (`order_field`)."""
    amount = info.data.get(order_field)  # absent when the amount itself was refused
    if amount is not None and allocated < amount:
        raise ValueError(f"must be at least {order_field} ({amount})")
    return allocated


class BotMode(StrEnum):
    CONTINUOUS = "CONTINUOUS"
    SCHEDULED = "SCHEDULED"
    MANUAL = "MANUAL"


class BotOrderType(StrEnum):
    """The order types a bot places on its own; `OrderType(value)` is the venue order's."""

    MARKET = OrderType.MARKET.value
    LIMIT = OrderType.LIMIT.value


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SellRule(_Config):
    """What the bot does once it has sold its whole position. When it sells is the risk
    settings' part (take profit, stops, trailing stop, adaptive targets)."""

    # No buy for this long after the position is closed (a bot that just took profit does not
    # buy back the top at once).
    cooldown_seconds: int = Field(default=0, ge=0)
    # One cycle only: the bot stops after closing its position, instead of buying again.
    stop_after_sell: bool = False
    # The bot stops after closing its position at a loss (a stop loss, a losing sale), and
    # buys again only after a gain: a DCA bot's auto restart.
    stop_after_loss: bool = False


class SmartBotConfig(_Config):
    symbol: MarketSymbol  # amounts below are in the quote currency
    mode: BotMode = BotMode.CONTINUOUS
    interval_seconds: int = Field(default=120, ge=1)  # CONTINUOUS; ≥ 1 s so tests run fast
    cron: str | None = Field(default=None, validate_default=True)  # SCHEDULED, e.g. 0 9 * * *
    timezone: str | None = Field(default=None, validate_default=True)  # IANA, with cron
    order_amount: PositiveMoney  # quote spent by each buy
    allocated_balance: PositiveMoney  # the most the bot ever has in play (quote)
    # At most this many of the buy rule's buys per position (a DCA bot's cycles); then the bot
    # only waits for its exit. None: while funds last. The user's own buys do not count.
    max_buys: int | None = Field(default=None, ge=1)
    # The dip rule, off when None: buy only at or below `dip_percent` under the reference, the
    # price of the bot's last fill (buy or sell) or, before any fill, the first price it saw
    # once started. A fixed level per state, so the market feed can watch it as a trigger, and
    # each buy lowers the next one: buying into a fall averages the position down.
    dip_percent: Percent | None = None
    order_type: BotOrderType = BotOrderType.MARKET
    # Limit orders only: a buy rests this far under the best bid, a sell this far over the
    # best ask (0 joins the best price).
    limit_offset_percent: Annotated[Money, Field(ge=0, lt=100)] = Decimal(0)
    sell: SellRule = SellRule()
    risk: RiskSettings = RiskSettings()

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        _scheduled_only("cron", value, info)
        return None if value is None else validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None, info: ValidationInfo) -> str | None:
        _scheduled_only("timezone", value, info)
        if value is not None:
            validate_timezone(value)
        return value

    @field_validator("allocated_balance")
    @classmethod
    def _covers_one_order(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return covers_one_order(value, info, "order_amount")

    def dip_level(self, reference: Decimal) -> Decimal | None:
        """The price at or under which the dip rule allows a buy, None when any price does."""
        if self.dip_percent is None:
            return None
        return reference * (100 - self.dip_percent) / 100


def _scheduled_only(field: str, value: str | None, info: ValidationInfo) -> None:
    mode = info.data.get("mode")  # absent when the mode itself was refused
    if mode is BotMode.SCHEDULED and value is None:
        raise ValueError(f"{field} is required in SCHEDULED mode")
    if mode is not None and mode is not BotMode.SCHEDULED and value is not None:
        raise ValueError(f"{field} applies to SCHEDULED mode only (mode is {mode.value})")
