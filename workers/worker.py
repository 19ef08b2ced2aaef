"""The worker process: polls every task queue with the workflows and activities it serves."""

from __future__ import annotations

import asyncio
import signal

import structlog
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from adapters.settings import Settings
from adapters.temporal import connect
from workflows import TaskQueue
from workflows.subscription import SubscriptionWorkflow

log = structlog.get_logger(__name__)


def build_runtime(settings: Settings) -> Runtime:
    """A runtime whose SDK metrics (task latencies, slots, polls) Prometheus can scrape."""
    if not settings.worker_metrics_address:
        return Runtime(telemetry=TelemetryConfig())
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)
        )
    )


def build_workers(client: Client) -> list[Worker]:
    return [
        Worker(client, task_queue=TaskQueue.ACCOUNTS, workflows=[SubscriptionWorkflow]),
    ]


async def run_worker(settings: Settings) -> None:
    client = await connect(settings, runtime=build_runtime(settings))
    workers = build_workers(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        task_queues=[w.task_queue for w in workers],
        metrics=settings.worker_metrics_address or None,
    )
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run())
        await stop.wait()
        log.info("worker stopping")
        await asyncio.gather(*(worker.shutdown() for worker in workers))
