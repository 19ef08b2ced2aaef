from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.db.engine import create_engine, session_factory
from adapters.db.models import AuditEvent, SubscriptionRecord, User
from adapters.payments.stripe import StripeGateway
from adapters.settings import Settings
from api.subscriptions.workflow_calls import WorkflowClosed, start_subscription
from domain.plans import Plan
from domain.subscriptions import (
    EventKind,
    PaymentProvider,
    SubscriptionEvent,
    SubscriptionState,
    SubscriptionStatus,
)
from tests.conftest import free_port
from tests.payments.conftest_stripe import STRIPE_KEY
from workers.worker import WorkerDeps, account_activities
from workflows import TaskQueue
from workflows.subscription import (
    ID_CONFLICT_POLICY,
    ID_REUSE_POLICY,
    CancelRequest,
    CloseAccount,
    SubscriptionInput,
    SubscriptionWorkflow,
    subscription_workflow_id,
)


async def start(temporal: Client, user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return await start_subscription(temporal, user_id)


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


async def test_a_long_history_continues_as_new_and_carries_the_state(
    temporal: Client, workers: list[Worker], db: AsyncSession
) -> None:
    """A run continues as new by itself once its history is long (10 events here; the server
    suggests it at thousands), and hands the next run the plan, the ids of the events it has
    applied and the time it last reconciled: the next run does not start again from the
    projection, forget a webhook it has seen or push the weekly reconciliation back."""
    user_id = await _user(db)
    first = await temporal.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(user_id=user_id, continue_as_new_after=10),
        id=subscription_workflow_id(user_id),
        task_queue=TaskQueue.ACCOUNTS,
        id_reuse_policy=ID_REUSE_POLICY,
        id_conflict_policy=ID_CONFLICT_POLICY,
    )
    paid = _activated("sub_long_history", Plan.PRO, datetime.now(UTC))
    await first.signal(SubscriptionWorkflow.payment_event, paid)
    handed_on: list[SubscriptionInput] = []

    async def continued_after_the_signal() -> bool:
        """Follow the runs from the first, keeping what each handed the next, until the run
        that received the signal has continued as new."""
        handed_on.clear()
        run_id, signalled = first.first_execution_run_id, False
        while True:
            run = temporal.get_workflow_handle(first.id, run_id=run_id)
            events = (await run.fetch_history()).events
            signalled = signalled or any(
                e.HasField("workflow_execution_signaled_event_attributes") for e in events
            )
            if not events[-1].HasField("workflow_execution_continued_as_new_event_attributes"):
                return False
            attributes = events[-1].workflow_execution_continued_as_new_event_attributes
            [carried] = await temporal.data_converter.decode(
                attributes.input.payloads, [SubscriptionInput]
            )
            handed_on.append(carried)
            if signalled:
                return True
            run_id = attributes.new_execution_run_id

    await _until(continued_after_the_signal)
    first_run = temporal.get_workflow_handle(first.id, run_id=first.first_execution_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    latest = temporal.get_workflow_handle(first.id)  # no run id: the current run
    now = await latest.describe()
    assert now.status == WorkflowExecutionStatus.RUNNING
    assert now.run_id != first.first_execution_run_id
    carried = handed_on[-1]
    assert carried.state is not None and carried.state.plan is Plan.PRO
    assert carried.state.subscription_id == "sub_long_history"
    assert any(seen.endswith(paid.event_id) for seen in carried.state.recent_event_ids)
    assert carried.pending == [] and carried.continue_as_new_after == 10
    reconciled = {i.last_reconciled_at for i in handed_on}
    assert len(reconciled) == 1 and None not in reconciled  # the first run's, every time
    assert await latest.query(SubscriptionWorkflow.state) == carried.state


# -- a run never restarts from FREE; provider errors never fail it --------------------------


async def _user(db: AsyncSession, **projection: Any) -> uuid.UUID:
    """A user row and, when `projection` is given, its subscription read model."""
    user = User(email=f"wf-{uuid.uuid4().hex[:8]}@example.com", name="W", password_hash="x")
    db.add(user)
    await db.flush()
    if projection:
        db.add(SubscriptionRecord(user_id=user.id, since=datetime.now(UTC), **projection))
    await db.commit()
    return user.id


async def test_a_restarted_run_keeps_the_paid_plan_of_the_projection(
    temporal: Client, workers: list[Worker], db: AsyncSession
) -> None:
    """A run that ended FAILED (or was terminated) and is started again by the next webhook
    resumes from the database, never from FREE."""
    user_id = await _user(
        db, plan="MAX", status="active", provider="stripe", subscription_id="sub_max"
    )
    first = await start_subscription(temporal, user_id)

    async def plan_of(handle: Any, plan: Plan) -> bool:
        # The first run's task loads the projection; a query may come before it lands.
        return (await handle.query(SubscriptionWorkflow.state)).plan is plan

    await _until(lambda: plan_of(first, Plan.MAX))
    await first.terminate("simulated failure")
    again = await start_subscription(temporal, user_id)
    await _until(lambda: plan_of(again, Plan.MAX))
    state = await again.query(SubscriptionWorkflow.state)
    assert state.subscription_id == "sub_max"
    assert again.result_run_id != first.result_run_id


async def test_a_closed_account_workflow_is_never_started_again(
    temporal: Client, workers: list[Worker], db: AsyncSession
) -> None:
    user_id = await _user(db)
    handle = await start_subscription(temporal, user_id)
    await handle.signal(SubscriptionWorkflow.close_account, CloseAccount(reason="test"))
    await handle.result()
    with pytest.raises(WorkflowClosed):
        await start_subscription(temporal, user_id)


async def _paid_stripe_subscription(gateway: StripeGateway, sim: Any, user: uuid.UUID) -> str:
    checkout = await gateway.create_checkout(
        str(user), "w@example.com", "PRO", "https://a", "https://b"
    )
    session = (await sim.complete(checkout.checkout_id))["checkout_session"]
    sub = session["subscription"]
    return str(sub["id"] if isinstance(sub, dict) else sub)


def _activated(sub_id: str, plan: Plan, at: datetime) -> SubscriptionEvent:
    return SubscriptionEvent(
        provider=PaymentProvider.STRIPE,
        event_id=f"evt_{sub_id}",
        kind=EventKind.ACTIVATED,
        occurred_at=at,
        plan=plan,
        subscription_id=sub_id,
        current_period_end=at + timedelta(days=30),
    )


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    """Poll what another process writes (the worker's activities, the simulator)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def test_a_refused_cancel_of_the_old_subscription_alerts_and_is_retried_later(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    stripe_sim: Any,
    stripe_gateway: StripeGateway,
) -> None:
    """PRO → MAX while Stripe refuses our calls: the workflow stays on MAX (it used to fail
    and restart at FREE), records an alert, and cancels the old subscription once Stripe
    answers again."""
    temporal = temporal_env.client
    user_id = await _user(db)
    old = await _paid_stripe_subscription(stripe_gateway, stripe_sim, user_id)
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"

    def worker(stripe_key: str) -> Worker:
        stripe = {
            "stripe_secret_key": SecretStr(stripe_key),
            "stripe_api_base": stripe_sim.base_url,
        }
        deps = WorkerDeps.build(settings.model_copy(update=stripe), sessions, temporal)
        return Worker(
            temporal,
            task_queue=queue,
            workflows=[SubscriptionWorkflow],
            activities=account_activities(deps),
        )

    async with worker("sk_test_revoked_key"):
        handle = await temporal.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionInput(user_id=user_id),
            id=subscription_workflow_id(user_id),
            task_queue=queue,
            id_reuse_policy=ID_REUSE_POLICY,
            id_conflict_policy=ID_CONFLICT_POLICY,
        )
        now = datetime.now(UTC)
        await handle.signal(SubscriptionWorkflow.payment_event, _activated(old, Plan.PRO, now))
        await handle.signal(
            SubscriptionWorkflow.payment_event,
            _activated("sub_new_max", Plan.MAX, now + timedelta(seconds=1)),
        )

        async def alerted() -> bool:
            found = await db.scalar(
                select(AuditEvent).where(
                    AuditEvent.user_id == user_id, AuditEvent.action == "subscription_alert"
                )
            )
            await db.rollback()
            return found is not None

        await _until(alerted)
        state = await handle.query(SubscriptionWorkflow.state)
        assert (state.plan, state.subscription_id) == (Plan.MAX, "sub_new_max")
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        assert (await stripe_gateway.get_subscription(old)).raw_status == "active"
        record = await db.get(SubscriptionRecord, user_id)
        assert record is not None and record.plan == "MAX"

    async with worker(STRIPE_KEY):
        await temporal_env.fast_forward(handle, timedelta(hours=2))

        async def canceled() -> bool:
            return (await stripe_gateway.get_subscription(old)).raw_status == "canceled"

        await _until(canceled)
        assert (await handle.query(SubscriptionWorkflow.state)).plan is Plan.MAX


async def test_the_cancel_update_answers_busy_when_the_database_does_not(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The cancel Update used to wait forever while the projection's activity retried against
    a database that does not answer; now it answers SubscriptionBusy (the API's 504)."""
    temporal = temporal_env.client
    dead = create_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"
    user_id = uuid.uuid4()
    paid = SubscriptionState(
        user_id=user_id,
        plan=Plan.PRO,
        since=datetime.now(UTC),
        provider=PaymentProvider.STRIPE,
        subscription_id="sub_busy",
        current_period_end=datetime.now(UTC) + timedelta(days=30),
    )
    deps = WorkerDeps.build(settings, session_factory(dead), temporal)
    async with Worker(
        temporal,
        task_queue=queue,
        workflows=[SubscriptionWorkflow],
        activities=account_activities(deps),
    ):
        handle = await temporal.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionInput(user_id=user_id, state=paid),
            id=subscription_workflow_id(user_id),
            task_queue=queue,
            id_reuse_policy=ID_REUSE_POLICY,
            id_conflict_policy=ID_CONFLICT_POLICY,
        )
        request = CancelRequest(
            provider=PaymentProvider.STRIPE, subscription_id="sub_busy", at_period_end=True
        )
        update = await handle.start_update(
            SubscriptionWorkflow.cancel, request, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await temporal_env.fast_forward(handle, timedelta(minutes=1))
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            async with asyncio.timeout(30):
                await update.result()
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "SubscriptionBusy"
        await handle.terminate("test over")
    await dead.dispose()
