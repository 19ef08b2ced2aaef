"""The SIGNED account endpoints besides placement (see `placing`): queries, cancels, history and
the account, answered in Binance's JSON."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.market import Order, OrderStatus, Side
from domain.matching import OrderNotOpen, UnknownOrder
from simulators.binance.market import ms
from simulators.binance.venue import BinanceVenue, OrderMeta
from simulators.binance.wire import BinanceError, Params, fmt

Json = dict[str, Any]
_ENGINE_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_ZERO = Decimal(0)
_DAY_US = 24 * 3600 * 1_000_000
_RESTRICTIONS = {"ONLY_NEW": OrderStatus.NEW, "ONLY_PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED}


def engine_client_id(client_order_id: str) -> str:
    """Binance also allows '.', ':' and '/' in client ids; the engine's ids are stricter."""
    if _ENGINE_ID.match(client_order_id):
        return client_order_id
    return "h" + hashlib.sha256(client_order_id.encode()).hexdigest()[:35]


def order_body(name: str, order: Order, meta: OrderMeta) -> Json:
    """The fields every order answer shares, with rest-api.md's conditional ones: stopPrice
    for stop orders, icebergQty when the order was sent with one."""
    body: Json = {
        "price": fmt(order.price or _ZERO),
        "origQty": fmt(order.quantity),
        "executedQty": fmt(order.filled_quantity),
        "origQuoteOrderQty": fmt(meta.orig_quote_qty),
        "cummulativeQuoteQty": fmt(order.quote_quantity),
        "status": "EXPIRED" if meta.expired else order.status.value.upper(),
        "timeInForce": meta.time_in_force or "GTC",
        "type": order.type.value.upper(),
        "side": order.side.value.upper(),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if order.stop_price is not None:
        body["stopPrice"] = fmt(order.stop_price)
    if meta.iceberg_qty is not None:
        body["icebergQty"] = fmt(meta.iceberg_qty)
    return body


def order_json(venue: BinanceVenue, account: str, order: Order) -> Json:
    """An order as GET /api/v3/order, /openOrders and /allOrders show it."""
    meta = venue.meta[order.order_id]
    name = order.symbol.replace("-", "")
    since = venue.engine.working_since(account, order.symbol, order.order_id)
    return {
        "symbol": name,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": meta.client_order_id,
        "stopPrice": fmt(_ZERO),
        "icebergQty": fmt(_ZERO),
        **order_body(name, order, meta),
        "time": ms(order.created_at),
        "updateTime": ms(order.updated_at),
        "isWorking": since is not None,  # a stop order works once triggered
        "workingTime": ms(since) if since else -1,
    }


def _order_ref(params: Params) -> tuple[str | None, str | None]:
    order_id = params.integer("orderId", low=0)
    client_id = params.client_order_id("origClientOrderId")
    if order_id is None and client_id is None:
        raise BinanceError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    return (
        None if order_id is None else str(order_id),
        None if client_id is None else engine_client_id(client_id),
    )


def query_order(venue: BinanceVenue, account: str, params: Params) -> Json:
    market = venue.market(params.require("symbol"))
    order_id, client_id = _order_ref(params)
    params.check_all_read()
    try:
        order = venue.engine.get(
            account, market.rules.symbol, order_id=order_id, client_order_id=client_id
        )
    except UnknownOrder:
        raise BinanceError(-2013, "Order does not exist.") from None
    return order_json(venue, account, order)


def cancel_order(venue: BinanceVenue, account: str, params: Params) -> Json:
    market = venue.market(params.require("symbol"))
    order_id, client_id = _order_ref(params)
    cancel_id = params.client_order_id("newClientOrderId")
    restrictions = cancel_restrictions(params)
    params.check_all_read()
    return cancel(venue, account, market.rules.symbol, order_id, client_id, cancel_id, restrictions)


def cancel_restrictions(params: Params) -> str | None:
    value = params.get("cancelRestrictions")
    if value is not None and value not in _RESTRICTIONS:
        raise BinanceError(-1145, "Invalid cancelRestrictions")
    return value


def cancel(
    venue: BinanceVenue,
    account: str,
    symbol: str,
    order_id: str | None,
    client_id: str | None,
    cancel_id: str | None,
    restrictions: str | None,
) -> Json:
    """Cancel one order (DELETE /api/v3/order, and the cancel half of cancelReplace); an
    orderId takes precedence over a client order id sent with it."""
    engine = venue.engine
    by_client = client_id if order_id is None else None
    try:
        order = engine.get(account, symbol, order_id=order_id, client_order_id=by_client)
        if restrictions and order.status is not _RESTRICTIONS[restrictions]:
            raise BinanceError(-2011, "Order was not canceled due to cancel restrictions.")
        order = engine.cancel(account, symbol, order_id=order.order_id, at=venue.server_datetime())
    except (UnknownOrder, OrderNotOpen):
        # Binance answers the same for an unknown order and one that is already final.
        raise BinanceError(-2011, "Unknown order sent.") from None
    venue.immediate_stops.pop(order.order_id, None)
    return _canceled(venue, order, cancel_id)


def _canceled(venue: BinanceVenue, order: Order, cancel_id: str | None) -> Json:
    meta = venue.meta[order.order_id]
    name = order.symbol.replace("-", "")
    return {
        "symbol": name,
        "origClientOrderId": meta.client_order_id,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": cancel_id or secrets.token_hex(11),
        "transactTime": ms(order.updated_at),
        **order_body(name, order, meta),
    }


def cancel_open_orders(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    """DELETE /api/v3/openOrders: every open order on the symbol, each as a cancel answers it."""
    symbol = venue.market(params.require("symbol")).rules.symbol
    params.check_all_read()
    at = venue.server_datetime()
    canceled = [
        venue.engine.cancel(account, symbol, order_id=o.order_id, at=at)
        for o in venue.engine.open_orders(account, symbol)
    ]
    for order in canceled:
        venue.immediate_stops.pop(order.order_id, None)
    if not canceled:  # Binance refuses a cancel-all with nothing to cancel
        raise BinanceError(-2011, "Unknown order sent.")
    return [_canceled(venue, o, None) for o in canceled]


def open_orders(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    name = params.get("symbol")
    symbol = venue.market(name).rules.symbol if name else None
    params.check_all_read()
    return [order_json(venue, account, o) for o in venue.engine.open_orders(account, symbol)]


def _window(params: Params) -> tuple[int | None, int | None, int]:
    """startTime and endTime in microseconds (either unit may be sent), at most 24 h apart."""
    start = params.micros("startTime")
    end = params.micros("endTime")
    limit = params.integer("limit", low=1) or 500
    if start is not None and end is not None:
        if end < start:
            raise BinanceError(-1127, "Lookup interval is too big.")
        if end - start > _DAY_US:
            raise BinanceError(-1127, "More than 24 hours between startTime and endTime.")
    return start, end, min(limit, 1000)


def _in_window(at: datetime, start: int | None, end: int | None) -> bool:
    at_us = ms(at) * 1000
    return (start is None or at_us >= start) and (end is None or at_us <= end)


def all_orders(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    market = venue.market(params.require("symbol"))
    from_id = params.integer("orderId", low=0)
    start, end, limit = _window(params)
    params.check_all_read()
    orders = [
        o
        for o in venue.engine.orders(account, market.rules.symbol)
        if _in_window(o.created_at, start, end) and (from_id is None or int(o.order_id) >= from_id)
    ]
    # From an id: the first `limit` from it; otherwise the most recent ones. Oldest first.
    picked = orders[:limit] if from_id is not None or start is not None else orders[-limit:]
    return [order_json(venue, account, o) for o in picked]


def my_trades(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    market = venue.market(params.require("symbol"))
    order_id = params.integer("orderId", low=0)
    from_id = params.integer("fromId", low=0)
    start, end, limit = _window(params)
    params.check_all_read()
    fills = [
        f
        for f in venue.engine.fills(account, market.rules.symbol)
        if _in_window(f.at, start, end)
        and (order_id is None or int(f.order_id) == order_id)
        and (from_id is None or int(f.trade_id) >= from_id)
    ]
    picked = fills[:limit] if from_id is not None or start is not None else fills[-limit:]
    return [
        {
            "symbol": market.config.name,
            "id": int(f.trade_id),
            "orderId": int(f.order_id),
            "orderListId": -1,
            "price": fmt(f.price),
            "qty": fmt(f.quantity),
            "quoteQty": fmt(f.price * f.quantity),
            "commission": fmt(f.fee),
            "commissionAsset": f.fee_asset,
            "time": ms(f.at),
            "isBuyer": f.side is Side.BUY,
            "isMaker": f.trade_id in venue.maker_trades,
            "isBestMatch": True,
        }
        for f in picked
    ]


def account_info(venue: BinanceVenue, account: str, params: Params) -> Json:
    omit_zero = (params.get("omitZeroBalances") or "false").lower() == "true"
    params.check_all_read()
    balances = [
        {"asset": b.asset, "free": fmt(b.free), "locked": fmt(b.locked)}
        for b in venue.engine.balances(account)
        if not omit_zero or b.total > 0
    ]
    maker, taker = venue.config.maker_fee, venue.config.taker_fee
    return {
        "makerCommission": int(maker * 10000),
        "takerCommission": int(taker * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": fmt(maker),
            "taker": fmt(taker),
            "buyer": fmt(_ZERO),
            "seller": fmt(_ZERO),
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": venue.server_ms(),
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": int(hashlib.sha256(account.encode()).hexdigest()[:8], 16),
    }


def api_restrictions(venue: BinanceVenue, account: str, params: Params) -> Json:
    """GET /sapi/v1/account/apiRestrictions: what this API key may do."""
    return {
        "ipRestrict": False,
        "createTime": venue.server_ms(),
        "enableReading": True,
        "enableSpotAndMarginTrading": True,
        "enableWithdrawals": venue.withdrawals.get(account, False),
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": False,
        "enableVanillaOptions": False,
        "enablePortfolioMarginTrading": False,
    }


def _burn_json(venue: BinanceVenue, account: str) -> Json:
    return {"spotBNBBurn": venue.engine.fee_asset(account) is not None, "interestBNBBurn": False}


def bnb_burn(venue: BinanceVenue, account: str, params: Params) -> Json:
    """GET /sapi/v1/bnbBurn: whether spot fees are paid in BNB (margin interest never is)."""
    params.check_all_read()
    return _burn_json(venue, account)


def set_bnb_burn(venue: BinanceVenue, account: str, params: Params) -> Json:
    """POST /sapi/v1/bnbBurn: switch paying spot fees in BNB ("true"/"false"), at least one of
    spotBNBBurn and interestBNBBurn sent."""
    spot = params.get("spotBNBBurn")
    interest = params.get("interestBNBBurn")
    params.check_all_read()
    if spot is None and interest is None:
        raise BinanceError(
            -1102,
            "Param 'spotBNBBurn' or 'interestBNBBurn' must be sent, but both were empty/null!",
        )
    for name, value in (("spotBNBBurn", spot), ("interestBNBBurn", interest)):
        if value is not None and value not in ("true", "false"):
            raise BinanceError(-1130, f"Invalid data sent for parameter '{name}'.")
    if spot is not None:
        venue.pay_fees_in_bnb(account, spot == "true")
    return _burn_json(venue, account)
