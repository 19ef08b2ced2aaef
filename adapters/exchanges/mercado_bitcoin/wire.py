"""Mercado Bitcoin API v4 rows <-> Crypteras' vocabulary: markets, tickers, orders, fills, and
the order body we send.

- Symbols are ``BASE-QUOTE`` on MB as in Crypteras.
- Money: MB sends strings for quantities and JSON numbers for prices; both are parsed straight
  into `Decimal` (never float), and numbers we send are written with their exact digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.exchanges.errors import ExchangeError, InvalidOrder, UnknownSymbol
from adapters.exchanges.mercado_bitcoin.transport import VENUE
from domain.market import (
    Fill,
    MarketRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Symbol,
    Ticker,
)

# MB does not publish a lot step: quantities carry at most 8 decimals.
DEFAULT_LOT_STEP = Decimal("0.00000001")

# MB's order types (v4 PlaceOrderRequest.type): post-only is a limit order refused if it would
# take; stoplimit waits for the last price to reach `stopPrice`, then works at `limitPrice`.
_WIRE_TYPES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.LIMIT_MAKER: "post-only",
    OrderType.STOP_LOSS_LIMIT: "stoplimit",
}
_TYPES = {wire: kind for kind, wire in _WIRE_TYPES.items()}
_STATUS: dict[str, OrderStatus] = {
    "created": OrderStatus.NEW,
    "working": OrderStatus.NEW,
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELED,
}


def dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ExchangeError(f"not a number: {value!r}", venue=VENUE) from None


def stamp(value: Any) -> datetime:
    """MB stamps in seconds, some in nanoseconds: scale by magnitude."""
    seconds = dec(value)
    while seconds > 10**11:
        seconds /= 1000
    return datetime.fromtimestamp(float(seconds), UTC)


def body(fields: Mapping[str, str | Decimal | bool]) -> bytes:
    """JSON with decimals as numbers written with their exact digits (MB's `limitPrice`)."""

    def value(v: str | Decimal | bool) -> str:
        if isinstance(v, Decimal):
            return format(v.normalize(), "f")
        return json.dumps(v)

    return ("{" + ",".join(f"{json.dumps(k)}:{value(v)}" for k, v in fields.items()) + "}").encode()


def symbol(text: str) -> str:
    try:
        return str(Symbol.parse(text))
    except ValueError:
        raise UnknownSymbol(f"not a BASE-QUOTE symbol: {text!r}", venue=VENUE) from None


def rules_from_columns(columns: dict[str, list[Any]]) -> list[MarketRules]:
    """MB's /symbols is column-oriented: one array per field. It lists instruments that are
    not traded too (``exchange-traded`` false): they are no market."""
    out = []
    traded = columns.get("exchange-traded")
    for i, listed in enumerate(columns.get("symbol", [])):
        if traded and traded[i] is False:
            continue

        def col(name: str, default: str = "0", i: int = i) -> Decimal:
            values = columns.get(name)
            return dec(values[i]) if values and values[i] not in (None, "") else Decimal(default)

        scale = col("pricescale", "100000000")
        movement = col("minmovement")
        # Two styles in the wild: TradingView's whole count of 1/pricescale ("1", 100), or the
        # tick itself ("0.01000000", or "2.50000000" with pricescale 10: not a whole count).
        whole = movement >= 1 and movement == movement.to_integral_value()
        tick = movement / scale if whole else movement or 1 / scale
        maximum = {k: col(k) or None for k in ("max-volume", "max-cost", "max-price")}
        out.append(
            MarketRules(
                symbol=str(Symbol.parse(listed)),
                price_tick=tick,
                lot_step=DEFAULT_LOT_STEP,
                min_quantity=col("min-volume", str(DEFAULT_LOT_STEP)),
                max_quantity=maximum["max-volume"],
                min_notional=col("min-cost"),
                max_notional=maximum["max-cost"],
                min_price=col("min-price"),
                max_price=maximum["max-price"],
            )
        )
    return out


def ticker(row: dict[str, Any]) -> Ticker:
    return Ticker(
        symbol=row["pair"],
        last=dec(row["last"]),
        bid=dec(row["buy"]),
        ask=dec(row["sell"]),
        high_24h=dec(row["high"]),
        low_24h=dec(row["low"]),
        volume_24h=dec(row["vol"]),
        at=stamp(row["date"]),
    )


def order_fields(request: OrderRequest, rules: MarketRules) -> dict[str, str | Decimal | bool]:
    """Quantise onto the market's rules, refuse what MB would refuse, build the POST body."""
    fields: dict[str, str | Decimal | bool] = {
        "side": request.side.value,
        "type": _WIRE_TYPES[request.type],
        "externalId": request.client_order_id,
        "async": False,
    }

    def refuse(rule: str, why: str = "") -> InvalidOrder:
        message = f"{request.symbol}: order breaks rule {rule}" + (f" ({why})" if why else "")
        return InvalidOrder(message, venue=VENUE, code=rule)

    if request.type.has_limit_price:
        if request.price is None or request.quantity is None or request.quote_quantity:
            raise refuse("request", f"a {request.type} order takes a price and a base quantity")
        price = rules.quantise_price(request.price, request.side)
        quantity = rules.quantise_quantity(request.quantity)
        rule = rules.violation(quantity, price)
        if rule:
            raise refuse(rule)
        fields.update(qty=format(quantity, "f"), limitPrice=price)
        if request.stop_price is not None:
            # On the tick the way that triggers no later than asked (a sell stop up, a buy down).
            stop = rules.quantise_price(request.stop_price, request.side)
            if rules.violation(quantity, stop) in ("price_range", "price_tick"):
                raise refuse("stop_price")
            fields["stopPrice"] = stop
        return fields
    if request.price is not None or (request.quantity is None) == (request.quote_quantity is None):
        raise refuse("request", "a market order takes no price, and a quantity or a quote one")
    if request.quote_quantity is not None:
        if request.side is Side.SELL:
            raise refuse("request", "Mercado Bitcoin spends a quote amount on market buys only")
        cost = request.quote_quantity.quantize(DEFAULT_LOT_STEP, rounding="ROUND_DOWN")
        if cost < rules.min_notional or (rules.max_notional and cost > rules.max_notional):
            raise refuse("notional")
        fields["cost"] = cost
        return fields
    assert request.quantity is not None
    quantity = rules.quantise_quantity(request.quantity)
    too_big = rules.max_quantity is not None and quantity > rules.max_quantity
    if quantity <= 0 or quantity < rules.min_quantity or too_big:
        raise refuse("quantity_range")
    fields["qty"] = format(quantity, "f")
    return fields


def age(order: Order) -> tuple[datetime, tuple[bool, int, str]]:
    return order.created_at, sortable(order.order_id)


def sortable(identifier: str) -> tuple[bool, int, str]:
    """Numeric ids by value, others (MB's ULID-like order ids) as text, which sorts them by time."""
    numeric = identifier.isdigit()
    return not numeric, int(identifier) if numeric else 0, identifier


def order(row: dict[str, Any]) -> Order:
    """An order document (GET .../orders/{id}, per-market lists) or an all-markets list item."""
    name = str(row["instrument"])
    base, quote = name.split("-")
    side = Side(row["side"])
    filled = dec(row.get("filledQty", 0))
    status = _STATUS.get(str(row["status"]), OrderStatus.NEW)
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    executions = row.get("executions") or []
    average = dec(row["avgPrice"]) if row.get("avgPrice") else None
    if executions:
        spent = sum((dec(e["price"]) * dec(e["qty"]) for e in executions), Decimal(0))
    else:
        spent = average * filled if average is not None else Decimal(0)
    limit, stop = row.get("limitPrice"), row.get("stopPrice")
    kind = _TYPES.get(str(row["type"]), OrderType.LIMIT)
    return Order(
        order_id=str(row["id"]),
        client_order_id=str(row.get("externalId") or row.get("external_id") or ""),
        symbol=name,
        side=side,
        type=kind,
        status=status,
        quantity=dec(row["qty"]),
        price=dec(limit) if limit not in (None, 0) else None,
        stop_price=dec(stop) if kind is OrderType.STOP_LOSS_LIMIT and stop else None,
        filled_quantity=filled,
        average_price=average,
        quote_quantity=spent,
        fees=_fees(row, base if side is Side.BUY else quote, filled),
        created_at=stamp(row["created_at"]),
        updated_at=stamp(row["updated_at"]),
    )


def _fees(row: dict[str, Any], received: str, filled: Decimal) -> dict[str, Decimal]:
    """MB charges the asset received, from the first fill on; the all-markets list item
    carries no fee (unknown, not zero: get_order has it)."""
    return {received: dec(row["fee"])} if filled and "fee" in row else {}


def fills(row: dict[str, Any]) -> list[Fill]:
    """Executions of one order; MB gives the fee rate in percent, charged on what was received."""
    base, quote = str(row["instrument"]).split("-")
    out = []
    for e in row.get("executions") or []:
        side, price, quantity = Side(e["side"]), dec(e["price"]), dec(e["qty"])
        rate = dec(e.get("fee_rate", 0)) / 100
        received = quantity if side is Side.BUY else quantity * price
        out.append(
            Fill(
                trade_id=str(e["id"]),
                order_id=str(row["id"]),
                symbol=str(row["instrument"]),
                side=side,
                price=price,
                quantity=quantity,
                fee=received * rate,
                fee_asset=base if side is Side.BUY else quote,
                at=stamp(e["executed_at"]),
            )
        )
    return out
