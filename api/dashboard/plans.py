"""What the caller's plan shows of the dashboard: its history window and its features, refused
with the plan that unlocks them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import User
from api.errors import ApiError
from api.subscriptions.endpoints import stored_subscription
from domain.analytics.history import history_since
from domain.plans import PLANS, Feature, PlanLimits, unlocking_plan


@dataclass(frozen=True)
class Window:
    plan: PlanLimits
    since: datetime | None  # the oldest moment the plan shows; None: all history
    now: datetime


async def plan_window(session: AsyncSession, user: User) -> Window:
    plan = PLANS[(await stored_subscription(session, user)).plan]
    now = datetime.now(UTC)
    return Window(plan, history_since(plan, now), now)


def require(plan: PlanLimits, feature: Feature, what: str) -> None:
    """403 plan_feature naming the plan that unlocks `feature` (`what` it is, in words)."""
    if plan.allows(feature):
        return
    unlocked_by = unlocking_plan(feature)
    raise ApiError(
        403,
        "plan_feature",
        f"The {plan.name} plan has no {what}; the {PLANS[unlocked_by].name} plan has it.",
        {"plan": plan.plan.value, "feature": feature.value, "unlocked_by": unlocked_by.value},
    )
