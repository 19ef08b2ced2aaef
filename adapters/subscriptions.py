"""The subscription read model: the SubscriptionWorkflow's projection in the database.

The workflow is its single writer (`save`, from an activity). Reads that users make often come
from here, so they keep answering while workers restart; a new workflow run starts from here,
so it never forgets a paid plan (`load`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import SubscriptionRecord, User
from domain.plans import Plan
from domain.subscriptions import PaymentProvider, SubscriptionState, SubscriptionStatus


class SubscriptionStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, user_id: uuid.UUID) -> SubscriptionState | None:
        record = await self.session.get(SubscriptionRecord, user_id)
        if record is None:
            return None
        return SubscriptionState(
            user_id=user_id,
            plan=Plan(record.plan),
            status=SubscriptionStatus(record.status),
            since=record.since,
            provider=PaymentProvider(record.provider) if record.provider else None,
            customer_id=record.customer_id,
            subscription_id=record.subscription_id,
            current_period_end=record.current_period_end,
            cancel_at_period_end=record.cancel_at_period_end,
        )

    async def load_or_free(self, user: User) -> SubscriptionState:
        """What a reader sees: the projection, or FREE since registration before the first one
        is written."""
        stored = await self.load(user.id)
        return stored or SubscriptionState(user_id=user.id, since=user.created_at)

    async def save(self, state: SubscriptionState) -> bool:
        """Idempotent upsert; False when the account does not exist (nothing to project)."""
        if await self.session.get(User, state.user_id) is None:
            return False
        record = await self.session.get(SubscriptionRecord, state.user_id)
        if record is None:
            record = SubscriptionRecord(user_id=state.user_id)
            self.session.add(record)
        record.plan = state.plan.value
        record.status = state.status.value
        record.provider = state.provider.value if state.provider else None
        record.customer_id = state.customer_id
        record.subscription_id = state.subscription_id
        record.current_period_end = state.current_period_end
        record.cancel_at_period_end = state.cancel_at_period_end
        record.since = state.since
        record.updated_at = datetime.now(UTC)
        return True
