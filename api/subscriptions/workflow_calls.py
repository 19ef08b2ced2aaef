"""Every API call that starts or signals a user's subscription workflow: one id, one id
reuse/conflict policy, and a short time limit, so a slow Temporal answers 503 instead of holding
the request (or a database transaction) open."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows import TaskQueue
from workflows.subscription import (
    ID_CONFLICT_POLICY,
    ID_REUSE_POLICY,
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)

# One round trip to the Temporal frontend; past it the caller answers 503.
TEMPORAL_RPC_TIMEOUT = timedelta(seconds=5)


class WorkflowClosed(Exception):
    """The user's workflow completed: the account was closed."""


async def start_subscription(
    temporal: Client,
    user_id: uuid.UUID,
    signal: str | None = None,
    arg: BaseModel | None = None,
) -> WorkflowHandle[SubscriptionWorkflow, Any]:
    """Start the user's workflow if none runs (from the database projection), delivering
    `signal(arg)` in the same call. Raises `WorkflowClosed` for a closed account and the
    Temporal call errors (`adapters.temporal.TEMPORAL_CALL_ERRORS`) when Temporal is down.
    `signal` is the handler's name (`SubscriptionWorkflow.payment_event.__name__`)."""
    try:
        return await temporal.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionInput(user_id=user_id),
            id=subscription_workflow_id(user_id),
            task_queue=TaskQueue.ACCOUNTS,
            id_reuse_policy=ID_REUSE_POLICY,
            id_conflict_policy=ID_CONFLICT_POLICY,
            start_signal=signal,
            start_signal_args=[arg] if arg is not None else [],
            rpc_timeout=TEMPORAL_RPC_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        raise WorkflowClosed from None
