"""What a bot did and saw, read from what was recorded: a DCA bot's purchases, a Candle bot's
current analysis and its signals, each scoped to the owner (a deleted bot's too: its history
stays)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from adapters.db.bot_signals import SignalStore
from adapters.db.bots import MAX_PAGE, BotStore, OrderFilter
from adapters.db.models_bots import BotSignalRecord
from api.bots.endpoints import owned_bot
from api.bots.schemas import (
    AnalysisPublic,
    DcaExecution,
    ExecutionList,
    SignalList,
    SignalPublic,
)
from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from api.orders.endpoints import CursorQuery, invalid_cursor
from domain.bots.orders import Strategy
from domain.market import Side, from_epoch_ms

router = APIRouter(prefix="/api/bots", tags=["bots"], responses=error_responses(401, 422, 500))

PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/{bot_id}/executions", response_model=ExecutionList, responses=error_responses(404))
async def dca_executions(
    bot_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: PageLimit = 50,
    cursor: CursorQuery = None,
) -> ExecutionList:
    """A DCA bot's purchases (its orders that bought something), newest first; for another
    kind, its own rule's buys, which carry the same cycle and accumulation."""
    bot, _ = await owned_bot(session, user.id, bot_id, include_deleted=True)
    where = OrderFilter(bot_id=bot.id, strategy=Strategy(bot.kind), side=Side.BUY, filled=True)
    try:
        page = await BotStore(session).list_orders(user.id, where, limit=limit, cursor=cursor)
    except ValueError:
        raise invalid_cursor() from None
    return ExecutionList(
        executions=[
            DcaExecution(
                order_id=order.id,
                client_order_id=order.client_order_id,
                accumulation=order.creation_context.get("accumulation"),
                cycle=order.creation_context.get("cycle"),
                amount=order.quote_quantity,
                quantity=order.filled_quantity,
                price=order.average_price,
                fees=order.fees,
                status=order.status,
                created_at=order.created_at,
            )
            for order in page.orders
        ],
        next_cursor=page.next_cursor,
    )


def signal_public(row: BotSignalRecord) -> SignalPublic:
    return SignalPublic(
        bot_id=row.bot_id,
        timeframe=row.timeframe,
        candle_open_time=from_epoch_ms(row.candle_open_ms),
        action=row.action,
        confidence=row.confidence,
        close=row.close,
        reasons=row.reasons,
        recorded_at=row.created_at,
    )


@router.get("/{bot_id}/analysis", response_model=AnalysisPublic, responses=error_responses(404))
async def current_analysis(
    bot_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> AnalysisPublic:
    """A Candle bot's current analysis: its signal on the last closed candle of its timeframe
    (null until its market feed has analysed one)."""
    bot, _ = await owned_bot(session, user.id, bot_id, include_deleted=True)
    page = await SignalStore(session).page(bot.id, limit=1, cursor=None)
    return AnalysisPublic(signal=signal_public(page.signals[0]) if page.signals else None)


@router.get("/{bot_id}/signals", response_model=SignalList, responses=error_responses(404))
async def signal_history(
    bot_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: PageLimit = 50,
    cursor: CursorQuery = None,
) -> SignalList:
    """A Candle bot's signals, newest candle first."""
    bot, _ = await owned_bot(session, user.id, bot_id, include_deleted=True)
    try:
        page = await SignalStore(session).page(bot.id, limit=limit, cursor=cursor)
    except ValueError:
        raise invalid_cursor() from None
    return SignalList(
        signals=[signal_public(row) for row in page.signals], next_cursor=page.next_cursor
    )
