"""What the subscription workflow asks of the payment provider besides reconciliation: stop
billing subscriptions the user no longer holds (an upgrade replaced them, or the account was
closed) and watch checkouts in flight whose payment webhook may be lost.

A provider refusal or outage never fails the workflow: a cancellation that fails is recorded as
an alert (once) and tried again after an hour, then at doubling intervals up to the weekly
reconciliation; the interval and the last try are carried across continue-as-new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.subscriptions import (
        Alert,
        CheckoutCheck,
        SubscriptionActivities,
        SupersededSubscription,
    )
    from domain.subscriptions import (
        CHECKOUT_CHECK_EVERY,
        CHECKOUT_WATCH_FOR,
        PROVIDER_RETRY_EVERY,
        RECONCILE_EVERY,
        CheckoutInFlight,
        SubscriptionEvent,
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

# Patch id (docs/workflow-versioning.md) of the code below; the others are in subscription.py.
PROVIDER_ERRORS_NEVER_FAIL = "v0.2.0-provider-errors-never-fail"


class Cancellations:
    """Subscriptions to stop billing at the provider, now or, when it fails, later."""

    def __init__(
        self,
        user_id: UUID,
        pending: list[SupersededSubscription],
        tried_at: datetime | None,
        every: timedelta | None,
    ) -> None:
        self.user_id = user_id
        self.pending = list(pending)  # not yet confirmed canceled by the provider
        self.tried_at = tried_at or workflow.now()
        self.every = every or PROVIDER_RETRY_EVERY

    def retry_at(self) -> datetime | None:
        return self.tried_at + self.every if self.pending else None

    async def cancel(self, subscription: SupersededSubscription, alert: str) -> None:
        """Cancel now; a failure is alerted as `alert` and kept for a later try."""
        if not await self._cancel(subscription, alert):
            self.pending.append(subscription)
            self.tried_at = workflow.now()
            self.every = PROVIDER_RETRY_EVERY

    async def retry(self) -> None:
        self.tried_at = workflow.now()
        self.every = min(self.every * 2, RECONCILE_EVERY)
        for subscription in list(self.pending):
            if await self._cancel(subscription, alert=None):  # alerted at the first try
                self.pending.remove(subscription)

    async def _cancel(self, subscription: SupersededSubscription, alert: str | None) -> bool:
        """A refusal or an outage that outlasts the activity's retries is logged and alerted
        (the first time: `alert`), never raised."""
        try:
            await workflow.execute_activity_method(
                SubscriptionActivities.cancel_superseded,
                subscription,
                start_to_close_timeout=PROVIDER_TIMEOUT,
                retry_policy=PROVIDER_RETRY,
            )
        except ActivityError as exc:
            if not workflow.patched(PROVIDER_ERRORS_NEVER_FAIL):
                raise
            sub_id = subscription.subscription_id
            workflow.logger.warning("could not cancel %s: %s", sub_id, exc.cause)
            if alert is not None and subscription not in self.pending:
                await self._alert(alert, subscription, str(exc.cause or exc))
            return False
        return True

    async def _alert(self, kind: str, subscription: SupersededSubscription, message: str) -> None:
        await workflow.execute_activity_method(
            SubscriptionActivities.record_alert,
            Alert(
                user_id=self.user_id,
                kind=kind,
                provider=subscription.provider,
                subscription_id=subscription.subscription_id,
                message=message[:300],
                at=workflow.now(),
            ),
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )


class CheckoutWatch:
    """Checkouts the user started, looked up at the provider every hour until paid, expired or
    past the watch: a payment whose webhook was lost is found here."""

    def __init__(self, user_id: UUID, checkouts: list[CheckoutInFlight]) -> None:
        self.user_id = user_id
        self.checkouts = list(checkouts)
        self.checked_at = workflow.now()

    def add(self, checkout: CheckoutInFlight) -> bool:
        """Watch `checkout`; False when it is already watched."""
        if checkout.checkout_id in {c.checkout_id for c in self.checkouts}:
            return False
        if not self.checkouts:
            self.checked_at = workflow.now()
        self.checkouts.append(checkout)
        return True

    def check_at(self) -> datetime | None:
        return self.checked_at + CHECKOUT_CHECK_EVERY if self.checkouts else None

    async def check(self, apply: Callable[[SubscriptionEvent], Awaitable[None]]) -> None:
        """Ask the provider whether each checkout was paid; `apply` what it holds."""
        self.checked_at = now = workflow.now()
        for checkout in list(self.checkouts):
            try:
                outcome = await workflow.execute_activity_method(
                    SubscriptionActivities.reconcile_checkout,
                    CheckoutCheck(user_id=self.user_id, checkout=checkout, at=now),
                    start_to_close_timeout=PROVIDER_TIMEOUT,
                    retry_policy=PROVIDER_RETRY,
                )
            except ActivityError:
                workflow.logger.warning(
                    "checkout reconciliation failed for %s", checkout.checkout_id
                )
                continue  # asked again at the next check
            if outcome.event is not None:
                await apply(outcome.event)
            if outcome.settled or now >= checkout.started_at + CHECKOUT_WATCH_FOR:
                self.checkouts.remove(checkout)
