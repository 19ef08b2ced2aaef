"""A symbol's filters as filters.md defines them: what exchangeInfo announces and how an order
is checked against them (each failure is -1013 "Filter failure: <FILTER>")."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from simulators.binance.config import SymbolConfig
from simulators.binance.wire import BinanceError, fmt

Json = dict[str, Any]
_ZERO = Decimal(0)


def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def filters_json(c: SymbolConfig) -> list[Json]:
    """The `filters` of the symbol in exchangeInfo, in Binance's order."""
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": fmt(c.min_price),
            "maxPrice": fmt(c.max_price),
            "tickSize": fmt(c.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": fmt(c.min_qty),
            "maxQty": fmt(c.max_qty),
            "stepSize": fmt(c.step_size),
        },
        {"filterType": "ICEBERG_PARTS", "limit": c.iceberg_parts},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": fmt(_ZERO),
            "maxQty": fmt(c.market_max_qty),
            "stepSize": fmt(_ZERO),
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": str(c.bid_multiplier_up),
            "bidMultiplierDown": str(c.bid_multiplier_down),
            "askMultiplierUp": str(c.ask_multiplier_up),
            "askMultiplierDown": str(c.ask_multiplier_down),
            "avgPriceMins": c.avg_price_mins,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": fmt(c.min_notional),
            "applyMinToMarket": True,
            "maxNotional": fmt(c.max_notional),
            "applyMaxToMarket": True,
            "avgPriceMins": 5,
        },
    ]


def _price_ok(c: SymbolConfig, price: Decimal) -> bool:
    """PRICE_FILTER: each part is disabled when it is 0; the tick is an absolute multiple."""
    return not (
        (c.min_price > 0 and price < c.min_price)
        or (c.max_price > 0 and price > c.max_price)
        or (c.tick_size > 0 and price % c.tick_size)
    )


def _lot_ok(c: SymbolConfig, quantity: Decimal) -> bool:
    """LOT_SIZE, for `quantity` and `icebergQty` alike."""
    off_step = c.step_size > 0 and quantity % c.step_size
    return c.min_qty <= quantity <= c.max_qty and not off_step


def check_filters(
    c: SymbolConfig,
    *,
    kind: str,
    side: str,
    quantity: Decimal | None,
    quote_qty: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    iceberg_qty: Decimal | None,
    last: Decimal,
    average: Decimal,
) -> None:
    """Every filter of filters.md the simulator announces, in exchangeInfo's order.

    PERCENT_PRICE_BY_SIDE bounds a limit price by the average price (`average`, over
    avgPriceMins): bids by the bid multipliers, asks by the ask ones."""
    for value in (price, stop_price):
        if value is not None and not _price_ok(c, value):
            raise filter_failure("PRICE_FILTER")
    for value in (quantity, iceberg_qty):
        if value is not None and not _lot_ok(c, value):
            raise filter_failure("LOT_SIZE")
    parts = math.ceil(quantity / iceberg_qty) if quantity and iceberg_qty else 0
    if parts > c.iceberg_parts:  # CEIL(qty / icebergQty)
        raise filter_failure("ICEBERG_PARTS")
    if kind == "MARKET" and quantity is not None and quantity > c.market_max_qty:
        raise filter_failure("MARKET_LOT_SIZE")
    if price is not None:
        up, down = (
            (c.bid_multiplier_up, c.bid_multiplier_down)
            if side == "BUY"
            else (c.ask_multiplier_up, c.ask_multiplier_down)
        )
        if not average * down <= price <= average * up:
            raise filter_failure("PERCENT_PRICE_BY_SIDE")
    notional = quote_qty if quote_qty is not None else (quantity or _ZERO) * (price or last)
    if notional < c.min_notional or notional > c.max_notional:
        raise filter_failure("NOTIONAL")
