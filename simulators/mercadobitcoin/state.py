"""The simulated venue: clock, API tokens, rate limits, injected faults, accounts and orders."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import hmac
import json
import math
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.market import Fill, Order, OrderRequest, OrderType, Side
from domain.matching import (
    InsufficientFunds,
    MatchingEngine,
    RuleViolation,
    WouldTake,
    WouldTrigger,
)
from domain.price_paths import PricePath
from simulators.mercadobitcoin import orders as place_rules
from simulators.mercadobitcoin.config import AccountSpec, Limit, RateLimits, SimConfig
from simulators.mercadobitcoin.faults import PathFault, Ulids
from simulators.mercadobitcoin.prices import ManualPrices, build_source
from simulators.mercadobitcoin.wire import (
    MbError,
    execution,
    order_document,
    order_item,
    unauthenticated,
    unauthorized,
)


class SimClock:
    """Simulated time: wall time scaled by `speed` from `started_at`, plus explicit advances."""

    def __init__(self, started_at: datetime, speed: float) -> None:
        self._anchor = started_at
        self._wall = time.time()
        self._advanced = 0.0
        self.speed = speed

    def now(self) -> datetime:
        return self._anchor + timedelta(seconds=(time.time() - self._wall) * self.speed)

    def monotonic(self) -> float:
        """Seconds for the rate-limit windows: wall seconds (the venue's limits do not follow
        `speed`) plus the explicit advances, so a client that waits on the simulator's clock
        is seen to have waited."""
        return time.monotonic() + self._advanced

    def set_speed(self, speed: float) -> None:
        self._anchor, self._wall, self.speed = self.now(), time.time(), speed

    def advance(self, seconds: float) -> None:
        self._anchor += timedelta(seconds=seconds)
        self._advanced += seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    """JWT-shaped access tokens, so "not decodable" (403) and "expired" (401) differ as on MB."""

    def __init__(self, lifetime_seconds: float) -> None:
        self.lifetime = lifetime_seconds
        self._key = secrets.token_bytes(32)
        self._valid_after = 0.0
        self.issued = 0

    def issue(self, login: str) -> tuple[str, int]:
        now = time.time()
        expires = now + self.lifetime
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        claims = {"sub": login, "iat": now, "exp": expires, "jti": uuid.uuid4().hex}
        payload = _b64(json.dumps(claims).encode())
        signature = _b64(hmac.digest(self._key, f"{header}.{payload}".encode(), hashlib.sha256))
        self.issued += 1
        return f"{header}.{payload}.{signature}", int(expires)

    def verify(self, authorization: str | None) -> str:
        """The login the bearer token belongs to."""
        scheme, _, token = (authorization or "").partition(" ")
        parts = token.split(".")
        if scheme.lower() != "bearer" or len(parts) != 3:
            raise unauthenticated()
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            login, issued, expires = str(claims["sub"]), float(claims["iat"]), float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise unauthenticated() from None
        expected = _b64(hmac.digest(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256))
        now = time.time()
        if (
            not hmac.compare_digest(expected, parts[2])
            or expires <= now
            or issued < self._valid_after
        ):
            raise unauthorized()
        return login

    def expire_all(self) -> None:
        self._valid_after = time.time()


class RateLimiter:
    """Sliding windows per (endpoint family, caller), plus the overall budget."""

    def __init__(self, limits: RateLimits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def hit(self, family: str, caller: str) -> float | None:
        """Record a request; None if allowed, else seconds until one is (rounded up, >= 1)."""
        if not self.limits.enabled:
            return None
        now = self._monotonic()
        windows = {(f, caller): getattr(self.limits, f) for f in {family, "overall"}}
        waits = [
            w for key, limit in windows.items() if (w := self._wait(key, limit, now)) is not None
        ]
        if waits:
            return float(max(1, math.ceil(max(waits))))
        for key in windows:
            self._hits[key].append(now)
        return None

    def _wait(self, key: tuple[str, str], limit: Limit, now: float) -> float | None:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - limit.per_seconds:
            hits.popleft()
        return hits[0] + limit.per_seconds - now if len(hits) >= limit.requests else None

    def reset(self) -> None:
        self._hits.clear()


@dataclass
class Faults:
    order_delay: float = 0.0  # seconds to hold the next order response, after placing it
    order_hold: float = 0.0  # seconds to hold the next order inside the venue, before placing it
    errors_left: int = 0  # the next N API requests fail with `error_status`
    error_status: int = 503
    error_after_processing: bool = False  # process the request, then answer the error


@dataclass
class Account:
    key: str
    secret: str
    account_id: str


@dataclass(frozen=True)
class OrderMeta:
    external_id: str | None
    cost: Decimal | None


@dataclass
class Venue:
    """Everything the routes share. One instance per app."""

    config: SimConfig
    clock: SimClock = field(init=False)
    engine: MatchingEngine = field(init=False)
    tokens: Tokens = field(init=False)
    limiter: RateLimiter = field(init=False)
    faults: Faults = field(default_factory=Faults)
    path_faults: list[PathFault] = field(default_factory=list)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    accounts: dict[str, Account] = field(default_factory=dict)  # by API token id (login)
    sources: dict[str, PricePath] = field(default_factory=dict)
    _meta: dict[tuple[str, str], OrderMeta] = field(default_factory=dict)
    _external: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    _maker_trades: set[str] = field(default_factory=set)
    _ulids: Ulids = field(default_factory=Ulids)
    _public_ids: dict[str, str] = field(default_factory=dict)  # engine order id -> MB's ULID
    _engine_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, ULID)
    # Markets asked for so far, with the path step each was last priced at, and when each may
    # next move (a heap, and by symbol): prices are computed lazily, for these only, and only
    # when their time came.
    _steps: dict[str, int | None] = field(default_factory=dict)
    _due: list[tuple[datetime, str]] = field(default_factory=list)
    _scheduled: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cfg = self.config
        self.clock = SimClock(cfg.started_at or datetime.now(UTC), cfg.clock_speed)
        self.engine = MatchingEngine(
            (m.rules for m in cfg.markets), cfg.fees, cfg.slippage, cfg.partial_fill_ratio
        )
        self.tokens = Tokens(cfg.token_lifetime_seconds)
        self.limiter = RateLimiter(cfg.rate_limits, self.clock.monotonic)
        now = self.clock.now()
        for market in cfg.markets:
            self.sources[market.rules.symbol] = build_source(market, now)
        for spec in cfg.accounts:
            self.add_account(spec)

    # -- accounts --------------------------------------------------------------------------

    def add_account(self, spec: AccountSpec) -> Account:
        # Stable per token id, in MB's format (32 hex digits), so a restarted sim keeps ids.
        account_id = hashlib.sha256(spec.key.encode()).hexdigest()[:32]
        account = self.accounts.setdefault(spec.key, Account(spec.key, spec.secret, account_id))
        account.secret = spec.secret
        for asset, amount in spec.balances.items():
            if amount > 0:
                self.engine.deposit(account_id, asset, amount)
        return account

    def login(self, login: str, password: str) -> Account | None:
        account = self.accounts.get(login)
        if account and hmac.compare_digest(account.secret, password):
            return account
        return None

    def account_ids(self) -> list[str]:
        return [a.account_id for a in self.accounts.values()]

    # -- prices ----------------------------------------------------------------------------

    def _on_tick(self, symbol: str, at: datetime) -> Decimal:
        rules = self.engine.markets[symbol]
        price = rules.quantise_price(self.sources[symbol].price_at(at), Side.BUY)
        return max(price, rules.price_tick)

    def sync_prices(self) -> None:
        """Move the markets asked for so far to their path's price now (resting orders the move
        crosses fill), visiting only those whose path may have moved since."""
        now = self.clock.now()
        while self._due and self._due[0][0] <= now:
            when, symbol = heapq.heappop(self._due)
            if self._scheduled.get(symbol) == when:  # else a stale entry, rescheduled since
                del self._scheduled[symbol]
                self._follow(symbol, now)

    @property
    def markets_priced(self) -> int:
        return len(self._steps)

    def price(self, symbol: str) -> Decimal:
        """The market's last price; the first read prices it."""
        if symbol not in self._steps:
            self._follow(symbol, self.clock.now())
        return self.engine.price(symbol)

    def _follow(self, symbol: str, now: datetime) -> None:
        source = self.sources[symbol]
        step, first = source.step_of(now), symbol not in self._steps
        if first or step is None or step != self._steps[symbol]:
            self._steps[symbol] = step
            price = self._on_tick(symbol, now)
            if first or price != self.engine.price(symbol):
                self._record_makers(self.engine.set_price(symbol, price, now))
        when = source.next_change(now)
        if when is None:
            self._scheduled.pop(symbol, None)
        elif self._scheduled.get(symbol) != when:
            self._scheduled[symbol] = when
            heapq.heappush(self._due, (when, symbol))

    def set_price(self, symbol: str, price: Decimal) -> list[Fill]:
        """Pin a market to `price` from now on (a moving path stops: the test drives it)."""
        self.price(symbol)
        now = self.clock.now()
        source = self.sources[symbol]
        if not isinstance(source, ManualPrices):
            source = self.sources[symbol] = ManualPrices(
                self.engine.price(symbol), now, before=source
            )
        source.set(price, now)
        self._scheduled.pop(symbol, None)  # it moves only when set again
        fills = self.engine.set_price(symbol, price, now)
        self._record_makers(fills)
        return fills

    def _record_makers(self, fills: list[Fill]) -> None:
        self._maker_trades.update(f.trade_id for f in fills)

    # -- orders ----------------------------------------------------------------------------

    def place(self, account_id: str, symbol: str, body: place_rules.PlaceOrder) -> Order:
        side, kind = place_rules.check_shape(body)
        rules = self.engine.markets.get(symbol)
        if rules is None:
            raise place_rules.invalid_pair()
        if body.external_id and (account_id, body.external_id) in self._external:
            raise MbError(
                400, "TRADING|PLACE_ORDER|ORDER_DUPLICATE", "There is already an order created"
            )
        base, quote = symbol.split("-")
        paid = quote if side is Side.BUY else base
        free = next(
            (b.free for b in self.engine.balances(account_id) if b.asset == paid), Decimal(0)
        )
        last = self.price(symbol)
        place_rules.check_rules(body, side, kind, rules, last, free)
        by_cost = kind is OrderType.MARKET and side is Side.BUY and body.qty is None
        request = OrderRequest(
            client_order_id=uuid.uuid4().hex,  # the engine's key; MB's externalId is kept here
            symbol=symbol,
            side=side,
            type=kind,
            quantity=None if by_cost else body.qty,
            quote_quantity=body.cost if by_cost else None,
            price=body.limit_price if kind.has_limit_price else None,
            stop_price=body.stop_price if kind is OrderType.STOP_LOSS_LIMIT else None,
        )
        now = self.clock.now()
        try:
            order = self.engine.place(account_id, request, now)
        except InsufficientFunds:  # e.g. a market buy whose slippage outgrew the balance
            raise place_rules.insufficient_balance() from None
        except (RuleViolation, WouldTake, WouldTrigger):
            # A market buy by cost too small for one lot; a post-only order that would take, a
            # stoplimit already at its stop: MB documents no answer for the last two, so they
            # get its generic one (nothing is placed either way).
            raise place_rules.generic_error() from None
        public = self._ulids.new(now)
        self._public_ids[order.order_id] = public
        self._engine_ids[(account_id, public)] = order.order_id
        self._meta[(account_id, order.order_id)] = OrderMeta(
            body.external_id, request.quote_quantity
        )
        if body.external_id:
            self._external[(account_id, body.external_id)] = (symbol, order.order_id)
        return order

    def document(self, account_id: str, order: Order) -> dict[str, Any]:
        meta = self._meta[(account_id, order.order_id)]
        fills = [
            f for f in self.engine.fills(account_id, order.symbol) if f.order_id == order.order_id
        ]
        fees = self.config.fees
        executions = [
            execution(
                f,
                *(
                    (fees.maker, "maker")
                    if f.trade_id in self._maker_trades
                    else (fees.taker, "taker")
                ),
            )
            for f in fills
        ]
        return order_document(
            self.public(order), external_id=meta.external_id, cost=meta.cost, executions=executions
        )

    def item(self, account_id: str, order: Order) -> dict[str, Any]:
        external_id = self._meta[(account_id, order.order_id)].external_id
        return order_item(self.public(order), external_id=external_id)

    def public(self, order: Order) -> Order:
        """The order as MB shows it: under its ULID."""
        return order.model_copy(update={"order_id": self._public_ids[order.order_id]})

    def engine_id(self, account_id: str, public_id: str) -> str | None:
        """The engine's id of the account's order `public_id` (None: no such order)."""
        return self._engine_ids.get((account_id, public_id))

    def executed_at(self, account_id: str, order: Order) -> list[datetime]:
        fills = self.engine.fills(account_id, order.symbol)
        return [f.at for f in fills if f.order_id == order.order_id]

    def all_fills(self, symbol: str) -> list[Fill]:
        fills = [f for a in self.account_ids() for f in self.engine.fills(a, symbol)]
        return sorted(fills, key=lambda f: int(f.trade_id))
