"""Activities of the subscription workflow: projection, audit, alerts, plan limits,
reconciliation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.contexts import fit_contexts_to_plan, tell_bots, tell_plan_fit
from adapters.db.alerts import AlertStore
from adapters.db.models import User
from adapters.db.repositories import AuditRepository
from adapters.payments.events import (
    ONE_OFF_PREFIX,
    activation_event,
    add_months,
    one_off_activation,
    reconciliation_event,
)
from adapters.payments.gateways import PaymentGateways
from adapters.payments.mercadopago import external_reference, parse_time
from adapters.payments.models import PaymentProviderError, ProviderSubscriptionStatus
from adapters.subscriptions import SubscriptionStore
from domain.accounts import AuditAction
from domain.plans import PLANS, Plan
from domain.subscriptions import (
    CheckoutInFlight,
    CheckoutMethod,
    PaymentProvider,
    SubscriptionEvent,
    SubscriptionState,
    SubscriptionStatus,
    Transition,
)

log = structlog.get_logger(__name__)


class TransitionRecord(BaseModel):
    user_id: uuid.UUID
    transition: Transition


class PlanChange(BaseModel):
    user_id: uuid.UUID
    plan: Plan
    account_closed: bool = False  # a deleted account trades nowhere


class PlanChangeResult(BaseModel):
    paused_contexts: list[uuid.UUID]
    resumed_contexts: list[uuid.UUID]


class ReconcileRequest(BaseModel):
    provider: PaymentProvider
    subscription_id: str
    at: datetime  # workflow time, stamped on the event so it orders after what came before


class SupersededSubscription(BaseModel):
    provider: PaymentProvider
    subscription_id: str


class Alert(BaseModel):
    """Something support must look at (a provider command that keeps failing). Kept as an
    audit row, where the alerts feature will read it, and logged as a warning."""

    user_id: uuid.UUID
    kind: str
    provider: PaymentProvider | None = None
    subscription_id: str | None = None
    message: str
    at: datetime  # workflow time


class CheckoutCheck(BaseModel):
    user_id: uuid.UUID
    checkout: CheckoutInFlight
    at: datetime  # workflow time, stamped on the event


class CheckoutOutcome(BaseModel):
    event: SubscriptionEvent | None = None  # the payment the provider holds, as an activation
    settled: bool  # paid or expired: nothing more to look for


_PAID = {ProviderSubscriptionStatus.ACTIVE, ProviderSubscriptionStatus.PAST_DUE}
_ENDED = {ProviderSubscriptionStatus.CANCELED}


def _activity_error(exc: PaymentProviderError) -> ApplicationError:
    return ApplicationError(
        exc.message,
        type="PaymentProviderRefused" if not exc.retryable else "PaymentProviderDown",
        non_retryable=not exc.retryable,
    )


class SubscriptionActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], gateways: PaymentGateways
    ) -> None:
        self.sessions = sessions
        self.gateways = gateways

    @activity.defn
    async def project_subscription(self, state: SubscriptionState) -> None:
        """Idempotent upsert of the read model (accounts are only soft-deleted; a missing one
        has no read model)."""
        async with self.sessions() as session:
            if await SubscriptionStore(session).save(state):
                await session.commit()

    @activity.defn
    async def load_subscription(self, user_id: uuid.UUID) -> SubscriptionState | None:
        """The projection a new run starts from: a restarted workflow keeps the paid plan."""
        async with self.sessions() as session:
            return await SubscriptionStore(session).load(user_id)

    @activity.defn
    async def record_alert(self, alert: Alert) -> None:
        log.warning(
            "subscription alert",
            user_id=str(alert.user_id),
            kind=alert.kind,
            provider=alert.provider.value if alert.provider else None,
            subscription_id=alert.subscription_id,
            error=alert.message,
        )
        await self._audit(
            AuditAction.SUBSCRIPTION_ALERT,
            alert.user_id,
            alert.at,
            kind=alert.kind,
            provider=alert.provider.value if alert.provider else None,
            subscription_id=alert.subscription_id,
            message=alert.message,
        )

    @activity.defn
    async def record_transition(self, record: TransitionRecord) -> None:
        """Audit line per transition. Keyed by the transition's workflow time, so a retried
        attempt after a lost answer writes the same line twice at most (harmless, visible).
        A renewal that failed (now past due) is also the user's dashboard alert, once."""
        t = record.transition
        failed = t.to_status is SubscriptionStatus.PAST_DUE
        alert = (
            f"The renewal payment of your {PLANS[t.to_plan].name} plan failed; the provider "
            "tries again. Check your payment method to keep the plan."
            if failed and t.from_status is not SubscriptionStatus.PAST_DUE
            else None
        )
        await self._audit(
            AuditAction.SUBSCRIPTION_CHANGED,
            record.user_id,
            t.at,
            alert=("payment_failed", alert) if alert else None,
            from_plan=t.from_plan.value,
            to_plan=t.to_plan.value,
            from_status=t.from_status.value,
            to_status=t.to_status.value,
            reason=t.reason,
        )

    async def _audit(
        self,
        action: AuditAction,
        user_id: uuid.UUID,
        at: datetime,
        alert: tuple[str, str] | None = None,
        **details: str | None,
    ) -> None:
        """An audit line of the workflow's (no caller IP), and with it the user's `alert`
        (kind, message) unless a retried attempt wrote it already; none for a user already
        erased."""
        async with self.sessions() as session:
            if await session.get(User, user_id) is None:
                return
            await AuditRepository(session).record(
                action, user_id=user_id, ip=None, user_agent=None, at=at, **details
            )
            if alert is not None:
                await AlertStore(session).add_once(user_id, alert[0], alert[1], at)
            await session.commit()

    @activity.defn
    async def apply_plan_limits(self, change: PlanChange) -> PlanChangeResult:
        async with self.sessions() as session:
            outcome = await fit_contexts_to_plan(
                session,
                change.user_id,
                change.plan,
                datetime.now(UTC),
                allowed=0 if change.account_closed else None,
            )
            # The bots hear of it before the commit: a retry after a failed signal (or a failed
            # commit) fits the contexts again and tells them again; a bot takes it twice alike.
            for contexts, paused in ((outcome.paused, True), (outcome.resumed, False)):
                await tell_bots(activity.client(), session, contexts, "context_paused", paused)
            await tell_plan_fit(activity.client(), session, change.user_id, PLANS[change.plan])
            await session.commit()
        return PlanChangeResult(paused_contexts=outcome.paused, resumed_contexts=outcome.resumed)

    @activity.defn
    async def reconcile_subscription(self, request: ReconcileRequest) -> SubscriptionEvent | None:
        if request.subscription_id.startswith(ONE_OFF_PREFIX):
            return None  # a one-off payment: nothing at the provider changes after it
        try:
            subscription = await self.gateways.fetch(request.provider, request.subscription_id)
        except PaymentProviderError as exc:
            raise _activity_error(exc) from None
        return reconciliation_event(subscription, request.at)

    @activity.defn
    async def reconcile_checkout(self, check: CheckoutCheck) -> CheckoutOutcome:
        """Whether a checkout the user started was paid, from the provider's own record: a
        lost payment event is repaired from here."""
        try:
            return await self._checkout_outcome(check)
        except PaymentProviderError as exc:
            raise _activity_error(exc) from None

    async def _checkout_outcome(self, check: CheckoutCheck) -> CheckoutOutcome:
        checkout, at = check.checkout, check.at
        event_id = f"reconcile-checkout:{checkout.checkout_id}:{at.isoformat()}"
        if checkout.provider is PaymentProvider.STRIPE:
            status, sub_id = await self.gateways.stripe.get_checkout(checkout.checkout_id)
            if status == "complete" and sub_id:
                subscription = await self.gateways.stripe.get_subscription(sub_id)
                if subscription.status not in _PAID:
                    return CheckoutOutcome(settled=subscription.status in _ENDED)
                return CheckoutOutcome(
                    event=activation_event(subscription, event_id, at), settled=True
                )
            return CheckoutOutcome(settled=status == "expired")
        if checkout.method in (None, CheckoutMethod.CARD):
            preapproval = await self.gateways.mercadopago.get_preapproval(checkout.checkout_id)
            if preapproval.status in _PAID:
                return CheckoutOutcome(
                    event=activation_event(preapproval, event_id, at), settled=True
                )
            return CheckoutOutcome(settled=preapproval.status in _ENDED)
        # PIX or boleto: any approved payment whose month is still running is owed access.
        reference = external_reference(str(check.user_id), checkout.plan.value)
        for payment in await self.gateways.mercadopago.search_payments(reference):
            paid_at = parse_time(payment.get("date_approved"))
            if payment.get("status") == "approved" and paid_at and add_months(paid_at, 1) > at:
                return CheckoutOutcome(
                    event=one_off_activation(payment, event_id, at), settled=True
                )
        return CheckoutOutcome(settled=False)

    @activity.defn
    async def cancel_superseded(self, request: SupersededSubscription) -> None:
        """Stop billing a subscription the user no longer holds (an upgrade replaced it, or the
        account was closed). Now, with no further charge; canceling an already canceled
        subscription is a success."""
        try:
            await self.gateways.cancel_now(request.provider, request.subscription_id)
        except PaymentProviderError as exc:
            raise _activity_error(exc) from None
