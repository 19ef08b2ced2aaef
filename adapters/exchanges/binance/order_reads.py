"""Binance orders read whole. Only a FULL placement answer carries its fills; every other order
answer (GET/DELETE order, openOrders, allOrders) lacks the commissions, so they are summed from
myTrades: one page per market for a list, the order's own trades for one order or one older
than that page."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from adapters.exchanges.binance.transport import BinanceTransport
from adapters.exchanges.binance.wire import Json, parse_order, sum_commissions
from domain.market import Order

_TRADES_PAGE = "1000"  # myTrades' largest page


async def _order_trades(http: BinanceTransport, name: str, order_id: int) -> list[Json]:
    trades: list[Json] = await http.signed(
        "GET", "/api/v3/myTrades", {"symbol": name, "orderId": str(order_id)}, weight=5
    )
    return trades


async def order_with_fees(http: BinanceTransport, symbol: str, raw: Json) -> Order:
    """`raw` (any order answer of market `symbol`, BASE-QUOTE) with its commissions."""
    fees = None
    if "fills" not in raw and Decimal(raw["executedQty"]) > 0:
        fees = sum_commissions(await _order_trades(http, raw["symbol"], raw["orderId"]))
    return parse_order(symbol, raw, fees)


async def orders_with_fees(
    http: BinanceTransport, names: Mapping[str, str], raws: list[Json]
) -> list[Order]:
    """`raws` (orders of any markets; `names` maps BTCBRL to BTC-BRL) with their commissions."""
    trades: dict[int, list[Json]] = {}
    executed = {raw["symbol"] for raw in raws if Decimal(raw["executedQty"]) > 0}
    for name in executed:
        page = await http.signed(
            "GET", "/api/v3/myTrades", {"symbol": name, "limit": _TRADES_PAGE}, weight=20
        )
        for trade in page:
            trades.setdefault(trade["orderId"], []).append(trade)
    orders = []
    for raw in raws:
        fees = None
        if Decimal(raw["executedQty"]) > 0:
            if raw["orderId"] not in trades:  # older than the page
                trades[raw["orderId"]] = await _order_trades(http, raw["symbol"], raw["orderId"])
            fees = sum_commissions(trades[raw["orderId"]])
        orders.append(parse_order(names[raw["symbol"]], raw, fees))
    return orders
