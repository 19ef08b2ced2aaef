"""Activities of the subscription workflow: projection, audit, plan limits, reconciliation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.contexts import fit_contexts_to_plan
from adapters.db.models import SubscriptionRecord, User
from adapters.db.repositories import AuditRepository
from adapters.payments.events import ONE_OFF_PREFIX, reconciliation_event
from adapters.payments.gateways import PaymentGateways
from adapters.payments.models import PaymentProviderError
from domain.accounts import AuditAction
from domain.plans import Plan
from domain.subscriptions import (
    PaymentProvider,
    SubscriptionEvent,
    SubscriptionState,
    Transition,
)


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


class SubscriptionActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], gateways: PaymentGateways
    ) -> None:
        self.sessions = sessions
        self.gateways = gateways

    @activity.defn
    async def project_subscription(self, state: SubscriptionState) -> None:
        """Idempotent upsert of the read model."""
        async with self.sessions() as session:
            if await session.get(User, state.user_id) is None:
                return  # accounts are only soft-deleted; a missing one has no read model
            record = await session.get(SubscriptionRecord, state.user_id)
            if record is None:
                record = SubscriptionRecord(user_id=state.user_id)
                session.add(record)
            record.plan = state.plan.value
            record.status = state.status.value
            record.provider = state.provider.value if state.provider else None
            record.customer_id = state.customer_id
            record.subscription_id = state.subscription_id
            record.current_period_end = state.current_period_end
            record.cancel_at_period_end = state.cancel_at_period_end
            record.since = state.since
            record.updated_at = datetime.now(UTC)
            await session.commit()

    @activity.defn
    async def record_transition(self, record: TransitionRecord) -> None:
        """Audit line per transition. Keyed by the transition's workflow time, so a retried
        attempt after a lost answer writes the same line twice at most (harmless, visible)."""
        t = record.transition
        async with self.sessions() as session:
            if await session.get(User, record.user_id) is None:
                return
            await AuditRepository(session).record(
                AuditAction.SUBSCRIPTION_CHANGED,
                user_id=record.user_id,
                ip=None,
                user_agent=None,
                at=t.at,
                from_plan=t.from_plan.value,
                to_plan=t.to_plan.value,
                from_status=t.from_status.value,
                to_status=t.to_status.value,
                reason=t.reason,
            )
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
            await session.commit()
        return PlanChangeResult(paused_contexts=outcome.paused, resumed_contexts=outcome.resumed)

    @activity.defn
    async def reconcile_subscription(self, request: ReconcileRequest) -> SubscriptionEvent | None:
        if request.subscription_id.startswith(ONE_OFF_PREFIX):
            return None  # a one-off payment: nothing at the provider changes after it
        try:
            subscription = await self.gateways.fetch(request.provider, request.subscription_id)
        except PaymentProviderError as exc:
            raise ApplicationError(
                exc.message,
                type="PaymentProviderRefused" if not exc.retryable else "PaymentProviderDown",
                non_retryable=not exc.retryable,
            ) from None
        return reconciliation_event(subscription, request.at)

    @activity.defn
    async def cancel_superseded(self, request: SupersededSubscription) -> None:
        """The user moved to another subscription (an upgrade): stop billing the old one now.
        Canceling an already canceled subscription is a success."""
        try:
            await self.gateways.cancel_now(request.provider, request.subscription_id)
        except PaymentProviderError as exc:
            raise ApplicationError(
                exc.message, type="PaymentProviderDown", non_retryable=not exc.retryable
            ) from None
