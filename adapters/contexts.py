"""Trading contexts (coin + fiat + exchange per user) and fitting them to a plan's limits.

`pause_context` and `resume_context` are the one place a context's trading is switched off and
on: a downgrade, an upgrade and the user all go through them, and the bot engine answers them
(a context's bots run only while their context is active).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.db.bots import BotStore
from adapters.db.models import ContextStatus, PauseReason, TradingContext
from adapters.db.models_bots import BotRecord
from domain.bots.kinds import parse_config, plan_refusal
from domain.bots.state import bot_workflow_id
from domain.plans import Plan, PlanLimits, limits


class ContextRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_user(self, user_id: uuid.UUID) -> Sequence[TradingContext]:
        """Oldest first: the order in which contexts keep running under a limit."""
        result = await self.session.scalars(
            select(TradingContext)
            .where(TradingContext.user_id == user_id)
            .order_by(TradingContext.created_at, TradingContext.id)
        )
        return result.all()

    async def get(self, user_id: uuid.UUID, context_id: uuid.UUID) -> TradingContext | None:
        return await self.session.scalar(
            select(TradingContext).where(
                TradingContext.id == context_id, TradingContext.user_id == user_id
            )
        )

    async def count(self, user_id: uuid.UUID) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(TradingContext)
            .where(TradingContext.user_id == user_id)
        )
        return int(total or 0)

    async def add(self, context: TradingContext) -> None:
        self.session.add(context)
        await self.session.flush()

    async def delete(self, user_id: uuid.UUID, context_id: uuid.UUID) -> bool:
        """Delete the user's context; False when there was none (or it is already gone)."""
        result = await self.session.execute(
            delete(TradingContext).where(
                TradingContext.id == context_id, TradingContext.user_id == user_id
            )
        )
        assert isinstance(result, CursorResult)  # a DELETE's result: it has a row count
        return bool(result.rowcount)


async def tell_bots(
    client: Client,
    session: AsyncSession,
    context_ids: Sequence[uuid.UUID],
    signal: str,
    *args: Any,
) -> None:
    """Signal `signal` (`context_paused` with whether it is, `credentials_removed`) to the
    bots of these contexts. Called before the change commits, so a failed signal leaves the
    change undone (the caller retries and tells again; a bot takes the same news twice
    alike). A bot whose workflow is gone is skipped."""
    bots = await bots_of(session, context_ids)
    await asyncio.gather(*(_signal(client, bot, signal, args) for bot in bots))


async def tell_plan_fit(
    client: Client, session: AsyncSession, user_id: uuid.UUID, plan: PlanLimits
) -> None:
    """Tell each of the user's bots (not deleted) whether `plan` runs it (`plan_fit`): a DCA
    or Candle bot pauses on a plan without its kind, a Candle bot on one without its advanced
    rules; each resumes when a plan runs it again. Before the change commits, as
    `tell_bots`."""
    bots = await BotStore(session).list_bots(user_id)
    await asyncio.gather(
        *(
            _signal(
                client,
                bot.id,
                "plan_fit",
                [plan_refusal(plan, bot.kind, parse_config(bot.kind, bot.config))],
            )
            for bot in bots
        )
    )


async def _signal(client: Client, bot_id: uuid.UUID, signal: str, args: Sequence[Any]) -> None:
    try:
        await client.get_workflow_handle(bot_workflow_id(bot_id)).signal(signal, args=args)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise


async def has_bots(session: AsyncSession, context_id: uuid.UUID) -> bool:
    """Whether any bot, deleted ones included (their orders are history), trades in it."""
    found = await session.scalar(select(BotRecord.id).where(BotRecord.context_id == context_id))
    return found is not None


async def bots_of(session: AsyncSession, context_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The bots (not deleted) of these contexts: those a pause or resume must reach."""
    if not context_ids:
        return []
    result = await session.scalars(
        select(BotRecord.id).where(
            BotRecord.context_id.in_(context_ids), BotRecord.deleted_at.is_(None)
        )
    )
    return list(result.all())


def pause_context(context: TradingContext, reason: PauseReason, now: datetime) -> bool:
    """Stop a context's trading; False when it was already paused."""
    if context.status == ContextStatus.PAUSED:
        return False
    context.status = ContextStatus.PAUSED
    context.paused_reason = reason
    context.updated_at = now
    return True


def resume_context(context: TradingContext, now: datetime) -> bool:
    """Let a context trade again; False when it was already active."""
    if context.status == ContextStatus.ACTIVE:
        return False
    context.status = ContextStatus.ACTIVE
    context.paused_reason = None
    context.updated_at = now
    return True


@dataclass
class LimitOutcome:
    paused: list[uuid.UUID] = field(default_factory=list)
    resumed: list[uuid.UUID] = field(default_factory=list)


async def fit_contexts_to_plan(
    session: AsyncSession,
    user_id: uuid.UUID,
    plan: Plan,
    now: datetime,
    *,
    allowed: int | None = None,
) -> LimitOutcome:
    """Pause the newest active contexts beyond the plan's limit (or `allowed`, when given);
    resume, oldest first, those a downgrade paused while there is room. Never deletes.
    Idempotent."""
    contexts = await ContextRepository(session).for_user(user_id)
    if allowed is None:
        allowed = limits(plan).max_contexts
    outcome = LimitOutcome()
    active = [c for c in contexts if c.status == ContextStatus.ACTIVE]
    if allowed is not None and len(active) > allowed:
        for context in reversed(active[allowed:]):
            pause_context(context, PauseReason.PLAN_LIMIT, now)
            outcome.paused.append(context.id)
    else:
        room = None if allowed is None else allowed - len(active)
        for context in contexts:
            if room is not None and room <= 0:
                break
            if context.paused_reason == PauseReason.PLAN_LIMIT:
                resume_context(context, now)
                outcome.resumed.append(context.id)
                room = None if room is None else room - 1
    await session.flush()
    return outcome
