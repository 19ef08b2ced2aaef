"""Mercado Bitcoin API v4 adapter (api.mercadobitcoin.net/api/v4/docs).

- Candles at MB's 7 resolutions. Bulk reads: `tickers` sends the markets to /tickers (MB has
  no "every market" form: /symbols lists them); `open_orders(None)` is one call to the
  all-markets order list; `fills_since` reads the market's orders with executions (MB keeps
  no separate trade list per account).
- Order types as MB's v4 spells them: LIMIT_MAKER is ``post-only``, STOP_LOSS_LIMIT is
  ``stoplimit`` with ``stopPrice``.
- Orders carry ``externalId`` = our client order id, which MB refuses to reuse
  (``ORDER_DUPLICATE``: the order exists, it is looked up). A placement whose answer is lost
  (timeout, 5xx) is in doubt (`adapters.exchanges.placement`): MB publishes no window after which
  a request it received can no longer execute, so it is looked up by ``externalId`` for
  `settle_window` seconds (default 30: about the longest an API gateway holds a request) before
  it may be placed again, and the ``externalId`` refusal guards that placement too. A later call
  with the same client order id on this instance follows the same rule; an activity retry on
  another instance passes ``maybe_sent=True`` to `create_order` (see `Exchange.create_order`).
- A cancel whose order is already canceled reports the order: the retry of a cancel whose
  answer was lost must not turn the cancel into a failure.
- Retries and the circuit breaker come from `Resilience`; ``retry=False`` inside Temporal
  activities, whose retry policy then owns retrying.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, TypeVar

import httpx

from adapters.exchanges.base import Exchange
from adapters.exchanges.budget import Budget
from adapters.exchanges.errors import (
    ExchangeError,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    UnknownSymbol,
)
from adapters.exchanges.mercado_bitcoin import wire
from adapters.exchanges.mercado_bitcoin.transport import (
    MB_BASE_URL,
    VENUE,
    ClientLimits,
    Duplicate,
    MercadoBitcoinTransport,
)
from adapters.exchanges.placement import outcome_unknown, settle
from adapters.exchanges.resilience import Clock, Resilience, SystemClock
from domain.indicators.availability import TIMEFRAMES
from domain.market import (
    Balance,
    BookLevel,
    Candle,
    Fill,
    MarketRules,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Ticker,
    Venue,
)

T = TypeVar("T")

# Markets per /tickers call: MB publishes no cap, this keeps the URL short (about 1 kB).
TICKERS_PER_CALL = 100


class MercadoBitcoinExchange(Exchange):
    venue: ClassVar[Venue] = Venue.MERCADO_BITCOIN
    intervals: ClassVar[tuple[str, ...]] = TIMEFRAMES[Venue.MERCADO_BITCOIN]

    def __init__(
        self,
        login: str,
        password: str,
        *,
        base_url: str = MB_BASE_URL,
        timeout: float = 10.0,
        retry: bool = True,
        resilience: Resilience | None = None,
        limits: ClientLimits | None = ClientLimits(),
        token_margin: float = 60.0,
        markets_ttl: float = 3600.0,
        wall_clock: Callable[[], float] = time.time,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        settle_window: float = 30.0,
        lookup_delay: float = 0.5,
        budget: Budget | None = None,
    ) -> None:
        """`login`/`password` are the API token id and secret. `limits=None` turns off our own
        throttling (the venue's 429s are still honoured). `clock` times the throttles, the
        markets cache and (unless `resilience` is given) the retries; `wall_clock` reads the
        time of day that token expirations are stamped in. `budget` (the factory's) holds the
        key's overall limit across processes."""
        self._clock = clock or SystemClock()
        self._mb = MercadoBitcoinTransport(
            login,
            password,
            base_url=base_url,
            timeout=timeout,
            limits=limits,
            token_margin=token_margin,
            wall_clock=wall_clock,
            clock=self._clock,
            transport=transport,
            budget=budget,
        )
        self._retry = retry
        self._resilience = resilience or Resilience(VENUE, clock=self._clock)
        self._markets_ttl = markets_ttl
        self._markets: dict[str, MarketRules] = {}
        self._markets_at = float("-inf")
        self._settle_window = settle_window
        self._lookup_delay = lookup_delay
        # Client order ids in doubt -> our monotonic time after which a placement may be made
        # again; None: an earlier attempt elsewhere, the window starts when settling.
        self._in_doubt: dict[str, float | None] = {}

    async def aclose(self) -> None:
        await self._mb.aclose()

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._resilience.call(fn, retry=self._retry)

    # -- market data -----------------------------------------------------------------------

    async def markets(self) -> list[MarketRules]:
        if self._clock.monotonic() - self._markets_at > self._markets_ttl:
            columns = await self._call(lambda: self._mb.public("/symbols"))
            self._markets = {r.symbol: r for r in wire.rules_from_columns(columns)}
            self._markets_at = self._clock.monotonic()
        return list(self._markets.values())

    async def market_rules(self, symbol: str) -> MarketRules:
        name = wire.symbol(symbol)
        await self.markets()
        try:
            return self._markets[name]
        except KeyError:
            raise UnknownSymbol(f"unknown market {symbol}", venue=VENUE) from None

    async def ticker(self, symbol: str) -> Ticker:
        return (await self.tickers([symbol]))[0]

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        """MB's /tickers takes the markets to read (it has no "every market" form): None asks
        for every market of /symbols (cached), in slices of `TICKERS_PER_CALL`."""
        if symbols is None:
            names = [r.symbol for r in await self.markets()]
        else:
            names = list(dict.fromkeys(wire.symbol(s) for s in symbols))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(names), TICKERS_PER_CALL):
            part = ",".join(names[start : start + TICKERS_PER_CALL])
            rows += await self._call(partial(self._mb.public, "/tickers", {"symbols": part}))
        found = {t.symbol: t for t in map(wire.ticker, rows)}
        missing = [n for n in names if n not in found]
        if missing:
            raise UnknownSymbol(f"unknown markets {','.join(missing)}", venue=VENUE)
        return [found[n] for n in names]

    async def order_book(self, symbol: str, limit: int = 20) -> OrderBook:
        name = wire.symbol(symbol)
        data = await self._call(lambda: self._mb.public(f"/{name}/orderbook", {"limit": limit}))

        def levels(rows: list[list[Any]], best_high: bool) -> list[BookLevel]:
            parsed = [BookLevel(price=wire.dec(p), quantity=wire.dec(q)) for p, q in rows]
            return sorted(parsed, key=lambda x: x.price, reverse=best_high)[:limit]

        return OrderBook(
            symbol=name,
            bids=levels(data["bids"], best_high=True),
            asks=levels(data["asks"], best_high=False),
            at=wire.stamp(data["timestamp"]),
        )

    async def candles(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Candle]:
        if interval not in self.intervals:
            raise InvalidOrder(f"unknown resolution {interval!r}", venue=VENUE)
        name = wire.symbol(symbol)
        to = int((end or datetime.now(UTC)).timestamp())
        params: dict[str, str | int] = {"symbol": name, "resolution": interval, "to": to}
        if start is not None:
            params["from"] = int(start.timestamp())
        elif limit is not None:
            params["countback"] = limit
        data = await self._call(lambda: self._mb.public("/candles", params))
        rows = [
            Candle(
                open_time=wire.stamp(t),
                open=wire.dec(o),
                high=wire.dec(h),
                low=wire.dec(low),
                close=wire.dec(c),
                volume=wire.dec(v),
            )
            for t, o, h, low, c, v in zip(
                data["t"], data["o"], data["h"], data["l"], data["c"], data["v"], strict=True
            )
        ]
        rows.sort(key=lambda c: c.open_time)
        return rows[:limit] if start is not None and limit is not None else rows

    # -- account ---------------------------------------------------------------------------

    async def balances(self) -> list[Balance]:
        rows = await self._call(lambda: self._mb.private("GET", "/balances", "account"))
        return [
            Balance(asset=r["symbol"], free=wire.dec(r["available"]), locked=wire.dec(r["on_hold"]))
            for r in rows
        ]

    # -- orders ----------------------------------------------------------------------------

    async def create_order(self, request: OrderRequest, *, maybe_sent: bool = False) -> Order:
        rules = await self.market_rules(request.symbol)
        name = rules.symbol
        body = wire.body(wire.order_fields(request, rules))
        cid = request.client_order_id
        if maybe_sent:
            self._in_doubt.setdefault(cid, None)

        async def attempt() -> Order:
            if cid in self._in_doubt:
                found = await self._settle(name, cid)
                if found is not None:
                    return found
            try:
                placed = await self._mb.private(
                    "POST", f"/{name}/orders", "place_cancel", content=body
                )
            except Duplicate:
                found = await self._find(name, cid)
                if found is None:
                    raise InvalidOrder(f"externalId {cid} was used before", venue=VENUE) from None
                return found
            except ExchangeError as error:
                if not outcome_unknown(error):
                    raise
                self._in_doubt[cid] = self._clock.monotonic() + self._settle_window
                found = await self._settle(name, cid)
                if found is None:
                    raise  # not placed within the window: the next attempt may place it
                return found
            return await self._fetch(name, str(placed["orderId"]))

        return await self._call(attempt)

    async def _settle(self, name: str, cid: str) -> Order | None:
        """Look the order in doubt up until found or its window (on our clock) is over."""
        deadline = self._in_doubt[cid]
        if deadline is None:
            deadline = self._in_doubt[cid] = self._clock.monotonic() + self._settle_window

        async def now() -> float:
            return self._clock.monotonic()

        found = await settle(
            lookup=lambda: self._find(name, cid),
            venue_now=now,
            deadline=deadline,
            sleep=self._clock.sleep,
            first_delay=self._lookup_delay,
        )
        self._in_doubt.pop(cid, None)  # another caller's settle may have ended it
        return found

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        name = wire.symbol(symbol)
        return await self._call(lambda: self._resolve(name, order_id, client_order_id))

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        name = wire.symbol(symbol)

        async def cancel() -> Order:
            order = await self._resolve(name, order_id, client_order_id)
            path = f"/{name}/orders/{order.order_id}"
            try:
                await self._mb.private("DELETE", path, "place_cancel", params={"async": "false"})
            except OrderNotCancelable:
                # Canceled already (by an earlier try whose answer was lost): the cancel is done.
                order = await self._fetch(name, order.order_id)
                if order.status is not OrderStatus.CANCELED:
                    raise
                return order
            return await self._fetch(name, order.order_id)

        return await self._call(cancel)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """MB's order lists filtered on the open statuses (created: accepted, not yet in the
        book; working): the market's, or with None every market's in one call, whose items
        carry no fees or average prices (get_order has them)."""
        params = {"status": "created,working"}
        if symbol is not None:
            name = wire.symbol(symbol)
            rows = await self._call(lambda: self._list(name, **params))
        else:
            data = await self._call(
                lambda: self._mb.private("GET", "/orders", "list_all_orders", params=params)
            )
            rows = data["items"]
        return sorted((wire.order(r) for r in rows), key=wire.age)

    async def recent_orders(self, symbol: str, limit: int = 50) -> list[Order]:
        """The newest `limit` orders, oldest first."""
        rows = await self._call(lambda: self._list(wire.symbol(symbol)))
        return sorted((wire.order(r) for r in rows), key=wire.age)[-limit:]

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        """The newest `limit` fills, oldest first."""
        return (await self._call(lambda: self._executions(wire.symbol(symbol))))[-limit:]

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        """Cut at the fill `from_id` (inclusive); a `from_id` MB no longer lists resumes at the
        fills whose ids sort after it."""
        fills = await self._call(lambda: self._executions(wire.symbol(symbol)))
        if from_id is not None:
            ids = [f.trade_id for f in fills]
            if from_id in ids:
                fills = fills[ids.index(from_id) :]
            else:
                after = wire.sortable(from_id)
                fills = [f for f in fills if wire.sortable(f.trade_id) > after]
        return fills[:limit]

    async def _executions(self, name: str) -> list[Fill]:
        """Every fill of the market, oldest first: MB keeps executions inside their orders, so
        one read of the market's orders that have any."""
        rows = await self._list(name, has_executions="true")
        fills = [f for r in rows for f in wire.fills(r)]
        return sorted(fills, key=lambda f: (f.at, wire.sortable(f.trade_id)))

    async def _list(self, name: str, **params: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._mb.private(
            "GET", f"/{name}/orders", "list_orders", params=params
        )
        return rows

    async def _fetch(self, name: str, order_id: str) -> Order:
        return wire.order(await self._mb.private("GET", f"/{name}/orders/{order_id}", "get_order"))

    async def _find(self, name: str, client_order_id: str) -> Order | None:
        for row in await self._list(name):
            if row.get("externalId") == client_order_id:
                return wire.order(row)
        return None

    async def _resolve(self, name: str, order_id: str | None, client_order_id: str | None) -> Order:
        if order_id is not None:
            return await self._fetch(name, order_id)
        if client_order_id is None:
            raise ValueError("give order_id or client_order_id")
        found = await self._find(name, client_order_id)
        if found is None:
            raise OrderNotFound(f"no order {client_order_id} on {name}", venue=VENUE)
        return found
