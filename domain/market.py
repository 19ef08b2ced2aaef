"""Normalised market data and orders, the one vocabulary every venue is translated into.

Amounts, prices and quantities are `Decimal`; JSON carries them as strings. Symbols inside
Crypteras are `BASE-QUOTE` (``BTC-BRL``); venues convert at their edge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Context, Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since 1970 (UTC), exactly: how venues and candle data name a time."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


# Decimal that serialises to a JSON string, never a float.
Money = Annotated[
    Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")
]
# What the order tables store exactly, NUMERIC(38, 18) (adapters/db/models_bots.py): an amount
# finer or larger could never be recorded, nor sent.
AMOUNT_PRECISION = 38
AMOUNT_SCALE = 18
_FINEST = Decimal(1).scaleb(-AMOUNT_SCALE)
_WIDE = Context(prec=AMOUNT_PRECISION, rounding=ROUND_HALF_EVEN)


def average_price(quote: Decimal, quantity: Decimal) -> Decimal | None:
    """The mean price of fills worth `quote` for `quantity` (None before any fill), to the
    finest amount stored: fills at several prices seldom divide to a finite decimal."""
    if quantity <= 0:
        return None
    mean = quote / quantity
    exponent = mean.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    return _WIDE.quantize(mean, _FINEST) if exponent < -AMOUNT_SCALE else mean


class Venue(StrEnum):
    BINANCE = "binance"
    MERCADO_BITCOIN = "mercadobitcoin"
    PAPER = "paper"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    LIMIT_MAKER = "limit_maker"  # a limit order refused if it would take on entry (post-only)
    STOP_LOSS_LIMIT = "stop_loss_limit"  # a limit order placed when the price reaches the stop

    @property
    def has_limit_price(self) -> bool:
        return self is not OrderType.MARKET


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Symbol(_Model):
    """A market: base asset priced in quote asset."""

    base: str
    quote: str

    @classmethod
    def parse(cls, text: str) -> Symbol:
        base, sep, quote = text.upper().partition("-")
        if not sep or not base.isalnum() or not quote.isalnum():
            raise ValueError(f"symbol must look like BTC-BRL, got {text!r}")
        return cls(base=base, quote=quote)

    def __str__(self) -> str:
        return f"{self.base}-{self.quote}"


class Ticker(_Model):
    symbol: str
    last: Money
    bid: Money
    ask: Money
    high_24h: Money | None = None
    low_24h: Money | None = None
    volume_24h: Money | None = None
    at: datetime


class BookLevel(_Model):
    price: Money
    quantity: Money


class OrderBook(_Model):
    symbol: str
    bids: list[BookLevel]  # best (highest) first
    asks: list[BookLevel]  # best (lowest) first
    at: datetime


class Candle(_Model):
    open_time: datetime
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money


class Fill(_Model):
    trade_id: str
    order_id: str
    symbol: str
    side: Side
    price: Money
    quantity: Money
    fee: Money
    fee_asset: str
    at: datetime


class Order(_Model):
    order_id: str  # the venue's id
    client_order_id: str  # ours: the idempotency key
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    quantity: Money  # requested base quantity (for a market buy by cost: what was bought)
    price: Money | None = None  # limit price
    stop_price: Money | None = None  # STOP_LOSS_LIMIT: the trigger price
    filled_quantity: Money = Decimal(0)
    average_price: Money | None = None
    quote_quantity: Money = Decimal(0)  # quote spent or received so far
    # Commission charged so far, per asset: Binance charges BNB while the account holds enough
    # and the received asset after, so one order can pay in several.
    fees: dict[str, Money] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class Balance(_Model):
    asset: str
    free: Money
    locked: Money

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class MarketRules(_Model):
    """What the venue accepts for one market; orders are quantised to these before they leave."""

    symbol: str
    price_tick: Money
    lot_step: Money
    min_quantity: Money
    max_quantity: Money | None = None
    min_notional: Money = Decimal(0)
    max_notional: Money | None = None
    min_price: Money = Decimal(0)
    max_price: Money | None = None

    def quantise_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a limit price onto the tick, never in the trader's disfavour."""
        rounding = ROUND_DOWN if side is Side.BUY else ROUND_UP
        return _to_step(price, self.price_tick, rounding)

    def quantise_quantity(self, quantity: Decimal) -> Decimal:
        """Round a quantity down onto the lot step (never spend more than was asked)."""
        return _to_step(quantity, self.lot_step, ROUND_DOWN)

    def violation(self, quantity: Decimal, price: Decimal) -> str | None:
        """Name of the first rule an order of `quantity` at `price` breaks, or None.

        Ticks and steps are absolute multiples, as Binance's filters.md states them
        (`price % tickSize == 0`, `quantity % stepSize == 0`), not offsets from the minimum,
        which only bounds; a zero tick or step disables that rule (filters.md: "disabled on
        tickSize == 0")."""
        if price <= 0 or price < self.min_price or (self.max_price and price > self.max_price):
            return "price_range"
        if self.price_tick > 0 and price % self.price_tick:
            return "price_tick"
        if quantity < self.min_quantity or (self.max_quantity and quantity > self.max_quantity):
            return "quantity_range"
        if self.lot_step > 0 and quantity % self.lot_step:
            return "lot_step"
        notional = quantity * price
        if notional < self.min_notional or (self.max_notional and notional > self.max_notional):
            return "notional"
        return None


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    steps = (value / step).to_integral_value(rounding=rounding)
    return (steps * step).quantize(step)


class OrderRequest(_Model):
    """What a caller asks a venue for. `client_order_id` is the idempotency key: asking twice
    with the same id must never produce two orders."""

    client_order_id: str = Field(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9_-]+$")
    symbol: str
    side: Side
    type: OrderType
    quantity: Money | None = None  # base quantity
    quote_quantity: Money | None = None  # market orders only: spend/receive this much quote
    price: Money | None = None  # the limit price of every type but MARKET
    stop_price: Money | None = None  # STOP_LOSS_LIMIT only: the trigger

    @model_validator(mode="after")
    def _prices_fit_type(self) -> Self:
        """The newer types' prices are checked here (MARKET and LIMIT requests stay the
        venues' and the engine's to refuse, each in its own words)."""
        limit_only = (OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT)
        if self.type in limit_only and (self.price is None or self.quote_quantity is not None):
            raise ValueError(f"a {self.type} order needs a price and a base quantity")
        if (self.type is OrderType.STOP_LOSS_LIMIT) != (self.stop_price is not None):
            raise ValueError("stop_price goes with stop_loss_limit orders, and only them")
        return self


class AccountPermissions(_Model):
    """What an API key may do, where the venue reports it (None: not reported)."""

    can_trade: bool | None = None
    can_withdraw: bool | None = None
