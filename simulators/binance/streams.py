"""Binance's WebSocket market streams (web-socket-streams.md): raw streams at ``/ws/<name>``,
combined streams at ``/stream?streams=<a>/<b>`` (each event wrapped as
``{"stream": <name>, "data": <payload>}``), the live SUBSCRIBE / UNSUBSCRIBE /
LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY messages, ``<symbol>@bookTicker`` (pushed as
soon as the best bid or ask changes) and ``<symbol>@kline_<interval>`` (every second for 1s,
every two for the others, plus the closing update with ``"x": true``). More than 5 incoming
messages in a second close the connection, as Binance's limit does.

One pump task per app, alive while any stream or WebSocket API connection is open, brings the
market to its clock a few times a second (so resting orders fill without REST traffic), hands
the user data streams (`ws_api`) their chance to report, then pushes market events. Pings are
the WebSocket library's (uvicorn's server pings, the client's pongs).

Every connection is closed (1001 "going away") at 24 hours, as Binance does.

Control (not Binance's): ``POST /_sim/ws/drop {"refuse_seconds": 2}`` closes every open
WebSocket (streams and API) and refuses new ones for that long, so a test can make something
happen while clients are away; ``POST /_sim/ws/max_age {"seconds": 1}`` shortens the 24 hours
(no body: back to 24 hours)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from simulators.binance.market import INTERVAL_SECONDS, SymbolMarket, ms
from simulators.binance.venue import BinanceVenue
from simulators.binance.wire import fmt
from simulators.binance.ws_api import UserDataHub, serve_ws_api

Json = dict[str, Any]
_log = logging.getLogger(__name__)
MAX_STREAMS = 1024  # per connection
MAX_MESSAGES_PER_SECOND = 5  # incoming, per connection
MAX_AGE = 24 * 3600.0  # Binance closes every connection at 24 hours
PUMP_SECONDS = 0.2  # how often the market is brought to its clock while anyone listens
_STREAM = re.compile(r"^([a-z0-9]+)@(bookTicker|kline_(\w+))$")
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_GOING_AWAY = 1001
_POLICY_VIOLATION = 1008


def _invalid(msg: str, request_id: Any = None) -> Json:
    """The error shape web-socket-streams.md lists under "Error Messages"."""
    body: Json = {"code": 2, "msg": f"Invalid request: {msg}"}
    if request_id is not None:
        body["id"] = request_id
    return body


def _valid_id(request_id: Any) -> bool:
    """A 64-bit signed integer, a string of at most 36 characters, or null."""
    if isinstance(request_id, bool):
        return False
    if isinstance(request_id, int):
        return -(2**63) <= request_id < 2**63
    return request_id is None or (isinstance(request_id, str) and len(request_id) <= 36)


def _property_error(method: str, params: list[Any], request_id: Any) -> Json | None:
    """SET_PROPERTY / GET_PROPERTY refusals, as the error table lists them."""
    if not params or not isinstance(params[0], str):
        return _invalid("property name must be a string")
    if params[0] != "combined":
        return {"code": 0, "msg": "Unknown property", "id": request_id}
    if method == "SET_PROPERTY" and (len(params) != 2 or not isinstance(params[1], bool)):
        return {"code": 1, "msg": "Invalid value type: expected Boolean"}
    return None


def _stream_ok(name: str) -> bool:
    match = _STREAM.match(name)
    return match is not None and (match.group(3) is None or match.group(3) in INTERVAL_SECONDS)


@dataclass
class _Kline:
    open_ms: int = -1  # the kline last pushed
    pushed_at: float = 0.0  # wall time of that push


@dataclass(eq=False)  # identity: kept in a set
class StreamConnection:
    socket: WebSocket
    combined: bool
    streams: list[str] = field(default_factory=list)  # in subscription order
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    books: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # last sent top
    klines: dict[str, _Kline] = field(default_factory=dict)

    def push(self, stream: str, payload: Json) -> None:
        body = {"stream": stream, "data": payload} if self.combined else payload
        self.outbox.put_nowait(json.dumps(body, separators=(",", ":")))

    def answer(self, body: Json) -> None:
        self.outbox.put_nowait(json.dumps(body, separators=(",", ":")))


class StreamHub:
    """Every open market-stream and WebSocket API connection of one simulated venue."""

    def __init__(self, venue: BinanceVenue) -> None:
        self.venue = venue
        self.users = UserDataHub(venue)
        self.connections: set[StreamConnection] = set()
        # Every open WebSocket, streams and API, with when it opened (monotonic).
        self.sockets: dict[WebSocket, float] = {}
        self.refuse_until = 0.0
        self.max_age = MAX_AGE
        self._update_ids: dict[str, int] = {}  # per symbol: the book's update id
        self._tops: dict[str, tuple[str, str, str, str]] = {}  # per symbol: its book's top
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        venue.listeners.append(self._wake.set)

    # -- connections ------------------------------------------------------------------------

    async def accept(self, socket: WebSocket) -> bool:
        if time.monotonic() < self.refuse_until:
            await socket.close()  # before the upgrade: answered HTTP 403
            return False
        await socket.accept()
        self.sockets[socket] = time.monotonic()
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump())
        return True

    def forget(self, socket: WebSocket) -> None:
        self.sockets.pop(socket, None)

    async def drop_all(self, refuse_seconds: float) -> int:
        self.refuse_until = time.monotonic() + refuse_seconds
        return await self._close(list(self.sockets))

    async def _close(self, sockets: list[WebSocket]) -> int:
        for socket in sockets:
            with contextlib.suppress(Exception):  # already closing on its own
                await socket.close(code=_GOING_AWAY)
        return len(sockets)

    async def serve_streams(self, socket: WebSocket, streams: list[str], combined: bool) -> None:
        if not await self.accept(socket):
            return
        conn = StreamConnection(socket, combined)
        for name in streams[:MAX_STREAMS]:
            if _stream_ok(name) and name not in conn.streams:
                conn.streams.append(name)
        self.connections.add(conn)
        writer = asyncio.create_task(_write(conn))
        recent: deque[float] = deque()
        try:
            self._push_now(conn)
            while True:
                text = await socket.receive_text()
                now = time.monotonic()
                recent.append(now)
                while recent[0] <= now - 1:
                    recent.popleft()
                if len(recent) > MAX_MESSAGES_PER_SECOND:  # Binance disconnects, no answer
                    await socket.close(code=_POLICY_VIOLATION)
                    return
                self._handle(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client left, or we closed the socket under the reader
        finally:
            self.connections.discard(conn)
            self.forget(socket)
            writer.cancel()

    def _handle(self, conn: StreamConnection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError as exc:
            conn.answer({"code": 3, "msg": f"Invalid JSON: {exc}"})
            return
        if not isinstance(message, dict):
            conn.answer(_invalid("request must be an object"))
            return
        request_id = message.get("id")
        if not _valid_id(request_id):
            conn.answer(_invalid("request ID must be an unsigned integer"))
            return
        method = message.get("method")
        if method is None:
            conn.answer(_invalid("missing field `method`", request_id))
            return
        if method not in _METHODS:
            expected = ", ".join(f"`{m}`" for m in _METHODS)
            conn.answer(_invalid(f"unknown variant {method}, expected one of {expected}"))
            return
        params = message.get("params") or []
        if not isinstance(params, list):
            conn.answer(_invalid("params must be an array", request_id))
            return
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            refused = _property_error(method, params, request_id)
            if refused:
                conn.answer(refused)
                return
        conn.answer({"result": self._method(conn, method, params), "id": request_id})

    def _method(self, conn: StreamConnection, method: str, params: list[Any]) -> Any:
        if method == "LIST_SUBSCRIPTIONS":
            return list(conn.streams)
        if method == "GET_PROPERTY":
            return conn.combined
        if method == "SET_PROPERTY":
            conn.combined = params[1]
            return None
        names = [p for p in params if isinstance(p, str) and _stream_ok(p)]
        if method == "SUBSCRIBE":
            for name in names:
                if name not in conn.streams and len(conn.streams) < MAX_STREAMS:
                    conn.streams.append(name)
            self._push_now(conn)
        else:
            conn.streams = [s for s in conn.streams if s not in names]
            for name in names:
                conn.books.pop(name, None)
                conn.klines.pop(name, None)
        return None

    # -- the pump ---------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        while self.sockets:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), PUMP_SECONDS)
            self._wake.clear()
            too_old = time.monotonic() - self.max_age
            await self._close([s for s, opened in self.sockets.items() if opened < too_old])
            try:
                self.venue.sync()
                self.users.report()
                for conn in list(self.connections):
                    self._push_now(conn)
            except Exception:  # one bad round must not silence every stream
                _log.exception("stream pump round failed")

    def _push_now(self, conn: StreamConnection) -> None:
        if not conn.streams:
            return
        event_ms = self.venue.server_ms()
        wall = time.monotonic()
        for name in conn.streams:
            match = _STREAM.match(name)
            assert match is not None  # checked on subscription
            market = self.venue.markets.get(match.group(1).upper())
            if market is None:
                continue  # Binance accepts any well-formed name and sends nothing for it
            if match.group(3) is None:
                self._book_ticker(conn, name, market)
            else:
                self._kline(conn, name, market, match.group(3), event_ms, wall)

    def _book_ticker(self, conn: StreamConnection, name: str, market: SymbolMarket) -> None:
        venue = self.venue
        bids, asks = market.book(
            venue.price(market.config.name),
            venue.config.spread_ticks,
            1,
            venue.config.depth_seed,
            int(venue.market_now().timestamp()),
        )
        top = (fmt(bids[0][0]), fmt(bids[0][1]), fmt(asks[0][0]), fmt(asks[0][1]))
        if conn.books.get(name) == top:
            return
        conn.books[name] = top
        symbol = market.config.name
        # One update id per symbol, moving on whenever any listener sees the book change.
        update_id = self._update_ids.get(symbol, venue.server_ms())
        if self._tops.get(symbol) != top:
            update_id += 1
            self._update_ids[symbol], self._tops[symbol] = update_id, top
        conn.push(
            name,
            {"u": update_id, "s": symbol, "b": top[0], "B": top[1], "a": top[2], "A": top[3]},
        )

    def _kline(
        self,
        conn: StreamConnection,
        name: str,
        market: SymbolMarket,
        interval: str,
        event_ms: int,
        wall: float,
    ) -> None:
        state = conn.klines.setdefault(name, _Kline())
        every = 1.0 if interval == "1s" else 2.0
        now = self.venue.market_now()
        current = market.klines(interval, now, start=None, end=None, limit=2)
        opened = ms(current[-1].open_time)
        if opened == state.open_ms and wall - state.pushed_at < every:
            return
        if state.open_ms != -1 and opened != state.open_ms and len(current) == 2:
            conn.push(name, _kline_event(market, interval, current[0], event_ms, closed=True))
        conn.push(name, _kline_event(market, interval, current[-1], event_ms, closed=False))
        state.open_ms, state.pushed_at = opened, wall


def _kline_event(
    market: SymbolMarket, interval: str, kline: Any, event_ms: int, *, closed: bool
) -> Json:
    c = kline.candle
    quote_volume = c.volume * (c.high + c.low + c.close) / 3  # as /api/v3/klines answers it
    symbol = market.config.name
    return {
        "e": "kline",
        "E": event_ms,
        "s": symbol,
        "k": {
            "t": ms(kline.open_time),
            "T": ms(kline.close_time) - 1,
            "s": symbol,
            "i": interval,
            "f": -1,  # the simulated market's volume has no trades of its own
            "L": -1,
            "o": fmt(c.open),
            "c": fmt(c.close),
            "h": fmt(c.high),
            "l": fmt(c.low),
            "v": fmt(c.volume),
            "n": int(c.volume),
            "x": closed,
            "q": fmt(quote_volume),
            "V": fmt(c.volume / 2),
            "Q": fmt(quote_volume / 2),
            "B": "0",
        },
    }


async def _write(conn: StreamConnection) -> None:
    with contextlib.suppress(Exception):  # the socket closed: the reader cleans up
        while True:
            await conn.socket.send_text(await conn.outbox.get())


class _Drop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refuse_seconds: float = Field(default=0, ge=0, le=600)


class _MaxAge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(default=MAX_AGE, gt=0, le=MAX_AGE)


def mount_streams(app: FastAPI, venue: BinanceVenue) -> StreamHub:
    """The market streams, the WebSocket API (`ws_api`) and their /_sim/ control on `app`."""
    hub = StreamHub(venue)
    app.state.streams = hub

    @app.websocket("/ws")
    async def raw_none(socket: WebSocket) -> None:
        await hub.serve_streams(socket, [], combined=False)

    @app.websocket("/ws/{name}")
    async def raw(socket: WebSocket, name: str) -> None:
        await hub.serve_streams(socket, [name], combined=False)

    @app.websocket("/stream")
    async def combined(socket: WebSocket) -> None:
        names = socket.query_params.get("streams", "")
        await hub.serve_streams(socket, [n for n in names.split("/") if n], combined=True)

    @app.websocket("/ws-api/v3")
    async def ws_api(socket: WebSocket) -> None:
        if await hub.accept(socket):
            try:
                await serve_ws_api(hub.users, socket)
            finally:
                hub.forget(socket)

    router = APIRouter(prefix="/_sim", tags=["simulator control"])

    @router.post("/ws/drop")
    async def drop(body: _Drop) -> dict[str, Any]:
        return {"dropped": await hub.drop_all(body.refuse_seconds)}

    @router.post("/ws/max_age")
    async def max_age(body: _MaxAge) -> dict[str, Any]:
        hub.max_age = body.seconds
        return {"seconds": hub.max_age}

    app.include_router(router)
    return hub
