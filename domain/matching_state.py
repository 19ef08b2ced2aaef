"""The matching engine's refusals, fee settings, wallets, orders as the engine keeps them, and
the pure rules of when a price makes an order marketable or a stop trigger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.market import Fill, Order, OrderStatus, OrderType, Side, Symbol, average_price

_ZERO = Decimal(0)
FEE_QUANTUM = Decimal("0.00000001")  # a fee converted to another asset: Binance's 8 decimals


class MatchingError(Exception):
    """An order or query the engine refuses; venues map these to their own wire errors."""


class InsufficientFunds(MatchingError):
    pass


class RuleViolation(MatchingError):
    """The order breaks a market rule; `rule` is a `MarketRules.violation()` name."""

    def __init__(self, rule: str, message: str | None = None) -> None:
        super().__init__(message or f"order breaks market rule {rule!r}")
        self.rule = rule


class InvalidRequest(RuleViolation):
    """Parameters that do not fit together (limit without price, market with both quantities,
    neither order id given). `rule` is ``"request"``."""

    def __init__(self, message: str) -> None:
        super().__init__("request", message)


class UnknownMarket(MatchingError):
    pass


class NoPrice(MatchingError):
    """A market order arrived before the first `set_price` for its market."""


class UnknownOrder(MatchingError):
    pass


class OrderNotOpen(MatchingError):
    """Cancel of an order that is already final."""


class DuplicateClientOrderId(MatchingError):
    """The client order id is already used by an open order of this account."""


class WouldTake(MatchingError):
    """A post-only (LIMIT_MAKER) order that would fill on entry."""


class WouldTrigger(MatchingError):
    """A stop order whose stop the last price has already reached."""


@dataclass(frozen=True)
class FeeAsset:
    """Pay fees in `asset`, less `discount` (a fraction), while the account holds enough."""

    asset: str
    discount: Decimal = _ZERO


class Fees(BaseModel):
    """Fee rates as fractions of the received amount, e.g. ``Decimal("0.001")`` for 0.1%."""

    model_config = ConfigDict(frozen=True)

    maker: Decimal = Field(ge=0, lt=1)
    taker: Decimal = Field(ge=0, lt=1)


@dataclass
class Wallet:
    free: Decimal = _ZERO
    locked: Decimal = _ZERO


@dataclass(eq=False)  # identity: orders are removed from lists by reference
class OrderState:
    account: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None  # limit price
    lock_price: Decimal  # quote locked per unit of a buy (limit price, or the market fill price)
    created_at: datetime
    stop_price: Decimal | None = None
    working_since: datetime | None = None  # None while a stop order waits for its trigger
    status: OrderStatus = OrderStatus.NEW
    filled: Decimal = _ZERO
    quote: Decimal = _ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    locked: Decimal = _ZERO  # still locked for this order, in the paid asset
    updated_at: datetime | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    def snapshot(self) -> Order:
        return Order(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            status=self.status,
            quantity=self.quantity,
            price=self.price,
            stop_price=self.stop_price,
            filled_quantity=self.filled,
            average_price=average_price(self.quote, self.filled),
            quote_quantity=self.quote,
            fees=dict(self.fees),
            created_at=self.created_at,
            updated_at=self.updated_at or self.created_at,
        )


@dataclass
class AccountState:
    """One account's part of an engine, for a store that keeps accounts elsewhere (the paper
    venue's database): its wallets and orders (the open ones are what matching needs), the
    fills made since it was restored, and the engine's id counters."""

    wallets: dict[str, Wallet]
    orders: list[OrderState]
    fills: list[Fill] = field(default_factory=list)
    next_order: int = 0
    next_trade: int = 0


def assets(symbol: str) -> tuple[str, str]:
    parsed = Symbol.parse(symbol)
    return parsed.base, parsed.quote


def marketable(side: Side, limit: Decimal, last: Decimal) -> bool:
    return limit >= last if side is Side.BUY else limit <= last


def best(side: Side, taker: Decimal, limit: Decimal) -> Decimal:
    """A marketable limit never fills worse than its limit."""
    return min(taker, limit) if side is Side.BUY else max(taker, limit)


def triggered(side: Side, stop: Decimal, last: Decimal) -> bool:
    """A stop-loss buy triggers once the price rises to its stop, a sell once it falls to it."""
    return last >= stop if side is Side.BUY else last <= stop


def converted_fee(
    fee_asset: FeeAsset,
    prices: Mapping[str, Decimal],
    fee: Decimal,
    asset: str,
    symbol: str,
    fill_price: Decimal,
) -> Decimal | None:
    """`fee` (in `asset`, received on `symbol`) in the fee asset, discounted and rounded to
    FEE_QUANTUM; None without a price to convert at. The received asset's own price in the
    fee asset serves, else the quote's (a bought base is worth the fill price in quote)."""
    base, quote = assets(symbol)
    value = _convert(prices, fee, asset, fee_asset.asset)
    if value is None and asset == base:
        value = _convert(prices, fee * fill_price, quote, fee_asset.asset)
    if value is None:
        return None
    return (value * (1 - fee_asset.discount)).quantize(FEE_QUANTUM)


def _convert(prices: Mapping[str, Decimal], amount: Decimal, asset: str, to: str) -> Decimal | None:
    if asset == to:
        return amount
    if (price := prices.get(f"{to}-{asset}")) is not None:
        return amount / price
    if (price := prices.get(f"{asset}-{to}")) is not None:
        return amount * price
    return None
