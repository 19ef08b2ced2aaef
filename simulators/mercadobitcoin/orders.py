"""POST /accounts/{accountId}/{symbol}/orders: body parsing and MB's checks, in MB's order.

The order of checks follows what the live API answers (types -> side -> type -> pair ->
quantity range -> limit price present -> balance -> price range -> decimals -> cost), so a
bad order gets the same first error here as there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.market import MarketRules, OrderType, Side
from simulators.mercadobitcoin.wire import MbError, required, unprocessable

_MODULE = "TRADING|PLACE_ORDER"


def _error(code: str, message: str) -> MbError:
    return MbError(400, f"{_MODULE}|{code}", message)


@dataclass(frozen=True)
class PlaceOrder:
    side: str | None
    type: str | None
    qty: Decimal | None
    cost: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    external_id: str | None
    is_async: bool


def _typed(body: dict[str, Any], field: str, kinds: tuple[type, ...], name: str) -> Any:
    value = body.get(field)
    # JSON true/false are ints to Python: refuse them where a number is wanted.
    if value is not None and (
        not isinstance(value, kinds) or isinstance(value, bool) is not (bool in kinds)
    ):
        raise unprocessable(field, name)
    return value


def _decimal(text: str | Decimal | int, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise unprocessable(field, "numeric string") from None
    if not value.is_finite():
        raise unprocessable(field, "numeric string")
    return value


def parse(body: Any) -> PlaceOrder:
    """422 for a malformed body; `qty` is a string, `limitPrice` and `cost` are numbers."""
    if not isinstance(body, dict):
        raise unprocessable("body", "object")
    qty = _typed(body, "qty", (str,), "string")
    cost = _typed(body, "cost", (int, Decimal), "number")
    limit_price = _typed(body, "limitPrice", (int, Decimal), "number")
    stop_price = _typed(body, "stopPrice", (int, Decimal), "number")
    return PlaceOrder(
        side=_typed(body, "side", (str,), "string"),
        type=_typed(body, "type", (str,), "string"),
        qty=_decimal(qty, "qty") if qty not in (None, "") else None,
        cost=_decimal(cost, "cost") if cost is not None else None,
        limit_price=_decimal(limit_price, "limitPrice") if limit_price is not None else None,
        stop_price=_decimal(stop_price, "stopPrice") if stop_price is not None else None,
        external_id=_typed(body, "externalId", (str,), "string") or None,
        is_async=bool(_typed(body, "async", (bool,), "boolean")),
    )


# MB's order types (v4 docs, PlaceOrderRequest.type) in the engine's vocabulary: post-only is a
# limit order refused if it would take; stoplimit waits for the last price to reach `stopPrice`
# (a sell at or below it, a buy at or above), then works as a limit order at `limitPrice`.
_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "post-only": OrderType.LIMIT_MAKER,
    "stoplimit": OrderType.STOP_LOSS_LIMIT,
}


def check_shape(order: PlaceOrder) -> tuple[Side, OrderType]:
    if order.side not in ("buy", "sell"):
        raise _error("INVALID_SIDE", "The params {side} needs to be buy or sell")
    if order.type not in _TYPES:
        raise _error("INVALID_ORDER_TYPE", "Invalid order type")
    kind = _TYPES[order.type]
    if kind is OrderType.STOP_LOSS_LIMIT and (order.stop_price is None or order.stop_price <= 0):
        raise required("stopPrice")
    return Side(order.side), kind


def invalid_pair() -> MbError:
    return _error("INVALID_PAIR", "The params {base} or {quote} are invalid")


def insufficient_balance() -> MbError:
    return _error("INSUFFICIENT_BALANCE", "Insufficient balance to carry out the operation")


def generic_error() -> MbError:
    return _error("API_GENERIC_ERROR", "An unexpected error has occurred")


def check_rules(
    order: PlaceOrder, side: Side, kind: OrderType, rules: MarketRules, last: Decimal, free: Decimal
) -> None:
    """Everything MB checks against the market and the balance; `free` is in the paid asset."""
    by_cost = (
        kind is OrderType.MARKET
        and side is Side.BUY
        and order.qty is None
        and order.cost is not None
    )
    qty = order.qty or Decimal(0)
    if not by_cost:
        if qty < rules.min_quantity or qty <= 0:
            raise _error(
                "INVALID_MIN_QUANTITY", f"The param {{qty}} is lower than {rules.min_quantity}"
            )
        if rules.max_quantity is not None and qty > rules.max_quantity:
            raise _error(
                "INVALID_MAX_QUANTITY", f"The param {{qty}} is higher than {rules.max_quantity}"
            )
    price = order.limit_price if kind.has_limit_price else last
    if price is None:
        raise _error(
            "INVALID_MIN_LIMIT_PRICE", f"The param {{limitPrice}} is lower than {rules.min_price}"
        )
    if by_cost:
        assert order.cost is not None
        needed = order.cost
    else:
        needed = qty * price if side is Side.BUY else qty
    if needed > free:
        raise insufficient_balance()
    if kind.has_limit_price:
        if price < rules.min_price or price <= 0:
            raise _error(
                "INVALID_MIN_LIMIT_PRICE",
                f"The param {{limitPrice}} is lower than {rules.min_price}",
            )
        if rules.max_price is not None and price > rules.max_price:
            raise _error(
                "INVALID_MAX_LIMIT_PRICE",
                f"The param {{limitPrice}} is higher than {rules.max_price}",
            )
        if price % rules.price_tick or (order.stop_price or 0) % rules.price_tick:
            raise _error("INVALID_DECIMAL_PLACES", "Invalid number of decimal places entered")
    if not by_cost and qty % rules.lot_step:
        raise _error("INVALID_DECIMAL_PLACES", "Invalid number of decimal places entered")
    notional = needed if by_cost else qty * price
    too_small = notional < rules.min_notional
    too_big = rules.max_notional is not None and notional > rules.max_notional
    if too_small or too_big:
        if kind is OrderType.MARKET:
            raise generic_error()  # what the live API answers for a market order under the minimum
        raise _error("EXCEEDED_COST_LIMIT", "The minimum or maximum cost has been exceeded.")
