"""The bare ceiling of the machine: no-op workflows that tick as fast as the engine lets them.

A tick is one timer then one no-op activity (or local activity); nothing else happens, so the
ticks per minute the workers reach under a load well beyond what they can serve is what the
dev server and the Python workers can do at all on this machine, the budget every bot tick
spends from (DESIGN "Bots at scale").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

CEILING_QUEUE = "bench-ceiling"
_ACTIVITY = timedelta(seconds=30)


@dataclass(frozen=True)
class CeilingJob:
    seconds: float  # how long the workflow ticks, in workflow time
    timer_seconds: float
    local: bool  # the activity as a local activity (no task round trip through the server)


@activity.defn(name="bench_noop")
async def bench_noop() -> None:
    """Does nothing: the tick measures the engine, not the work."""


@workflow.defn(name="BenchCeiling")
class CeilingWorkflow:
    @workflow.run
    async def run(self, job: CeilingJob) -> int:
        end = workflow.now() + timedelta(seconds=job.seconds)
        ticks = 0
        while workflow.now() < end:
            await workflow.sleep(job.timer_seconds)
            if job.local:
                await workflow.execute_local_activity(bench_noop, start_to_close_timeout=_ACTIVITY)
            else:
                await workflow.execute_activity(
                    bench_noop, task_queue=CEILING_QUEUE, start_to_close_timeout=_ACTIVITY
                )
            ticks += 1
        return ticks


@dataclass(frozen=True)
class CeilingResult:
    local: bool
    workflows: int
    seconds: float  # from the first start to the last result
    ticks: int

    @property
    def per_minute(self) -> float:
        return self.ticks / self.seconds * 60


async def run_ceiling(
    client: Client, *, local: bool, workflows: int, seconds: float, timer_seconds: float, tag: str
) -> CeilingResult:
    """Start `workflows` ticking workflows at once, wait for all; ticks per minute of wall time
    (start-up and the last stragglers included: an honest, slightly low figure)."""
    job = CeilingJob(seconds=seconds, timer_seconds=timer_seconds, local=local)
    loop = asyncio.get_running_loop()
    began = loop.time()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                CeilingWorkflow.run,
                job,
                id=f"bench-ceiling-{tag}-{'local' if local else 'activity'}-{n}",
                task_queue=CEILING_QUEUE,
            )
            for n in range(workflows)
        )
    )
    ticks = await asyncio.gather(*(handle.result() for handle in handles))
    return CeilingResult(
        local=local, workflows=workflows, seconds=loop.time() - began, ticks=sum(ticks)
    )
