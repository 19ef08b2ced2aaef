"""The per-user subscription workflow: the single writer of the user's plan.

Started at registration (FREE). Payment webhooks signal it with normalised events; the user's
cancel arrives as an update; timers at period ends (never cron) end or check paid periods, and a
daily reconciliation compares the state with the provider's own record. Every change is
projected to the database, every transition audited, and a change of plan pauses or resumes
the user's contexts to fit the new limits.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.subscriptions import (
        PlanChange,
        ReconcileRequest,
        SubscriptionActivities,
        SupersededSubscription,
        TransitionRecord,
    )
    from domain.subscriptions import (
        RECONCILE_EVERY,
        EventKind,
        PaymentProvider,
        SubscriptionEvent,
        SubscriptionState,
        SubscriptionStatus,
        Transition,
        apply_event,
        close,
        on_clock,
    )

DATABASE_TIMEOUT = timedelta(seconds=30)
DATABASE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
PROVIDER_TIMEOUT = timedelta(seconds=60)
# A provider refusal (bad id, auth) will not change by retrying; outages will.
PROVIDER_RETRY = RetryPolicy(
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=5,
    non_retryable_error_types=["PaymentProviderRefused"],
)


def subscription_workflow_id(user_id: UUID) -> str:
    return f"subscription:{user_id}"


class SubscriptionInput(BaseModel):
    user_id: UUID
    # Carried across continue-as-new; None on the first run.
    state: SubscriptionState | None = None
    pending: list[SubscriptionEvent] = Field(default_factory=list)
    last_reconciled_at: datetime | None = None


class CloseAccount(BaseModel):
    reason: str


class CancelRequest(BaseModel):
    """The user's cancel, after the provider accepted it: Stripe ends at the period end,
    Mercado Pago at once."""

    provider: PaymentProvider
    subscription_id: str
    at_period_end: bool


@workflow.defn
class SubscriptionWorkflow:
    @workflow.init
    def __init__(self, input: SubscriptionInput) -> None:
        self._state = input.state or SubscriptionState(user_id=input.user_id, since=workflow.now())
        self._inbox: list[SubscriptionEvent] = list(input.pending)
        self._closing: CloseAccount | None = None
        self._last_reconciled_at = input.last_reconciled_at or workflow.now()
        self._projected: SubscriptionState | None = input.state
        self._busy = False  # an event is being committed (activities in flight)

    @workflow.run
    async def run(self, input: SubscriptionInput) -> SubscriptionState:
        await self._project()
        while True:
            await self._sleep_until_something_happens()
            while self._inbox:
                event = self._inbox.pop(0)
                await self._commit(*apply_event(self._state, event, workflow.now()))
            if self._closing:
                await self._commit(*close(self._state, workflow.now()))
                return self._state
            # At a deadline the provider is asked first: a renewal may be late or lost.
            if self._due(self._reconcile_at()) or self._due(self._state.next_deadline()):
                await self._reconcile()
            if self._due(self._state.next_deadline()):
                await self._commit(*on_clock(self._state, workflow.now()))
            if workflow.info().is_continue_as_new_suggested() and not self._inbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    SubscriptionInput(
                        user_id=input.user_id,
                        state=self._state,
                        pending=self._inbox,
                        last_reconciled_at=self._last_reconciled_at,
                    )
                )

    # -- messages -----------------------------------------------------------------------------

    @workflow.query
    def state(self) -> SubscriptionState:
        return self._state

    @workflow.signal
    def payment_event(self, event: SubscriptionEvent) -> None:
        self._inbox.append(event)

    @workflow.signal
    def close_account(self, request: CloseAccount) -> None:
        self._closing = request

    @workflow.update
    async def cancel(self, request: CancelRequest) -> SubscriptionState:
        kind = EventKind.UPDATED if request.at_period_end else EventKind.CANCELED
        # The provider confirmed it just now: the newest fact, whatever its clock says.
        known = self._state.last_event_at
        occurred_at = max(workflow.now(), known) if known else workflow.now()
        event = SubscriptionEvent(
            provider=request.provider,
            event_id=f"user-cancel:{request.subscription_id}:{workflow.now().isoformat()}",
            kind=kind,
            occurred_at=occurred_at,
            subscription_id=request.subscription_id,
            cancel_at_period_end=True if request.at_period_end else None,
        )
        self._inbox.append(event)
        await workflow.wait_condition(lambda: event not in self._inbox and not self._busy)
        return self._state

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if not self._state.paid or self._state.subscription_id != request.subscription_id:
            raise ValueError("there is no paid subscription to cancel")

    # -- internals ----------------------------------------------------------------------------

    def _reconcile_at(self) -> datetime | None:
        return self._last_reconciled_at + RECONCILE_EVERY if self._state.paid else None

    def _due(self, at: datetime | None) -> bool:
        return at is not None and workflow.now() >= at

    async def _sleep_until_something_happens(self) -> None:
        wakes = [t for t in (self._state.next_deadline(), self._reconcile_at()) if t is not None]
        timeout = max(min(wakes) - workflow.now(), timedelta(0)) if wakes else None
        # A timeout means a deadline came: the loop then looks at the clock.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (
                    bool(self._inbox)
                    or self._closing is not None
                    or workflow.info().is_continue_as_new_suggested()
                ),
                timeout=timeout,
            )

    async def _reconcile(self) -> None:
        """Ask the provider what it holds and fold that in as the newest event."""
        self._last_reconciled_at = workflow.now()
        state = self._state
        if state.provider is None or state.subscription_id is None:
            return
        try:
            event = await workflow.execute_activity_method(
                SubscriptionActivities.reconcile_subscription,
                ReconcileRequest(
                    provider=state.provider,
                    subscription_id=state.subscription_id,
                    at=workflow.now(),
                ),
                start_to_close_timeout=PROVIDER_TIMEOUT,
                retry_policy=PROVIDER_RETRY,
            )
        except ActivityError:
            # The provider is unreachable: keep what we know and ask again next time; a
            # period that ended is still ended by the clock.
            workflow.logger.warning("reconciliation failed for %s", state.subscription_id)
            return
        if event is not None:
            await self._commit(*apply_event(self._state, event, workflow.now()))

    async def _commit(self, state: SubscriptionState, transition: Transition | None) -> None:
        self._busy = True
        try:
            before = self._state
            self._state = state
            await self._project()
            superseded = before.subscription_id
            replaced = superseded is not None and superseded != state.subscription_id
            if before.provider and before.paid and state.paid and superseded and replaced:
                # An upgrade or switch: the user must not be billed for both subscriptions.
                await workflow.execute_activity_method(
                    SubscriptionActivities.cancel_superseded,
                    SupersededSubscription(provider=before.provider, subscription_id=superseded),
                    start_to_close_timeout=PROVIDER_TIMEOUT,
                    retry_policy=PROVIDER_RETRY,
                )
            if transition is None:
                return
            await workflow.execute_activity_method(
                SubscriptionActivities.record_transition,
                TransitionRecord(user_id=state.user_id, transition=transition),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
            closed = state.status is SubscriptionStatus.CLOSED
            if before.plan is not state.plan or closed:
                await workflow.execute_activity_method(
                    SubscriptionActivities.apply_plan_limits,
                    PlanChange(user_id=state.user_id, plan=state.plan, account_closed=closed),
                    start_to_close_timeout=DATABASE_TIMEOUT,
                    retry_policy=DATABASE_RETRY,
                )
        finally:
            self._busy = False

    async def _project(self) -> None:
        """Write the read model when something a reader sees changed."""
        visible = self._state.model_dump(exclude={"recent_event_ids", "last_event_at"})
        if self._projected is not None and visible == self._projected.model_dump(
            exclude={"recent_event_ids", "last_event_at"}
        ):
            return
        await workflow.execute_activity_method(
            SubscriptionActivities.project_subscription,
            self._state,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )
        self._projected = self._state
