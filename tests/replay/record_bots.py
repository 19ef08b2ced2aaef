"""Records the bot engine's histories replayed by test_replay.py, named by their release:

    .venv/bin/python -m tests.replay.record_bots 0.3.0

It starts its own dev server (the server suggests continue-as-new at 100 events, so a run hands
over within a minute), a SQLite database, a Binance simulator with a pinned BTC-BRL and the
production workers, and runs a CONTINUOUS SmartBot with limit buys: three buys rest at the bid
and fill when the price comes down (the account sync reports them), the user raises the
allocation (a `configure` Update: one more buy), the price rises over the take profit (the
market feed wakes the bot: a market sale), the bot buys again until its run continues as new; in
the next run the user deletes the venue key (the bot pauses), then stops and deletes it. Then
a DCA bot's scenario (tests/replay/record_dca.py) and a Candle bot's
(tests/replay/record_candle.py). It writes the bots' first and last runs, a
market feed's run and an account sync's run to `histories/<name>-v<version>.json`, and never
replaces a history (docs/workflow-versioning.md).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from activities.bot_models import (
    BotProjection,
    account_sync_id,
    feed_workflow_id,
)
from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.temporal import ensure_search_attributes
from domain.bots.state import BotStatus, PauseReason
from domain.market import Venue
from simulators.binance import SimConfig, ThreadedServer, create_app
from tests.exchanges.conftest_binance import BTC_BRL
from tests.replay.record_candle import NAMES as CANDLE_NAMES
from tests.replay.record_candle import candle_scenario
from tests.replay.record_dca import NAMES as DCA_NAMES
from tests.replay.record_dca import dca_scenario
from tests.replay.recording import PRICE, has, new_bot, runs, sim_control, until
from workers.stack import temporal_binary
from workers.worker import WorkerDeps, build_workers
from workflows import TaskQueue
from workflows.search_attributes import bot_search_attributes, dev_server_args

HISTORIES = Path(__file__).parent / "histories"
NAMES = (
    "smart_bot_limit_cycle",
    "smart_bot_stop_delete",
    "market_feed",
    "account_sync",
    *DCA_NAMES,
    *CANDLE_NAMES,
)


async def scenario(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    exchanges: ExchangeFactory,
    sim_url: str,
) -> dict[str, WorkflowHistory]:
    """Run the bot, its feed and its account sync; the runs to keep, by name."""
    async with sim_control(sim_url) as control:
        await control("/_sim/price", {"symbol": "BTCBRL", "price": str(PRICE)})
        await control(
            "/_sim/accounts",
            {"api_key": "record-key", "secret": "record-key-secret", "balances": {"BRL": "10000"}},
        )
        user_id = uuid.UUID("00000000-0000-4000-8000-000000000003")
        bot = await new_bot(settings, sessions, exchanges, user_id)
        handle = await client.start_workflow(
            "SmartBot",
            bot,
            id=bot.bot.workflow_id,
            task_queue=TaskQueue.BOTS,
            search_attributes=bot_search_attributes(bot.bot, BotStatus.RUNNING),
        )

        async def view() -> BotProjection:
            result: BotProjection = await handle.query("view", result_type=BotProjection)
            return result

        async def three_buys_resting() -> bool:
            return (await view()).funds.free < Decimal(100)

        await until(three_buys_resting)
        await control("/_sim/price", {"symbol": "BTCBRL", "price": str(PRICE - Decimal("0.01"))})

        async def filled_by_the_sync() -> bool:
            funds = (await view()).funds
            return funds.blocked == 0 and funds.position_quantity > 0

        await until(filled_by_the_sync)
        config = (await view()).config
        await handle.execute_update(
            "configure", {**config, "allocated_balance": "400"}, result_type=BotProjection
        )

        async def fourth_buy_resting() -> bool:
            return (await view()).funds.blocked > 0

        await until(fourth_buy_resting)
        await control("/_sim/price", {"symbol": "BTCBRL", "price": str(PRICE - Decimal("0.02"))})
        await until(filled_by_the_sync)
        await control("/_sim/price", {"symbol": "BTCBRL", "price": str(PRICE * Decimal("1.02"))})

        async def sold() -> bool:
            return (await view()).funds.proceeds > 0

        await until(sold)

        async def continued_as_new() -> bool:
            return len(await runs(client, handle.id)) >= 2

        await until(continued_as_new)
        latest = client.get_workflow_handle(handle.id)
        await latest.signal("credentials_removed")  # the user deleted the key: it pauses

        async def paused_for_the_key() -> bool:
            now = await latest.query("view", result_type=BotProjection)
            return now.pause_reason is PauseReason.CREDENTIALS

        await until(paused_for_the_key)
        await latest.execute_update("stop", result_type=BotProjection)
        await latest.execute_update("delete", result_type=BotProjection)
        await latest.result()
        feed = client.get_workflow_handle(feed_workflow_id(Venue.BINANCE, "BTC-BRL"))
        await feed.result()  # no bot watches the market any more: the feed ends

        async def sync_ended() -> bool:
            described = await client.get_workflow_handle(
                account_sync_id(user_id, Venue.BINANCE)
            ).describe()
            return described.status == WorkflowExecutionStatus.COMPLETED

        await until(sync_ended)
    bot_runs = await runs(client, handle.id)
    feed_runs = await runs(client, feed_workflow_id(Venue.BINANCE, "BTC-BRL"))
    sync_runs = await runs(client, account_sync_id(user_id, Venue.BINANCE))
    chosen = {
        "smart_bot_limit_cycle": bot_runs[0],
        "smart_bot_stop_delete": bot_runs[-1],
        "market_feed": feed_runs[0],
        "account_sync": next(
            run
            for run in sync_runs
            if has(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
            and has(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
        ),
    }
    first = chosen["smart_bot_limit_cycle"]
    for kind in (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,  # the configure command
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,  # fills reported, the feed's wake
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    ):
        assert has(first, kind), f"the first run has no {EventType.Name(kind)}"
    return chosen


async def record(version: str) -> None:
    targets = {name: HISTORIES / f"{name}-v{version}.json" for name in NAMES}
    for target in targets.values():
        if target.exists():
            raise SystemExit(f"{target} exists: a release's history is never replaced")
    folder = Path(tempfile.mkdtemp(prefix="crypteras-record-bots-"))
    database = f"sqlite+aiosqlite:///{folder / 'record.db'}"
    await asyncio.to_thread(upgrade, database)
    sim = ThreadedServer(create_app(SimConfig(symbols=[BTC_BRL]))).start()
    settings = Settings(
        _env_file=None,
        database_url=database,
        binance_base_url=sim.base_url,
        binance_testnet_url=sim.base_url,
        worker_metrics_address="",
        market_feed_seconds=1,
        account_sync_seconds=1,
        watch_run_seconds=5,
    )
    engine = create_engine(database)
    sessions = session_factory(engine)
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=100",
            *dev_server_args(),
        ],
        data_converter=pydantic_data_converter,
    )
    client = env.client
    await ensure_search_attributes(client)
    deps = WorkerDeps.build(settings, sessions, client)
    workers = build_workers(client, deps, settings)
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    exchanges = ExchangeFactory(settings, sessions=sessions)
    try:
        chosen = await scenario(client, settings, sessions, exchanges, sim.base_url)
        chosen |= await dca_scenario(client, settings, sessions, exchanges, sim.base_url)
        chosen |= await candle_scenario(client, settings, sessions, exchanges, sim.base_url)
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks)
        await env.shutdown()
        await exchanges.aclose()
        sim.stop()
        await engine.dispose()
    HISTORIES.mkdir(exist_ok=True)
    for name, history in chosen.items():
        targets[name].write_text(history.to_json())
        print(f"wrote {targets[name]} ({len(history.events)} events)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("version", help="the release these histories belong to, e.g. 0.3.0")
    asyncio.run(record(parser.parse_args().version))
