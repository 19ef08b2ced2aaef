"""One venue's request budget, kept once per process and shared with the other worker processes
through a `BudgetStore` (the database in production: `adapters.db.budgets.DbBudgetStore`).

A venue states its limits as fixed windows (Binance's exchangeInfo ``rateLimits``: weight per
minute per IP, orders per 10 s and per day per account). For each `Limit` a process keeps a
local counter; when it runs out it reserves a slice of the current window from the store at
once (`share` of the limit, e.g. 10 %), so the store sees about ``1 / share`` statements per
window per process, however many requests go out. The sum of every process's slices never
passes ``limit * headroom``, so together they stay under the venue's limit. Reserved but
unspent weight is lost when the window ends; that is the price of not asking the store per
request.

Interface (for every venue adapter; Binance: `adapters.exchanges.binance.transport`):

- ``Budget(venue, limits, store=..., host=...)``: one per venue endpoint per process (the
  `ExchangeFactory` builds it), shared by every adapter of that venue, whatever its key.
  `Limit(name, scope, limit, seconds, shared=True, sliding=False)`: ``scope`` is ``"ip"``
  (every key of the
  process's egress address, named by `host`) or ``"account"`` (one key); ``shared=False`` keeps
  a limit per process only (sub-second windows, where a store round trip per slice would cost
  more than it saves).
- ``await budget.spend({"REQUEST_WEIGHT": 4, "RAW_REQUESTS": 1}, account=account_scope(key))``
  before sending: waits until every named limit has room in its window (limits not configured
  cost nothing), or raises `RateLimited` while the venue asked us to back off (Retry-After,
  or a ban).
- ``budget.observe(name, used, account=...)``: the venue's own count for this window (e.g.
  ``X-MBX-USED-WEIGHT-1M``); a count above ours (someone else on the IP) holds us back too.
- ``await budget.block(seconds, account=...)``: the venue's Retry-After. An IP block is written
  to the store, so every process stops calling, not only the one that was told.
- ``budget.configure(limits)``: replace the limits (e.g. once exchangeInfo is read).

Mercado Bitcoin counts in sliding windows (its limits per endpoint family and caller, like its
simulator): fixed windows cannot hold a sliding one without halving it (``sliding=True``: any
sliding window overlaps two fixed ones, so each gets half). Its per-second families (1 to 10
requests) stay on the transport's own sliding `Throttle`, one per key per process now that
adapters are long-lived; only its overall limit (500 a minute) goes through a `Budget`, built
once per process by the factory and handed to every Mercado Bitcoin adapter, which spends
``{"overall": 1}`` for its key (`account_scope(login)`) in ``throttle(family)`` after the
family's own window: ``Limit("overall", "account", 500, 60, sliding=True)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

import structlog

from adapters.exchanges.errors import RateLimited

log = structlog.get_logger(__name__)

Scope = Literal["ip", "account"]
_PRUNE_AT = 1024  # counters kept before the ended ones are forgotten
# The egress address's name when none is given: one for the whole deployment. Containers on
# one host, or machines behind one NAT, call the venue from the same IP; a deployment whose
# machines each have their own address names each (`host`).
DEFAULT_HOST = "default"


@dataclass(frozen=True)
class Limit:
    name: str
    scope: Scope
    limit: int
    seconds: int
    shared: bool = True  # coordinated through the store; else counted per process only
    sliding: bool = False  # the venue counts any `seconds` in a row: half in each fixed window


@dataclass(frozen=True)
class WindowKey:
    venue: str
    scope: str  # "ip:<host>" or "account:<hash of the key>"
    name: str
    start: datetime
    seconds: int


class BudgetStore(Protocol):
    async def reserve(self, key: WindowKey, amount: int, cap: int, floor: int) -> int:
        """Add `amount` to the window's count (raised first to `floor`, the venue's own count)
        and return how much of it fits under `cap`: from `amount` down to 0."""
        ...

    async def block(self, venue: str, scope: str, until: datetime) -> None: ...

    async def blocked_until(self, venue: str, scope: str) -> datetime | None: ...


def granted(used_after: int, amount: int, cap: int) -> int:
    """What a reservation of `amount` that left the count at `used_after` may spend."""
    return max(0, min(amount, cap - (used_after - amount)))


class MemoryBudgetStore:
    """The store of one process (no database, or tests): the same arithmetic as the table."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], tuple[datetime, int]] = {}
        self._blocks: dict[tuple[str, str], datetime] = {}

    async def reserve(self, key: WindowKey, amount: int, cap: int, floor: int) -> int:
        start, used = self._windows.get((key.venue, key.scope, key.name), (key.start, 0))
        used = max(used if start == key.start else 0, floor) + amount
        self._windows[(key.venue, key.scope, key.name)] = (key.start, used)
        return granted(used, amount, cap)

    async def block(self, venue: str, scope: str, until: datetime) -> None:
        self._blocks[(venue, scope)] = max(until, self._blocks.get((venue, scope), until))

    async def blocked_until(self, venue: str, scope: str) -> datetime | None:
        return self._blocks.get((venue, scope))


def account_scope(api_key: str) -> str:
    """A key's scope name: a hash, so neither logs nor the store ever hold the key."""
    return "account:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass
class _Counter:
    limit: Limit
    scope: str
    window: int = -1
    granted: int = 0  # reserved from the store for this window
    spent: int = 0
    seen: int = 0  # the venue's own count this window
    peak: int = 0  # the highest count the venue ever reported
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Budget:
    def __init__(
        self,
        venue: str,
        limits: Sequence[Limit] = (),
        *,
        store: BudgetStore | None = None,
        host: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        headroom: float = 0.9,
        share: float = 0.1,
        guard: float = 0.5,
        ban_poll: float = 1.0,
    ) -> None:
        """`clock` is the venue's clock (seconds): windows start on its boundaries. Nothing is
        spent within `guard` seconds (at most 2.5 % of the window) either side of a boundary:
        a request sent then may be counted in either window by the venue (our clock's error,
        the network's delay)."""
        self.venue = venue
        self._store = store or MemoryBudgetStore()
        self._local = MemoryBudgetStore()
        self._ip = f"ip:{host or DEFAULT_HOST}"
        self._clock = clock
        self._sleep = sleep
        self._headroom = headroom
        self._share = share
        self._guard = guard
        self._ban_poll = ban_poll
        self._limits: dict[str, Limit] = {}
        self._counters: dict[tuple[str, str], _Counter] = {}
        self._prune_at = _PRUNE_AT
        self._blocked: dict[str, float] = {}  # scope -> venue time until which we may not call
        self._polled = float("-inf")
        self._polling = asyncio.Lock()
        self.configure(limits)

    def configure(self, limits: Sequence[Limit]) -> bool:
        """Replace the limits; True if their names changed (what was spent before counted
        under the old names only)."""
        before = set(self._limits)
        self._limits = {limit.name: limit for limit in limits}
        for counter in self._counters.values():
            if counter.limit.name in self._limits:
                counter.limit = self._limits[counter.limit.name]
        return set(self._limits) != before

    @property
    def limits(self) -> dict[str, Limit]:
        return dict(self._limits)

    def _scope(self, limit: Limit, account: str | None) -> str | None:
        return self._ip if limit.scope == "ip" else account

    def _counter(self, name: str, account: str | None) -> _Counter | None:
        limit = self._limits.get(name)
        if limit is None:  # not a limit of this venue
            return None
        scope = self._scope(limit, account)
        if scope is None:  # an account limit, and no account (a public adapter)
            return None
        counter = self._counters.get((name, scope))
        if counter is None:
            if len(self._counters) >= self._prune_at:
                self._prune()
            counter = self._counters[(name, scope)] = _Counter(limit, scope)
        return counter

    def _prune(self) -> None:
        """Forget the counters whose window is over (one per account ever seen, else)."""
        now = self._clock()
        for key, counter in list(self._counters.items()):
            window = math.floor((now - self._guard_of(counter.limit)) / counter.limit.seconds)
            if counter.window < window and not counter.lock.locked():
                del self._counters[key]
        self._prune_at = max(_PRUNE_AT, 2 * len(self._counters))

    # -- spending ---------------------------------------------------------------------------

    async def spend(
        self,
        costs: Mapping[str, int],
        *,
        account: str | None = None,
        max_wait: float | None = None,
    ) -> None:
        """Wait for room in every limit named in `costs`; with `max_wait`, raise `RateLimited`
        (nothing sent) rather than wait longer than that."""
        await self._check_blocked(account)
        deadline = None if max_wait is None else self._clock() + max_wait
        waited = False
        for name, cost in costs.items():
            counter = self._counter(name, account)
            if counter is not None and cost > 0:
                waited = await self._take(counter, cost, deadline) or waited
        if waited:  # a Retry-After or a ban may have come while it waited
            await self._check_blocked(account)

    def _roll(self, counter: _Counter, now: float) -> None:
        window = math.floor((now - self._guard_of(counter.limit)) / counter.limit.seconds)
        if window != counter.window:
            counter.window, counter.granted, counter.spent, counter.seen = window, 0, 0, 0

    def _guard_of(self, limit: Limit) -> float:
        return min(self._guard, limit.seconds / 40)

    async def _take(self, counter: _Counter, cost: int, deadline: float | None) -> bool:
        """Spend `cost`, waiting for room until `deadline` at most; True if it had to wait."""
        waited = False
        while True:
            now = self._clock()
            self._roll(counter, now)
            limit = counter.limit
            share_of_limit = self._headroom / (2 if limit.sliding else 1)
            cap = max(1, math.floor(limit.limit * share_of_limit))
            need = min(cost, cap)  # a cost over the cap takes a whole window
            guard = self._guard_of(limit)
            start = (counter.window + 1) * limit.seconds + guard  # the next window opens
            if now < start - 2 * guard and counter.seen + need <= cap:
                if counter.spent + need <= counter.granted:
                    counter.spent += need
                    return waited
                if await self._reserve(counter, need, cap):
                    continue
            if deadline is not None and start > deadline:
                raise RateLimited(
                    f"{self.venue} {limit.name} budget spent until the next window",
                    retry_after=start - now,
                )
            await self._sleep(max(start - now, 0.001))
            waited = True

    async def _reserve(self, counter: _Counter, need: int, cap: int) -> bool:
        """Reserve a slice of the window; False when the window has no room left for `need`."""
        async with counter.lock:
            window = counter.window
            missing = need - (counter.granted - counter.spent)
            if missing <= 0:  # another task reserved while we waited for the lock
                return True
            limit = counter.limit
            # Long windows (a day) in small slices: a slice left unspent is lost until then.
            share = self._share if limit.seconds <= 300 else self._share / 10
            amount = max(missing, math.ceil(cap * share)) if limit.shared else cap
            key = WindowKey(
                self.venue,
                counter.scope,
                limit.name,
                datetime.fromtimestamp(window * limit.seconds, UTC),
                limit.seconds,
            )
            store = self._store if limit.shared else self._local
            try:
                got = await store.reserve(key, amount, cap, counter.seen)
            except Exception as error:  # the store is down: go on alone, on one slice a window
                log.warning("budget store unavailable", venue=self.venue, error=repr(error))
                slice_cap = max(need, math.ceil(cap * share))
                got = await self._local.reserve(key, amount, slice_cap, counter.seen)
            if counter.window != window:  # the window ended meanwhile: that slice is gone
                return True
            counter.granted += got
            return got >= missing

    # -- what the venue tells us ------------------------------------------------------------

    def observe(
        self, name: str, used: int, *, account: str | None = None, sent_at: float | None = None
    ) -> None:
        """`sent_at`: when the request left (the venue's clock). The count of a request sent in
        an earlier window is that window's, not the current one's."""
        counter = self._counter(name, account)
        if counter is not None:
            self._roll(counter, self._clock())
            counter.peak = max(counter.peak, used)
            if sent_at is not None:
                guard = self._guard_of(counter.limit)
                if math.floor((sent_at - guard) / counter.limit.seconds) < counter.window:
                    return
            counter.seen = max(counter.seen, used)

    def peak(self, name: str, *, account: str | None = None) -> int:
        counter = self._counter(name, account)
        return counter.peak if counter is not None else 0

    async def block(self, seconds: float, *, account: str | None = None) -> None:
        """Stop calling for `seconds` (the venue's Retry-After): the IP for every process, or
        one account in this process."""
        until = self._clock() + seconds
        scope = account or self._ip
        self._blocked[scope] = max(until, self._blocked.get(scope, until))
        if scope == self._ip:
            try:
                await self._store.block(self.venue, scope, datetime.fromtimestamp(until, UTC))
            except Exception as error:  # this process stops anyway; the others learn by 429
                log.warning("budget store unavailable", venue=self.venue, error=repr(error))

    async def _check_blocked(self, account: str | None) -> None:
        now = self._clock()
        if now - self._polled >= self._ban_poll and not self._polling.locked():
            async with self._polling:  # one poll of the store at a time, at most every second
                self._polled = now
                try:
                    until = await self._store.blocked_until(self.venue, self._ip)
                except Exception as error:  # what this process knows still holds
                    log.warning("budget store unavailable", venue=self.venue, error=repr(error))
                    until = None
                if until is not None:
                    stamp = until.timestamp()
                    self._blocked[self._ip] = max(stamp, self._blocked.get(self._ip, stamp))
        for scope in (self._ip, account):
            wait = self._blocked.get(scope or "", 0.0) - now
            if wait > 0:
                # Calling again while limited is what turns a 429 into an IP ban (418).
                raise RateLimited(
                    f"rate limited by {self.venue}, waiting for Retry-After",
                    retry_after=wait,
                    venue=self.venue,
                )
