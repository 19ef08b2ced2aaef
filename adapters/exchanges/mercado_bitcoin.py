"""Mercado Bitcoin API v4 adapter (api.mercadobitcoin.net/api/v4/docs).

- Auth: ``POST /authorize {login, password}`` -> bearer token, cached until shortly before its
  ``expiration``; a 401 renews it once and repeats the call.
- Every private path needs the account id (``GET /accounts``), looked up once.
- Symbols are ``BASE-QUOTE`` on MB as in Crypteras. Candles at MB's 7 resolutions.
- Money: MB sends strings for quantities and JSON numbers for prices; both are parsed straight
  into `Decimal` (never float), and numbers we send are written with their exact digits.
- Limits: a client-side sliding window per endpoint family (MB's published figures) keeps us
  under the venue's; a 429 blocks the family for its ``Retry-After``.
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

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

import httpx

from adapters.exchanges.base import Exchange
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
from adapters.exchanges.placement import outcome_unknown, settle
from adapters.exchanges.resilience import Clock, Resilience, SystemClock
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
    OrderType,
    Side,
    Symbol,
    Ticker,
    Venue,
)

T = TypeVar("T")

MB_BASE_URL = "https://api.mercadobitcoin.net/api/v4"
VENUE = Venue.MERCADO_BITCOIN.value
# MB does not publish a lot step: quantities carry at most 8 decimals.
DEFAULT_LOT_STEP = Decimal("0.00000001")


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


class _Throttle:
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


class _Duplicate(ExchangeError):
    """MB refused an externalId it has seen: the order exists already."""


# Last part of MB's "DOMAIN|MODULE|ERROR" codes -> our taxonomy (400s are business errors).
_ERRORS: dict[str, type[ExchangeError]] = {
    "ORDER_NOT_FOUND": OrderNotFound,
    "INVALID_STATUS": OrderNotCancelable,
    "ORDER_PROCESSED": OrderNotCancelable,
    "INSUFFICIENT_BALANCE": InsufficientBalance,
    "INVALID_PAIR": UnknownSymbol,
    "INVALID_SYMBOL": UnknownSymbol,
    "ORDER_DUPLICATE": _Duplicate,
    "FORBIDDEN": AuthError,
    "INVALID_ACCESS": AuthError,
    "API_UNAVAILABLE": TemporaryError,
    "ORDER_IN_PROCESSING": TemporaryError,
    "REQUEST_RATE_EXCEEDED": RateLimited,
    "REQUEST_DENIED": RateLimited,
    "REQUEST_BLOCKED": RateLimited,
}
_STATUS: dict[str, OrderStatus] = {
    "created": OrderStatus.NEW,
    "working": OrderStatus.NEW,
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELED,
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


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ExchangeError(f"not a number: {value!r}", venue=VENUE) from None


def _time(value: Any) -> datetime:
    """MB stamps in seconds, some in nanoseconds: scale by magnitude."""
    stamp = _dec(value)
    while stamp > 10**11:
        stamp /= 1000
    return datetime.fromtimestamp(float(stamp), UTC)


def _body(fields: Mapping[str, str | Decimal | bool]) -> bytes:
    """JSON with decimals as numbers written with their exact digits (MB's `limitPrice`)."""

    def value(v: str | Decimal | bool) -> str:
        if isinstance(v, Decimal):
            return format(v.normalize(), "f")
        return json.dumps(v)

    return ("{" + ",".join(f"{json.dumps(k)}:{value(v)}" for k, v in fields.items()) + "}").encode()


class MercadoBitcoinExchange(Exchange):
    venue: ClassVar[Venue] = Venue.MERCADO_BITCOIN
    intervals: ClassVar[tuple[str, ...]] = ("1m", "15m", "1h", "3h", "1d", "1w", "1M")

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
    ) -> None:
        """`login`/`password` are the API token id and secret. `limits=None` turns off our own
        throttling (the venue's 429s are still honoured). `clock` times the throttles, the
        markets cache and (unless `resilience` is given) the retries; `wall_clock` reads the
        time of day that token expirations are stamped in."""
        self._login, self._password = login, password
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout), transport=transport
        )
        self._retry = retry
        self._clock = clock or SystemClock()
        self._resilience = resilience or Resilience(VENUE, clock=self._clock)
        self._throttles = {
            f: _Throttle(getattr(limits, f) if limits else None, self._clock)
            for f in ClientLimits.__dataclass_fields__
        }
        self._token_margin = token_margin
        self._markets_ttl = markets_ttl
        self._now = wall_clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._account_id: str | None = None
        self._markets: dict[str, MarketRules] = {}
        self._markets_at = float("-inf")
        self._settle_window = settle_window
        self._lookup_delay = lookup_delay
        # Client order ids in doubt -> our monotonic time after which a placement may be made
        # again; None: an earlier attempt elsewhere, the window starts when settling.
        self._in_doubt: dict[str, float | None] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -------------------------------------------------------------------------

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._resilience.call(fn, retry=self._retry)

    async def _send(
        self,
        method: str,
        path: str,
        family: str,
        *,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        await self._throttles["overall"].acquire()
        await self._throttles[family].acquire()
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

    def _decode(self, response: httpx.Response, family: str) -> Any:
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
            self._throttles[family].block(retry_after)
        raise _error(response.status_code, body, retry_after)

    async def _public(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._decode(await self._send("GET", path, "public", params=params), "public")

    async def _private(
        self,
        method: str,
        path: str,
        family: str,
        *,
        params: Mapping[str, str | int] | None = None,
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
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
    ) -> Any:
        """With the bearer token; a 401 renews the token once and repeats the call."""
        for renewed in (False, True):
            token = await self._bearer(force=renewed)
            response = await self._send(
                method, url, family, params=params, content=content, token=token
            )
            if response.status_code != 401 or renewed:
                break
        return self._decode(response, family)

    async def _bearer(self, *, force: bool = False) -> str:
        async with self._token_lock:
            if force or self._token is None or self._now() >= self._renew_at:
                body = _body({"login": self._login, "password": self._password})
                response = await self._send("POST", "/authorize", "overall", content=body)
                if response.status_code in (400, 422):  # MB's answer to bad credentials
                    raise AuthError("Mercado Bitcoin refused the API token", venue=VENUE)
                data = self._decode(response, "overall")
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

    # -- market data -----------------------------------------------------------------------

    async def markets(self) -> list[MarketRules]:
        if self._clock.monotonic() - self._markets_at > self._markets_ttl:
            columns = await self._call(lambda: self._public("/symbols"))
            self._markets = {r.symbol: r for r in _rules_from_columns(columns)}
            self._markets_at = self._clock.monotonic()
        return list(self._markets.values())

    async def market_rules(self, symbol: str) -> MarketRules:
        name = _symbol(symbol)
        await self.markets()
        try:
            return self._markets[name]
        except KeyError:
            raise UnknownSymbol(f"unknown market {symbol}", venue=VENUE) from None

    async def ticker(self, symbol: str) -> Ticker:
        name = _symbol(symbol)
        rows = await self._call(lambda: self._public("/tickers", {"symbols": name}))
        if not rows:
            raise UnknownSymbol(f"unknown market {symbol}", venue=VENUE)
        row = rows[0]
        return Ticker(
            symbol=row["pair"],
            last=_dec(row["last"]),
            bid=_dec(row["buy"]),
            ask=_dec(row["sell"]),
            high_24h=_dec(row["high"]),
            low_24h=_dec(row["low"]),
            volume_24h=_dec(row["vol"]),
            at=_time(row["date"]),
        )

    async def order_book(self, symbol: str, limit: int = 20) -> OrderBook:
        name = _symbol(symbol)
        data = await self._call(lambda: self._public(f"/{name}/orderbook", {"limit": limit}))

        def levels(rows: list[list[Any]], best_high: bool) -> list[BookLevel]:
            parsed = [BookLevel(price=_dec(p), quantity=_dec(q)) for p, q in rows]
            return sorted(parsed, key=lambda x: x.price, reverse=best_high)[:limit]

        return OrderBook(
            symbol=name,
            bids=levels(data["bids"], best_high=True),
            asks=levels(data["asks"], best_high=False),
            at=_time(data["timestamp"]),
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
        name = _symbol(symbol)
        to = int((end or datetime.now(UTC)).timestamp())
        params: dict[str, str | int] = {"symbol": name, "resolution": interval, "to": to}
        if start is not None:
            params["from"] = int(start.timestamp())
        elif limit is not None:
            params["countback"] = limit
        data = await self._call(lambda: self._public("/candles", params))
        rows = [
            Candle(
                open_time=_time(t),
                open=_dec(o),
                high=_dec(h),
                low=_dec(low),
                close=_dec(c),
                volume=_dec(v),
            )
            for t, o, h, low, c, v in zip(
                data["t"], data["o"], data["h"], data["l"], data["c"], data["v"], strict=True
            )
        ]
        rows.sort(key=lambda c: c.open_time)
        return rows[:limit] if start is not None and limit is not None else rows

    # -- account ---------------------------------------------------------------------------

    async def balances(self) -> list[Balance]:
        rows = await self._call(lambda: self._private("GET", "/balances", "account"))
        return [
            Balance(asset=r["symbol"], free=_dec(r["available"]), locked=_dec(r["on_hold"]))
            for r in rows
        ]

    # -- orders ----------------------------------------------------------------------------

    async def create_order(self, request: OrderRequest, *, maybe_sent: bool = False) -> Order:
        rules = await self.market_rules(request.symbol)
        name = rules.symbol
        body = _body(_order_fields(request, rules))
        cid = request.client_order_id
        if maybe_sent:
            self._in_doubt.setdefault(cid, None)

        async def attempt() -> Order:
            if cid in self._in_doubt:
                found = await self._settle(name, cid)
                if found is not None:
                    return found
            try:
                placed = await self._private(
                    "POST", f"/{name}/orders", "place_cancel", content=body
                )
            except _Duplicate:
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
        del self._in_doubt[cid]
        return found

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        name = _symbol(symbol)
        return await self._call(lambda: self._resolve(name, order_id, client_order_id))

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        name = _symbol(symbol)

        async def cancel() -> Order:
            order = await self._resolve(name, order_id, client_order_id)
            path = f"/{name}/orders/{order.order_id}"
            try:
                await self._private("DELETE", path, "place_cancel", params={"async": "false"})
            except OrderNotCancelable:
                # Canceled already (by an earlier try whose answer was lost): the cancel is done.
                order = await self._fetch(name, order.order_id)
                if order.status is not OrderStatus.CANCELED:
                    raise
                return order
            return await self._fetch(name, order.order_id)

        return await self._call(cancel)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Across markets MB's list carries no fees or average prices: get_order has them."""
        if symbol is not None:
            name = _symbol(symbol)
            rows = await self._call(
                lambda: self._private(
                    "GET", f"/{name}/orders", "list_orders", params={"status": "working"}
                )
            )
            return sorted((_order(r) for r in rows), key=_age)
        data = await self._call(
            lambda: self._private(
                "GET", "/orders", "list_all_orders", params={"status": "created,working"}
            )
        )
        return sorted((_order(r) for r in data["items"]), key=_age)

    async def recent_orders(self, symbol: str, limit: int = 50) -> list[Order]:
        """The newest `limit` orders, oldest first."""
        rows = await self._call(lambda: self._list(_symbol(symbol)))
        return sorted((_order(r) for r in rows), key=_age)[-limit:]

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        """The newest `limit` fills, oldest first."""
        name = _symbol(symbol)
        rows = await self._call(lambda: self._list(name, has_executions="true"))
        fills = [f for r in rows for f in _fills(r)]
        return sorted(fills, key=lambda f: (f.at, _sortable(f.trade_id)))[-limit:]

    async def _list(self, name: str, **params: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._private(
            "GET", f"/{name}/orders", "list_orders", params=params
        )
        return rows

    async def _fetch(self, name: str, order_id: str) -> Order:
        return _order(await self._private("GET", f"/{name}/orders/{order_id}", "get_order"))

    async def _find(self, name: str, client_order_id: str) -> Order | None:
        for row in await self._list(name):
            if row.get("externalId") == client_order_id:
                return _order(row)
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


# -- translation -------------------------------------------------------------------------------


def _symbol(text: str) -> str:
    try:
        return str(Symbol.parse(text))
    except ValueError:
        raise UnknownSymbol(f"not a BASE-QUOTE symbol: {text!r}", venue=VENUE) from None


def _rules_from_columns(columns: dict[str, list[Any]]) -> list[MarketRules]:
    """MB's /symbols is column-oriented: one array per field."""
    out = []
    for i, symbol in enumerate(columns.get("symbol", [])):

        def col(name: str, default: str = "0", i: int = i) -> Decimal:
            values = columns.get(name)
            return _dec(values[i]) if values and values[i] not in (None, "") else Decimal(default)

        scale = col("pricescale", "100000000")
        movement = col("minmovement")
        # Two styles in the wild: TradingView's whole count of 1/pricescale ("1", 100), or the
        # tick itself ("0.01000000", or "2.50000000" with pricescale 10: not a whole count).
        whole = movement >= 1 and movement == movement.to_integral_value()
        tick = movement / scale if whole else movement or 1 / scale
        maximum = {k: col(k) or None for k in ("max-volume", "max-cost", "max-price")}
        out.append(
            MarketRules(
                symbol=str(Symbol.parse(symbol)),
                price_tick=tick,
                lot_step=DEFAULT_LOT_STEP,
                min_quantity=col("min-volume", str(DEFAULT_LOT_STEP)),
                max_quantity=maximum["max-volume"],
                min_notional=col("min-cost"),
                max_notional=maximum["max-cost"],
                min_price=col("min-price"),
                max_price=maximum["max-price"],
            )
        )
    return out


def _order_fields(request: OrderRequest, rules: MarketRules) -> dict[str, str | Decimal | bool]:
    """Quantise onto the market's rules, refuse what MB would refuse, build the POST body."""
    fields: dict[str, str | Decimal | bool] = {
        "side": request.side.value,
        "type": request.type.value,
        "externalId": request.client_order_id,
        "async": False,
    }

    def refuse(rule: str) -> InvalidOrder:
        return InvalidOrder(f"{request.symbol}: order breaks rule {rule}", venue=VENUE, code=rule)

    if request.type is OrderType.LIMIT:
        if request.price is None or request.quantity is None or request.quote_quantity:
            raise refuse("request")
        price = rules.quantise_price(request.price, request.side)
        quantity = rules.quantise_quantity(request.quantity)
        rule = rules.violation(quantity, price)
        if rule:
            raise refuse(rule)
        fields.update(qty=format(quantity, "f"), limitPrice=price)
        return fields
    if request.price is not None or (request.quantity is None) == (request.quote_quantity is None):
        raise refuse("request")
    if request.quote_quantity is not None:
        if request.side is Side.SELL:
            raise refuse("request")  # MB spends `cost` on market buys only
        cost = request.quote_quantity.quantize(DEFAULT_LOT_STEP, rounding="ROUND_DOWN")
        if cost < rules.min_notional or (rules.max_notional and cost > rules.max_notional):
            raise refuse("notional")
        fields["cost"] = cost
        return fields
    assert request.quantity is not None
    quantity = rules.quantise_quantity(request.quantity)
    too_big = rules.max_quantity is not None and quantity > rules.max_quantity
    if quantity <= 0 or quantity < rules.min_quantity or too_big:
        raise refuse("quantity_range")
    fields["qty"] = format(quantity, "f")
    return fields


def _age(order: Order) -> tuple[datetime, int | str]:
    return order.created_at, _sortable(order.order_id)


def _sortable(identifier: str) -> int | str:
    return int(identifier) if identifier.isdigit() else identifier


def _order(row: dict[str, Any]) -> Order:
    """An order document (GET .../orders/{id}, per-market lists) or an all-markets list item."""
    name = str(row["instrument"])
    base, quote = name.split("-")
    side = Side(row["side"])
    filled = _dec(row.get("filledQty", 0))
    status = _STATUS.get(str(row["status"]), OrderStatus.NEW)
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    executions = row.get("executions") or []
    average = _dec(row["avgPrice"]) if row.get("avgPrice") else None
    if executions:
        spent = sum((_dec(e["price"]) * _dec(e["qty"]) for e in executions), Decimal(0))
    else:
        spent = average * filled if average is not None else Decimal(0)
    limit = row.get("limitPrice")
    return Order(
        order_id=str(row["id"]),
        client_order_id=str(row.get("externalId") or row.get("external_id") or ""),
        symbol=name,
        side=side,
        type=OrderType(row["type"]) if row["type"] in ("market", "limit") else OrderType.LIMIT,
        status=status,
        quantity=_dec(row["qty"]),
        price=_dec(limit) if limit not in (None, 0) else None,
        filled_quantity=filled,
        average_price=average,
        quote_quantity=spent,
        fee=_dec(row.get("fee", 0)),
        fee_asset=base if side is Side.BUY else quote,
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _fills(row: dict[str, Any]) -> list[Fill]:
    """Executions of one order; MB gives the fee rate in percent, charged on what was received."""
    base, quote = str(row["instrument"]).split("-")
    out = []
    for e in row.get("executions") or []:
        side, price, quantity = Side(e["side"]), _dec(e["price"]), _dec(e["qty"])
        rate = _dec(e.get("fee_rate", 0)) / 100
        received = quantity if side is Side.BUY else quantity * price
        out.append(
            Fill(
                trade_id=str(e["id"]),
                order_id=str(row["id"]),
                symbol=str(row["instrument"]),
                side=side,
                price=price,
                quantity=quantity,
                fee=received * rate,
                fee_asset=base if side is Side.BUY else quote,
                at=_time(e["executed_at"]),
            )
        )
    return out
