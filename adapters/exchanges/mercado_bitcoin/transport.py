"""Mercado Bitcoin API v4 transport: bearer token, account id, client-side limits, errors.

- Auth: ``POST /authorize {login, password}`` -> bearer token, cached until shortly before its
  ``expiration``; a 401 renews it once and repeats the call.
- Every private path needs the account id (``GET /accounts``), looked up once.
- Limits: a client-side sliding window per endpoint family (MB's published figures) keeps us
  under the venue's; a 429 blocks the family for its ``Retry-After``. Every request waits in
  `MercadoBitcoinTransport.throttle` (the overall window, then its family's): the one place a
  shared budget plugs in.
- Bodies are parsed with JSON numbers as `Decimal`, never float.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from adapters.exchanges.budget import Budget, account_scope
from adapters.exchanges.errors import (
    AuthError,
    ExchangeError,
    InsufficientBalance,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    RateLimited,
    RequestNotSent,
    TemporaryError,
    UnknownSymbol,
)
from adapters.exchanges.resilience import Clock
from domain.market import Venue

MB_BASE_URL = "https://api.mercadobitcoin.net/api/v4"
VENUE = Venue.MERCADO_BITCOIN.value

Params = Mapping[str, str | int]


@dataclass(frozen=True)
class Window:
    requests: int
    per_seconds: float


@dataclass(frozen=True)
class ClientLimits:
    """Our own budget per endpoint family; MB's published limits by default."""

    public: Window = Window(1, 1.0)
    place_cancel: Window = Window(3, 1.0)
    list_orders: Window = Window(10, 1.0)
    get_order: Window = Window(1, 1.0)
    account: Window = Window(3, 1.0)
    list_all_orders: Window = Window(3, 1.0)
    overall: Window = Window(500, 60.0)


class Throttle:
    """A sliding window that makes callers wait their turn, and honours a venue 429."""

    def __init__(self, window: Window | None, clock: Clock) -> None:
        self._window = window
        self._clock = clock
        self._hits: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                wait = self._blocked_until - now
                if self._window is not None:
                    while self._hits and self._hits[0] <= now - self._window.per_seconds:
                        self._hits.popleft()
                    if len(self._hits) >= self._window.requests:
                        wait = max(wait, self._hits[0] + self._window.per_seconds - now)
                if wait <= 0:
                    self._hits.append(now)
                    return
                await self._clock.sleep(wait)

    def block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._clock.monotonic() + seconds)


class Duplicate(ExchangeError):
    """MB refused an externalId it has seen: the order exists already."""


# Last part of MB's "DOMAIN|MODULE|ERROR" codes -> our taxonomy (400s are business errors).
_ERRORS: dict[str, type[ExchangeError]] = {
    "ORDER_NOT_FOUND": OrderNotFound,
    "INVALID_STATUS": OrderNotCancelable,
    "ORDER_PROCESSED": OrderNotCancelable,
    "INSUFFICIENT_BALANCE": InsufficientBalance,
    "INVALID_PAIR": UnknownSymbol,
    "INVALID_SYMBOL": UnknownSymbol,
    "ORDER_DUPLICATE": Duplicate,
    "FORBIDDEN": AuthError,
    "INVALID_ACCESS": AuthError,
    "API_UNAVAILABLE": TemporaryError,
    "ORDER_IN_PROCESSING": TemporaryError,
    "REQUEST_RATE_EXCEEDED": RateLimited,
    "REQUEST_DENIED": RateLimited,
    "REQUEST_BLOCKED": RateLimited,
}


def _error(status: int, body: Any, retry_after: float | None) -> ExchangeError:
    code = ""
    message = f"HTTP {status}"
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):  # the gateway's 401/403 shape
            message = str(body["error"].get("message", message))
        else:
            code = str(body.get("code", ""))
            message = str(body.get("message", message))
    kw: dict[str, Any] = {"venue": VENUE, "code": code or status}
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **kw)
    if status >= 500:
        return TemporaryError(message, **kw)
    if status in (401, 403):
        return AuthError(message, **kw)
    kind = _ERRORS.get(code.rsplit("|", 1)[-1])
    if kind is RateLimited:
        return RateLimited(message, retry_after=retry_after, **kw)
    if kind is not None:
        return kind(message, **kw)
    if "|PLACE_ORDER|" in code or code == "API|UNPROCESSABLE_ENTITY":
        return InvalidOrder(message, **kw)
    return ExchangeError(message, **kw)


class MercadoBitcoinTransport:
    """One HTTP client on MB's v4 API for one API token."""

    def __init__(
        self,
        login: str,
        password: str,
        *,
        base_url: str,
        timeout: float,
        limits: ClientLimits | None,
        token_margin: float,
        wall_clock: Callable[[], float],
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None,
        budget: Budget | None = None,
    ) -> None:
        self._login, self._password = login, password
        # The overall limit shared by every adapter of the key, in every process.
        self._budget, self._scope = budget, account_scope(login) if login else None
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout), transport=transport
        )
        self._throttles = {
            f: Throttle(getattr(limits, f) if limits else None, clock)
            for f in ClientLimits.__dataclass_fields__
        }
        self._token_margin = token_margin
        self._now = wall_clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._account_id: str | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def throttle(self, family: str) -> None:
        """Wait for a turn in the overall window and in the family's."""
        await self._throttles["overall"].acquire()
        await self._throttles[family].acquire()
        if self._budget is not None:
            await self._budget.spend({"overall": 1}, account=self._scope)

    def blocked(self, family: str, seconds: float) -> None:
        """The venue answered 429 for `family`: nothing more of it for `seconds`."""
        self._throttles[family].block(seconds)

    async def send(
        self,
        method: str,
        path: str,
        family: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        await self.throttle(family)
        headers = {"Content-Type": "application/json"} if content is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return await self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:
            # Our own request could not be encoded: not the venue's failure, not retryable.
            raise RequestNotSent("the request could not be encoded", venue=VENUE) from exc
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{method} {path}: timed out", venue=VENUE) from exc
        except httpx.TransportError as exc:
            raise TemporaryError(f"{method} {path}: {exc!r}", venue=VENUE) from exc

    def decode(self, response: httpx.Response, family: str) -> Any:
        try:
            body = json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError:
            body = None
        if response.is_success:
            return body
        retry_after: float | None = None
        if response.status_code == 429:
            try:
                retry_after = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                retry_after = 1.0
            self.blocked(family, retry_after)
        raise _error(response.status_code, body, retry_after)

    async def public(self, path: str, params: Params | None = None) -> Any:
        return self.decode(await self.send("GET", path, "public", params=params), "public")

    async def private(
        self,
        method: str,
        path: str,
        family: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
    ) -> Any:
        """A call under /accounts/{accountId}."""
        url = f"/accounts/{await self._account()}{path}"
        return await self._authed(method, url, family, params=params, content=content)

    async def _authed(
        self,
        method: str,
        url: str,
        family: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
    ) -> Any:
        """With the bearer token; a 401 renews the token once and repeats the call."""
        for renewed in (False, True):
            token = await self._bearer(force=renewed)
            response = await self.send(
                method, url, family, params=params, content=content, token=token
            )
            if response.status_code != 401 or renewed:
                break
        return self.decode(response, family)

    async def _bearer(self, *, force: bool = False) -> str:
        async with self._token_lock:
            if force or self._token is None or self._now() >= self._renew_at:
                credentials = {"login": self._login, "password": self._password}
                body = json.dumps(credentials, separators=(",", ":")).encode()
                response = await self.send("POST", "/authorize", "overall", content=body)
                if response.status_code in (400, 422):  # MB's answer to bad credentials
                    raise AuthError("Mercado Bitcoin refused the API token", venue=VENUE)
                data = self.decode(response, "overall")
                now = self._now()
                lifetime = max(0.0, float(data["expiration"]) - now)
                self._token = str(data["access_token"])
                # Renew a little before expiry: the margin, or a tenth of a short lifetime.
                self._renew_at = now + lifetime - min(self._token_margin, lifetime / 10)
            assert self._token is not None
            return self._token

    async def _account(self) -> str:
        if self._account_id is None:
            accounts = await self._authed("GET", "/accounts", "account")
            if not accounts:
                raise AuthError("the API token has no account", venue=VENUE)
            self._account_id = str(accounts[0]["id"])
        return self._account_id
