from __future__ import annotations

import uuid

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from domain.plans import Plan
from domain.subscriptions import SubscriptionStatus
from workflows import TaskQueue
from workflows.subscription import (
    CloseAccount,
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)


async def start(temporal: Client, user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return await temporal.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(user_id=user_id),
        id=subscription_workflow_id(user_id),
        task_queue=TaskQueue.ACCOUNTS,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def test_new_subscription_is_free_and_active(temporal: Client, workers: list[Worker]) -> None:
    user_id = uuid.uuid4()
    handle = await start(temporal, user_id)
    state = await handle.query(SubscriptionWorkflow.state)
    assert state.user_id == user_id
    assert state.plan is Plan.FREE
    assert state.status is SubscriptionStatus.ACTIVE


async def test_starting_twice_keeps_one_workflow(temporal: Client, workers: list[Worker]) -> None:
    user_id = uuid.uuid4()
    first = await start(temporal, user_id)
    second = await start(temporal, user_id)
    assert first.result_run_id == second.result_run_id


async def test_closing_the_account_completes_the_workflow(
    temporal: Client, workers: list[Worker]
) -> None:
    handle = await start(temporal, uuid.uuid4())
    await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="user_deleted"))
    result = await handle.result()
    assert result.status is SubscriptionStatus.CLOSED
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_state_survives_continue_as_new(temporal: Client, workers: list[Worker]) -> None:
    """A run started from a carried state (as continue-as-new does) keeps it, not a new FREE."""
    user_id = uuid.uuid4()
    first = await start(temporal, user_id)
    carried = await first.query(SubscriptionWorkflow.state)
    await first.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="test"))
    await first.result()
    resumed = await temporal.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(user_id=user_id, state=carried),
        id=f"{subscription_workflow_id(user_id)}:resumed",
        task_queue=TaskQueue.ACCOUNTS,
    )
    assert await resumed.query(SubscriptionWorkflow.state) == carried
