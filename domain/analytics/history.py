"""How far back a plan shows a user's history (FREE 30 days, PRO 90, MAX all of it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.plans import PlanLimits


def history_since(plan: PlanLimits, now: datetime) -> datetime | None:
    """The oldest moment the plan shows; None: everything."""
    return None if plan.history_days is None else now - timedelta(days=plan.history_days)
