"""Kill -9 of the worker while bots trade every second, several times, then a restart: the
venue holds exactly the orders the bots recorded (none lost, none doubled) and every bot's
funds equal the venue's fills.

The worker is a real process (`crypteras worker`), alone in a Temporal namespace of its own on
the session's dev server, trading on the session's Binance simulator."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.db.models_bots import BotFillRecord, BotOrderRecord
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from domain.bots.orders import ORDER_ID_PREFIX, bot_order_prefix
from domain.bots.state import BotStatus
from domain.market import Venue
from tests.conftest import free_port
from tests.exchanges.conftest_binance import BinanceSim
from tests.workflows.conftest import (
    BotLab,
    RunningBot,
    Tally,
    assert_funds_match,
    new_namespace,
    until,
)

SYMBOL, SIM_SYMBOL = "BTC-BRL", "BTCBRL"
START = Decimal("350000")
KILLS = 3
ORDERS_PER_ROUND = 8  # new orders recorded before each kill
# A placement killed mid-flight is retried after its start-to-close (60 s), and the bot waits.
ROUND_SECONDS = 240.0


class WorkerProcess:
    """`crypteras worker` as a subprocess, its output appended to one log."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        metrics = f"127.0.0.1:{free_port()}"
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "worker", "--metrics-address", metrics],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; whatever was in flight stays in flight."""
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        self.process.kill()
        self.process.wait(30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def worker_env(settings: Settings, client: Client, sim: BinanceSim) -> dict[str, str]:
    plain = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": plain,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": client.namespace,
        "BINANCE_BASE_URL": sim.base_url,
        "BINANCE_TESTNET_URL": sim.base_url,
        "CREDENTIALS_KEYS": settings.credentials_keys.get_secret_value(),
        "MARKET_FEED_SECONDS": "1",
        "ACCOUNT_SYNC_SECONDS": "1",
        "WATCH_RUN_SECONDS": "20",
        "LOG_FORMAT": "json",
    }
    env.pop("CREDENTIALS_KEY_VERSION", None)
    return env


async def recorded(sessions: async_sessionmaker[AsyncSession], **where: Any) -> int:
    """How many bot orders are recorded (with `where`: side, status)."""
    query = select(func.count()).select_from(BotOrderRecord)
    for column, value in where.items():
        query = query.where(getattr(BotOrderRecord, column) == value)
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def more_orders(sessions: async_sessionmaker[AsyncSession], count: int, **where: Any) -> None:
    target = await recorded(sessions, **where) + count

    async def reached() -> bool:
        return await recorded(sessions, **where) >= target

    reached.__name__ = f"{count} more orders {where}"
    await until(reached, ROUND_SECONDS)


def bot_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "symbol": SYMBOL,
        "mode": "CONTINUOUS",
        "interval_seconds": 1,
        "order_amount": "12",
        "allocated_balance": "1200",
        "risk": {"take_profit": {"percent": "0.5"}},
    }
    config.update(overrides)
    return config


@pytest.mark.e2e
async def test_kill_9_of_the_worker_loses_no_order_doubles_none_and_funds_match_the_venue(
    temporal: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    binance_sim: BinanceSim,
    db: AsyncSession,
    tmp_path: Path,
) -> None:
    client = await new_namespace(temporal, "kill9")
    exchanges = ExchangeFactory(settings, sessions=sessions)
    lab = BotLab(client, sessions, settings, binance_sim, exchanges)
    worker = WorkerProcess(worker_env(settings, client, binance_sim), tmp_path / "worker.log")
    await binance_sim.set_price(SIM_SYMBOL, START)
    worker.start()
    keys: dict[uuid.UUID, tuple[str, str]] = {}
    bots: list[RunningBot] = []
    try:
        for _ in range(2):  # two accounts, each with a market buyer and a limit buyer
            user = await lab.user()
            keys[user] = await lab.binance_key(user, BRL="10000")
            context = await lab.context(user, Venue.BINANCE, SYMBOL)
            bots.append(await lab.start(user, Venue.BINANCE, bot_config(), context_id=context))
            limit = bot_config(order_type="limit")  # rests at the best bid
            bots.append(await lab.start(user, Venue.BINANCE, limit, context_id=context))

        await more_orders(sessions, ORDERS_PER_ROUND)
        worker.kill()
        worker.start()
        await more_orders(sessions, ORDERS_PER_ROUND)
        # Up 1 %: the market buyers take profit, around the next kill.
        await binance_sim.set_price(SIM_SYMBOL, START * Decimal("1.01"))
        worker.kill()
        worker.start()
        await more_orders(sessions, 2, side="sell", status="FILLED")
        # Down under the limit buyers' resting bids: the venue fills them, the sync reports it.
        await binance_sim.set_price(SIM_SYMBOL, START - Decimal("0.01"))
        worker.kill()
        worker.start()
        await more_orders(sessions, ORDERS_PER_ROUND)

        async def a_resting_buy_filled() -> bool:
            async with sessions() as session:
                filled = await session.scalar(
                    select(func.count())
                    .select_from(BotOrderRecord)
                    .where(BotOrderRecord.type == "limit", BotOrderRecord.status == "FILLED")
                )
            return bool(filled)

        await until(a_resting_buy_filled, ROUND_SECONDS)
        views = [await bot.command("stop") for bot in bots]  # cancels what still rests
        assert {v.status for v in views} == {BotStatus.STOPPED}
    finally:
        worker.stop()
        await lab.terminate_all()
    try:
        await _assert_the_venue_holds_what_the_bots_recorded(lab, bots, keys, views)
    finally:
        await exchanges.aclose()
    assert worker.kills == KILLS


async def _assert_the_venue_holds_what_the_bots_recorded(
    lab: BotLab,
    bots: list[RunningBot],
    keys: dict[uuid.UUID, tuple[str, str]],
    views: list[Any],
) -> None:
    rows = {o.client_order_id: o for bot in bots for o in await bot.orders()}
    async with lab.sessions() as session:
        fill_rows = list(await session.scalars(select(BotFillRecord)))
    sells = [o for o in rows.values() if o.side == "sell" and o.status == "FILLED"]
    assert len(rows) >= KILLS * ORDERS_PER_ROUND and sells
    at_venue = {}
    venue_fills = []
    for key in keys.values():
        async with lab.exchanges.connect(Venue.BINANCE, *key) as venue:
            orders = [o for o in await venue.recent_orders(SYMBOL, limit=1000)]
            venue_fills += await venue.fills(SYMBOL, limit=1000)
        ours = [o for o in orders if o.client_order_id.startswith(ORDER_ID_PREFIX)]
        doubled = [cid for cid, n in Counter(o.client_order_id for o in ours).items() if n > 1]
        assert not doubled, f"client order ids placed twice: {doubled}"
        at_venue.update({o.client_order_id: o for o in ours})
    placed = {cid: row for cid, row in rows.items() if row.exchange_order_id}
    assert set(at_venue) == set(placed), "the venue and the records disagree"
    for cid, row in placed.items():
        order = at_venue[cid]
        assert row.exchange_order_id == order.order_id
        assert (row.status, row.filled_quantity) == (order.status.name, order.filled_quantity)
    never_sent = [row for row in rows.values() if not row.exchange_order_id]
    assert all(row.status == "REJECTED" for row in never_sent), never_sent
    assert {(f.symbol, f.trade_id) for f in venue_fills} == {
        (f.symbol, f.trade_id) for f in fill_rows
    }
    for bot, view in zip(bots, views, strict=True):
        prefix = bot_order_prefix(bot.ref.workflow_id)
        ids = {o.order_id for cid, o in at_venue.items() if cid.startswith(prefix)}
        fills = [f for f in venue_fills if f.order_id in ids]
        assert_funds_match(view.funds, Tally.of(fills, "BTC", "BRL"))
