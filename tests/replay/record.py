"""Records the histories replayed by test_replay.py. Run against a dev server with a worker:

    python -m tests.replay.record  (starts its own dev server and worker)

Commit the JSON it writes; replaying it after a workflow change proves the change is
deterministic for runs already in flight.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workers.stack import temporal_binary
from workers.worker import build_workers
from workflows import TaskQueue
from workflows.subscription import (
    CloseAccount,
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)

HISTORIES = Path(__file__).parent / "histories"


async def record() -> None:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()), data_converter=pydantic_data_converter
    ) as env:
        workers = build_workers(env.client)
        async with workers[0]:
            user_id = uuid.UUID("00000000-0000-4000-8000-000000000001")
            handle = await env.client.start_workflow(
                SubscriptionWorkflow.run,
                SubscriptionInput(user_id=user_id),
                id=subscription_workflow_id(user_id),
                task_queue=TaskQueue.ACCOUNTS,
            )
            await handle.query(SubscriptionWorkflow.state)
            await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="record"))
            await handle.result()
            history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / "subscription_free_then_closed.json").write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(record())
