"""The per-user subscription workflow: the single writer of the user's plan.

Started at registration; a new run starts from the database projection (so a restarted
workflow never falls back to FREE under a paid plan). Payment webhooks signal it with
normalised events; the user's cancel arrives as an update; timers at period ends (never cron)
end or check paid periods, and a weekly reconciliation compares the state with the provider's
own record, as an hourly one does for a checkout in flight. Every change is projected to the
database, every transition audited, and a change of plan pauses or resumes the user's contexts
to fit the new limits. A provider error never fails the workflow: it is recorded as an alert
and the command is tried again later (workflows/subscription_provider.py). A closed account
stops paying: the workflow cancels any paid subscription its own state still holds, and stays
open until the provider confirms it.

Versioning: every change that alters the commands an existing history would replay goes
behind `workflow.patched` (docs/workflow-versioning.md); the recorded histories of every
release replay in tests/replay.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.subscription_provider import (
    DATABASE_RETRY,
    DATABASE_TIMEOUT,
    PROVIDER_RETRY,
    PROVIDER_TIMEOUT,
    Cancellations,
    CheckoutWatch,
)

with workflow.unsafe.imports_passed_through():
    from activities.subscriptions import (
        PlanChange,
        ReconcileRequest,
        SubscriptionActivities,
        SupersededSubscription,
        TransitionRecord,
    )
    from adapters.payments.events import ONE_OFF_PREFIX
    from domain.subscriptions import (
        RECONCILE_EVERY,
        CheckoutInFlight,
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

# How long the cancel Update waits for its event to be committed before answering "busy" (the
# event stays queued and is applied when the database answers again).
CANCEL_UPDATE_WAIT = timedelta(seconds=20)

# Patch ids (docs/workflow-versioning.md). Never reuse or remove one while a history that took
# the other branch may still be running; the replay tests hold a history of each release.
START_FROM_PROJECTION = "v0.2.0-start-from-projection"
# v0.2.0-provider-errors-never-fail: workflows/subscription_provider.py, the code it guards.
BOUNDED_CANCEL_UPDATE = "v0.2.0-bounded-cancel-update"
CLOSE_CANCELS_PAID = "v0.2.0-close-cancels-paid"

# Every start of a subscription workflow uses these: one workflow per user; a run that failed,
# timed out or was terminated may be started again (it resumes from the projection); a closed
# account's completed run is never started again.
ID_REUSE_POLICY = WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
ID_CONFLICT_POLICY = WorkflowIDConflictPolicy.USE_EXISTING


def subscription_workflow_id(user_id: UUID) -> str:
    return f"subscription:{user_id}"


class SubscriptionInput(BaseModel):
    user_id: UUID
    # Carried across continue-as-new; None on the first run.
    state: SubscriptionState | None = None
    pending: list[SubscriptionEvent] = Field(default_factory=list)
    last_reconciled_at: datetime | None = None
    uncanceled: list[SupersededSubscription] = Field(default_factory=list)
    # The backoff of the `uncanceled` retries, so a new run does not start it again at an hour.
    uncanceled_tried_at: datetime | None = None
    uncanceled_every: timedelta | None = None
    checkouts: list[CheckoutInFlight] = Field(default_factory=list)
    # Continue as new once a run's history holds this many events, before the server suggests
    # it (at thousands). Tests set it low to watch a run continue by itself; None in production.
    continue_as_new_after: int | None = Field(default=None, ge=1)


class CloseAccount(BaseModel):
    reason: str
    # The subscription the API canceled at the provider just before: the account closes on FREE.
    canceled_subscription_id: str | None = None


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
        self._cancellations = Cancellations(
            input.user_id, input.uncanceled, input.uncanceled_tried_at, input.uncanceled_every
        )
        self._checkouts = CheckoutWatch(input.user_id, input.checkouts)
        self._rearm = False
        self._history_limit = input.continue_as_new_after

    @workflow.run
    async def run(self, input: SubscriptionInput) -> SubscriptionState:
        if input.state is None and workflow.patched(START_FROM_PROJECTION):
            stored = await workflow.execute_activity_method(
                SubscriptionActivities.load_subscription,
                input.user_id,
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
            if stored is not None:
                self._state = self._projected = stored
            if self._state.status is SubscriptionStatus.CLOSED:
                return self._state  # a deleted account's workflow is never reopened
        await self._project()
        while True:
            await self._sleep_until_something_happens()
            while self._inbox:
                event = self._inbox.pop(0)
                await self._commit(*apply_event(self._state, event, workflow.now()))
            if self._closing:
                request, self._closing = self._closing, None
                if not workflow.patched(CLOSE_CANCELS_PAID):
                    canceled = request.canceled_subscription_id
                    await self._commit(
                        *close(self._state, workflow.now(), canceled_at_provider=canceled)
                    )
                    return self._state
                await self._close(request)
            # At a deadline the provider is asked first: a renewal may be late or lost.
            if self._due(self._reconcile_at()) or self._due(self._state.next_deadline()):
                await self._reconcile()
            if self._due(self._state.next_deadline()):
                await self._commit(*on_clock(self._state, workflow.now()))
            if self._due(self._cancellations.retry_at()):
                await self._cancellations.retry()
            if self._state.status is SubscriptionStatus.CLOSED and not self._cancellations.pending:
                return self._state  # closed, and nothing left billing at the provider
            if self._due(self._checkouts.check_at()):
                await self._checkouts.check(self._apply)
            if self._history_is_long() and not self._inbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    SubscriptionInput(
                        user_id=input.user_id,
                        state=self._state,
                        pending=self._inbox,
                        last_reconciled_at=self._last_reconciled_at,
                        uncanceled=self._cancellations.pending,
                        uncanceled_tried_at=self._cancellations.tried_at,
                        uncanceled_every=self._cancellations.every,
                        checkouts=self._checkouts.checkouts,
                        continue_as_new_after=self._history_limit,
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
        if self._state.status is not SubscriptionStatus.CLOSED:  # a repeat changes nothing
            self._closing = request

    @workflow.signal
    def checkout_started(self, checkout: CheckoutInFlight) -> None:
        """The user was sent to pay: watched at the provider until paid or expired."""
        if self._state.status is not SubscriptionStatus.CLOSED and self._checkouts.add(checkout):
            self._rearm = True  # the loop may be asleep with no timer: wake it to set one

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

        def applied() -> bool:
            return event not in self._inbox and not self._busy

        if not workflow.patched(BOUNDED_CANCEL_UPDATE):
            await workflow.wait_condition(applied)
            return self._state
        try:
            await workflow.wait_condition(applied, timeout=CANCEL_UPDATE_WAIT)
        except TimeoutError:
            # The database is not answering; the event stays queued and is applied later.
            raise ApplicationError(
                "the cancel is queued but not applied yet", type="SubscriptionBusy"
            ) from None
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

    def _history_is_long(self) -> bool:
        """Time to continue as new. Without a limit of our own this is the server's suggestion
        alone, as in every recorded history."""
        info = workflow.info()
        limit = self._history_limit
        own = limit is not None and info.get_current_history_length() >= limit
        return own or info.is_continue_as_new_suggested()

    async def _sleep_until_something_happens(self) -> None:
        candidates = (
            self._state.next_deadline(),
            self._reconcile_at(),
            self._cancellations.retry_at(),
            self._checkouts.check_at(),
        )
        wakes = [t for t in candidates if t is not None]
        timeout = max(min(wakes) - workflow.now(), timedelta(0)) if wakes else None
        # A timeout means a deadline came: the loop then looks at the clock.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (
                    bool(self._inbox)
                    or self._closing is not None
                    or self._rearm
                    or self._history_is_long()
                ),
                timeout=timeout,
            )
        self._rearm = False

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
            await self._apply(event)

    async def _apply(self, event: SubscriptionEvent) -> None:
        await self._commit(*apply_event(self._state, event, workflow.now()))

    async def _close(self, request: CloseAccount) -> None:
        """The account is deleted and closes on FREE. The API canceled the paid subscription
        its projection showed (`request.canceled_subscription_id`); one this state holds and
        the projection did not yet (a payment confirmed a moment before) is canceled here."""
        state = self._state
        sub_id, provider = state.subscription_id, state.provider
        await self._commit(*close(state, workflow.now(), canceled_at_provider=sub_id))
        if not state.paid or sub_id is None or provider is None:
            return
        if sub_id == request.canceled_subscription_id or sub_id.startswith(ONE_OFF_PREFIX):
            return  # canceled by the API; a PIX or boleto month charges nothing again
        owed = SupersededSubscription(provider=provider, subscription_id=sub_id)
        await self._cancellations.cancel(owed, alert="cancel_on_close_failed")

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
                old = SupersededSubscription(provider=before.provider, subscription_id=superseded)
                await self._cancellations.cancel(old, alert="cancel_superseded_failed")
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
