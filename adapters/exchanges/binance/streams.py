"""Binance's market streams as an async iterator: ``<symbol>@bookTicker`` and
``<symbol>@kline_<interval>`` of many markets on one combined-stream connection (the user data
stream is `user_stream`). It reconnects with jittered backoff, and leaves before Binance's
24-hour disconnect. Book tickers and klines are states, not a log: after a gap the next event
is the current one, so nothing needs replaying; `Exchange.tickers` is the polling fallback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from adapters.exchanges.binance.wire import Json, ms_to_datetime
from adapters.exchanges.errors import TemporaryError
from adapters.exchanges.streams import Backoff, BookTickerEvent, KlineEvent
from domain.market import Candle

STREAMS_URL = "wss://stream.binance.com:9443"
TESTNET_STREAMS_URL = "wss://stream.testnet.binance.vision"
MAX_STREAMS = 1024  # per connection
SEND_GAP = 0.25  # between our messages on a stream connection (Binance allows 5 a second)
MAX_AGE = 23.5 * 3600  # Binance closes every connection at 24 h: leave first
# A dropped connection, a refused handshake, a stalled one: all mean "connect again".
CONNECTION_LOST = (OSError, TimeoutError, WebSocketException, InvalidHandshake, TemporaryError)


def _names(
    book_tickers: Iterable[str], klines: Iterable[tuple[str, str]]
) -> dict[str, tuple[str, str | None]]:
    """Stream names (``btcbrl@bookTicker``) and the (symbol, interval) each carries."""
    return {f"{_name(s)}@bookTicker": (s.upper(), None) for s in book_tickers} | {
        f"{_name(s)}@kline_{i}": (s.upper(), i) for s, i in klines
    }


def _name(symbol: str) -> str:
    return symbol.replace("-", "").lower()


async def read_messages(ws: ClientConnection, deadline: float) -> AsyncIterator[Json]:
    """JSON messages until the connection closes or `deadline` (monotonic) passes."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            text = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            return
        message = json.loads(text)
        if isinstance(message, dict):
            yield message


class BinanceMarketStream:
    """Book tickers and klines of many markets on one combined-stream connection::

    stream = BinanceMarketStream(book_tickers=["BTC-BRL"], klines=[("ETH-BRL", "1m")])
    async for event in stream:  # BookTickerEvent | KlineEvent
        ...
    """

    def __init__(
        self,
        url: str = STREAMS_URL,
        *,
        book_tickers: Iterable[str] = (),
        klines: Iterable[tuple[str, str]] = (),
        backoff: Backoff | None = None,
        max_age: float = MAX_AGE,
    ) -> None:
        self._url = url.rstrip("/")
        self._streams: dict[str, tuple[str, str | None]] = {}  # name -> (symbol, interval)
        self._add(book_tickers, klines)
        self._backoff = backoff or Backoff()
        self._max_age = max_age
        self._ws: ClientConnection | None = None
        self._closed = False
        self._next_id = 0
        self._sending = asyncio.Lock()
        self._sent_at = float("-inf")
        self.connects = 0

    def _add(self, book_tickers: Iterable[str], klines: Iterable[tuple[str, str]]) -> list[str]:
        added = _names(book_tickers, klines)
        fresh = [n for n in added if n not in self._streams]
        if len(self._streams) + len(fresh) > MAX_STREAMS:
            raise ValueError(f"Binance serves at most {MAX_STREAMS} streams per connection")
        self._streams.update(added)
        return fresh

    async def subscribe(
        self, *, book_tickers: Iterable[str] = (), klines: Iterable[tuple[str, str]] = ()
    ) -> None:
        """More streams on the live connection (and on every reconnect)."""
        await self._send("SUBSCRIBE", self._add(book_tickers, klines))

    async def unsubscribe(
        self, *, book_tickers: Iterable[str] = (), klines: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Fewer streams, now and on every reconnect."""
        gone = [n for n in _names(book_tickers, klines) if self._streams.pop(n, None)]
        await self._send("UNSUBSCRIBE", gone)

    async def _send(self, method: str, names: list[str]) -> None:
        if not names:
            return
        async with self._sending:  # Binance drops a connection sent over 5 messages a second
            await asyncio.sleep(self._sent_at + SEND_GAP - time.monotonic())
            if self._ws is not None:
                self._next_id += 1
                request = {"method": method, "params": names, "id": self._next_id}
                with contextlib.suppress(*CONNECTION_LOST):  # a reconnect asks for the set anew
                    await self._ws.send(json.dumps(request))
            self._sent_at = time.monotonic()

    async def aclose(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    def __aiter__(self) -> AsyncIterator[BookTickerEvent | KlineEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[BookTickerEvent | KlineEvent]:
        while not self._closed:
            url = f"{self._url}/stream"
            if self._streams:
                url += "?streams=" + "/".join(self._streams)
            with contextlib.suppress(*CONNECTION_LOST):
                async with connect(url, open_timeout=10, max_size=2**24) as ws:
                    self._ws = ws
                    self.connects += 1
                    async for message in read_messages(ws, time.monotonic() + self._max_age):
                        event = self._parse(message)
                        if event is not None:
                            self._backoff.reset()
                            yield event
                    continue  # too old: leave and come back at once
            self._ws = None
            if not self._closed:
                await asyncio.sleep(self._backoff.next_delay())

    def _parse(self, message: Json) -> BookTickerEvent | KlineEvent | None:
        stream, data = message.get("stream"), message.get("data")
        if stream not in self._streams or not isinstance(data, dict):
            return None  # a SUBSCRIBE answer, or a stream already dropped
        symbol, interval = self._streams[stream]
        if interval is None:
            return BookTickerEvent(
                symbol=symbol,
                bid=Decimal(data["b"]),
                bid_qty=Decimal(data["B"]),
                ask=Decimal(data["a"]),
                ask_qty=Decimal(data["A"]),
                update_id=data["u"],
            )
        k = data["k"]
        candle = Candle(
            open_time=ms_to_datetime(k["t"]),
            open=Decimal(k["o"]),
            high=Decimal(k["h"]),
            low=Decimal(k["l"]),
            close=Decimal(k["c"]),
            volume=Decimal(k["v"]),
        )
        return KlineEvent(symbol=symbol, interval=interval, candle=candle, closed=k["x"])
