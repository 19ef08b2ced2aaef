"""Account and trading routes (Bearer token). Check order as on MB: route, auth, account, body."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter, Request

from domain.market import Order, Side, Symbol
from domain.matching import OrderNotOpen, UnknownOrder
from simulators.mercadobitcoin import orders as place_rules
from simulators.mercadobitcoin.deps import (
    VenueDep,
    caller_account,
    json_body,
    public_market,
    route_symbol,
    throttle,
)
from simulators.mercadobitcoin.state import Venue
from simulators.mercadobitcoin.wire import WIRE_TYPES, MbError, MbJSON, invalid_parameter, money
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


@dataclass(frozen=True)
class _Filters:
    """The list filters of MB's order lists (v4 docs: status, side, has_executions, id_from,
    id_to, created_at_from/to, executed_at_from/to). Bounds are inclusive; ids compare as
    ULIDs (in creation order), times are Unix seconds (UTC)."""

    status: set[str] | None = None
    side: str | None = None
    has_executions: bool | None = None
    id_from: str | None = None
    id_to: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    executed_from: datetime | None = None
    executed_to: datetime | None = None

    @classmethod
    def read(cls, request: Request, module: str) -> _Filters:
        q = request.query_params

        def when(name: str) -> datetime | None:
            text = q.get(name)
            if not text:
                return None
            if not text.isdigit():
                raise invalid_parameter(f"TRADING|{module}")
            return datetime.fromtimestamp(int(text), tz=UTC)

        side, executions = q.get("side") or None, q.get("has_executions") or None
        if side not in (None, "buy", "sell") or executions not in (None, "true", "false"):
            raise invalid_parameter(f"TRADING|{module}")
        return cls(
            status=_status_filter(q.get("status")),
            side=side,
            has_executions=None if executions is None else executions == "true",
            id_from=q.get("id_from") or None,
            id_to=q.get("id_to") or None,
            created_from=when("created_at_from"),
            created_to=when("created_at_to"),
            executed_from=when("executed_at_from"),
            executed_to=when("executed_at_to"),
        )

    def keep(self, venue: Venue, account_id: str, order: Order) -> bool:
        public = venue.public(order)
        created = order.created_at.replace(microsecond=0)  # MB's times are whole seconds
        executed = [at.replace(microsecond=0) for at in venue.executed_at(account_id, order)]
        return (
            (self.status is None or wire_status(order) in self.status)
            and (self.side is None or order.side.value == self.side)
            and (self.has_executions is None or bool(executed) == self.has_executions)
            and (self.id_from is None or public.order_id >= self.id_from)
            and (self.id_to is None or public.order_id <= self.id_to)
            and (self.created_from is None or created >= self.created_from)
            and (self.created_to is None or created <= self.created_to)
            and (self.executed_from is None or any(t >= self.executed_from for t in executed))
            and (self.executed_to is None or any(t <= self.executed_to for t in executed))
        )


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
    return MbJSON({"orderId": venue.public(order).order_id})


async def _hold(venue: Venue, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(venue.shutdown.wait(), seconds)


@router.get("/{account_id}/{symbol}/orders")
async def list_orders(venue: VenueDep, request: Request, account_id: str, symbol: str) -> MbJSON:
    """Most recent first, with executions, filtered as the query asks."""
    name = route_symbol(symbol)
    throttle(venue, request, "list_orders")
    caller_account(venue, request, account_id)
    _known_market(venue, name, "LIST_ORDERS")
    filters = _Filters.read(request, "LIST_ORDERS")
    return MbJSON(
        [
            venue.document(account_id, order)
            for order in _newest_first(venue.engine.orders(account_id, name))
            if filters.keep(venue, account_id, order)
        ]
    )


@router.get("/{account_id}/{symbol}/orders/{order_id}")
async def get_order(
    venue: VenueDep, request: Request, account_id: str, symbol: str, order_id: str
) -> MbJSON:
    name = route_symbol(symbol)
    throttle(venue, request, "get_order")
    caller_account(venue, request, account_id)
    _known_market(venue, name, "GET_ORDER")
    try:
        order = venue.engine.get(account_id, name, order_id=_engine_id(venue, account_id, order_id))
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
        engine_id = _engine_id(venue, account_id, order_id)
        venue.engine.cancel(account_id, name, order_id=engine_id, at=venue.clock.now())
    except UnknownOrder:
        raise MbError(400, "TRADING|CANCEL_ORDER|ORDER_NOT_FOUND", "Order not found") from None
    except OrderNotOpen:
        raise MbError(
            400, "TRADING|CANCEL_ORDER|INVALID_STATUS", "Order status is invalid"
        ) from None
    # Live MB answers {} to a plain cancel; {"status": "queued_to_cancel"} with async=true.
    queued = request.query_params.get("async") == "true"
    return MbJSON({"status": "queued_to_cancel"} if queued else {})


def _engine_id(venue: Venue, account_id: str, public_id: str) -> str:
    engine_id = venue.engine_id(account_id, public_id)
    if engine_id is None:
        raise UnknownOrder(public_id)
    return engine_id


@router.get("/{account_id}/orders")
async def list_all_orders(
    venue: VenueDep,
    request: Request,
    account_id: str,
    symbol: str | None = None,
    size: int | None = None,
) -> MbJSON:
    """Every market's orders (or `symbol`'s), most recent first, filtered like the per-market
    list; one call answers "which of my orders are still working" for the whole account."""
    throttle(venue, request, "list_all_orders")
    caller_account(venue, request, account_id)
    filters = _Filters.read(request, "LIST_ALL_ORDERS")
    markets = [route_symbol(symbol)] if symbol else list(venue.engine.markets)
    found = [
        o for m in markets if m in venue.engine.markets for o in venue.engine.orders(account_id, m)
    ]
    items = [
        venue.item(account_id, o)
        for o in _newest_first(found)
        if filters.keep(venue, account_id, o)
    ]
    return MbJSON({"items": items[:size] if size else items})


@router.get("/{account_id}/positions")
async def positions(
    venue: VenueDep, request: Request, account_id: str, symbols: str | None = None
) -> MbJSON:
    """Open orders as MB's positions: id, instrument, side, category (the order type), qty
    and avgPrice (of what filled so far; 0 before any fill); `symbols` narrows the markets."""
    throttle(venue, request, "account")
    caller_account(venue, request, account_id)
    wanted = None
    if symbols:
        wanted = {public_market(venue, s) for s in symbols.split(",")}
    rows = []
    for order in _newest_first(venue.engine.open_orders(account_id)):
        if wanted is not None and order.symbol not in wanted:
            continue
        rows.append(
            {
                "id": venue.public(order).order_id,
                "instrument": order.symbol,
                "side": order.side.value,
                "category": WIRE_TYPES[order.type],
                "qty": money(order.quantity),
                "avgPrice": order.average_price or Decimal(0),
            }
        )
    return MbJSON(rows)


@router.delete("/{account_id}/cancel_all_open_orders")
async def cancel_all(
    venue: VenueDep, request: Request, account_id: str, symbol: str | None = None
) -> MbJSON:
    throttle(venue, request, "cancel_all")
    caller_account(venue, request, account_id)
    target = route_symbol(symbol) if symbol else None
    executions = request.query_params.get("has_executions")
    out = []
    for order in venue.engine.open_orders(account_id, target):
        if executions is not None and (order.filled_quantity > 0) != (executions == "true"):
            continue
        venue.engine.cancel(account_id, order.symbol, order_id=order.order_id, at=venue.clock.now())
        base, quote = order.symbol.split("-")
        out.append(
            {
                "crypto": base,
                "fiat": quote,
                "order_id": venue.public(order).order_id,
                "order_type": WIRE_TYPES[order.type],
                "side": "BID" if order.side is Side.BUY else "ASK",
                "status": "queued_to_cancel",
            }
        )
    return MbJSON(out)
