"""POST /api/v3/order and POST /api/v3/order/test: parameter checks and filters in Binance's
order, then (for a real order) the matching engine, answered in Binance's JSON."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.market import OrderRequest, OrderType, Side
from domain.matching import DuplicateClientOrderId, InsufficientFunds, RuleViolation
from simulators.binance.config import SymbolConfig
from simulators.binance.market import ms
from simulators.binance.trading import engine_client_id, order_body
from simulators.binance.venue import BinanceVenue, OrderMeta
from simulators.binance.wire import BinanceError, Params, fmt, mandatory

Json = dict[str, Any]
_ZERO = Decimal(0)
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


def _illegal(name: str, legal: str) -> BinanceError:
    return BinanceError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def _not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


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


@dataclass(frozen=True)
class _Draft:
    """A new order that passed every check before the matching engine."""

    config: SymbolConfig
    side: str
    kind: str
    time_in_force: str | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_order_id: str
    resp_type: str


def _draft(venue: BinanceVenue, params: Params) -> _Draft:
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
    return _Draft(
        c, side, kind, time_in_force, quantity, quote_qty, price, client_order_id, resp_type
    )


def order_test(venue: BinanceVenue, account: str, params: Params) -> Json:
    """Checked like a real order, never sent to the matching engine (so neither balance nor
    order count is touched); with computeCommissionRates, the rates the order would pay."""
    compute = params.get("computeCommissionRates") or "false"
    if compute not in ("true", "false"):
        raise _illegal("computeCommissionRates", "true, false")
    _draft(venue, params)
    if compute == "false":
        return {}
    maker, taker = venue.config.maker_fee, venue.config.taker_fee
    none = {"maker": fmt(_ZERO), "taker": fmt(_ZERO)}
    return {
        "standardCommissionForOrder": {"maker": fmt(maker), "taker": fmt(taker)},
        "specialCommissionForOrder": none,
        "taxCommissionForOrder": none,
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": fmt(_ZERO),
        },
    }


def new_order(venue: BinanceVenue, account: str, params: Params) -> Json:
    d = _draft(venue, params)
    c = d.config
    venue.order_counter.charge(account, venue.server_time())
    request = OrderRequest(
        client_order_id=engine_client_id(d.client_order_id),
        symbol=c.domain_symbol,
        side=Side(d.side.lower()),
        type=OrderType(d.kind.lower()),
        quantity=d.quantity,
        quote_quantity=d.quote_qty,
        price=d.price,
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
    meta = OrderMeta(d.client_order_id, d.time_in_force, d.quote_qty or _ZERO)
    venue.meta[order.order_id] = meta
    fills = [
        f for f in venue.engine.fills(account, c.domain_symbol) if f.order_id == order.order_id
    ]
    venue.record(fills)
    if d.time_in_force in ("IOC", "FOK") and not order.status.is_final:
        # Immediate fills here are whole, so FOK and IOC both expire whatever did not fill.
        order = venue.engine.cancel(account, c.domain_symbol, order_id=order.order_id, at=at)
        meta.expired = True

    ack: Json = {
        "symbol": c.name,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": d.client_order_id,
        "transactTime": ms(order.updated_at),
    }
    if d.resp_type == "ACK":
        return ack
    result = {**ack, **order_body(c.name, order, meta), "workingTime": ms(order.created_at)}
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
