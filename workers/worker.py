"""The worker process: polls every task queue with the workflows and activities it serves."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.credentials import CredentialActivities
from activities.purge import PurgeActivities
from activities.subscriptions import SubscriptionActivities
from adapters.db.engine import create_engine, session_factory
from adapters.exchanges.factory import ExchangeFactory
from adapters.payments.gateways import PaymentGateways
from adapters.settings import Settings
from adapters.temporal import connect
from adapters.vault import Vault
from workers.schedules import ensure_schedules
from workflows import TaskQueue
from workflows.maintenance import CredentialRevalidationWorkflow
from workflows.purge import LoginRecordsPurgeWorkflow
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

    @classmethod
    def build(cls, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> WorkerDeps:
        return cls(
            sessions=sessions,
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


def build_workers(client: Client, deps: WorkerDeps) -> list[Worker]:
    return [
        Worker(
            client,
            task_queue=TaskQueue.ACCOUNTS,
            workflows=[SubscriptionWorkflow],
            activities=account_activities(deps),
            graceful_shutdown_timeout=SHUTDOWN_GRACE,
        ),
        Worker(
            client,
            task_queue=TaskQueue.MAINTENANCE,
            workflows=[CredentialRevalidationWorkflow, LoginRecordsPurgeWorkflow],
            activities=maintenance_activities(deps),
            graceful_shutdown_timeout=SHUTDOWN_GRACE,
        ),
    ]


async def run_worker(settings: Settings) -> None:
    client = await connect(settings, runtime=build_runtime(settings))
    engine = create_engine(settings.database_url)
    deps = WorkerDeps.build(settings, session_factory(engine))
    workers = build_workers(client, deps)
    await ensure_schedules(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        task_queues=[w.task_queue for w in workers],
        metrics=settings.worker_metrics_address or None,
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
