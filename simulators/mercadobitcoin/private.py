"""Account and trading routes (Bearer token). Check order as on MB: route, auth, account, body."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from fastapi import APIRouter, Request

from domain.market import Order, Side, Symbol
from domain.matching import OrderNotOpen, UnknownOrder
from simulators.mercadobitcoin import orders as place_rules
from simulators.mercadobitcoin.deps import (
    VenueDep,
    caller_account,
    json_body,
    route_symbol,
    throttle,
)
from simulators.mercadobitcoin.state import Venue
from simulators.mercadobitcoin.wire import MbError, MbJSON, money
from simulators.mercadobitcoin.wire import status as wire_status

router = APIRouter(prefix="/accounts")
_STATUSES = {"created", "working", "cancelled", "filled"}


def _known_market(venue: Venue, symbol: str, module: str) -> None:
    if symbol not in venue.engine.markets:
        raise MbError(400, f"TRADING|{module}|INVALID_PAIR", "{Base} or {Quote} is invalid")


def _status_filter(text: str | None) -> set[str] | None:
    if not text:
        return None
    wanted = set(text.split(","))
    if not wanted <= _STATUSES:
        raise MbError(400, "TRADING|LIST_ORDERS|INVALID_STATUS_VALUE", "Status value is invalid")
    return wanted


def _newest_first(orders: list[Order]) -> list[Order]:
    return sorted(orders, key=lambda o: (o.created_at, int(o.order_id)), reverse=True)


@router.get("")
async def list_accounts(venue: VenueDep, request: Request) -> MbJSON:
    throttle(venue, request, "account")
    login = venue.tokens.verify(request.headers.get("authorization"))
    account = venue.accounts[login]
    return MbJSON(
        [
            {
                "id": account.account_id,
                "name": "Mercado Bitcoin",
                "type": "live",
                "currency": "BRL",
                "currencySign": "R$",
            }
        ]
    )


@router.get("/{account_id}/balances")
async def balances(venue: VenueDep, request: Request, account_id: str) -> MbJSON:
    """Every asset the venue lists, zero or not, as MB does."""
    throttle(venue, request, "account")
    caller_account(venue, request, account_id)
    held = {b.asset: b for b in venue.engine.balances(account_id)}
    assets = sorted({a for s in venue.engine.markets for a in s.split("-")} | held.keys())
    rows = []
    for asset in assets:
        free = held[asset].free if asset in held else Decimal(0)
        locked = held[asset].locked if asset in held else Decimal(0)
        rows.append(
            {
                "symbol": asset,
                "available": money(free),
                "on_hold": money(locked),
                "total": money(free + locked),
            }
        )
    return MbJSON(rows)


@router.get("/{account_id}/{symbol}/fees")
async def trading_fees(venue: VenueDep, request: Request, account_id: str, symbol: str) -> MbJSON:
    name = route_symbol(symbol)
    throttle(venue, request, "account")
    caller_account(venue, request, account_id)
    _known_market(venue, name, "GET_FEES")
    parsed = Symbol.parse(name)
    fees = venue.config.fees
    return MbJSON(
        {
            "base": parsed.base,
            "quote": parsed.quote,
            "maker_fee": money(fees.maker),
            "taker_fee": money(fees.taker),
        }
    )


@router.post("/{account_id}/{symbol}/orders")
async def place_order(venue: VenueDep, request: Request, account_id: str, symbol: str) -> MbJSON:
    name = route_symbol(symbol)
    throttle(venue, request, "place_cancel")
    caller_account(venue, request, account_id)
    body = place_rules.parse(await json_body(request))
    hold, venue.faults.order_hold = venue.faults.order_hold, 0.0
    if hold:  # Injected fault: the order waits inside the venue, then is placed.
        await _hold(venue, hold)
    order = venue.place(account_id, name, body)
    delay, venue.faults.order_delay = venue.faults.order_delay, 0.0
    if delay:  # Injected fault: the order exists, but its answer comes too late for the caller.
        await _hold(venue, delay)
    return MbJSON({"orderId": order.order_id})


async def _hold(venue: Venue, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(venue.shutdown.wait(), seconds)


@router.get("/{account_id}/{symbol}/orders")
async def list_orders(
    venue: VenueDep,
    request: Request,
    account_id: str,
    symbol: str,
    status: str | None = None,
    side: str | None = None,
    has_executions: str | None = None,
) -> MbJSON:
    """Most recent first, with executions."""
    name = route_symbol(symbol)
    throttle(venue, request, "list_orders")
    caller_account(venue, request, account_id)
    _known_market(venue, name, "LIST_ORDERS")
    wanted = _status_filter(status)
    rows = []
    for order in _newest_first(venue.engine.orders(account_id, name)):
        if wanted is not None and wire_status(order) not in wanted:
            continue
        if side is not None and order.side.value != side:
            continue
        if has_executions is not None and (order.filled_quantity > 0) != (has_executions == "true"):
            continue
        rows.append(venue.document(account_id, order))
    return MbJSON(rows)


@router.get("/{account_id}/{symbol}/orders/{order_id}")
async def get_order(
    venue: VenueDep, request: Request, account_id: str, symbol: str, order_id: str
) -> MbJSON:
    name = route_symbol(symbol)
    throttle(venue, request, "get_order")
    caller_account(venue, request, account_id)
    _known_market(venue, name, "GET_ORDER")
    try:
        order = venue.engine.get(account_id, name, order_id=order_id)
    except UnknownOrder:
        raise MbError(400, "TRADING|GET_ORDER|ORDER_NOT_FOUND", "Order not found") from None
    return MbJSON(venue.document(account_id, order))


@router.delete("/{account_id}/{symbol}/orders/{order_id}")
async def cancel_order(
    venue: VenueDep,
    request: Request,
    account_id: str,
    symbol: str,
    order_id: str,
) -> MbJSON:
    name = route_symbol(symbol)
    throttle(venue, request, "place_cancel")
    caller_account(venue, request, account_id)
    _known_market(venue, name, "CANCEL_ORDER")
    try:
        venue.engine.cancel(account_id, name, order_id=order_id, at=venue.clock.now())
    except UnknownOrder:
        raise MbError(400, "TRADING|CANCEL_ORDER|ORDER_NOT_FOUND", "Order not found") from None
    except OrderNotOpen:
        raise MbError(
            400, "TRADING|CANCEL_ORDER|INVALID_STATUS", "Order status is invalid"
        ) from None
    # Live MB answers {} to a plain cancel; {"status": "queued_to_cancel"} with async=true.
    queued = request.query_params.get("async") == "true"
    return MbJSON({"status": "queued_to_cancel"} if queued else {})


@router.get("/{account_id}/orders")
async def list_all_orders(
    venue: VenueDep,
    request: Request,
    account_id: str,
    symbol: str | None = None,
    status: str | None = None,
    size: int | None = None,
) -> MbJSON:
    throttle(venue, request, "list_all_orders")
    caller_account(venue, request, account_id)
    wanted = _status_filter(status)
    markets = [route_symbol(symbol)] if symbol else list(venue.engine.markets)
    found = [
        o for m in markets if m in venue.engine.markets for o in venue.engine.orders(account_id, m)
    ]
    items = [
        venue.item(account_id, o)
        for o in _newest_first(found)
        if wanted is None or wire_status(o) in wanted
    ]
    return MbJSON({"items": items[:size] if size else items})


@router.delete("/{account_id}/cancel_all_open_orders")
async def cancel_all(
    venue: VenueDep, request: Request, account_id: str, symbol: str | None = None
) -> MbJSON:
    throttle(venue, request, "cancel_all")
    caller_account(venue, request, account_id)
    target = route_symbol(symbol) if symbol else None
    out = []
    for order in venue.engine.open_orders(account_id, target):
        venue.engine.cancel(account_id, order.symbol, order_id=order.order_id, at=venue.clock.now())
        base, quote = order.symbol.split("-")
        out.append(
            {
                "crypto": base,
                "fiat": quote,
                "order_id": order.order_id,
                "order_type": order.type.value,
                "side": "BID" if order.side is Side.BUY else "ASK",
                "status": "queued_to_cancel",
            }
        )
    return MbJSON(out)
