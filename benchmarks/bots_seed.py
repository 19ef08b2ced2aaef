"""The benchmark's bots: users with paper trading contexts, bot rows (`BotStore.create_bot`, as
the API writes them) and their SmartBot workflows, started as the API starts them.

The mix (DESIGN "Bots at scale": realistically a few percent of bots trade in any two minutes):
- `interval_share` of the bots (3 % by default) buy on their interval: CONTINUOUS, no dip rule,
  every `interval_seconds` (120 s), market orders, until their allocation is spent; their own
  timer wakes them;
- every other bot is CONTINUOUS with a dip rule: it buys only when the price falls
  `dip_percent` under its reference (the first price it saw), dips spread from 0.2 % to 5 %,
  so a falling market wakes a few of them at a time. Idle, it has no timer: only its market's
  feed evaluates it (every MARKET_FEED_SECONDS), and wakes it when its level is crossed.
Every bot has the default risk settings (take profit 3 %, soft stop 5 % over 60 s, hard stop
10 %, circuit breaker moderate, sanity check, auto-cancel), which the feed watches once it holds
a position. The bots are spread round-robin over the paper venue's five BTC-quoted markets,
which replay real 5-minute candles; ten bots per user (two per market).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from activities.bot_models import BotRef, SmartBotInput
from adapters.db.bots import BotStore
from adapters.db.models import TradingContext, User
from adapters.db.models_bots import BotRecord
from domain.bots.config import SmartBotConfig
from domain.bots.funds import BotFunds
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, SmartBotState
from domain.market import Venue
from workflows import TaskQueue
from workflows.search_attributes import bot_search_attributes

MARKETS = ("ETH-BTC", "LTC-BTC", "ADA-BTC", "TRX-BTC", "XLM-BTC")
BOTS_PER_USER = 10
INTERVAL_SECONDS = 120
ORDER_AMOUNT = Decimal("0.0005")  # BTC; the markets' minimum order is 0.0001 BTC
ALLOCATED = Decimal("0.005")  # ten buys; a paper account starts with 1 BTC
DIP_RANGE = (0.2, 5.0)  # percent
STARTS_IN_FLIGHT = 64
BATCH = 500  # bot rows per transaction


@dataclass(frozen=True)
class Mix:
    bots: int
    interval_share: float = 0.03
    interval_seconds: int = INTERVAL_SECONDS
    seed: int = 11

    @property
    def interval_bots(self) -> int:
        return round(self.bots * self.interval_share)

    def config(self, n: int, rng: random.Random) -> SmartBotConfig:
        """Bot `n`'s config: the first `interval_bots` buy on their interval, the rest on dips."""
        common = {
            "symbol": MARKETS[n % len(MARKETS)],
            "mode": "CONTINUOUS",
            "interval_seconds": self.interval_seconds,
            "order_amount": ORDER_AMOUNT,
            "allocated_balance": ALLOCATED,
        }
        if n < self.interval_bots:
            return SmartBotConfig.model_validate(common)
        dip = Decimal(str(round(rng.uniform(*DIP_RANGE), 2)))
        return SmartBotConfig.model_validate({**common, "dip_percent": dip})


@dataclass(frozen=True)
class Seeded:
    inputs: list[SmartBotInput]
    interval_bot_ids: frozenset[uuid.UUID]


async def seed(sessions: async_sessionmaker[AsyncSession], mix: Mix) -> Seeded:
    """Users, one paper context per (user, market), and the bot rows; nothing started yet."""
    rng = random.Random(mix.seed)
    inputs: list[SmartBotInput] = []
    interval: set[uuid.UUID] = set()
    users: dict[int, uuid.UUID] = {}
    contexts: dict[tuple[int, str], tuple[uuid.UUID, uuid.UUID]] = {}
    now = datetime.now(UTC)
    for start in range(0, mix.bots, BATCH):
        async with sessions() as session, session.begin():
            store = BotStore(session)
            for n in range(start, min(start + BATCH, mix.bots)):
                config = mix.config(n, rng)
                user_n = n // BOTS_PER_USER
                if (user_n, config.symbol) not in contexts:
                    user_id = users.get(user_n) or await _user(session, user_n, users)
                    base, quote = config.symbol.split("-")
                    context = TradingContext(
                        user_id=user_id, coin=base, fiat=quote, exchange="paper"
                    )
                    session.add(context)
                    await session.flush()
                    contexts[(user_n, config.symbol)] = (user_id, context.id)
                user_id, context_id = contexts[(user_n, config.symbol)]
                funds = BotFunds.allocate(config.symbol, config.allocated_balance)
                row = await store.create_bot(
                    user_id=user_id,
                    context_id=context_id,
                    kind=BotKind.SMART,
                    name=f"bench {n}",
                    config=config,
                    funds=funds,
                    risk=RiskState(),
                    at=now,
                )
                ref = BotRef(
                    bot_id=row.id,
                    user_id=user_id,
                    context_id=context_id,
                    kind=BotKind.SMART,
                    venue=Venue.PAPER,
                    symbol=config.symbol,
                )
                inputs.append(
                    SmartBotInput(bot=ref, state=SmartBotState(config=config, funds=funds))
                )
                if config.dip_percent is None:
                    interval.add(row.id)
    return Seeded(inputs=inputs, interval_bot_ids=frozenset(interval))


async def _user(session: AsyncSession, user_n: int, users: dict[int, uuid.UUID]) -> uuid.UUID:
    user = User(email=f"bench{user_n}@example.com", name=f"Bench {user_n}", password_hash="-")
    session.add(user)
    await session.flush()
    users[user_n] = user.id
    return user.id


async def start_bots(client: Client, inputs: list[SmartBotInput]) -> float:
    """Start every bot's workflow (as `api.bots.workflow_calls.start_bot` does), a bounded
    number in flight; returns the seconds it took."""
    gate = asyncio.Semaphore(STARTS_IN_FLIGHT)
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def start(smart: SmartBotInput) -> None:
        async with gate:
            await client.start_workflow(
                "SmartBot",
                smart,
                id=smart.bot.workflow_id,
                task_queue=TaskQueue.BOTS,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=bot_search_attributes(smart.bot, smart.state.status),
            )

    await asyncio.gather(*(start(smart) for smart in inputs))
    return loop.time() - began


async def projected(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Bots whose workflow has run its first task and projected itself (sequence above 0)."""
    async with sessions() as session:
        count = await session.scalar(select(func.count()).where(BotRecord.sequence > 0))
    return int(count or 0)
