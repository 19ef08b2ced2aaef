"""One budget per venue: long-lived adapters lent by the factory, Binance's limits shared by
every adapter of a process and, through the database, by every process. Two "processes" are
two factories, each with its own engine, on the same host name (the same egress IP)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from adapters.db.budgets import DbBudgetStore
from adapters.db.engine import create_engine, session_factory
from adapters.db.models import VenueBudget
from adapters.exchanges.budget import Budget, Limit, WindowKey, account_scope
from adapters.exchanges.errors import RateLimited
from adapters.exchanges.factory import ExchangeFactory, ExchangeLease
from adapters.settings import Environment, Settings
from domain.market import OrderRequest, OrderType, Side, Venue
from simulators.mercadobitcoin import RunningSim
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.exchanges.conftest_mercadobitcoin import MB_KEY, MB_SECRET

pytestmark = pytest.mark.database

Process = Callable[..., ExchangeFactory]


def _settings(sim: BinanceSim, database_url: str, mb_url: str = "") -> Settings:
    settings = Settings(
        _env_file=None,
        environment=Environment.TEST,
        database_url=database_url,
        binance_base_url=sim.base_url,
    )
    return settings.model_copy(update={"mercadobitcoin_base_url": mb_url}) if mb_url else settings


@asynccontextmanager
async def _processes(
    sim: BinanceSim, database_url: str, mb_url: str = ""
) -> AsyncIterator[Process]:
    """Factories that stand for worker processes of one host: each its own engine."""
    host = f"test-host-{uuid.uuid4().hex[:8]}"  # windows of this test only
    made: list[tuple[ExchangeFactory, object]] = []

    def process(**options: object) -> ExchangeFactory:
        engine = create_engine(database_url)
        factory = ExchangeFactory(
            _settings(sim, database_url, mb_url),
            sessions=session_factory(engine),
            host=host,
            **options,  # type: ignore[arg-type]
        )
        made.append((factory, engine))
        return factory

    try:
        yield process
    finally:
        for factory, engine in made:
            await factory.aclose()
            await engine.dispose()  # type: ignore[attr-defined]


async def _bot(factory: ExchangeFactory, key: str, secret: str, until: float, n: int) -> int:
    """One bot's ticks: a ticker, its open orders, an order every third tick. Returns the
    request weight it sent (exchangeInfo aside)."""
    weight, tick = 0, 0
    # Half the bots retry inside the adapter, half not (as activities): two adapters a process.
    async with factory.connect(Venue.BINANCE, key, secret, retry=n % 4 < 2) as exchange:
        while time.monotonic() < until:
            await exchange.ticker("BTC-BRL")
            await exchange.open_orders("BTC-BRL")
            weight += 2 + 6
            if tick % 3 == 0:
                await exchange.create_order(
                    OrderRequest(
                        client_order_id=f"b{n}-{tick}-{uuid.uuid4().hex[:8]}",
                        symbol="BTC-BRL",
                        side=Side.BUY,
                        type=OrderType.LIMIT,
                        quantity=Decimal("0.0001"),
                        price=Decimal("340000"),
                    )
                )
                weight += 1
            tick += 1
    return weight


async def test_bots_on_one_key_in_two_processes_stay_under_every_limit(
    binance_sim_factory: SimFactory, database_url: str
) -> None:
    sim = binance_sim_factory(weight_limit=300, weight_window_seconds=10, orders_per_10s=12)
    key, secret = await sim.account(BRL="10000000")
    until = time.monotonic() + 12  # past a window turn of both limits
    async with _processes(sim, database_url) as process:
        first, second = process(), process()
        sent = await asyncio.gather(
            *(_bot(f, key, secret, until, n) for n, f in enumerate([first, second] * 4))
        )
        peak = max(f.binance_venue().budget.peak("REQUEST_WEIGHT_10S") for f in (first, second))
    stats = await sim.stats()
    assert set(stats["statuses"]) == {"200"}, stats["statuses"]  # never a 429 or a 418
    # Under the limit; the headroom (10 %) takes requests that reach the venue late, in the
    # window after the one they were counted in.
    assert 0 < peak < 300
    # More than one window allows: the bots waited for the window to turn, never refused.
    assert sum(sent) > 300
    assert stats["orders_placed"] > 12


async def test_a_ban_stops_every_key_in_every_process(
    binance_sim_factory: SimFactory, database_url: str
) -> None:
    sim = binance_sim_factory(weight_limit=100, ban_after=0, ban_seconds=120)
    (key, secret), (other, other_secret) = await sim.account(), await sim.account()
    async with _processes(sim, database_url) as process:
        first, second = process(), process()
        told = first.connect(Venue.BINANCE, key, secret, retry=False)
        await told.ticker("BTC-BRL")
        elsewhere = second.connect(Venue.BINANCE, key, secret, retry=False)
        await elsewhere.ticker("BTC-BRL")  # the other process has asked the store: no ban
        while (await sim.http.get("/api/v3/ping")).status_code != 418:
            pass  # another client of the IP earns it a ban
        with pytest.raises(RateLimited) as banned:
            await told.ticker("BTC-BRL")  # Binance answers 418 with Retry-After
        assert banned.value.retry_after is not None and banned.value.retry_after > 60
        with pytest.raises(RateLimited):  # another key of the same process
            await first.connect(Venue.BINANCE, other, other_secret, retry=False).ticker("BTC-BRL")
        await asyncio.sleep(1.1)  # the other process looks at the store once a second
        with pytest.raises(RateLimited) as seen:
            await elsewhere.ticker("BTC-BRL")
        assert seen.value.retry_after is not None and seen.value.retry_after > 60
    stats = await sim.stats()
    assert stats["requests"]["GET /api/v3/ticker/24hr"] == 3  # none sent while banned


async def test_one_exchange_info_per_venue_for_every_key(
    binance_sim_factory: SimFactory, database_url: str
) -> None:
    sim = binance_sim_factory()
    keys = [await sim.account() for _ in range(3)]
    async with _processes(sim, database_url) as process:
        factory = process()
        leases = [factory.connect(Venue.BINANCE, k, s) for k, s in keys for _ in range(4)]
        await asyncio.gather(*(lease.ticker("BTC-BRL") for lease in leases))
        await asyncio.gather(*(lease.markets() for lease in leases))
        assert factory.cached == 3
    stats = await sim.stats()
    assert stats["requests"]["GET /api/v3/exchangeInfo"] == 1
    assert stats["requests"]["GET /api/v3/ticker/24hr"] == 12


async def test_leases_share_an_adapter_that_only_the_factory_closes(
    binance_sim_factory: SimFactory, database_url: str
) -> None:
    sim = binance_sim_factory()
    (key, secret), (other, other_secret) = await sim.account(), await sim.account()
    async with _processes(sim, database_url) as process:
        factory = process(max_adapters=1)
        async with factory.connect(Venue.BINANCE, key, secret) as lease:
            assert isinstance(lease, ExchangeLease)
            adapter = lease.adapter
            await lease.ticker("BTC-BRL")
        await lease.aclose()  # a second give-back changes nothing
        again = factory.connect(Venue.BINANCE, key, secret)
        assert again.adapter is adapter  # type: ignore[attr-defined]
        await again.ticker("BTC-BRL")  # still open after the first borrower closed it
        # Over capacity: the lent adapter leaves the cache, and still works until given back.
        newcomer = factory.connect(Venue.BINANCE, other, other_secret)
        assert factory.cached == 1
        await again.ticker("BTC-BRL")
        await again.aclose()
        renewed = factory.connect(Venue.BINANCE, key, secret)
        assert renewed.adapter is not adapter  # type: ignore[attr-defined]
        await newcomer.aclose()
        # A corrected secret is another adapter; the key itself never names anything.
        corrected = factory.connect(Venue.BINANCE, key, "x" * 64)
        assert corrected.adapter is not renewed.adapter  # type: ignore[attr-defined]
    assert key not in account_scope(key)


async def test_the_store_never_grants_more_than_the_cap_across_processes(
    database_url: str,
) -> None:
    engines = [create_engine(database_url) for _ in range(2)]
    stores = [DbBudgetStore(session_factory(engine)) for engine in engines]
    start = datetime.fromtimestamp(int(time.time()) // 60 * 60, UTC)
    key = WindowKey("binance", f"ip:{uuid.uuid4().hex}", "REQUEST_WEIGHT_1M", start, 60)
    try:
        grants = await asyncio.gather(*(stores[n % 2].reserve(key, 7, 100, 0) for n in range(40)))
        # The venue reports more than we reserved (someone else on the IP): nothing left.
        other = WindowKey(key.venue, f"ip:{uuid.uuid4().hex}", key.name, start, 60)
        assert await stores[0].reserve(other, 7, 100, 100) == 0
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(grants) == 100
    assert sorted(grants)[-14:] == [7] * 14 and 0 < sum(g for g in grants if g < 7) < 7


async def test_with_the_database_down_a_process_goes_on_alone_on_one_slice(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account()
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # refused
    settings = _settings(sim, "sqlite+aiosqlite:///unused.db")
    factory = ExchangeFactory(settings, sessions=session_factory(engine), host="lonely")
    try:
        async with factory.connect(Venue.BINANCE, key, secret, retry=False) as exchange:
            for _ in range(3):
                await exchange.ticker("BTC-BRL")
        budget = factory.binance_venue().budget
        assert budget.peak("REQUEST_WEIGHT_1M") == 26  # exchangeInfo and three tickers
    finally:
        await factory.aclose()
        await engine.dispose()


async def test_an_adapter_idle_for_idle_seconds_is_dropped_but_not_one_still_lent(
    binance_sim_factory: SimFactory, database_url: str
) -> None:
    sim = binance_sim_factory()
    (key, secret), (other, other_secret) = await sim.account(), await sim.account()
    now = [0.0]
    async with _processes(sim, database_url) as process:
        factory = process(idle_seconds=10, clock=lambda: now[0])
        idle = factory.connect(Venue.BINANCE, key, secret)
        kept = factory.connect(Venue.BINANCE, other, other_secret)
        first = idle.adapter  # type: ignore[attr-defined]
        await idle.aclose()
        now[0] = 11.0
        factory.connect(Venue.BINANCE, "k" * 64, "s" * 64)  # a lend looks for idle ones
        assert factory.cached == 2  # the idle one went; the lent one stays
        assert factory.connect(Venue.BINANCE, key, secret).adapter is not first  # type: ignore[attr-defined]
        await kept.ticker("BTC-BRL")


async def test_a_full_window_waits_for_the_next_and_ended_counters_are_forgotten() -> None:
    now = [103.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limits = [Limit("WEIGHT", "ip", 100, 10), Limit("ORDERS", "account", 10, 10)]
    budget = Budget("binance", limits, clock=lambda: now[0], sleep=sleep, host="h")
    for _ in range(9):  # 90: the limit less its headroom
        await budget.spend({"WEIGHT": 10})
    assert now[0] == 103.0
    await budget.spend({"WEIGHT": 10})
    assert now[0] == 110.25  # the next window, a guard after its start
    for n in range(3000):  # an account each: the counters of ended windows go
        now[0] += 0.01
        await budget.spend({"ORDERS": 1}, account=f"account:{n}")
    assert len(budget._counters) < 2100


async def test_mercado_bitcoin_adapters_keep_their_token_and_share_the_overall_limit(
    binance_sim_factory: SimFactory, mb_sim: RunningSim, database_url: str
) -> None:
    async with _processes(binance_sim_factory(), database_url, mb_sim.api_url) as process:
        first, second = process(), process()
        for factory in (first, second, first, second):
            async with factory.connect(Venue.MERCADO_BITCOIN, MB_KEY, MB_SECRET) as exchange:
                await exchange.balances()
        engine = create_engine(database_url)
        async with session_factory(engine)() as session:
            reserved = await session.scalar(
                select(VenueBudget.used).where(
                    VenueBudget.venue == "mercadobitcoin",
                    VenueBudget.scope == account_scope(MB_KEY),
                    VenueBudget.name == "overall",
                )
            )
        await engine.dispose()
    # One slice each (10 % of the half of 500 x 0.9 a fixed minute holds in a sliding one).
    assert reserved == 2 * 23
    async with httpx.AsyncClient(base_url=mb_sim.url) as http:
        stats = (await http.get("/_sim/stats")).json()
    assert stats["tokens_issued"] == 2  # one a process: the adapter outlived its first lease


async def test_a_bounded_wait_refuses_rather_than_waiting_past_it() -> None:
    now = [1000.0]  # clear of the window's start, where the budget waits a guard out

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    day = Limit("ORDERS_1D", "account", 10, 86400)
    budget = Budget("binance", [day], clock=lambda: now[0], sleep=sleep, host="h")
    for _ in range(9):  # the limit less its headroom
        await budget.spend({"ORDERS_1D": 1}, account="a", max_wait=15)
    with pytest.raises(RateLimited) as refused:
        await budget.spend({"ORDERS_1D": 1}, account="a", max_wait=15)
    assert now[0] == 1000.0 and refused.value.retry_after and refused.value.retry_after > 85000
    await budget.spend({"ORDERS_1D": 1}, account="a")  # unbounded: waits for the next day
    assert now[0] > 86400


async def test_a_placement_never_waits_long_for_the_order_budget(
    binance_sim_factory: SimFactory,
) -> None:
    """An attempt still waiting could sign and send its order after its caller gave up and a
    retry concluded the order was never placed: placements refuse instead (nothing sent)."""
    sim = binance_sim_factory(orders_per_day=3)
    key, secret = await sim.account(BRL="1000")
    async with sim.exchange(key, secret) as exchange:
        for n in range(2):  # 3 a day less the headroom
            await exchange.create_order(_buy(f"day-{n}"))
        with pytest.raises(RateLimited):
            await asyncio.wait_for(exchange.create_order(_buy("day-2")), 30)
    assert (await sim.stats())["orders_placed"] == 2


def _buy(client_order_id: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.0001"),
    )
