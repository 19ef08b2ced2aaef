"""The SIGNED trading endpoints: parameter checks and filters in Binance's order, the matching
engine underneath, answers in Binance's JSON."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from decimal import Decimal
from typing import Any

from domain.market import Order, OrderRequest, OrderType, Side
from domain.matching import (
    DuplicateClientOrderId,
    InsufficientFunds,
    OrderNotOpen,
    RuleViolation,
    UnknownOrder,
)
from simulators.binance.config import SymbolConfig
from simulators.binance.market import ms
from simulators.binance.venue import BinanceVenue, OrderMeta
from simulators.binance.wire import BinanceError, Params, fmt, mandatory

Json = dict[str, Any]
_ORDER_TYPES = {
    "LIMIT",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
    "LIMIT_MAKER",
}
_STP_MODES = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"}
_RULE_FILTER = {
    "price_range": "PRICE_FILTER",
    "price_tick": "PRICE_FILTER",
    "quantity_range": "LOT_SIZE",
    "lot_step": "LOT_SIZE",
    "notional": "NOTIONAL",
}
_ENGINE_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_ZERO = Decimal(0)


def _illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def _not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def engine_client_id(client_order_id: str) -> str:
    """Binance also allows '.', ':' and '/' in client ids; the engine's ids are stricter."""
    if _ENGINE_ID.match(client_order_id):
        return client_order_id
    return "h" + hashlib.sha256(client_order_id.encode()).hexdigest()[:35]


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_filters(
    c: SymbolConfig,
    kind: str,
    quantity: Decimal | None,
    quote_qty: Decimal | None,
    price: Decimal | None,
    last: Decimal,
) -> None:
    """PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE and NOTIONAL, as exchangeInfo announces them.

    filters.md: `price % tickSize == 0` and `quantity % stepSize == 0` (absolute multiples; the
    minimum only bounds), and each PRICE_FILTER part is disabled when it is 0."""
    if price is not None and (
        price < c.min_price
        or (c.max_price > 0 and price > c.max_price)
        or (c.tick_size > 0 and price % c.tick_size)
    ):
        raise _filter_failure("PRICE_FILTER")
    if quantity is not None:
        off_step = c.step_size > 0 and quantity % c.step_size
        if quantity < c.min_qty or quantity > c.max_qty or off_step:
            raise _filter_failure("LOT_SIZE")
        if kind == "MARKET" and quantity > c.market_max_qty:
            raise _filter_failure("MARKET_LOT_SIZE")
    notional = quote_qty if quote_qty is not None else (quantity or _ZERO) * (price or last)
    if notional < c.min_notional or notional > c.max_notional:
        raise _filter_failure("NOTIONAL")


def new_order(venue: BinanceVenue, account: str, params: Params) -> Json:
    market = venue.market(params.require("symbol"))
    side = params.require("side")
    kind = params.require("type")
    time_in_force = params.get("timeInForce")
    quantity = params.decimal("quantity")
    quote_qty = params.decimal("quoteOrderQty")
    price = params.decimal("price")
    client_order_id = params.client_order_id("newClientOrderId") or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(22)
    )
    resp_type = params.get("newOrderRespType") or "FULL"
    stp = params.get("selfTradePreventionMode")
    params.get("strategyId")
    params.get("strategyType")
    params.check_all_read()

    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    if kind not in _ORDER_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise _illegal("newOrderRespType", "ACK, RESULT, FULL")
    if stp is not None and stp not in _STP_MODES:
        raise _illegal("selfTradePreventionMode", ", ".join(sorted(_STP_MODES)))
    if kind not in ("LIMIT", "MARKET"):
        raise BinanceError(-2010, "Order type not supported for this symbol.")
    if kind == "LIMIT":
        for name, value in (
            ("timeInForce", time_in_force),
            ("quantity", quantity),
            ("price", price),
        ):
            if value is None:
                raise mandatory(name)
        if time_in_force not in ("GTC", "IOC", "FOK"):
            raise BinanceError(-1115, "Invalid timeInForce.")
        if quote_qty is not None:
            raise _not_required("quoteOrderQty")
    else:
        for name, value in (("price", price), ("timeInForce", time_in_force)):
            if value is not None:
                raise _not_required(name)
        if quantity is None and quote_qty is None:
            raise BinanceError(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if quantity is not None and quote_qty is not None:
            raise _not_required("quoteOrderQty")
    c = market.config
    for name, value, places in (
        ("quantity", quantity, c.base_precision),
        ("price", price, c.quote_precision),
        ("quoteOrderQty", quote_qty, c.quote_precision),
    ):
        if value is not None and _decimals(value) > places:
            raise BinanceError(-1111, f"Parameter '{name}' has too much precision.")
    _check_filters(c, kind, quantity, quote_qty, price, venue.price(c.name))
    venue.order_counter.charge(account, venue.server_time())

    request = OrderRequest(
        client_order_id=engine_client_id(client_order_id),
        symbol=c.domain_symbol,
        side=Side(side.lower()),
        type=OrderType(kind.lower()),
        quantity=quantity,
        quote_quantity=quote_qty,
        price=price,
    )
    at = venue.server_datetime()
    try:
        order = venue.engine.place(account, request, at)
    except DuplicateClientOrderId:
        raise BinanceError(-2010, "Duplicate order sent.") from None
    except InsufficientFunds:
        raise BinanceError(
            -2010, "Account has insufficient balance for requested action."
        ) from None
    except RuleViolation as exc:
        raise _filter_failure(_RULE_FILTER.get(exc.rule, "LOT_SIZE")) from None
    venue.stats.orders_placed += 1
    meta = OrderMeta(client_order_id, time_in_force, quote_qty or _ZERO)
    venue.meta[order.order_id] = meta
    fills = [
        f for f in venue.engine.fills(account, c.domain_symbol) if f.order_id == order.order_id
    ]
    venue.record(fills)
    if time_in_force in ("IOC", "FOK") and not order.status.is_final:
        # Immediate fills here are whole, so FOK and IOC both expire whatever did not fill.
        order = venue.engine.cancel(account, c.domain_symbol, order_id=order.order_id, at=at)
        meta.expired = True

    ack: Json = {
        "symbol": c.name,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": client_order_id,
        "transactTime": ms(order.updated_at),
    }
    if resp_type == "ACK":
        return ack
    result = {**ack, **_order_body(c.name, order, meta), "workingTime": ms(order.created_at)}
    if resp_type == "FULL":
        result["fills"] = [
            {
                "price": fmt(f.price),
                "qty": fmt(f.quantity),
                "commission": fmt(f.fee),
                "commissionAsset": f.fee_asset,
                "tradeId": int(f.trade_id),
            }
            for f in fills
        ]
    return result


def _order_body(name: str, order: Order, meta: OrderMeta) -> Json:
    return {
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


def order_json(venue: BinanceVenue, order: Order) -> Json:
    """An order as GET /api/v3/order, /openOrders and /allOrders show it."""
    meta = venue.meta[order.order_id]
    name = order.symbol.replace("-", "")
    return {
        "symbol": name,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": meta.client_order_id,
        **_order_body(name, order, meta),
        "stopPrice": fmt(_ZERO),
        "icebergQty": fmt(_ZERO),
        "time": ms(order.created_at),
        "updateTime": ms(order.updated_at),
        "isWorking": True,
        "workingTime": ms(order.created_at),
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
    return order_json(venue, order)


def cancel_order(venue: BinanceVenue, account: str, params: Params) -> Json:
    market = venue.market(params.require("symbol"))
    order_id, client_id = _order_ref(params)
    cancel_id = params.client_order_id("newClientOrderId")
    params.get("cancelRestrictions")
    params.check_all_read()
    try:
        order = venue.engine.cancel(
            account,
            market.rules.symbol,
            order_id=order_id,
            client_order_id=client_id,
            at=venue.server_datetime(),
        )
    except (UnknownOrder, OrderNotOpen):
        # Binance answers the same for an unknown order and one that is already final.
        raise BinanceError(-2011, "Unknown order sent.") from None
    meta = venue.meta[order.order_id]
    return {
        "symbol": market.config.name,
        "origClientOrderId": meta.client_order_id,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": cancel_id or secrets.token_hex(11),
        "transactTime": ms(order.updated_at),
        **_order_body(market.config.name, order, meta),
    }


def open_orders(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    name = params.get("symbol")
    symbol = venue.market(name).rules.symbol if name else None
    params.check_all_read()
    return [order_json(venue, o) for o in venue.engine.open_orders(account, symbol)]


def _window(params: Params) -> tuple[int | None, int | None, int]:
    start = params.integer("startTime", low=0)
    end = params.integer("endTime", low=0)
    limit = params.integer("limit", low=1) or 500
    if start is not None and end is not None and end < start:
        raise BinanceError(-1127, "Lookup interval is too big.")
    return start, end, min(limit, 1000)


def _in_window(at_ms: int, start: int | None, end: int | None) -> bool:
    return (start is None or at_ms >= start) and (end is None or at_ms <= end)


def all_orders(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    market = venue.market(params.require("symbol"))
    from_id = params.integer("orderId", low=0)
    start, end, limit = _window(params)
    params.check_all_read()
    orders = [
        o
        for o in venue.engine.orders(account, market.rules.symbol)
        if _in_window(ms(o.created_at), start, end)
        and (from_id is None or int(o.order_id) >= from_id)
    ]
    # From an id: the first `limit` from it; otherwise the most recent ones. Oldest first.
    picked = orders[:limit] if from_id is not None or start is not None else orders[-limit:]
    return [order_json(venue, o) for o in picked]


def my_trades(venue: BinanceVenue, account: str, params: Params) -> list[Json]:
    market = venue.market(params.require("symbol"))
    order_id = params.integer("orderId", low=0)
    from_id = params.integer("fromId", low=0)
    start, end, limit = _window(params)
    params.check_all_read()
    fills = [
        f
        for f in venue.engine.fills(account, market.rules.symbol)
        if _in_window(ms(f.at), start, end)
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
