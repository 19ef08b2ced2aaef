"""Stand-ins for bot workflows, for the activities that signal bots: each records the `wake`
and `order_update` signals it receives, and an Update waits until the expected ones arrived
(no sleeping, no polling)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.bot_models import OrderReport, bot_workflow_id
from domain.bots.risk import Observation


class Received(BaseModel):
    wakes: list[Observation] = Field(default_factory=list)
    reports: list[OrderReport] = Field(default_factory=list)


class Expected(BaseModel):
    wakes: int = 0
    reports: int = 0


@workflow.defn(name="SignalTarget", sandboxed=False)
class SignalTarget:
    def __init__(self) -> None:
        self.received = Received()

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)  # until terminated

    @workflow.signal(name="wake")
    def wake(self, observation: Observation) -> None:
        self.received.wakes.append(observation)

    @workflow.signal(name="order_update")
    def order_update(self, report: OrderReport) -> None:
        self.received.reports.append(report)

    @workflow.update
    async def wait_for(self, expected: Expected) -> Received:
        await workflow.wait_condition(
            lambda: (
                len(self.received.wakes) >= expected.wakes
                and len(self.received.reports) >= expected.reports
            )
        )
        return self.received

    @workflow.query
    def seen(self) -> Received:
        return self.received


Target = WorkflowHandle[SignalTarget, None]


@asynccontextmanager
async def bot_targets(
    temporal: Client, bot_ids: Sequence[uuid.UUID]
) -> AsyncIterator[dict[uuid.UUID, Target]]:
    """A `SignalTarget` at each bot's workflow id (`bot:<id>`), served by a worker of its own
    on a client of its own; terminated on exit."""
    client = await Client.connect(
        temporal.service_client.config.target_host,
        namespace=temporal.namespace,
        data_converter=pydantic_data_converter,
    )
    queue = f"bot-targets-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[SignalTarget]):
        handles = {
            bot_id: await client.start_workflow(
                SignalTarget.run, id=bot_workflow_id(bot_id), task_queue=queue
            )
            for bot_id in bot_ids
        }
        try:
            yield handles
        finally:
            for handle in handles.values():
                description = await handle.describe()
                if description.status is not None and description.close_time is None:
                    await handle.terminate("test over")


async def arrived(target: Target, *, wakes: int = 0, reports: int = 0) -> Received:
    """What the target received, once at least that many signals arrived."""
    return await target.execute_update(
        SignalTarget.wait_for, Expected(wakes=wakes, reports=reports)
    )


async def seen(target: Target) -> Received:
    return await target.query(SignalTarget.seen)
