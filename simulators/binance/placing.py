"""POST /api/v3/order and POST /api/v3/order/test: parameter checks and filters in Binance's
order, then (for a real order) the matching engine, answered in Binance's JSON."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.market import Fill, Order, OrderRequest, OrderType, Side
from domain.matching import (
    DuplicateClientOrderId,
    InsufficientFunds,
    RuleViolation,
    WouldTake,
    WouldTrigger,
)
from simulators.binance.config import SymbolConfig
from simulators.binance.filters import check_filters, filter_failure
from simulators.binance.market import ms
from simulators.binance.trading import engine_client_id, order_body
from simulators.binance.venue import BinanceVenue, OrderMeta
from simulators.binance.wire import BinanceError, Params, fmt, mandatory

Json = dict[str, Any]
_ZERO = Decimal(0)
_SUPPORTED = {"LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT"}
_UNSUPPORTED = {  # types the simulated symbols do not enable (errors.md's messages)
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}
ORDER_TYPES = sorted(_SUPPORTED)  # exchangeInfo's orderTypes
_STP_MODES = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"}
_RULE_FILTER = {
    "price_range": "PRICE_FILTER",
    "price_tick": "PRICE_FILTER",
    "quantity_range": "LOT_SIZE",
    "lot_step": "LOT_SIZE",
    "notional": "NOTIONAL",
}
# rest-api.md's additional mandatory parameters by type (STOP_LOSS_LIMIT's stopPrice, and
# MARKET's quantity or quoteOrderQty, are checked apart), and the optional ones it also takes:
# anything else is -1106.
_MANDATORY = {
    "LIMIT": ("timeInForce", "quantity", "price"),
    "LIMIT_MAKER": ("quantity", "price"),
    "STOP_LOSS_LIMIT": ("timeInForce", "quantity", "price"),
    "MARKET": (),
}
_OPTIONAL = {
    "LIMIT": ("icebergQty",),
    "LIMIT_MAKER": ("icebergQty",),
    "STOP_LOSS_LIMIT": ("stopPrice", "icebergQty"),
    "MARKET": ("quantity", "quoteOrderQty"),
}


def _illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def _not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _rejected(msg: str) -> BinanceError:
    return BinanceError(-2010, msg)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass(frozen=True)
class Draft:
    """A new order that passed every check before the matching engine."""

    config: SymbolConfig
    side: str
    kind: str
    time_in_force: str | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    iceberg_qty: Decimal | None
    client_order_id: str
    resp_type: str


def _check_type_params(kind: str, sent: dict[str, object]) -> None:
    """-1102 for a mandatory parameter missing, -1106 for one the type does not take."""
    for name in _MANDATORY[kind]:
        if sent[name] is None:
            raise mandatory(name)
    if kind == "MARKET":
        if sent["quantity"] is None and sent["quoteOrderQty"] is None:
            raise BinanceError(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if sent["quantity"] is not None and sent["quoteOrderQty"] is not None:
            raise _not_required("quoteOrderQty")
    if kind == "STOP_LOSS_LIMIT" and sent["stopPrice"] is None:
        raise BinanceError(
            -1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"
        )
    takes = {*_MANDATORY[kind], *_OPTIONAL[kind]}
    for name, value in sent.items():
        if value is not None and name not in takes:
            raise _not_required(name)


def draft(venue: BinanceVenue, params: Params) -> Draft:
    """Read and check a new order's parameters (the caller has read its own ones first)."""
    market = venue.market(params.require("symbol"))
    side = params.require("side")
    kind = params.require("type")
    time_in_force = params.get("timeInForce")
    quantity = params.decimal("quantity")
    quote_qty = params.decimal("quoteOrderQty")
    price = params.decimal("price")
    stop_price = params.decimal("stopPrice")
    iceberg_qty = params.decimal("icebergQty")
    trailing = params.get("trailingDelta")
    client_order_id = params.client_order_id("newClientOrderId") or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(22)
    )
    resp_type = params.get("newOrderRespType") or ("FULL" if kind in ("LIMIT", "MARKET") else "ACK")
    stp = params.get("selfTradePreventionMode")
    params.get("strategyId")
    params.get("strategyType")
    params.check_all_read()

    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    if kind in _UNSUPPORTED:
        raise _rejected(_UNSUPPORTED[kind])
    if kind not in _SUPPORTED:
        raise BinanceError(-1116, "Invalid orderType.")
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise _illegal("newOrderRespType", "ACK, RESULT, FULL")
    if stp is not None and stp not in _STP_MODES:
        raise _illegal("selfTradePreventionMode", ", ".join(sorted(_STP_MODES)))
    if trailing is not None:
        raise _rejected("Trailing stop orders are not supported for this symbol.")
    _check_type_params(
        kind,
        {
            "timeInForce": time_in_force,
            "quantity": quantity,
            "quoteOrderQty": quote_qty,
            "price": price,
            "stopPrice": stop_price,
            "icebergQty": iceberg_qty,
        },
    )
    if time_in_force is not None and time_in_force not in ("GTC", "IOC", "FOK"):
        raise BinanceError(-1115, "Invalid timeInForce.")
    c = market.config
    for name, value, places in (
        ("quantity", quantity, c.base_precision),
        ("price", price, c.quote_precision),
        ("quoteOrderQty", quote_qty, c.quote_precision),
        ("stopPrice", stop_price, c.quote_precision),
        ("icebergQty", iceberg_qty, c.base_precision),
    ):
        if value is not None and _decimals(value) > places:
            raise BinanceError(-1111, f"Parameter '{name}' has too much precision.")
    check_filters(
        c,
        kind=kind,
        side=side,
        quantity=quantity,
        quote_qty=quote_qty,
        price=price,
        stop_price=stop_price,
        iceberg_qty=iceberg_qty,
        last=venue.price(c.name),
        average=venue.average_price(c.name) if price is not None else _ZERO,
    )
    if iceberg_qty is not None:
        if time_in_force not in (None, "GTC"):  # rest-api.md: an iceberg order must be GTC
            raise _rejected("Unsupported order combination")
        if quantity is not None and iceberg_qty >= quantity:
            raise _rejected("IcebergQty exceeds QTY.")
    return Draft(
        c,
        side,
        kind,
        time_in_force,
        quantity,
        quote_qty,
        price,
        stop_price,
        iceberg_qty,
        client_order_id,
        resp_type,
    )


def order_test(venue: BinanceVenue, account: str, params: Params) -> Json:
    """Checked like a real order, never sent to the matching engine (so neither balance nor
    order count is touched); with computeCommissionRates, the rates the order would pay."""
    compute = params.get("computeCommissionRates") or "false"
    if compute not in ("true", "false"):
        raise _illegal("computeCommissionRates", "true, false")
    draft(venue, params)
    if compute == "false":
        return {}
    maker, taker = venue.config.maker_fee, venue.config.taker_fee
    none = {"maker": fmt(_ZERO), "taker": fmt(_ZERO)}
    return {
        "standardCommissionForOrder": {"maker": fmt(maker), "taker": fmt(taker)},
        "specialCommissionForOrder": none,
        "taxCommissionForOrder": none,
        "discount": {
            "enabledForAccount": venue.engine.fee_asset(account) is not None,
            "enabledForSymbol": True,
            "discountAsset": "BNB",
            "discount": fmt(venue.config.bnb_discount),
        },
    }


def new_order(venue: BinanceVenue, account: str, params: Params) -> Json:
    d = draft(venue, params)
    venue.order_counter.charge(account, venue.server_time())
    return place(venue, account, d)


def place(venue: BinanceVenue, account: str, d: Draft) -> Json:
    """Send a checked order to the matching engine; its refusals as Binance words them."""
    c = d.config
    request = OrderRequest(
        client_order_id=engine_client_id(d.client_order_id),
        symbol=c.domain_symbol,
        side=Side(d.side.lower()),
        type=OrderType(d.kind.lower()),
        quantity=d.quantity,
        quote_quantity=d.quote_qty,
        price=d.price,
        stop_price=d.stop_price,
    )
    at = venue.server_datetime()
    try:
        order = venue.engine.place(account, request, at)
    except DuplicateClientOrderId:
        raise _rejected("Duplicate order sent.") from None
    except InsufficientFunds:
        raise _rejected("Account has insufficient balance for requested action.") from None
    except WouldTake:
        raise _rejected("Order would immediately match and take.") from None
    except WouldTrigger:
        raise _rejected("Order would trigger immediately.") from None
    except RuleViolation as exc:
        raise filter_failure(_RULE_FILTER.get(exc.rule, "LOT_SIZE")) from None
    venue.stats.orders_placed += 1
    meta = OrderMeta(
        d.client_order_id, d.time_in_force, d.quote_qty or _ZERO, iceberg_qty=d.iceberg_qty
    )
    venue.meta[order.order_id] = meta
    fills = [
        f for f in venue.engine.fills(account, c.domain_symbol) if f.order_id == order.order_id
    ]
    venue.record(fills)
    if d.time_in_force in ("IOC", "FOK") and not order.status.is_final:
        if d.stop_price is not None:  # the time in force applies once the stop triggers
            venue.immediate_stops[order.order_id] = (account, c.domain_symbol)
        else:
            # Immediate fills here are whole, so FOK and IOC both expire whatever did not fill.
            order = venue.engine.cancel(account, c.domain_symbol, order_id=order.order_id, at=at)
            meta.expired = True
    return _answer(venue, account, d, order, fills)


def _answer(venue: BinanceVenue, account: str, d: Draft, order: Order, fills: list[Fill]) -> Json:
    ack: Json = {
        "symbol": d.config.name,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": d.client_order_id,
        "transactTime": ms(order.updated_at),
    }
    if d.resp_type == "ACK":
        return ack
    since = venue.engine.working_since(account, order.symbol, order.order_id)
    result = {
        **ack,
        **order_body(d.config.name, order, venue.meta[order.order_id]),
        "workingTime": ms(since) if since else -1,
    }
    if d.resp_type == "FULL":
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
