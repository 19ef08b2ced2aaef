"""Binance's WebSocket API (web-socket-api.md) at ``/ws-api/v3``, for what the user data stream
needs: requests ``{"id", "method", "params"}`` answered ``{"id", "status", "result" | "error":
{"code", "msg"}, "rateLimits"}``; ``ping``, ``time``, ``userDataStream.subscribe.signature``
(HMAC over the params sorted by name, as SIGNED requests are signed; answers
``{"subscriptionId": n}``), ``userDataStream.unsubscribe`` (one subscription, or all),
``session.subscriptions``. ``userDataStream.subscribe`` needs a ``session.logon`` with an Ed25519
key, which the simulator does not offer (HMAC keys only).

Events of a subscription arrive as ``{"subscriptionId": n, "event": {...}}``: ``executionReport``
(user-data-stream.md: NEW, TRADE with the fill's quantity, price, commission and trade id,
CANCELED, EXPIRED), ``balanceUpdate`` for a deposit, and ``outboundAccountPosition`` with the
balances that changed.

The venue calls its listeners after anything may have changed; `UserDataHub.report` then
compares each subscribed account with what it last reported: balances and the number of orders
placed first (cheap: every placement, fill and cancel moves one of them), then only the markets
of the assets that moved or of the orders placed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from domain.market import Fill, Order, OrderStatus, OrderType
from simulators.binance.auth import api_key_account, verify
from simulators.binance.limits import interval_of
from simulators.binance.market import SymbolMarket, ms
from simulators.binance.venue import BinanceVenue
from simulators.binance.wire import BinanceError, Params, fmt

Json = dict[str, Any]
_ZERO = Decimal(0)
_WEIGHTS = {
    "ping": 1,
    "time": 1,
    "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2,
    "session.subscriptions": 2,
}
CONNECT_WEIGHT = 2


@dataclass
class _Seen:
    """What the stream last told of one order."""

    filled: Decimal = _ZERO
    quote: Decimal = _ZERO
    final: bool = False


class _AccountView:
    """One account as its subscribers last heard of it."""

    def __init__(self, venue: BinanceVenue, account: str) -> None:
        self.venue = venue
        self.account = account
        self.balances = self._balances()
        self.fills_seen: dict[str, int] = {}
        self.orders: dict[str, _Seen] = {}
        engine = venue.engine
        self.placed = len(engine.orders_from(account, 0))
        for market in venue.markets.values():
            symbol = market.rules.symbol
            self.fills_seen[symbol] = len(engine.fills(account, symbol))
            for order in engine.orders(account, symbol):
                self.orders[order.order_id] = _Seen(
                    order.filled_quantity, order.quote_quantity, order.status.is_final
                )

    def _balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {b.asset: (b.free, b.locked) for b in self.venue.engine.balances(self.account)}

    def changes(self, hub: UserDataHub) -> list[Json]:
        balances = self._balances()
        placed = self.venue.engine.orders_from(self.account, self.placed)
        if balances == self.balances and not placed:
            return []
        self.placed += len(placed)
        moved = {
            a
            for a in balances.keys() | self.balances.keys()
            if balances.get(a) != self.balances.get(a)
        }
        # An order placed and expired in one request (IOC, FOK) moves no balance.
        touched = {o.symbol for o in placed}
        before, self.balances = self.balances, balances
        events: list[Json] = []
        for market in self.venue.markets.values():
            config = market.config
            if config.base in moved or config.quote in moved or market.rules.symbol in touched:
                events += self._market(hub, market)
        now = self.venue.server_ms()
        if not moved:
            return events
        if not events:  # no order moved it: a deposit (or withdrawal)
            for asset in sorted(moved):
                new, old = balances.get(asset, (_ZERO, _ZERO)), before.get(asset, (_ZERO, _ZERO))
                delta = new[0] + new[1] - old[0] - old[1]
                events.append(
                    {"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(delta), "T": now}
                )
        events.append(
            {
                "e": "outboundAccountPosition",
                "E": now,
                "u": now,
                "B": [
                    {"a": asset, "f": fmt(balances[asset][0]), "l": fmt(balances[asset][1])}
                    for asset in sorted(moved)
                    if asset in balances
                ],
            }
        )
        return events

    def _market(self, hub: UserDataHub, market: SymbolMarket) -> list[Json]:
        engine, symbol = self.venue.engine, market.rules.symbol
        fills = engine.fills(self.account, symbol)
        fresh: dict[str, list[Fill]] = {}
        for fill in fills[self.fills_seen.get(symbol, 0) :]:
            fresh.setdefault(fill.order_id, []).append(fill)
        self.fills_seen[symbol] = len(fills)
        events: list[Json] = []
        for order in engine.orders(self.account, symbol):
            seen = self.orders.get(order.order_id)
            if seen is None:
                seen = self.orders[order.order_id] = _Seen()
                events.append(hub.execution(self.account, order, "NEW", "NEW", seen, None))
            elif seen.final:
                continue
            for fill in fresh.get(order.order_id, []):
                seen.filled += fill.quantity
                seen.quote += fill.quantity * fill.price
                status = "FILLED" if seen.filled >= order.quantity else "PARTIALLY_FILLED"
                events.append(hub.execution(self.account, order, "TRADE", status, seen, fill))
            if order.status.is_final and not seen.final:
                seen.final = True
                if order.status is not OrderStatus.FILLED:
                    meta = self.venue.meta.get(order.order_id)
                    expired = order.status is OrderStatus.EXPIRED or (meta and meta.expired)
                    kind = "EXPIRED" if expired else "CANCELED"
                    events.append(hub.execution(self.account, order, kind, kind, seen, None))
        return events


@dataclass(eq=False)
class Session:
    """One WebSocket API connection."""

    socket: WebSocket
    rate_limits: bool = True
    subscriptions: dict[int, str] = field(default_factory=dict)  # id -> account
    next_id: int = 0
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def send(self, body: Json) -> None:
        self.outbox.put_nowait(json.dumps(body, separators=(",", ":")))


class UserDataHub:
    def __init__(self, venue: BinanceVenue) -> None:
        self.venue = venue
        self.views: dict[str, _AccountView] = {}
        self.sessions: set[Session] = set()
        self._execution_id = 0

    def report(self) -> None:
        """Push what changed to every subscription of every subscribed account."""
        for account, view in list(self.views.items()):
            events = view.changes(self)
            if not events:
                continue
            for session in self.sessions:
                for sub_id, subscribed in session.subscriptions.items():
                    if subscribed == account:
                        for event in events:
                            session.send({"subscriptionId": sub_id, "event": event})

    def execution(
        self, account: str, order: Order, kind: str, status: str, seen: _Seen, fill: Fill | None
    ) -> Json:
        """An ``executionReport`` as user-data-stream.md lists its fields."""
        self._execution_id += 1
        meta = self.venue.meta.get(order.order_id)
        client_id = meta.client_order_id if meta else order.client_order_id
        canceled = kind == "CANCELED"
        # On the book once working (a stop waits off the book until its trigger).
        working = self.venue.engine.working_since(account, order.symbol, order.order_id)
        on_book = order.type is not OrderType.MARKET and working is not None
        event: Json = {
            "e": "executionReport",
            "E": self.venue.server_ms(),
            "s": order.symbol.replace("-", ""),
            # A cancel reports the cancel request's own id, the order's in "C".
            "c": secrets.token_hex(11) if canceled else client_id,
            "S": order.side.value.upper(),
            "o": order.type.value.upper(),
            "f": (meta.time_in_force if meta else None) or "GTC",
            "q": fmt(order.quantity),
            "p": fmt(order.price or _ZERO),
            "P": fmt(order.stop_price or _ZERO),
            "F": fmt((meta.iceberg_qty if meta else None) or _ZERO),
            "g": -1,
            "C": client_id if canceled else "",
            "x": kind,
            "X": status,
            "r": "NONE",
            "i": int(order.order_id),
            "l": fmt(fill.quantity if fill else _ZERO),
            "z": fmt(seen.filled),
            "L": fmt(fill.price if fill else _ZERO),
            "n": fmt(fill.fee) if fill else "0",
            "N": fill.fee_asset if fill else None,
            "T": ms(fill.at if fill else order.updated_at),
            "t": int(fill.trade_id) if fill else -1,
            "I": self._execution_id,
            "w": on_book and status in ("NEW", "PARTIALLY_FILLED"),
            "m": bool(fill and fill.trade_id in self.venue.maker_trades),
            "M": False,
            "O": ms(order.created_at),
            "Z": fmt(seen.quote),
            "Y": fmt(fill.quantity * fill.price if fill else _ZERO),
            "Q": fmt(meta.orig_quote_qty if meta else _ZERO),
            "V": "EXPIRE_MAKER",
        }
        if on_book and working is not None:
            event["W"] = ms(working)
        return event

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, session: Session, account: str) -> int:
        for sub_id, subscribed in session.subscriptions.items():
            if subscribed == account:  # one subscription per account and connection
                return sub_id
        if account not in self.views:
            self.views[account] = _AccountView(self.venue, account)
        sub_id = session.next_id
        session.next_id += 1
        session.subscriptions[sub_id] = account
        return sub_id

    def unsubscribe(self, session: Session, sub_id: int | None) -> None:
        if sub_id is None:
            session.subscriptions.clear()
        else:
            session.subscriptions.pop(sub_id, None)
        self._forget_idle()

    def close(self, session: Session) -> None:
        self.sessions.discard(session)
        session.subscriptions.clear()
        self._forget_idle()

    def _forget_idle(self) -> None:
        wanted = {a for s in self.sessions for a in s.subscriptions.values()}
        for account in list(self.views):
            if account not in wanted:
                del self.views[account]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _signed_account(venue: BinanceVenue, params: Json) -> str:
    """SIGNED request security: the params but `signature`, sorted by name, as the payload."""
    account = api_key_account(params.get("apiKey"), venue.secrets)
    payload = "&".join(f"{k}={_plain(v)}" for k, v in sorted(params.items()) if k != "signature")
    signature = params.get("signature")
    query = payload + (f"&signature={_plain(signature)}" if signature is not None else "")
    verify(
        secret=venue.secrets[account],
        query=query,
        body="",
        params=Params(query, ""),
        server_time_us=venue.server_us(),
    )
    return account


def _rate_limits(venue: BinanceVenue, ip: str) -> list[Json]:
    weights = venue.weights
    num, _, name = interval_of(weights.window_seconds)
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": name,
            "intervalNum": num,
            "limit": weights.limit,
            "count": weights.used(ip, venue.server_time()),
        }
    ]


def _call(hub: UserDataHub, session: Session, method: str, params: Json) -> Any:
    venue = hub.venue
    if method == "ping":
        return {}
    if method == "time":
        return {"serverTime": venue.server_ms()}
    if method == "userDataStream.subscribe.signature":
        return {"subscriptionId": hub.subscribe(session, _signed_account(venue, params))}
    if method == "userDataStream.unsubscribe":
        raw = params.get("subscriptionId")
        if raw is not None and not isinstance(raw, int):
            raise BinanceError(-1100, "Illegal characters found in parameter 'subscriptionId'.")
        hub.unsubscribe(session, raw)
        return {}
    assert method == "session.subscriptions"
    return [{"subscriptionId": sub_id} for sub_id in sorted(session.subscriptions)]


def _answer(hub: UserDataHub, session: Session, ip: str, text: str) -> Json:
    venue = hub.venue
    request_id: Any = None
    try:
        try:
            message = json.loads(text)
        except ValueError:
            raise BinanceError(-1102, "Mandatory parameter 'method' was not sent.") from None
        if not isinstance(message, dict):
            raise BinanceError(-1102, "Mandatory parameter 'method' was not sent.")
        request_id = message.get("id")
        method = str(message.get("method") or "").removeprefix("v3/")
        params = message.get("params") or {}
        if not method:
            raise BinanceError(-1102, "Mandatory parameter 'method' was not sent.")
        if not isinstance(params, dict):
            raise BinanceError(-1100, "Illegal characters found in parameter 'params'.")
        show_limits = params.get("returnRateLimits", session.rate_limits) is not False
        if method not in _WEIGHTS:
            raise BinanceError(-1020, "This operation is not supported.")
        venue.weights.charge(ip, _WEIGHTS[method], venue.server_time())
        result = _call(hub, session, method, params)
        body: Json = {"id": request_id, "status": 200, "result": result}
    except BinanceError as exc:
        show_limits = True
        body = {"id": request_id, "status": exc.status, "error": {"code": exc.code, "msg": exc.msg}}
    if show_limits:
        body["rateLimits"] = _rate_limits(venue, ip)
    return body


async def serve_ws_api(hub: UserDataHub, socket: WebSocket) -> None:
    """One accepted connection, until either side closes it."""
    session = Session(socket, rate_limits=socket.query_params.get("returnRateLimits") != "false")
    ip = socket.client.host if socket.client else "unknown"
    with contextlib.suppress(BinanceError):  # connecting is charged, never refused here
        hub.venue.weights.charge(ip, CONNECT_WEIGHT, hub.venue.server_time())
    hub.sessions.add(session)
    writer = asyncio.create_task(_write(session))
    try:
        while True:
            text = await socket.receive_text()
            hub.venue.sync()
            session.send(_answer(hub, session, ip, text))
            hub.report()  # a subscription sees only what happens after its answer
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.close(session)
        writer.cancel()


async def _write(session: Session) -> None:
    with contextlib.suppress(Exception):  # the socket closed: the reader cleans up
        while True:
            await session.socket.send_text(await session.outbox.get())
