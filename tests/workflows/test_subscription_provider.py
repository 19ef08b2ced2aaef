"""The subscription workflow's provider duties: a closed account never keeps paying (the
workflow cancels what its own state still holds), and a failed cancellation's backoff survives
continue-as-new. Real parts: the Temporal dev server (time skipping), the database, the Stripe
simulator; a provider refusal is a worker whose Stripe key the simulator does not know."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.subscriptions import SupersededSubscription
from adapters.db.models import AuditEvent
from adapters.payments.stripe import StripeGateway
from adapters.settings import Settings
from domain.plans import Plan
from domain.subscriptions import PaymentProvider, SubscriptionState, SubscriptionStatus
from tests.payments.conftest_stripe import STRIPE_KEY
from tests.workflows.test_subscription import _paid_stripe_subscription, _until, _user
from workers.worker import WorkerDeps, account_activities
from workflows.subscription import (
    ID_CONFLICT_POLICY,
    ID_REUSE_POLICY,
    CloseAccount,
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)

REFUSED_KEY = "sk_test_revoked_key"  # the simulator refuses it: a non-retryable refusal


@asynccontextmanager
async def _worker(
    env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    stripe_sim: Any,
    queue: str,
    stripe_key: str = STRIPE_KEY,
) -> AsyncIterator[Worker]:
    stripe = {"stripe_secret_key": SecretStr(stripe_key), "stripe_api_base": stripe_sim.base_url}
    deps = WorkerDeps.build(settings.model_copy(update=stripe), sessions, env.client)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SubscriptionWorkflow],
        activities=account_activities(deps),
    ) as worker:
        yield worker


async def _start(
    env: WorkflowEnvironment, queue: str, input: SubscriptionInput
) -> WorkflowHandle[SubscriptionWorkflow, SubscriptionState]:
    return await env.client.start_workflow(
        SubscriptionWorkflow.run,
        input,
        id=subscription_workflow_id(input.user_id),
        task_queue=queue,
        id_reuse_policy=ID_REUSE_POLICY,
        id_conflict_policy=ID_CONFLICT_POLICY,
    )


def _paid(user_id: uuid.UUID, sub_id: str) -> SubscriptionState:
    now = datetime.now(UTC)
    return SubscriptionState(
        user_id=user_id,
        plan=Plan.PRO,
        since=now,
        provider=PaymentProvider.STRIPE,
        subscription_id=sub_id,
        current_period_end=now + timedelta(days=30),
    )


async def _alerts(db: AsyncSession, user_id: uuid.UUID) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.user_id == user_id, AuditEvent.action == "subscription_alert")
    )
    await db.rollback()
    return int(count or 0)


async def _stripe_status(gateway: StripeGateway, sub_id: str) -> str:
    return (await gateway.get_subscription(sub_id)).raw_status


# -- a closed account never keeps paying -----------------------------------------------------


async def test_closing_cancels_the_paid_subscription_the_api_did_not_see(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    stripe_sim: Any,
    stripe_gateway: StripeGateway,
) -> None:
    """A payment confirmed just before the deletion, not yet in the projection: the API
    canceled nothing (`canceled_subscription_id` None), so the workflow cancels it itself."""
    user_id = await _user(db)
    sub_id = await _paid_stripe_subscription(stripe_gateway, stripe_sim, user_id)
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"
    async with _worker(temporal_env, settings, sessions, stripe_sim, queue):
        handle = await _start(
            temporal_env, queue, SubscriptionInput(user_id=user_id, state=_paid(user_id, sub_id))
        )
        await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="test"))
        closed = await handle.result()
    assert (closed.status, closed.plan) == (SubscriptionStatus.CLOSED, Plan.FREE)
    assert await _stripe_status(stripe_gateway, sub_id) == "canceled"


async def test_closing_while_the_provider_refuses_alerts_and_cancels_later(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    stripe_sim: Any,
    stripe_gateway: StripeGateway,
) -> None:
    """The close never fails on the provider: the account closes at once, an alert is
    recorded, the run stays open and cancels the subscription once the provider answers."""
    user_id = await _user(db)
    sub_id = await _paid_stripe_subscription(stripe_gateway, stripe_sim, user_id)
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"
    async with _worker(temporal_env, settings, sessions, stripe_sim, queue, REFUSED_KEY):
        handle = await _start(
            temporal_env, queue, SubscriptionInput(user_id=user_id, state=_paid(user_id, sub_id))
        )
        await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="test"))
        await _until(lambda: _alerts_at_least(db, user_id, 1))
        state = await handle.query(SubscriptionWorkflow.state)
        assert state.status is SubscriptionStatus.CLOSED
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        assert await _stripe_status(stripe_gateway, sub_id) == "active"
    async with _worker(temporal_env, settings, sessions, stripe_sim, queue):
        await temporal_env.fast_forward(handle, timedelta(hours=2))
        closed = await handle.result()
    assert closed.status is SubscriptionStatus.CLOSED
    assert await _stripe_status(stripe_gateway, sub_id) == "canceled"
    assert await _alerts(db, user_id) == 1  # alerted once, not at every retry


async def _alerts_at_least(db: AsyncSession, user_id: uuid.UUID, count: int) -> bool:
    return await _alerts(db, user_id) >= count


# -- the retry backoff survives continue-as-new ------------------------------------------------


async def _first_timer(handle: WorkflowHandle[Any, Any]) -> timedelta:
    async def started() -> list[Any]:
        history = await handle.fetch_history()
        return [
            e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        ]

    found: list[Any] = []

    async def any_timer() -> bool:
        found[:] = await started()
        return bool(found)

    await _until(any_timer)
    return found[0]  # type: ignore[no-any-return]


async def test_a_carried_retry_interval_is_kept_by_the_next_run(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    stripe_sim: Any,
    stripe_gateway: StripeGateway,
) -> None:
    """A run continued as new with a cancellation retried at 8 h intervals waits 8 h from the
    last try, not 1 h (the interval used to restart at an hour on every new run)."""
    user_id = await _user(db)
    old = await _paid_stripe_subscription(stripe_gateway, stripe_sim, user_id)
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"
    tried_at = datetime.now(UTC)
    carried = SubscriptionInput(
        user_id=user_id,
        state=SubscriptionState(user_id=user_id, since=tried_at),
        uncanceled=[SupersededSubscription(provider=PaymentProvider.STRIPE, subscription_id=old)],
        uncanceled_tried_at=tried_at,
        uncanceled_every=timedelta(hours=8),
    )
    async with _worker(temporal_env, settings, sessions, stripe_sim, queue):
        handle = await _start(temporal_env, queue, carried)
        waits = await _first_timer(handle)
        assert timedelta(hours=7) < waits <= timedelta(hours=8)
        await temporal_env.fast_forward(handle, timedelta(hours=9))
        await _until(lambda: _is_canceled(stripe_gateway, old))
        await handle.terminate("test over")


async def _is_canceled(gateway: StripeGateway, sub_id: str) -> bool:
    return await _stripe_status(gateway, sub_id) == "canceled"
