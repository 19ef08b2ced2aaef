"""HTTP to Binance Spot v3: HMAC signing, server-clock offset, the venue's rate limits and
error mapping. One call here is one HTTP request; retries live above it.

What one Binance endpoint's adapters share in a process lives in `BinanceVenue` (the factory
builds one per endpoint and hands it to every adapter, whatever its key): the `Budget` of the
limits exchangeInfo announces (REQUEST_WEIGHT and RAW_REQUESTS per IP, ORDERS per account),
the Retry-After / ban state, the clock offset and exchangeInfo itself."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.exchanges.binance.wire import VENUE, Json, error_for
from adapters.exchanges.budget import Budget, BudgetStore, Limit, Scope, account_scope
from adapters.exchanges.errors import (
    AuthError,
    ClockSkew,
    ExchangeError,
    RequestNotSent,
    TemporaryError,
)

_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
# Binance's published limits (rest-api limits docs), until exchangeInfo announces its own.
DEFAULT_LIMITS = (
    Limit("REQUEST_WEIGHT_1M", "ip", 6000, 60),
    Limit("RAW_REQUESTS_5M", "ip", 61000, 300),
    Limit("ORDERS_10S", "account", 50, 10),
    Limit("ORDERS_1D", "account", 160000, 86400),
)
# Requests that add to the unfilled order count (ORDERS limits).
_PLACING = frozenset(
    {
        "/api/v3/order",
        "/api/v3/order/cancelReplace",
        "/api/v3/orderList/oco",
        "/api/v3/orderList/oto",
        "/api/v3/orderList/otoco",
        "/api/v3/sor/order",
    }
)
_HEADERS = {"REQUEST_WEIGHT": "x-mbx-used-weight-", "ORDERS": "x-mbx-order-count-"}
_TOO_MANY_ORDERS = -1015
# The longest a placement waits for the budget before it is signed; an order activity's
# start-to-close timeout must be longer, so no attempt still waiting outlives its retry.
PLACEMENT_MAX_WAIT = 15.0
# A forced reload of exchangeInfo within this age is served the cached document.
INFO_MIN_AGE = 60.0


def _limit(raw: Json) -> Limit:
    """An exchangeInfo rateLimits entry, named as its response header names it."""
    kind, num, interval = raw["rateLimitType"], int(raw["intervalNum"]), raw["interval"]
    scope: Scope = "account" if kind == "ORDERS" else "ip"
    seconds = num * _INTERVAL_SECONDS[interval]
    return Limit(f"{kind}_{num}{interval[0]}", scope, int(raw["limit"]), seconds)


class BinanceVenue:
    """What every adapter of one Binance endpoint shares in one process."""

    def __init__(
        self,
        *,
        store: BudgetStore | None = None,
        host: str | None = None,
        headroom: float = 0.9,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.offset_ms = 0  # server time minus our clock, learnt from /api/v3/time
        self._clock = clock
        self.budget = Budget(
            VENUE, DEFAULT_LIMITS, store=store, host=host, clock=self.server_now, headroom=headroom
        )
        self._info: Json | None = None
        self._info_at = float("-inf")
        self._info_lock = asyncio.Lock()

    def server_now(self) -> float:
        return self._clock() + self.offset_ms / 1000

    def configure_limits(self, rate_limits: list[Json]) -> bool:
        """Adopt the limits announced in exchangeInfo (every one of them, no others); True if
        they are others than before."""
        limits = [_limit(raw) for raw in rate_limits if raw.get("interval") in _INTERVAL_SECONDS]
        return self.budget.configure(limits) if limits else False

    async def exchange_info(self, fetch: Callable[[], Awaitable[Json]]) -> Json:
        """exchangeInfo, fetched once for every adapter however many ask at once; an adapter's
        forced reload (a symbol it does not know) within `INFO_MIN_AGE` gets the cached one."""
        async with self._info_lock:
            if self._info is None or time.monotonic() - self._info_at >= INFO_MIN_AGE:
                self._info, self._info_at = await fetch(), time.monotonic()
            return self._info


class BinanceTransport:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        api_secret: str,
        recv_window: int,
        timeout: float,
        client: httpx.AsyncClient | None = None,
        weight_headroom: float = 0.9,
        clock: Callable[[], float] = time.time,
        venue: BinanceVenue | None = None,
    ) -> None:
        """Without `venue` the adapter keeps its limits, clock offset and exchangeInfo to
        itself."""
        if not 0 < recv_window <= 60000:
            raise ValueError("recvWindow must be in (0, 60000] ms")
        self._api_key = api_key
        self._account = account_scope(api_key) if api_key else None
        self._secret = api_secret.encode()
        self._recv_window = recv_window
        self._client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._owns_client = client is None
        self._timeout = timeout
        self._clock = clock
        self._venue = venue or BinanceVenue(headroom=weight_headroom, clock=clock)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- limits and clock -------------------------------------------------------------------

    def configure_limits(self, rate_limits: list[Json]) -> None:
        self._venue.configure_limits(rate_limits)

    @property
    def budget(self) -> Budget:
        return self._venue.budget

    @property
    def recv_window(self) -> int:
        return self._recv_window

    @property
    def offset_ms(self) -> int:
        return self._venue.offset_ms

    async def sync_clock(self) -> int:
        """Learn the server clock's offset from ours; returns the server's time (ms)."""
        before = self._clock()
        data = await self.request("GET", "/api/v3/time", {}, weight=1)
        after = self._clock()
        server_time = int(data["serverTime"])
        # Assume the server read its clock halfway through the round trip.
        self._venue.offset_ms = int(server_time - (before + after) / 2 * 1000)
        return server_time

    async def _spend(self, method: str, path: str, weight: int) -> None:
        """Wait for room in every limit this request counts against (or raise `RateLimited`
        while Binance asked us to back off)."""
        placing = method == "POST" and path in _PLACING
        costs = {}
        for name in self._venue.budget.limits:
            kind = name.rsplit("_", 1)[0]
            if kind == "REQUEST_WEIGHT":
                costs[name] = weight
            elif kind == "RAW_REQUESTS" or (kind == "ORDERS" and placing):
                costs[name] = 1
        # A placement never waits long to be signed: an attempt whose caller gave up (a Temporal
        # activity past its timeout, in another process) must not sign and send it later,
        # after a retry concluded it was never placed (`adapters.exchanges.placement`).
        max_wait = PLACEMENT_MAX_WAIT if placing else None
        await self._venue.budget.spend(costs, account=self._account, max_wait=max_wait)

    def _observe(self, response: httpx.Response) -> None:
        """The venue's own counts: weight per IP, orders per account, each of the window the
        request was sent in (an answer can arrive in the next)."""
        sent_at = self._venue.server_now() - response.elapsed.total_seconds()
        for name in self._venue.budget.limits:
            kind, suffix = name.rsplit("_", 1)
            header = _HEADERS.get(kind)
            value = response.headers.get(header + suffix.lower()) if header else None
            if value is not None and value.isdigit():
                self._venue.budget.observe(name, int(value), account=self._account, sent_at=sent_at)

    # -- requests ---------------------------------------------------------------------------

    async def request(self, method: str, path: str, params: dict[str, str], *, weight: int) -> Any:
        query = urlencode(params)
        if path == "/api/v3/exchangeInfo" and not params:
            return await self._venue.exchange_info(lambda: self._exchange_info(weight))
        await self._spend(method, path, weight)
        return (await self._respond(method, f"{path}?{query}" if query else path, None)).json()

    async def _exchange_info(self, weight: int) -> Json:
        await self._spend("GET", "/api/v3/exchangeInfo", weight)
        response = await self._respond("GET", "/api/v3/exchangeInfo", None)
        info: Json = response.json()
        if self._venue.configure_limits(info.get("rateLimits", [])):
            # Spent under limits Binance does not have: count it again under its own.
            await self._spend("GET", "/api/v3/exchangeInfo", weight)
        self._observe(response)  # the venue's counts, under the limits it just announced
        return info

    async def signed(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        *,
        weight: int,
        stamps: list[int] | None = None,
    ) -> Any:
        """A SIGNED call; on -1021 the clock is resynchronised and the call sent once more.
        Each request's ``timestamp`` is appended to `stamps`: Binance may execute it until
        ``timestamp + recvWindow`` on its clock."""
        if not self._api_key:
            raise AuthError("Binance API key and secret are required", venue=VENUE)
        try:
            return await self._signed_once(method, path, params, weight, stamps)
        except ClockSkew:
            await self.sync_clock()
            return await self._signed_once(method, path, params, weight, stamps)

    async def _signed_once(
        self, method: str, path: str, params: dict[str, str], weight: int, stamps: list[int] | None
    ) -> Any:
        # Waiting for the budget comes first: the timestamp must be fresh when it leaves.
        await self._spend(method, path, weight)
        stamp = int(self._clock() * 1000) + self._venue.offset_ms
        if stamps is not None:
            stamps.append(stamp)
        payload = urlencode(
            {**params, "recvWindow": str(self._recv_window), "timestamp": str(stamp)}
        )
        payload += (
            "&signature=" + hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        )
        if method == "POST":  # form body, as the official clients send orders
            return (await self._respond(method, path, payload)).json()
        return (await self._respond(method, f"{path}?{payload}", None)).json()

    async def _respond(self, method: str, url: str, body: str | None) -> httpx.Response:
        headers = {"X-MBX-APIKEY": self._api_key} if self._api_key else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = await self._client.request(
                method, url, content=body, headers=headers, timeout=self._timeout
            )
        except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:
            # Our own request could not be encoded: not the venue's failure, not retryable.
            raise RequestNotSent("the request could not be encoded", venue=VENUE) from exc
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"timeout on {method} {url.split('?')[0]}", venue=VENUE) from exc
        except httpx.TransportError as exc:
            raise TemporaryError(f"network error: {exc!r}", venue=VENUE) from exc
        self._observe(response)
        if response.is_success:
            return response
        raise await self._error(response)

    async def _error(self, response: httpx.Response) -> ExchangeError:
        retry_after = _retry_after(response)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if response.status_code in (418, 429):
            await self._back_off(body, retry_after)
        return error_for(response.status_code, body, retry_after)

    async def _back_off(self, body: Any, retry_after: float | None) -> None:
        """A 418/429 stops this IP's calls, in every process, for its Retry-After; too many
        orders (-1015, sent without Retry-After) stops this account's until the shortest
        ORDERS window turns."""
        code = body.get("code") if isinstance(body, dict) else None
        if code == _TOO_MANY_ORDERS and self._account is not None:
            windows = [
                limit.seconds
                for limit in self._venue.budget.limits.values()
                if limit.scope == "account"
            ]
            if retry_after is None:
                now, seconds = self._venue.server_now(), min(windows, default=10)
                retry_after = math.floor(now / seconds + 1) * seconds - now
            await self._venue.budget.block(retry_after, account=self._account)
        elif retry_after is not None:
            await self._venue.budget.block(retry_after)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
