"""One benchmark worker process: the production workers (`workers.worker.build_workers`, every
queue role with its workflows and activities, the settings' slots and cache) plus a worker for
the bare-ceiling workflows, with the SDK's Prometheus metrics on its own port.

    .venv/bin/python -m benchmarks.bots_worker '<WorkerSpec as JSON>'

Started by benchmarks/bots.py as a subprocess (so its CPU and memory are its own), stopped by
SIGTERM like `crypteras worker`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import asdict, dataclass

from temporalio.worker import Worker

from adapters.db.engine import create_engine, session_factory
from adapters.logging import configure_logging
from adapters.settings import Environment, Settings
from adapters.temporal import connect
from benchmarks.bots_ceiling import CEILING_QUEUE, CeilingWorkflow, bench_noop
from workers.worker import (
    SHUTDOWN_GRACE,
    WorkerDeps,
    build_runtime,
    build_workers,
    database_pool_size,
    serve,
)


@dataclass(frozen=True)
class WorkerSpec:
    database_url: str
    temporal_address: str
    metrics_address: str
    market_feed_seconds: float
    watch_run_seconds: float
    max_cached_workflows: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def settings(self) -> Settings:
        return Settings(
            _env_file=None,
            environment=Environment.DEVELOPMENT,
            database_url=self.database_url,
            temporal_address=self.temporal_address,
            worker_metrics_address=self.metrics_address,
            market_feed_seconds=self.market_feed_seconds,
            watch_run_seconds=self.watch_run_seconds,
            worker_max_cached_workflows=self.max_cached_workflows,
            log_level="WARNING",
        )


async def run(spec: WorkerSpec) -> None:
    settings = spec.settings()
    client = await connect(settings, runtime=build_runtime(settings))
    engine = create_engine(settings.database_url, pool_size=database_pool_size(settings))
    deps = WorkerDeps.build(settings, session_factory(engine), client)
    ceiling = Worker(
        client,
        task_queue=CEILING_QUEUE,
        workflows=[CeilingWorkflow],
        activities=[bench_noop],
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_local_activities=settings.worker_max_concurrent_local_activities,
        graceful_shutdown_timeout=SHUTDOWN_GRACE,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve([*build_workers(client, deps, settings), ceiling], stop)
    finally:
        await deps.exchanges.aclose()
        await engine.dispose()


def main() -> None:
    spec = WorkerSpec(**json.loads(sys.argv[1]))
    configure_logging(spec.settings())
    asyncio.run(run(spec))


if __name__ == "__main__":
    main()
