"""Fixtures of the bot engine's workflow tests: users, trading contexts and keys made through the
repositories, SmartBots started as the API starts them (a row, then the workflow `bot:<id>`),
and bounded waits on the bot's `view` query or the database.

Every bot a test starts is terminated when the test ends, so none keeps trading on the
session's shared simulators."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.bot_models import BotProjection, BotRef, SmartBotInput
from adapters.credentials import CredentialService, Keys
from adapters.db.bots import BotStore
from adapters.db.models import TradingContext, User
from adapters.db.models_bots import BotOrderRecord
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.paper import PaperMarket
from adapters.settings import Settings
from adapters.temporal import ensure_search_attributes
from adapters.vault import Vault
from api.bots.workflow_calls import BOT_WORKFLOWS
from domain.bots.candle import CandleBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.funds import BotFunds
from domain.bots.kinds import engine_config, parse_config
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, BotStatus, SmartBotState
from domain.market import Fill, Order, Side, Symbol, Venue
from tests.exchanges.conftest_binance import BTC_BRL, BinanceSim, SimFactory
from workers.worker import WorkerDeps, build_workers
from workflows import TaskQueue
from workflows.search_attributes import bot_search_attributes

T = TypeVar("T")
WAIT = 60.0  # seconds any awaited condition may take before the test fails


async def until(check: Callable[[], Awaitable[T | None]], timeout: float = WAIT) -> T:
    """Poll `check` until it returns something truthy (returned), failing after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {check.__name__}")
        await asyncio.sleep(0.2)


async def market_price(sim: BinanceSim, symbol: str) -> Decimal:
    """The simulator's price of `symbol` now. Tests that pin prices start from it: a jump from
    where an earlier test left the market would be refused by the bots' sanity check, rightly."""
    response = await sim.http.get("/api/v3/ticker/price", params={"symbol": symbol})
    response.raise_for_status()
    return Decimal(response.json()["price"])


async def feed_has_read(sim: BinanceSim, reads: int = 2) -> None:
    """Wait until the market's readers (its feed, the bots' own reads) have asked for tickers
    `reads` more times: whatever price is pinned now has been seen."""

    async def tickers() -> int:
        stats = await sim.stats()
        return sum(n for route, n in stats["requests"].items() if "ticker" in route)

    before = await tickers()

    async def read_since() -> bool:
        return await tickers() >= before + reads

    await until(read_since)


@dataclass
class RunningBot:
    ref: BotRef
    handle: WorkflowHandle[Any, Any]
    sessions: async_sessionmaker[AsyncSession]

    async def view(self) -> BotProjection:
        view: BotProjection = await self.handle.query("view", result_type=BotProjection)
        return view

    async def until(
        self, predicate: Callable[[BotProjection], bool], timeout: float = WAIT
    ) -> BotProjection:
        """The bot's view once `predicate` holds on it."""

        last: list[BotProjection] = []

        async def reached() -> BotProjection | None:
            view = await self.view()
            last[:] = [view]
            return view if predicate(view) else None

        try:
            return await until(reached, timeout)
        except AssertionError:
            view = last[0] if last else None
            raise AssertionError(f"the bot never got there; its last view: {view}") from None

    async def command(self, name: str, arg: Any = None) -> BotProjection:
        args = [] if arg is None else [arg]
        result: BotProjection = await self.handle.execute_update(
            name, args=args, result_type=BotProjection
        )
        return result

    async def filled(self, side: Side, count: int) -> list[BotOrderRecord]:
        """Once `count` of the bot's `side` orders are FILLED: its orders."""

        async def enough() -> list[BotOrderRecord] | None:
            orders = await self.orders()
            done = [o for o in orders if o.side == side.value and o.status == "FILLED"]
            return orders if len(done) >= count else None

        enough.__name__ = f"{count} {side.value} orders filled"
        try:
            return await until(enough)
        except AssertionError as error:  # what the bot decided, and the database pool, say why
            engine = self.sessions.kw["bind"]
            raise AssertionError(
                f"{error}; the bot's last view: {await self.view()}; "
                f"the database pool: {engine.pool.status()}"
            ) from None

    async def orders(self) -> list[BotOrderRecord]:
        """The bot's recorded orders, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(BotOrderRecord)
                .where(BotOrderRecord.bot_id == self.ref.bot_id)
                .order_by(BotOrderRecord.created_at, BotOrderRecord.client_order_id)
            )
            return list(rows)


@dataclass
class BotLab:
    """Makes users, contexts, keys and bots; remembers the bots to terminate them."""

    temporal: Client
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    binance: BinanceSim
    exchanges: ExchangeFactory
    started: list[RunningBot] = field(default_factory=list)
    keys: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)  # Binance, by user

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def user(self) -> uuid.UUID:
        async with self.sessions() as session:
            email = f"bot-{uuid.uuid4().hex[:10]}@example.com"
            user = User(email=email, name="B", password_hash="x")
            session.add(user)
            await session.commit()
            return user.id

    async def context(self, user_id: uuid.UUID, venue: Venue, symbol: str) -> uuid.UUID:
        market = Symbol.parse(symbol)
        async with self.sessions() as session:
            context = TradingContext(
                user_id=user_id, coin=market.base, fiat=market.quote, exchange=venue.value
            )
            session.add(context)
            await session.commit()
            return context.id

    async def binance_key(self, user_id: uuid.UUID, **balances: str) -> tuple[str, str]:
        """A fresh simulator account with `balances`, saved as the user's Binance key."""
        key, secret = await self.binance.account(**balances)
        vault = Vault(self.settings.credential_keys, self.settings.credentials_key_version)
        async with self.sessions() as session:
            await CredentialService(session, vault, self.exchanges).save(
                user_id, Venue.BINANCE, Keys(key, secret), datetime.now(UTC)
            )
            await session.commit()
        self.keys[user_id] = (key, secret)
        return key, secret

    async def start(
        self,
        user_id: uuid.UUID,
        venue: Venue,
        config: dict[str, Any],
        *,
        context_id: uuid.UUID | None = None,
        kind: BotKind = BotKind.SMART,
    ) -> RunningBot:
        """A bot's row, then its workflow, as the API creates one."""
        shown = parse_config(kind, config)
        smart = engine_config(shown)
        if context_id is None:
            context_id = await self.context(user_id, venue, smart.symbol)
        funds = BotFunds.allocate(smart.symbol, smart.allocated_balance)
        async with self.sessions() as session:
            record = await BotStore(session).create_bot(
                user_id=user_id,
                context_id=context_id,
                kind=kind,
                name="test bot",
                config=shown,
                funds=funds,
                risk=RiskState(),
                at=datetime.now(UTC),
            )
            await session.commit()
            bot_id = record.id
        ref = BotRef(
            bot_id=bot_id,
            user_id=user_id,
            context_id=context_id,
            kind=kind,
            venue=venue,
            symbol=smart.symbol,
        )
        state = SmartBotState(
            config=smart,
            dca=shown if isinstance(shown, DcaBotConfig) else None,
            candle=shown if isinstance(shown, CandleBotConfig) else None,
            funds=funds,
        )
        handle = await self.temporal.start_workflow(
            BOT_WORKFLOWS[kind],
            SmartBotInput(bot=ref, state=state),
            id=ref.workflow_id,
            task_queue=TaskQueue.BOTS,
            search_attributes=bot_search_attributes(ref, BotStatus.RUNNING),
        )
        bot = RunningBot(ref, handle, self.sessions)
        self.started.append(bot)
        return bot

    def venue(self, bot: RunningBot, key: tuple[str, str] | None = None) -> Exchange:
        """The bot's venue account, as the test reads it (the venue's truth)."""
        if bot.ref.venue is Venue.PAPER:
            return self.exchanges.connect(Venue.PAPER, account=str(bot.ref.user_id))
        assert key is not None
        return self.exchanges.connect(bot.ref.venue, *key)

    async def terminate_all(self) -> None:
        """End every bot, then cancel what they left resting on the simulator: an account
        with open bot orders keeps its account sync reading the venue, spending the weight
        budget that the session's later tests share."""
        for bot in self.started:
            with contextlib.suppress(RPCError):  # already ended (deleted by the test)
                await bot.handle.terminate("test over")
        markets = {(bot.ref.user_id, bot.ref.symbol) for bot in self.started}
        for user_id, symbol in markets:
            if (key := self.keys.get(user_id)) is None:
                continue
            venue = self.exchanges.connect(Venue.BINANCE, *key)
            try:
                for order in await venue.open_orders(symbol):
                    with contextlib.suppress(ExchangeError):  # filled or canceled meanwhile
                        await venue.cancel_order(symbol, client_order_id=order.client_order_id)
            finally:
                await venue.aclose()


@pytest.fixture
async def lab(
    temporal: Client,
    workers: list[Worker],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    binance_sim: BinanceSim,
    db: AsyncSession,
) -> AsyncIterator[BotLab]:
    exchanges = ExchangeFactory(settings, sessions=sessions)
    made = BotLab(temporal, sessions, settings, binance_sim, exchanges)
    yield made
    await made.terminate_all()
    await exchanges.aclose()


async def venue_orders(venue: Exchange, symbol: str, prefix: str = "") -> dict[str, Order]:
    """The account's orders on `symbol` at the venue, by client order id."""
    orders = await venue.recent_orders(symbol, limit=1000)
    return {o.client_order_id: o for o in orders if o.client_order_id.startswith(prefix)}


async def venue_fills(venue: Exchange, symbol: str, order_ids: set[str]) -> list[Fill]:
    """The venue's trades of the given venue order ids."""
    return [f for f in await venue.fills(symbol, limit=1000) if f.order_id in order_ids]


@dataclass(frozen=True)
class Tally:
    """What a bot's fills add up to, computed from the venue's trades alone."""

    spent: Decimal  # quote paid for buys, quote fees included
    received: Decimal  # quote received from sales, net of quote fees
    position: Decimal  # base bought net of base fees, minus base sold and sale base fees

    @classmethod
    def of(cls, fills: list[Fill], base: str, quote: str) -> Tally:
        spent = received = position = Decimal(0)
        for fill in fills:
            notional = fill.price * fill.quantity
            quote_fee = fill.fee if fill.fee_asset == quote else Decimal(0)
            base_fee = fill.fee if fill.fee_asset == base else Decimal(0)
            if fill.side is Side.BUY:
                spent += notional + quote_fee
                position += fill.quantity - base_fee
            else:
                received += notional - quote_fee
                position -= fill.quantity + base_fee
        return cls(spent, received, position)


def assert_funds_match(funds: BotFunds, tally: Tally) -> None:
    """The bot's ledger equals the venue's fills: its position, its proceeds, and free +
    blocked = what it was given, less what it spent, plus what it received."""
    assert funds.violations() == []
    assert funds.position_quantity == tally.position
    assert funds.proceeds == tally.received
    assert funds.free + funds.blocked == funds.allocated_balance - tally.spent + tally.received


async def new_namespace(temporal: Client, prefix: str) -> Client:
    """A client of a new namespace on `temporal`'s server, with our search attributes: workers
    there poll the production queue names without meeting the session's workers."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await temporal.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86_400)
        )
    )
    client = await Client.connect(
        temporal.service_client.config.target_host,
        namespace=namespace,
        data_converter=pydantic_data_converter,
    )

    async def registered() -> bool:  # the new namespace reaches the frontend's cache
        try:
            await ensure_search_attributes(client)
        except RPCError:
            return False
        return True

    await until(registered)
    return client


@contextlib.asynccontextmanager
async def own_lab(
    temporal: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    sim: BinanceSim,
    prefix: str,
    paper: PaperMarket | None = None,
) -> AsyncIterator[BotLab]:
    """A lab on a Binance simulator of its own (and a paper venue on `paper`'s prices when
    given), served by production workers in a namespace of their own (the task queues keep
    their names, so the session's workers, on the shared simulator, never take these bots'
    tasks)."""
    client = await new_namespace(temporal, prefix)
    local = settings.model_copy(
        update={"binance_base_url": sim.base_url, "binance_testnet_url": sim.base_url}
    )
    deps = WorkerDeps.build(local, sessions, client)
    if paper is not None:
        deps = replace(deps, exchanges=ExchangeFactory(local, sessions=sessions, paper=paper))
    running = build_workers(client, deps, local)
    tasks = [asyncio.create_task(worker.run()) for worker in running]
    exchanges = ExchangeFactory(local, sessions=sessions, paper=paper)
    made = BotLab(client, sessions, local, sim, exchanges)
    try:
        yield made
    finally:
        await made.terminate_all()
        await asyncio.gather(*(worker.shutdown() for worker in running))
        await asyncio.gather(*tasks)
        await exchanges.aclose()


@pytest.fixture
async def partial_lab(
    temporal: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    binance_sim_factory: SimFactory,
    db: AsyncSession,
) -> AsyncIterator[BotLab]:
    """A lab whose Binance fills resting orders half at a time."""
    sim = binance_sim_factory(symbols=[BTC_BRL], partial_fill_ratio=Decimal("0.5"))
    async with own_lab(temporal, sessions, settings, sim, "partial") as made:
        yield made
