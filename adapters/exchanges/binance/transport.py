"""HTTP to Binance Spot v3: HMAC signing, server-clock offset, request-weight throttling and
error mapping. One call here is one HTTP request; retries live above it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.exchanges.binance.wire import VENUE, Json, error_for
from adapters.exchanges.errors import (
    AuthError,
    ClockSkew,
    ExchangeError,
    RateLimited,
    RequestNotSent,
    TemporaryError,
)

_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


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
    ) -> None:
        if not 0 < recv_window <= 60000:
            raise ValueError("recvWindow must be in (0, 60000] ms")
        self._api_key = api_key
        self._secret = api_secret.encode()
        self._recv_window = recv_window
        self._client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._owns_client = client is None
        self._timeout = timeout
        self._clock = clock
        self._offset_ms = 0  # server time minus our clock, learnt from /api/v3/time
        # Binance's default REQUEST_WEIGHT limit until exchangeInfo tells us the real one.
        self._limit = 6000
        self._interval = 60
        self._header = "x-mbx-used-weight-1m"
        self._headroom = weight_headroom
        self._used = 0
        self._window = -1
        self._blocked_until = 0.0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- limits and clock -------------------------------------------------------------------

    def configure_limits(self, rate_limits: list[Json]) -> None:
        """Adopt the REQUEST_WEIGHT limit announced in exchangeInfo."""
        for limit in rate_limits:
            if limit.get("rateLimitType") == "REQUEST_WEIGHT":
                num = int(limit["intervalNum"])
                self._limit = int(limit["limit"])
                self._interval = num * _INTERVAL_SECONDS[limit["interval"]]
                self._header = f"x-mbx-used-weight-{num}{limit['interval'][0]}".lower()
                return

    @property
    def recv_window(self) -> int:
        return self._recv_window

    @property
    def offset_ms(self) -> int:
        return self._offset_ms

    def _server_now(self) -> float:
        return self._clock() + self._offset_ms / 1000

    async def sync_clock(self) -> int:
        """Learn the server clock's offset from ours; returns the server's time (ms)."""
        before = self._clock()
        data = await self.request("GET", "/api/v3/time", {}, weight=1)
        after = self._clock()
        server_time = int(data["serverTime"])
        # Assume the server read its clock halfway through the round trip.
        self._offset_ms = int(server_time - (before + after) / 2 * 1000)
        return server_time

    async def _throttle(self, weight: int) -> None:
        now = self._clock()
        if now < self._blocked_until:
            # Calling again while limited is what turns a 429 into an IP ban (418).
            raise RateLimited(
                "rate limited by Binance, waiting for Retry-After",
                retry_after=self._blocked_until - now,
                venue=VENUE,
            )
        server_now = self._server_now()
        window = int(server_now // self._interval)
        if window != self._window:
            self._window, self._used = window, 0
        if self._used + weight > self._limit * self._headroom:
            await asyncio.sleep((window + 1) * self._interval - server_now)
            self._window, self._used = window + 1, 0
        self._used += weight

    # -- requests ---------------------------------------------------------------------------

    async def request(self, method: str, path: str, params: dict[str, str], *, weight: int) -> Any:
        query = urlencode(params)
        return await self._send(method, f"{path}?{query}" if query else path, None, weight)

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
        stamp = int(self._clock() * 1000) + self._offset_ms
        if stamps is not None:
            stamps.append(stamp)
        payload = urlencode(
            {**params, "recvWindow": str(self._recv_window), "timestamp": str(stamp)}
        )
        payload += (
            "&signature=" + hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        )
        if method == "POST":  # form body, as the official clients send orders
            return await self._send(method, path, payload, weight)
        return await self._send(method, f"{path}?{payload}", None, weight)

    async def _send(self, method: str, url: str, body: str | None, weight: int) -> Any:
        await self._throttle(weight)
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
        used = response.headers.get(self._header)
        if used is not None:
            self._used = int(used)
        if response.is_success:
            return response.json()
        raise self._error(response)

    def _error(self, response: httpx.Response) -> ExchangeError:
        retry_after = _retry_after(response)
        if retry_after is not None and response.status_code in (418, 429):
            self._blocked_until = self._clock() + retry_after
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return error_for(response.status_code, body, retry_after)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
