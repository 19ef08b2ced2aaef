"""Builds the `Exchange` for a venue: with a user's keys, or public (market data only).

One factory per process. Its adapters are long-lived: one per (venue, key, testnet, retry),
kept in a bounded cache (least recently used first out, and any left idle for `idle_seconds`),
so an adapter's clock offset, exchangeInfo, tokens and in-doubt orders outlive the call that
made it. Every Binance adapter of one endpoint shares one `BinanceVenue` (the weight budget per
IP, the order budget per account, the ban state, the clock offset, exchangeInfo) and one
connection pool; with `sessions`, the budget is coordinated with the other processes through
the database (`adapters.db.budgets`). One circuit breaker per venue is shared by every adapter,
so a venue that is down is stopped being called for all users at once; and the paper venue: its
accounts in the database with `sessions` (`adapters.exchanges.paper_store`), else in process.

`connect` lends an adapter: the `ExchangeLease` it returns forwards every call, and its
`aclose` (or ``async with``) only gives the adapter back. The factory's own `aclose` closes
them all.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.budgets import DbBudgetStore
from adapters.exchanges.base import Exchange
from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.binance.exchange import PRODUCTION_URL, TESTNET_URL
from adapters.exchanges.binance.transport import BinanceVenue
from adapters.exchanges.budget import Budget, BudgetStore, Limit, MemoryBudgetStore
from adapters.exchanges.keys import check_key_format
from adapters.exchanges.mercado_bitcoin import MercadoBitcoinExchange
from adapters.exchanges.paper import PaperMarket, build_paper_market
from adapters.exchanges.paper_store import DbPaperVenue
from adapters.exchanges.resilience import CircuitBreaker, Resilience
from adapters.settings import Settings
from domain.market import Venue

# What a new paper account starts with, so a user can try any bot at once.
PAPER_STARTING_BALANCES = {
    "BRL": Decimal(100_000),
    "USDT": Decimal(20_000),
    "BTC": Decimal(1),
    "ETH": Decimal(10),
}
# Mercado Bitcoin's overall limit per token, in sliding minutes (its per-second family limits
# stay on each adapter's own sliding windows: adapters/exchanges/budget.py).
MB_LIMITS = (Limit("overall", "account", 500, 60, sliding=True),)
MAX_ADAPTERS = 2048
IDLE_SECONDS = 900.0
# Connections one process keeps to one Binance endpoint, for every adapter of it.
_BINANCE_CONNECTIONS = httpx.Limits(max_connections=64, max_keepalive_connections=32)


class ExchangeLease(Exchange):
    """A long-lived adapter, lent: every call goes to it; `aclose` gives it back, once."""

    def __init__(self, adapter: Exchange, give_back: Callable[[], None]) -> None:
        self._adapter = adapter
        self._give_back: Callable[[], None] | None = give_back

    @property
    def adapter(self) -> Exchange:
        return self._adapter

    def __getattr__(self, name: str) -> Any:
        # The venue's own extras (and `venue`, `intervals`); never our private fields.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._adapter, name)

    async def aclose(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()


def _forward(name: str) -> Callable[..., Any]:
    def call(self: ExchangeLease, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.adapter, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# Every operation of the port, whatever it grows to, goes to the lent adapter.
for _name, _member in vars(Exchange).items():
    if callable(_member) and not _name.startswith("_") and _name != "aclose":
        setattr(ExchangeLease, _name, _forward(_name))
abc.update_abstractmethods(ExchangeLease)  # type: ignore[type-abstract]


_Key = tuple[Venue, bool, bool, str]


@dataclass
class _Lent:
    adapter: Exchange
    used_at: float  # last lent or given back
    leases: int = 0
    evicted: bool = False
    key: _Key | None = None


def _identity(api_key: str, api_secret: str) -> str:
    """The cache's name for a key pair: a digest (a corrected secret is another adapter)."""
    return hashlib.sha256(f"{api_key}\0{api_secret}".encode()).hexdigest()


class ExchangeFactory:
    def __init__(
        self,
        settings: Settings,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        budget_store: BudgetStore | None = None,
        host: str | None = None,
        max_adapters: int = MAX_ADAPTERS,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        paper: PaperMarket | None = None,
    ) -> None:
        """`sessions` coordinates the venues' budgets with the other processes through the
        database (else `budget_store`, else this process alone). `host` names this process's
        egress IP in the budget (default: one name for every process of the deployment, see
        `adapters.exchanges.budget.DEFAULT_HOST`). `paper`: the paper venue's prices (default:
        the shipped data and walks)."""
        self._settings = settings
        self._breakers = {venue: CircuitBreaker(venue.value) for venue in Venue}
        self._paper: PaperMarket | None = paper
        self._sessions = sessions
        self._paper_db: DbPaperVenue | None = None
        if budget_store is None:
            budget_store = DbBudgetStore(sessions) if sessions else MemoryBudgetStore()
        self._store = budget_store
        self._host = host
        self._max = max_adapters
        self._idle = idle_seconds
        self._clock = clock
        self._adapters: OrderedDict[_Key, _Lent] = OrderedDict()
        self._evicted: list[_Lent] = []  # out of the cache, still lent
        self._closing: set[asyncio.Task[None]] = set()
        self._binance: dict[str, tuple[BinanceVenue, httpx.AsyncClient]] = {}
        self._mb_budget = Budget(
            Venue.MERCADO_BITCOIN.value, MB_LIMITS, store=budget_store, host=host
        )

    def paper_market(self) -> PaperMarket:
        if self._paper is None:
            data_dir = self._settings.paper_data_dir
            self._paper = (
                build_paper_market(data_dir=Path(data_dir)) if data_dir else build_paper_market()
            )
        return self._paper

    def paper_venue(self) -> DbPaperVenue | None:
        """With `sessions`, the paper venue whose accounts live in the database (the API and
        the workers: paper bots survive restarts and every process shares one paper market);
        without, None and the in-process `paper_market` (simulators and tests without a
        database)."""
        if self._sessions is not None and self._paper_db is None:
            data_dir = self._settings.paper_data_dir
            self._paper_db = DbPaperVenue(
                self._sessions,
                data_dir=Path(data_dir) if data_dir else None,
                starting_balances=PAPER_STARTING_BALANCES,
                market=self._paper,
            )
        return self._paper_db

    def binance_venue(self, testnet: bool = False) -> BinanceVenue:
        """The state every Binance adapter of that endpoint shares in this process."""
        return self._binance_endpoint(testnet)[0]

    def _binance_endpoint(self, testnet: bool) -> tuple[BinanceVenue, httpx.AsyncClient]:
        url = self._binance_url(testnet) or (TESTNET_URL if testnet else PRODUCTION_URL)
        if url not in self._binance:
            venue = BinanceVenue(store=self._store, host=self._host)
            client = httpx.AsyncClient(base_url=url, limits=_BINANCE_CONNECTIONS)
            self._binance[url] = (venue, client)
        return self._binance[url]

    def _binance_url(self, testnet: bool) -> str | None:
        return self._settings.binance_testnet_url if testnet else self._settings.binance_base_url

    def connect(
        self,
        venue: Venue,
        api_key: str = "",
        api_secret: str = "",
        *,
        testnet: bool = False,
        account: str = "",
        retry: bool = True,
    ) -> Exchange:
        """An adapter for `venue`, lent (see `ExchangeLease`). Empty keys give a public one.
        `retry=False` inside Temporal activities, whose RetryPolicy does the retrying.
        `account` names the paper account. Raises `MalformedKey` (an `AuthError`) for keys
        that cannot be the venue's, before any network call."""
        if api_key or api_secret:
            check_key_format(venue, api_key, api_secret)
        if venue is Venue.PAPER:
            stored = self.paper_venue()
            if stored is not None:
                return stored.exchange(account)
            market = self.paper_market()
            if account and not market.engine.balances(account):
                for asset, amount in PAPER_STARTING_BALANCES.items():
                    market.engine.deposit(account, asset, amount)
            return market.exchange(account)
        now = self._clock()
        self._expire(now)
        key = (venue, testnet, retry, _identity(api_key, api_secret))
        lent = self._adapters.get(key)
        if lent is None:
            lent = self._evicted_lent(key) or _Lent(
                self._build(venue, api_key, api_secret, testnet, retry), now, key=key
            )
            self._adapters[key] = lent
            self._evict_over_capacity()
        self._adapters.move_to_end(key)
        lent.leases += 1
        lent.used_at = now
        # Concrete since the forwarding above; mypy cannot see methods set that way.
        return ExchangeLease(lent.adapter, lambda: self._give_back(lent))  # type: ignore[abstract]

    def _build(
        self, venue: Venue, api_key: str, api_secret: str, testnet: bool, retry: bool
    ) -> Exchange:
        breaker = self._breakers[venue]
        if venue is Venue.BINANCE:
            shared, client = self._binance_endpoint(testnet)
            return BinanceExchange(
                api_key,
                api_secret,
                base_url=self._binance_url(testnet),
                testnet=testnet,
                breaker=breaker,
                retry=retry,
                http_client=client,
                venue=shared,
            )
        return MercadoBitcoinExchange(
            api_key,
            api_secret,
            base_url=self._settings.mercadobitcoin_base_url,
            resilience=Resilience(venue.value, breaker=breaker),
            retry=retry,
            budget=self._mb_budget,
        )

    # -- the cache --------------------------------------------------------------------------

    def _evicted_lent(self, key: _Key) -> _Lent | None:
        """The key's adapter that left the cache while lent, taken back: one adapter per key
        (a second beside it would split its orders in doubt and its per-key windows)."""
        for lent in self._evicted:
            if lent.key == key and lent.evicted:
                self._evicted.remove(lent)
                lent.evicted = False
                return lent
        return None

    def _give_back(self, lent: _Lent) -> None:
        lent.leases -= 1
        lent.used_at = self._clock()
        if lent.evicted and lent.leases == 0:
            self._evicted.remove(lent)
            self._close_later(lent.adapter)

    def _expire(self, now: float) -> None:
        """Drop the adapters idle for `idle_seconds`: from the least recently lent on, until
        one was lent since (an adapter lent all along counts as used now)."""
        while self._adapters:
            key, lent = next(iter(self._adapters.items()))
            if now - lent.used_at < self._idle:
                return
            if lent.leases:
                lent.used_at = now
                self._adapters.move_to_end(key)
            else:
                self._drop(key)

    def _evict_over_capacity(self) -> None:
        """Least recently used first; an adapter still lent leaves the cache at once and is
        closed when its last lease comes back."""
        while len(self._adapters) > self._max:
            self._drop(next(iter(self._adapters)))

    def _drop(self, key: _Key) -> None:
        lent = self._adapters.pop(key)
        if lent.leases:
            lent.evicted = True
            self._evicted.append(lent)
        else:
            self._close_later(lent.adapter)

    def _close_later(self, adapter: Exchange) -> None:
        try:
            task = asyncio.get_running_loop().create_task(adapter.aclose())
        except RuntimeError:  # no event loop: closed with the factory
            self._evicted.append(_Lent(adapter, self._clock()))
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @property
    def cached(self) -> int:
        return len(self._adapters)

    async def aclose(self) -> None:
        """Close every adapter, lent or not, and the shared connection pools."""
        lent = [*self._adapters.values(), *self._evicted]
        self._adapters.clear()
        self._evicted.clear()
        await asyncio.gather(*(entry.adapter.aclose() for entry in lent), *self._closing)
        for _, client in self._binance.values():
            await client.aclose()
        self._binance.clear()
