"""Binance's user data stream as an async iterator of `OrderUpdate`: the WebSocket API's
``userDataStream.subscribe.signature`` (the listenKey REST endpoints are retired), its
``executionReport`` events in our vocabulary.

A stream can be down, and Binance keeps nothing for a client that was away: the stream resyncs
from REST on every (re)connect, after its subscription is live, so nothing falls in between:
fills since the last trade id it delivered (``myTrades?fromId=``), the orders open now, and
whatever became of orders it knew open. While it cannot connect, it polls the same way every
`poll_interval` (the fallback). Fills are delivered once per trade id, by whichever path sees
them first."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect

from adapters.exchanges.binance.streams import CONNECTION_LOST, MAX_AGE, read_messages
from adapters.exchanges.binance.wire import (
    Json,
    datetime_to_ms,
    error_for,
    ms_to_datetime,
    parse_order,
)
from adapters.exchanges.errors import ExchangeError, RateLimited, TemporaryError
from adapters.exchanges.streams import Backoff, OrderUpdate
from domain.market import Fill, Order, OrderStatus, Side

WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
TESTNET_WS_API_URL = "wss://ws-api.testnet.binance.vision/ws-api/v3"
FILLS_PAGE = 1000
OPEN_ORDERS_WEIGHT, OPEN_ORDERS_ALL_WEIGHT = 6, 80  # openOrders with a symbol, and without


class RestFallback(Protocol):
    """What the user stream reads back over REST (`BinanceExchange` has it)."""

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]: ...

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]: ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...


def sign_params(secret: str, params: Mapping[str, Any]) -> str:
    """The WebSocket API's SIGNED payload: every param but `signature`, sorted by name."""
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class BinanceUserStream:
    """Order updates and fills of one account, in the markets `symbols`::

        stream = BinanceUserStream(exchange, key, secret, ["BTC-BRL"], url=...)
        async for update in stream:  # OrderUpdate
            ...

    `last_trade_ids` (per market, the last fill delivered) can be saved and handed back as
    `from_ids`: fills after them are delivered on the first connect. Without one, a market's
    history before the first connect is not replayed. Fees of an order seen only partly by the
    stream count the fills it saw; orders read back over REST carry all of theirs. While the
    WebSocket API cannot be reached, REST is polled every `poll_interval` seconds instead."""

    def __init__(
        self,
        rest: RestFallback,
        api_key: str,
        api_secret: str,
        symbols: Sequence[str],
        *,
        url: str = WS_API_URL,
        from_ids: Mapping[str, str] | None = None,
        recv_window: int = 5000,
        backoff: Backoff | None = None,
        max_age: float = MAX_AGE,
        answer_timeout: float = 10.0,
        poll_interval: float = 10.0,
    ) -> None:
        self._rest = rest
        self._key = api_key
        self._secret = api_secret
        self._symbols = {s.replace("-", "").upper(): s.upper() for s in symbols}
        self._url = url
        self._recv_window = recv_window
        self._backoff = backoff or Backoff()
        self._max_age = max_age
        self._answer_timeout = answer_timeout
        self.last_trade_ids: dict[str, int] = {
            s.upper(): int(i) for s, i in (from_ids or {}).items()
        }
        # Orders known open: id -> (symbol, status, filled), as last delivered.
        self._open: dict[str, tuple[str, OrderStatus, Decimal]] = {}
        self._poll_interval = poll_interval
        self._polled_at = float("-inf")
        self._fees: dict[str, dict[str, Decimal]] = {}  # order id -> fees seen on the stream
        # Orders the last resync reported: id -> (update time ms, filled, final). Events the
        # subscription queued while it read are older than that for them.
        self._resynced: dict[str, tuple[int, Decimal, bool]] = {}
        self._offset_ms = 0
        self._ws: ClientConnection | None = None
        self._closed = False
        self._next_id = 0
        self.connects = 0  # connections whose subscription was accepted

    async def aclose(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    def __aiter__(self) -> AsyncIterator[OrderUpdate]:
        return self._updates()

    async def _updates(self) -> AsyncIterator[OrderUpdate]:
        while not self._closed:
            wait = 0.0
            try:
                await self._baseline()
                async with connect(self._url, open_timeout=10, max_size=2**24) as ws:
                    self._ws = ws
                    subscription = await self._subscribe(ws)
                    self.connects += 1
                    for resynced in await self._resync():
                        yield resynced
                    self._backoff.reset()
                    async for message in read_messages(ws, time.monotonic() + self._max_age):
                        event = message.get("event")
                        if message.get("subscriptionId") == subscription and event:
                            update = self._on_event(event)
                            if update is not None:
                                yield update
                    continue
            except RateLimited as error:  # calling again before Retry-After earns a ban
                wait = error.retry_after or 0.0
            except CONNECTION_LOST:
                pass
            self._ws = None
            if not self._closed:
                await asyncio.sleep(max(wait, self._backoff.next_delay()))
            if not self._closed and time.monotonic() - self._polled_at >= self._poll_interval:
                # The stream is down: REST tells what it would have (the fallback).
                with contextlib.suppress(*CONNECTION_LOST):
                    await self._baseline()
                    for polled in await self._resync():
                        yield polled

    # -- the WebSocket API ------------------------------------------------------------------

    async def _request(self, ws: ClientConnection, method: str, params: Json) -> Any:
        self._next_id += 1
        request_id = self._next_id
        await ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        async for message in read_messages(ws, time.monotonic() + self._answer_timeout):
            if message.get("id") != request_id:
                continue
            if message.get("status") == 200:
                return message.get("result")
            raise error_for(message.get("status", 500), message.get("error"), None)
        raise TemporaryError(f"no answer to {method}", venue="binance")

    async def _subscribe(self, ws: ClientConnection) -> int:
        for attempt in range(2):
            params: Json = {
                "apiKey": self._key,
                "recvWindow": self._recv_window,
                "timestamp": int(time.time() * 1000) + self._offset_ms,
            }
            params["signature"] = sign_params(self._secret, params)
            try:
                result = await self._request(ws, "userDataStream.subscribe.signature", params)
                return int(result["subscriptionId"])
            except ExchangeError as error:
                if error.code != -1021 or attempt:
                    raise
                before = time.time()
                server = (await self._request(ws, "time", {}))["serverTime"]
                self._offset_ms = int(server - (before + time.time()) / 2 * 1000)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, event: Json) -> OrderUpdate | None:
        if event.get("e") != "executionReport" or event["s"] not in self._symbols:
            return None
        symbol = self._symbols[event["s"]]
        order_id = str(event["i"])
        if event["x"] != "TRADE" and order_id in self._resynced:
            at, filled, final = self._resynced[order_id]
            if final or event["T"] < at or Decimal(event["z"]) < filled:
                return None  # the resync reported this order as it is after this event
        fill = None
        if event["x"] == "TRADE":
            trade_id = int(event["t"])
            if trade_id <= self.last_trade_ids.get(symbol, -1):
                return None  # the resync delivered it already
            self.last_trade_ids[symbol] = trade_id
            fill = Fill(
                trade_id=str(trade_id),
                order_id=order_id,
                symbol=symbol,
                side=Side(event["S"].lower()),
                price=Decimal(event["L"]),
                quantity=Decimal(event["l"]),
                fee=Decimal(event["n"]),
                fee_asset=event["N"] or "",
                at=ms_to_datetime(event["T"]),
            )
            fees = self._fees.setdefault(order_id, {})
            fees[fill.fee_asset] = fees.get(fill.fee_asset, Decimal(0)) + fill.fee
        raw = {
            "orderId": event["i"],
            "clientOrderId": event["c"],
            "origClientOrderId": event["C"],  # the order's own id when a cancel reports
            "side": event["S"],
            "type": event["o"],
            "status": event["X"],
            "origQty": event["q"],
            "executedQty": event["z"],
            "cummulativeQuoteQty": event["Z"],
            "price": event["p"],
            "stopPrice": event["P"],
            "time": event["O"],
            "updateTime": event["T"],
        }
        order = parse_order(symbol, raw, dict(self._fees.get(order_id, {})))
        if order.status.is_final:
            self._open.pop(order_id, None)
            self._fees.pop(order_id, None)
        else:
            self._open[order_id] = (symbol, order.status, order.filled_quantity)
        return OrderUpdate(order=order, fill=fill)

    async def _resync(self) -> list[OrderUpdate]:
        """What happened while no stream was listening, read back over REST. State changes
        only once every read succeeded (a failure reconnects and reads again)."""
        last = dict(self.last_trade_ids)
        fills: list[Fill] = []
        for symbol in self._symbols.values():
            page = await self._fills_after(symbol, last[symbol])
            if page:
                fills += page
                last[symbol] = int(page[-1].trade_id)
        # Orders read after their fills: one that fills in between comes with its state then
        # (read open first, it came NEW with its fill and the stream's FILLED was skipped).
        wanted = set(self._symbols.values())
        if len(wanted) * OPEN_ORDERS_WEIGHT < OPEN_ORDERS_ALL_WEIGHT:
            listed = [o for s in sorted(wanted) for o in await self._rest.open_orders(s)]
        else:  # one call for every market is cheaper
            listed = await self._rest.open_orders()
        open_now = {o.order_id: o for o in listed if o.symbol in wanted}
        orders: dict[str, Order] = dict(open_now)
        updates: list[OrderUpdate] = []
        for fill in fills:
            if fill.order_id not in orders:
                orders[fill.order_id] = await self._rest.get_order(
                    fill.symbol, order_id=fill.order_id
                )
            updates.append(OrderUpdate(order=orders[fill.order_id], fill=fill))
        reported = {u.order.order_id for u in updates}
        for order_id, (symbol, _, _) in self._open.items():  # open then, gone without a fill
            if order_id not in open_now and order_id not in reported:
                order = await self._rest.get_order(symbol, order_id=order_id)
                updates.append(OrderUpdate(order=order))
                reported.add(order_id)
        updates += [  # open orders new to us, or changed without a fill we saw
            OrderUpdate(order=o)
            for i, o in open_now.items()
            if i not in reported and self._open.get(i) != (o.symbol, o.status, o.filled_quantity)
        ]
        self.last_trade_ids = last
        self._resynced = {
            u.order.order_id: (
                datetime_to_ms(u.order.updated_at),
                u.order.filled_quantity,
                u.order.status.is_final,
            )
            for u in updates
        }
        self._open = {i: (o.symbol, o.status, o.filled_quantity) for i, o in open_now.items()}
        self._fees = {i: dict(self._fees.get(i, {})) for i in self._open}
        self._polled_at = time.monotonic()
        return updates

    async def _baseline(self) -> None:
        """A market without a cursor starts from its newest fill, read before subscribing: a
        fill between the subscription and this read would otherwise count as seen."""
        for symbol in self._symbols.values():
            if symbol not in self.last_trade_ids:
                newest = await self._rest.fills(symbol, 1)
                self.last_trade_ids[symbol] = int(newest[-1].trade_id) if newest else -1

    async def _fills_after(self, symbol: str, last: int) -> list[Fill]:
        """Fills after trade id `last`, oldest first."""
        found: list[Fill] = []
        while True:
            page = await self._rest.fills_since(symbol, str(last + 1), FILLS_PAGE)
            found += page
            if len(page) < FILLS_PAGE:
                return found
            last = int(page[-1].trade_id)
