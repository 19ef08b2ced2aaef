"""`BinanceExchange`: the `Exchange` port over Binance Spot REST v3."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import httpx

from adapters.exchanges.base import Exchange
from adapters.exchanges.binance.in_doubt import OrdersInDoubt
from adapters.exchanges.binance.order_reads import order_with_fees, orders_with_fees
from adapters.exchanges.binance.transport import BinanceTransport, BinanceVenue
from adapters.exchanges.binance.wire import (
    VENUE,
    Json,
    SymbolInfo,
    datetime_to_ms,
    is_duplicate_order,
    ms_to_datetime,
    order_params,
    order_ref,
    parse_book,
    parse_kline,
    parse_quote,
    parse_symbol,
    parse_ticker,
    parse_trade,
)
from adapters.exchanges.errors import (
    ExchangeError,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    UnknownSymbol,
)
from adapters.exchanges.placement import outcome_unknown
from adapters.exchanges.resilience import CircuitBreaker, Resilience
from domain.market import (
    AccountPermissions,
    Balance,
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
from domain.price_paths import KLINE_INTERVALS

T = TypeVar("T")

PRODUCTION_URL = "https://api.binance.com"
TESTNET_URL = "https://testnet.binance.vision"
KLINES_PAGE = 1000
_STATS_SYMBOLS = 20  # ticker/24hr weighs 2 up to this many symbols, then 40 and 80
_VALID_DEPTHS = 5000


class BinanceExchange(Exchange):
    """Binance Spot. Orders are quantised and checked against exchangeInfo filters before they
    leave; `create_order` is idempotent on the client order id (``newClientOrderId``).

    A placement whose answer is lost stays in doubt until Binance can no longer execute it
    (``timestamp + recvWindow`` on Binance's clock, plus our clock offset's size and
    `settle_margin`): until then it is looked up by ``origClientOrderId``, never placed again
    (`adapters.exchanges.placement`). A later call with the same client order id on this
    instance follows the same rule.

    ``retry=False`` makes every call a single attempt (inside Temporal activities, whose retry
    policy owns retrying). An activity that places orders must call `create_order` with
    ``maybe_sent=True`` on every attempt after the first (``activity.info().attempt > 1``) and
    whenever its workflow tried that client order id before: the earlier attempt ran on another
    instance, so the window is then taken from Binance's clock now (no earlier request can
    outlive ``now + 1 s + recvWindow``, Binance refusing timestamps more than 1 s ahead)."""

    venue: ClassVar[Venue] = Venue.BINANCE
    intervals: ClassVar[tuple[str, ...]] = tuple(KLINE_INTERVALS)  # Binance's 16

    def __init__(
        self,
        api_key: str = "",
        api_secret: str = "",
        *,
        base_url: str | None = None,
        testnet: bool = False,
        recv_window: int = 5000,
        timeout: float = 10.0,
        retry: bool = True,
        resilience: Resilience | None = None,
        breaker: CircuitBreaker | None = None,
        markets_ttl: float = 3600.0,
        lookup_delay: float = 0.25,
        settle_margin: float = 1.0,
        http_client: httpx.AsyncClient | None = None,
        venue: BinanceVenue | None = None,
    ) -> None:
        url = base_url or (TESTNET_URL if testnet else PRODUCTION_URL)
        self._http = BinanceTransport(
            base_url=url,
            api_key=api_key,
            api_secret=api_secret,
            recv_window=recv_window,
            timeout=timeout,
            client=http_client,
            venue=venue,
        )
        self._resilience = resilience or Resilience(VENUE, breaker=breaker)
        self._retry = retry
        self._testnet = testnet and base_url is None
        self._markets_ttl = markets_ttl
        self._in_doubt = OrdersInDoubt(
            self._http, lookup_delay=lookup_delay, settle_margin=settle_margin
        )
        self._symbols: dict[str, SymbolInfo] = {}  # by BASE-QUOTE
        self._names: dict[str, str] = {}  # BTCBRL -> BTC-BRL
        self._loaded_at = float("-inf")
        self._loading = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One logical call through retries and the circuit breaker. `fn` talks to the
        transport directly, never through `_call` again (a nested call would be refused as a
        second probe while the breaker is half-open)."""
        return await self._resilience.call(fn, retry=self._retry)

    async def _get(self, path: str, params: dict[str, str], weight: int) -> Any:
        return await self._call(lambda: self._http.request("GET", path, params, weight=weight))

    async def _signed(self, method: str, path: str, params: dict[str, str], weight: int) -> Any:
        return await self._call(lambda: self._http.signed(method, path, params, weight=weight))

    # -- markets ----------------------------------------------------------------------------

    async def _load_markets(self, *, force: bool = False) -> None:
        async with self._loading:
            if not force and time.monotonic() - self._loaded_at < self._markets_ttl:
                return
            info: Json = await self._get("/api/v3/exchangeInfo", {}, 20)
            self._http.configure_limits(info.get("rateLimits", []))
            symbols = [parse_symbol(raw) for raw in info["symbols"]]
            self._symbols = {s.rules.symbol: s for s in symbols}
            self._names = {s.name: s.rules.symbol for s in symbols}
            self._loaded_at = time.monotonic()

    async def _info(self, symbol: str) -> SymbolInfo:
        await self._load_markets()
        key = symbol.upper()
        if key not in self._symbols:  # listed since we loaded?
            await self._load_markets(force=True)
        try:
            return self._symbols[key]
        except KeyError:
            raise UnknownSymbol(f"unknown Binance market {symbol}", venue=VENUE) from None

    async def markets(self) -> list[MarketRules]:
        await self._load_markets()
        return [s.rules for s in self._symbols.values() if s.trading]

    async def market_rules(self, symbol: str) -> MarketRules:
        return (await self._info(symbol)).rules

    # -- market data ------------------------------------------------------------------------

    async def ticker(self, symbol: str) -> Ticker:
        info = await self._info(symbol)
        raw = await self._get("/api/v3/ticker/24hr", {"symbol": info.name}, 2)
        return parse_ticker(info.rules.symbol, raw)

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        """In the order asked (None: every trading market). Up to 20 markets: one ticker/24hr
        with `symbols` (weight 2, statistics included); more, or every market: bookTicker and
        ticker/price (weight 4 each, one call each for all of them)."""
        if symbols is None:
            await self._load_markets()
            infos = [s for s in self._symbols.values() if s.trading]
        else:
            infos = [await self._info(s) for s in dict.fromkeys(s.upper() for s in symbols)]
            if not infos:
                return []
        params = {} if symbols is None else {"symbols": _json_list(i.name for i in infos)}
        if symbols is not None and len(infos) <= _STATS_SYMBOLS:
            rows = await self._get("/api/v3/ticker/24hr", params, 2)
            by_name = {row["symbol"]: row for row in rows}
            return [parse_ticker(i.rules.symbol, by_name[i.name]) for i in infos]

        async def quotes() -> list[list[Json]]:
            both: list[list[Json]] = await asyncio.gather(
                self._http.request("GET", "/api/v3/ticker/bookTicker", params, weight=4),
                self._http.request("GET", "/api/v3/ticker/price", params, weight=4),
            )
            return both

        books, prices = await self._call(quotes)
        at = datetime.now(UTC)
        last = {row["symbol"]: row["price"] for row in prices}
        book = {row["symbol"]: row for row in books}
        return [
            parse_quote(i.rules.symbol, book[i.name], last[i.name], at)
            for i in infos
            if i.name in book and i.name in last  # a market either answer left out
        ]

    async def order_book(self, symbol: str, limit: int = 20) -> OrderBook:
        if not 1 <= limit <= _VALID_DEPTHS:
            raise InvalidOrder(f"depth limit must be 1..{_VALID_DEPTHS}", venue=VENUE)
        info = await self._info(symbol)
        weight = 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
        raw = await self._get("/api/v3/depth", {"symbol": info.name, "limit": str(limit)}, weight)
        return parse_book(info.rules.symbol, raw, datetime.now(UTC))

    async def candles(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Candle]:
        """Oldest first; more than 1000 candles are fetched page by page."""
        if interval not in self.intervals:
            raise InvalidOrder(f"unknown Binance interval {interval!r}", venue=VENUE)
        info = await self._info(symbol)
        wanted = limit or (None if start else 500)
        rows: list[list[Any]] = []
        cursor_start, cursor_end = start, end
        while wanted is None or len(rows) < wanted:
            page = KLINES_PAGE if wanted is None else min(KLINES_PAGE, wanted - len(rows))
            params = {"symbol": info.name, "interval": interval, "limit": str(page)}
            if cursor_start:
                params["startTime"] = str(datetime_to_ms(cursor_start))
            if cursor_end:
                params["endTime"] = str(datetime_to_ms(cursor_end))
            batch: list[list[Any]] = await self._get("/api/v3/klines", params, 2)
            if start is not None:  # paging forward from the start
                rows.extend(batch)
                if batch:
                    cursor_start = ms_to_datetime(batch[-1][6] + 1)
            else:  # paging backward from the end
                rows[:0] = batch
                if batch:
                    cursor_end = ms_to_datetime(batch[0][0] - 1)
            if len(batch) < page:
                break
        return [parse_kline(row) for row in rows]

    # -- orders -----------------------------------------------------------------------------

    async def create_order(self, request: OrderRequest, *, maybe_sent: bool = False) -> Order:
        info = await self._info(request.symbol)
        params = order_params(info, request)
        client_order_id = request.client_order_id

        async def fetch() -> Order:
            return await self._fetch_order(info, {"origClientOrderId": client_order_id})

        async def attempt() -> Order:
            if client_order_id in self._in_doubt:
                found = await self._in_doubt.settle(client_order_id, fetch)
                if found is not None:
                    return found
            stamps: list[int] = []
            try:
                raw = await self._http.signed(
                    "POST", "/api/v3/order", params, weight=1, stamps=stamps
                )
            except asyncio.CancelledError:
                if stamps:  # it may have left: a later call on this instance looks it up
                    self._in_doubt.lost(client_order_id, stamps)
                raise
            except ExchangeError as error:
                if is_duplicate_order(error):  # an open order already carries this id
                    return await fetch()
                if not outcome_unknown(error):
                    raise
                self._in_doubt.lost(client_order_id, stamps)
                found = await self._in_doubt.settle(client_order_id, fetch)
                if found is None:
                    raise  # certainly not placed: the next attempt may place it
                return found
            return await order_with_fees(self._http, info.rules.symbol, raw)

        # Callers of this shared instance with one client order id go one at a time, and one
        # that waited for another treats the order as maybe sent.
        async with self._in_doubt.placing(client_order_id) as contended:
            if maybe_sent or contended:
                self._in_doubt.maybe_sent(client_order_id)
            return await self._call(attempt)

    async def _fetch_order(self, info: SymbolInfo, ref: dict[str, str]) -> Order:
        raw = await self._http.signed(
            "GET", "/api/v3/order", {"symbol": info.name, **ref}, weight=4
        )
        return await order_with_fees(self._http, info.rules.symbol, raw)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        info = await self._info(symbol)
        ref = order_ref(order_id, client_order_id)
        try:
            await self._signed("DELETE", "/api/v3/order", {"symbol": info.name, **ref}, 1)
        except OrderNotFound as error:
            # -2011 "Unknown order sent." also answers a cancel of an order already final,
            # e.g. one an earlier try canceled whose answer was lost: that cancel succeeded.
            order = await self._call(lambda: self._fetch_order(info, ref))
            if order.status is OrderStatus.CANCELED:
                return order
            raise OrderNotCancelable(
                f"order {order.order_id} is {order.status}", venue=VENUE, code=error.code
            ) from error
        # The cancel answer lacks the creation time and fees: read the order whole.
        return await self._call(lambda: self._fetch_order(info, ref))

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        info = await self._info(symbol)
        ref = order_ref(order_id, client_order_id)
        return await self._call(lambda: self._fetch_order(info, ref))

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params: dict[str, str] = {}
        if symbol is not None:
            params["symbol"] = (await self._info(symbol)).name
        else:
            await self._load_markets()
        weight = 6 if symbol else 80

        async def fetch() -> list[Order]:
            raws = await self._http.signed("GET", "/api/v3/openOrders", params, weight=weight)
            return await orders_with_fees(self._http, self._names, raws)

        return await self._call(fetch)

    async def recent_orders(self, symbol: str, limit: int = 50) -> list[Order]:
        """Oldest first, the most recent `limit`."""
        info = await self._info(symbol)
        params = {"symbol": info.name, "limit": str(min(limit, 1000))}

        async def fetch() -> list[Order]:
            raws = await self._http.signed("GET", "/api/v3/allOrders", params, weight=20)
            return await orders_with_fees(self._http, self._names, raws)

        return await self._call(fetch)

    # -- account ----------------------------------------------------------------------------

    async def balances(self) -> list[Balance]:
        raw = await self._signed("GET", "/api/v3/account", {"omitZeroBalances": "true"}, 20)
        return [
            Balance(asset=b["asset"], free=Decimal(b["free"]), locked=Decimal(b["locked"]))
            for b in raw["balances"]
            if Decimal(b["free"]) or Decimal(b["locked"])
        ]

    async def permissions(self) -> AccountPermissions:
        """The key's own restrictions (SAPI). The testnet has no SAPI: there only the key's
        validity is proven and withdrawal rights stay unknown."""
        account = await self._signed("GET", "/api/v3/account", {"omitZeroBalances": "true"}, 20)
        if self._testnet:
            return AccountPermissions(can_trade=bool(account.get("canTrade")))
        restrictions = await self._signed("GET", "/sapi/v1/account/apiRestrictions", {}, 1)
        return AccountPermissions(
            can_trade=bool(restrictions.get("enableSpotAndMarginTrading")),
            can_withdraw=bool(restrictions.get("enableWithdrawals")),
        )

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        """myTrades from ``fromId`` (inclusive), at most 1000 a page. Without an id it asks
        from 0: Binance would otherwise answer the most recent trades, not the oldest."""
        if (from_id is not None and not from_id.isdigit()) or limit < 1:
            raise InvalidOrder("from_id is a Binance trade id and limit positive", venue=VENUE)
        info = await self._info(symbol)
        params = {"symbol": info.name, "fromId": from_id or "0", "limit": str(min(limit, 1000))}
        raws = await self._signed("GET", "/api/v3/myTrades", params, 20)
        return [parse_trade(info.rules.symbol, raw) for raw in raws]

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        """Oldest first, the most recent `limit`."""
        info = await self._info(symbol)
        raws = await self._signed(
            "GET", "/api/v3/myTrades", {"symbol": info.name, "limit": str(min(limit, 1000))}, 20
        )
        return [parse_trade(info.rules.symbol, raw) for raw in raws]


def _json_list(names: Iterable[str]) -> str:
    """The ``symbols`` parameter: a JSON array, without spaces as Binance's examples send it."""
    return json.dumps(list(names), separators=(",", ":"))
