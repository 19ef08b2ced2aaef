"""The worker process: one Temporal worker per task queue role (accounts, maintenance, bots,
market feeds, orders per venue), each polling its queue with the workflows and activities it
serves, all sharing one database pool and one set of venue adapters. `crypteras up --workers N`
runs N such processes; in production, run as many as the machine's cores allow."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.account_sync import AccountSyncActivities
from activities.backtests import BacktestActivities
from activities.bot_orders import OrderActivities
from activities.bots import BotActivities
from activities.credentials import CredentialActivities
from activities.market_watch import MarketWatchActivities
from activities.purge import PurgeActivities
from activities.reports import ReportActivities
from activities.subscriptions import SubscriptionActivities
from adapters.db.engine import create_engine, session_factory
from adapters.exchanges.factory import ExchangeFactory
from adapters.payments.gateways import PaymentGateways
from adapters.settings import Settings
from adapters.temporal import connect, ensure_search_attributes
from adapters.vault import Vault
from domain.market import Venue
from workers.schedules import ensure_schedules
from workflows import TaskQueue
from workflows.backtests import BacktestWorkflow
from workflows.bots.feeds import AccountSyncWorkflow, MarketFeedWorkflow
from workflows.bots.smart import CandleBotWorkflow, DcaBotWorkflow, SmartBotWorkflow
from workflows.maintenance import CredentialRevalidationWorkflow
from workflows.purge import LoginRecordsPurgeWorkflow
from workflows.reports import ReportWorkflow
from workflows.subscription import SubscriptionWorkflow

log = structlog.get_logger(__name__)
# How long a stopping worker lets running activities finish (then they are cancelled and
# retried elsewhere); less than `crypteras up`'s stop timeout, so the drain is never cut short.
SHUTDOWN_GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class WorkerDeps:
    """Collaborators handed to activities through their constructors."""

    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    exchanges: ExchangeFactory
    payments: PaymentGateways
    client: Client  # Temporal: activities signal bots and start workflows through it
    settings: Settings

    @classmethod
    def build(
        cls, settings: Settings, sessions: async_sessionmaker[AsyncSession], client: Client
    ) -> WorkerDeps:
        return cls(
            sessions=sessions,
            client=client,
            settings=settings,
            vault=Vault(settings.credential_keys, settings.credentials_key_version),
            # Venue budgets coordinated with the other workers through the database.
            exchanges=ExchangeFactory(settings, sessions=sessions),
            payments=PaymentGateways.from_settings(settings),
        )


def build_runtime(settings: Settings) -> Runtime:
    """A runtime whose SDK metrics (task latencies, slots, polls) Prometheus can scrape."""
    if not settings.worker_metrics_address:
        return Runtime(telemetry=TelemetryConfig())
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)
        )
    )


def maintenance_activities(deps: WorkerDeps) -> list[Callable[..., Any]]:
    credentials = CredentialActivities(deps.sessions, deps.vault, deps.exchanges)
    purge = PurgeActivities(deps.sessions)
    return [
        credentials.list_credential_ids,
        credentials.revalidate_credential,
        purge.purge_login_records,
    ]


def account_activities(deps: WorkerDeps) -> list[Callable[..., Any]]:
    subscriptions = SubscriptionActivities(deps.sessions, deps.payments)
    return [
        subscriptions.project_subscription,
        subscriptions.load_subscription,
        subscriptions.record_transition,
        subscriptions.record_alert,
        subscriptions.apply_plan_limits,
        subscriptions.reconcile_subscription,
        subscriptions.reconcile_checkout,
        subscriptions.cancel_superseded,
    ]


def bot_activities(deps: WorkerDeps) -> list[Callable[..., Any]]:
    sync = AccountSyncActivities(
        deps.sessions, deps.vault, deps.exchanges, deps.client, deps.settings
    )
    bots = BotActivities(deps.sessions, deps.exchanges, deps.client)
    return [
        sync.sync_account,
        bots.bot_observe,
        bots.bot_project,
        bots.bot_notify,
        bots.bot_ensure_feed,
        bots.bot_ensure_account_sync,
    ]


def order_activities(deps: WorkerDeps) -> list[Callable[..., Any]]:
    orders = OrderActivities(deps.sessions, deps.vault, deps.exchanges)
    return [orders.bot_place_order, orders.bot_cancel_order]


def report_activities(deps: WorkerDeps) -> list[Callable[..., Any]]:
    reports = ReportActivities(deps.sessions)
    data = Path(deps.settings.backtest_data_dir)
    backtests = BacktestActivities(deps.sessions, deps.exchanges, data)
    return [
        reports.produce_report,
        reports.fail_report,
        backtests.run_backtest,
        backtests.fail_backtest,
    ]


def market_feed_activities(deps: WorkerDeps) -> list[Callable[..., Any]]:
    watch = MarketWatchActivities(deps.sessions, deps.exchanges, deps.client, deps.settings)
    return [watch.watch_market]


@dataclass(frozen=True)
class QueueRole:
    """What one task queue's worker serves. A queue with nothing registered gets no worker (the
    SDK refuses a worker without a workflow or an activity); add a role's workflows and
    activities here and its worker is built with the rest."""

    queue: TaskQueue
    workflows: Sequence[type] = ()
    activities: Callable[[WorkerDeps], list[Callable[..., Any]]] | None = None
    # An order queue: its venue's order rate limits every activity on it, over every process,
    # so it holds only the activities that send orders (placements, cancels), not lookups.
    venue: str | None = None


ROLES = (
    QueueRole(TaskQueue.ACCOUNTS, [SubscriptionWorkflow], account_activities),
    QueueRole(
        TaskQueue.MAINTENANCE,
        [CredentialRevalidationWorkflow, LoginRecordsPurgeWorkflow],
        maintenance_activities,
    ),
    QueueRole(
        TaskQueue.BOTS,
        [SmartBotWorkflow, DcaBotWorkflow, CandleBotWorkflow, AccountSyncWorkflow],
        bot_activities,
    ),
    QueueRole(TaskQueue.MARKET_FEEDS, [MarketFeedWorkflow], market_feed_activities),
    QueueRole(TaskQueue.REPORTS, [ReportWorkflow, BacktestWorkflow], report_activities),
    *(
        QueueRole(TaskQueue.orders(venue), activities=order_activities, venue=venue)
        for venue in Venue
    ),
)


def served(roles: Sequence[QueueRole] = ROLES) -> list[QueueRole]:
    """The roles with something registered: the queues this process polls."""
    return [role for role in roles if role.workflows or role.activities is not None]


def activity_slots(settings: Settings, roles: Sequence[QueueRole] = ROLES) -> int:
    """Activities and local activities this process may run at once, each possibly holding a
    database connection."""
    slots = 0
    for role in served(roles):
        if role.activities is not None:
            slots += settings.worker_max_concurrent_activities
        if role.workflows:
            slots += settings.worker_max_concurrent_local_activities
    return slots


def database_pool_size(settings: Settings, roles: Sequence[QueueRole] = ROLES) -> int:
    """A connection per activity slot, at most DATABASE_POOL_MAX (the server's connections are
    shared by every process; an activity holds one only for its transactions)."""
    return max(1, min(activity_slots(settings, roles), settings.database_pool_max))


def build_workers(
    client: Client, deps: WorkerDeps, settings: Settings, roles: Sequence[QueueRole] = ROLES
) -> list[Worker]:
    """One worker per served queue, each with the configured slots and cache. The cache is
    per worker: only queues with workflows keep one."""
    return [
        Worker(
            client,
            task_queue=role.queue,
            workflows=role.workflows,
            activities=role.activities(deps) if role.activities else [],
            max_cached_workflows=settings.worker_max_cached_workflows if role.workflows else 0,
            max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
            max_concurrent_activities=settings.worker_max_concurrent_activities,
            max_concurrent_local_activities=settings.worker_max_concurrent_local_activities,
            max_task_queue_activities_per_second=(
                settings.orders_per_second(role.venue) if role.venue else None
            ),
            graceful_shutdown_timeout=SHUTDOWN_GRACE,
        )
        for role in served(roles)
    ]


async def run_worker(settings: Settings) -> None:
    client = await connect(settings, runtime=build_runtime(settings))
    pool_size = database_pool_size(settings)
    engine = create_engine(settings.database_url, pool_size=pool_size)
    deps = WorkerDeps.build(settings, session_factory(engine), client)
    workers = build_workers(client, deps, settings)
    await ensure_search_attributes(client)
    await ensure_schedules(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        task_queues=[w.task_queue for w in workers],
        metrics=settings.worker_metrics_address or None,
        max_cached_workflows=settings.worker_max_cached_workflows,
        database_pool=pool_size,
    )
    try:
        await serve(workers, stop)
    finally:
        await deps.exchanges.aclose()
        await engine.dispose()


async def serve(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Poll until `stop` (SIGTERM, SIGINT), then drain: no new tasks are taken, and running
    activities get the workers' SHUTDOWN_GRACE to finish before they are cancelled."""
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run())
        await stop.wait()
        log.info("worker stopping", grace_seconds=SHUTDOWN_GRACE.total_seconds())
        await asyncio.gather(*(worker.shutdown() for worker in workers))
    log.info("worker stopped")
