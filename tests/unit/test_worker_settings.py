"""Worker shape from settings: slots, cache, order-queue rates and the database pool, read back
from the SDK's own Worker config; bad values are refused naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client

from adapters.db.engine import create_engine, session_factory
from adapters.settings import ConfigurationError, Settings, load_settings
from workers.worker import (
    ROLES,
    QueueRole,
    WorkerDeps,
    build_workers,
    database_pool_size,
)
from workflows import TaskQueue
from workflows.subscription import SubscriptionWorkflow


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_defaults_are_shaped_for_bots_and_order_rates_follow_the_venues() -> None:
    default = settings()
    assert default.worker_processes == 1
    assert default.worker_max_cached_workflows == 5000  # SDK: 1,000
    # Binance ORDERS 100 per 10 s and MB 3 placements a second, both at 90 %; paper: no limit.
    assert default.orders_per_second("binance") == 9.0
    assert default.orders_per_second("mercadobitcoin") == 2.7
    assert default.orders_per_second("paper") is None


def test_worker_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "WORKER_PROCESSES": "3",
        "WORKER_MAX_CACHED_WORKFLOWS": "250",
        "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "40",
        "WORKER_MAX_CONCURRENT_ACTIVITIES": "30",
        "WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES": "20",
        "ORDERS_PER_SECOND_BINANCE": "4.5",
        "ORDERS_PER_SECOND_PAPER": "50",
        "DATABASE_POOL_MAX": "12",
    }.items():
        monkeypatch.setenv(name, value)
    loaded = load_settings()
    assert loaded.worker_processes == 3
    assert loaded.worker_max_cached_workflows == 250
    assert loaded.worker_max_concurrent_workflow_tasks == 40
    assert loaded.worker_max_concurrent_activities == 30
    assert loaded.worker_max_concurrent_local_activities == 20
    assert loaded.orders_per_second("binance") == 4.5
    assert loaded.orders_per_second("paper") == 50.0
    assert loaded.database_pool_max == 12


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORKER_PROCESSES", "0", "WORKER_PROCESSES: Input should be greater than or equal to 1"),
        ("WORKER_PROCESSES", "two", "WORKER_PROCESSES: Input should be a valid integer"),
        (
            "WORKER_MAX_CACHED_WORKFLOWS",
            "-1",
            "WORKER_MAX_CACHED_WORKFLOWS: Input should be greater than or equal to 0",
        ),
        (
            "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS",
            "1",
            "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: Input should be greater than or equal to 2",
        ),
        (
            "WORKER_MAX_CONCURRENT_ACTIVITIES",
            "0",
            "WORKER_MAX_CONCURRENT_ACTIVITIES: Input should be greater than or equal to 1",
        ),
        (
            "ORDERS_PER_SECOND_BINANCE",
            "0",
            "ORDERS_PER_SECOND_BINANCE: Input should be greater than 0",
        ),
        (
            "ORDERS_PER_SECOND_MERCADOBITCOIN",
            "fast",
            "ORDERS_PER_SECOND_MERCADOBITCOIN: Input should be a valid number",
        ),
        ("DATABASE_POOL_MAX", "0", "DATABASE_POOL_MAX: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration:"
    assert len(lines) == 2 and lines[1].startswith(f"  {message}"), lines


def test_the_pool_has_a_connection_per_activity_slot_up_to_the_bound() -> None:
    # Accounts, maintenance, bots, market feeds and reports run workflows and activities; the
    # three order queues only activities.
    small = settings(
        worker_max_concurrent_activities=3,
        worker_max_concurrent_local_activities=2,
        database_pool_max=100,
    )
    assert database_pool_size(small) == 5 * (3 + 2) + 3 * 3
    assert database_pool_size(settings(database_pool_max=7)) == 7
    only_activities = [QueueRole(TaskQueue.ORDERS_PAPER, activities=lambda _deps: [])]
    assert database_pool_size(small, only_activities) == 3


def test_a_bounded_pool_opens_no_connection_beyond_its_size() -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=6)
    assert engine.pool.size() == 6  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    unbounded = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert unbounded.pool._max_overflow == 20  # type: ignore[attr-defined]  # the API's burst


async def test_build_workers_gives_each_served_queue_the_configured_options(
    temporal: Client, tmp_path: Path
) -> None:
    tuned = settings(
        worker_max_cached_workflows=300,
        worker_max_concurrent_workflow_tasks=30,
        worker_max_concurrent_activities=25,
        worker_max_concurrent_local_activities=15,
        orders_per_second_paper=40,
    )
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never connected
    deps = WorkerDeps.build(tuned, session_factory(engine), temporal)
    try:
        roles = ROLES
        # A client of its own: the SDK refuses a second worker for a queue on one client, and
        # the session's client may already run the production workers.
        client = await Client.connect(
            temporal.service_client.config.target_host, namespace=temporal.namespace
        )
        workers = {w.task_queue: w.config() for w in build_workers(client, deps, tuned, roles)}
    finally:
        await deps.exchanges.aclose()
        await engine.dispose()
    assert set(workers) == set(TaskQueue)  # every role now has something registered
    accounts = workers[TaskQueue.ACCOUNTS]
    assert accounts.get("workflows") == [SubscriptionWorkflow]
    assert accounts.get("max_cached_workflows") == 300
    assert accounts.get("max_concurrent_workflow_tasks") == 30
    assert accounts.get("max_concurrent_activities") == 25
    assert accounts.get("max_concurrent_local_activities") == 15
    assert accounts.get("max_task_queue_activities_per_second") is None
    # An order queue: its venue's rate is its limit, and with no workflows nothing to cache.
    orders = workers[TaskQueue.ORDERS_PAPER]
    assert orders.get("max_task_queue_activities_per_second") == 40.0
    assert orders.get("max_cached_workflows") == 0
    binance = workers[TaskQueue.ORDERS_BINANCE]
    assert binance.get("max_task_queue_activities_per_second") == tuned.orders_per_second_binance
    assert workers[TaskQueue.BOTS].get("max_cached_workflows") == 300


@activity.defn
async def noop() -> None:
    """An activity for the order queue above."""
