"""The dashboard's reads (issue 13), each the caller's own, from what the database recorded:
the bots' health (what runs, what is paused and why), the recent executions across bots, as
far back as the plan shows history, and the alerts the workflows raised."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from adapters.db.alerts import AlertRecord, AlertStore
from adapters.db.bots import MAX_PAGE, BotStore, OrderFilter
from adapters.db.models import ContextStatus, TradingContext
from adapters.db.models_bots import BotRecord
from api.deps import CurrentUser, SessionDep
from api.errors import ApiError, error_responses
from api.orders.endpoints import CursorQuery, OrderPublic, invalid_cursor
from api.subscriptions.endpoints import stored_subscription
from domain.analytics.history import history_since
from domain.bots.orders import Strategy
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, BotStatus, PauseReason
from domain.plans import PLANS

router = APIRouter(
    prefix="/api/dashboard", tags=["dashboard"], responses=error_responses(401, 422, 500)
)


class PausedBot(BaseModel):
    bot_id: uuid.UUID
    name: str
    kind: BotKind
    context_id: uuid.UUID
    reason: PauseReason | None
    detail: str | None = Field(description="what paused it, in words")
    since: datetime | None = Field(description="when the circuit breaker tripped, if it did")


class PausedContext(BaseModel):
    context_id: uuid.UUID
    symbol: str = Field(description="COIN-FIAT, e.g. BTC-BRL")
    exchange: str
    reason: str | None = Field(description="plan_limit (paused by a downgrade) or user")


class Health(BaseModel):
    """The caller's bots at a glance (deleted ones left out)."""

    bots: dict[BotStatus, int] = Field(description="how many bots are in each status")
    paused: list[PausedBot] = Field(description="every paused bot, with its reason")
    circuit_breakers: int = Field(description="paused bots whose circuit breaker tripped")
    credentials_refused: int = Field(description="paused bots whose key was refused or deleted")
    contexts_paused: list[PausedContext]


@router.get("/health", response_model=Health)
async def health(user: CurrentUser, session: SessionDep) -> Health:
    rows = (
        await session.execute(
            select(
                BotRecord.id,
                BotRecord.name,
                BotRecord.kind,
                BotRecord.context_id,
                BotRecord.status,
                BotRecord.pause_reason,
                BotRecord.pause_detail,
                BotRecord.risk,
            )
            .where(BotRecord.user_id == user.id, BotRecord.deleted_at.is_(None))
            .order_by(BotRecord.created_at, BotRecord.id)
        )
    ).all()
    counts = dict.fromkeys(BotStatus, 0)
    paused: list[PausedBot] = []
    for row in rows:
        status = BotStatus(row.status)
        counts[status] += 1
        if status is BotStatus.PAUSED:
            reason = PauseReason(row.pause_reason) if row.pause_reason else None
            tripped = RiskState.model_validate(row.risk).tripped
            since = tripped.at if reason is PauseReason.CIRCUIT_BREAKER and tripped else None
            paused.append(
                PausedBot(
                    bot_id=row.id,
                    name=row.name,
                    kind=row.kind,
                    context_id=row.context_id,
                    reason=reason,
                    detail=row.pause_detail,
                    since=since,
                )
            )
    contexts = await session.scalars(
        select(TradingContext)
        .where(TradingContext.user_id == user.id, TradingContext.status == ContextStatus.PAUSED)
        .order_by(TradingContext.created_at, TradingContext.id)
    )
    return Health(
        bots=counts,
        paused=paused,
        circuit_breakers=sum(p.reason is PauseReason.CIRCUIT_BREAKER for p in paused),
        credentials_refused=sum(p.reason is PauseReason.CREDENTIALS for p in paused),
        contexts_paused=[
            PausedContext(
                context_id=c.id, symbol=c.symbol, exchange=c.exchange, reason=c.paused_reason
            )
            for c in contexts
        ],
    )


class Executions(BaseModel):
    orders: list[OrderPublic] = Field(description="orders that traded, newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")
    history_from: datetime | None = Field(
        description="the oldest time the plan shows (FREE 30 days, PRO 90); null: all of it"
    )


@router.get("/orders", response_model=Executions)
async def recent_executions(
    user: CurrentUser,
    session: SessionDep,
    strategy: Strategy | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    cursor: CursorQuery = None,
) -> Executions:
    """Every bot's orders that traded (filled, or partly), newest first, within the plan's
    history."""
    plan = PLANS[(await stored_subscription(session, user)).plan]
    since = history_since(plan, datetime.now(UTC))
    where = OrderFilter(filled=True, strategy=strategy, since=since)
    try:
        page = await BotStore(session).list_orders(user.id, where, limit=limit, cursor=cursor)
    except ValueError:
        raise invalid_cursor() from None
    return Executions(
        orders=[OrderPublic.of(order) for order in page.orders],
        next_cursor=page.next_cursor,
        history_from=since,
    )


class Alert(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="circuit_breaker_tripped, credentials_refused, ...")
    bot_id: uuid.UUID | None
    message: str
    at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: AlertRecord) -> Alert:
        return cls.model_validate(row, from_attributes=True)


class AlertList(BaseModel):
    alerts: list[Alert] = Field(description="newest first")
    unread: int = Field(description="how many of all the caller's alerts are unread")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


@router.get("/alerts", response_model=AlertList)
async def alerts(
    user: CurrentUser,
    session: SessionDep,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    cursor: CursorQuery = None,
) -> AlertList:
    """What happened to the caller's bots as it happened: a circuit breaker tripped, a key
    the venue refused."""
    try:
        page = await AlertStore(session).page(
            user.id, unread_only=unread_only, limit=limit, cursor=cursor
        )
    except ValueError:
        raise invalid_cursor() from None
    return AlertList(
        alerts=[Alert.of(row) for row in page.alerts],
        unread=page.unread,
        next_cursor=page.next_cursor,
    )


@router.post("/alerts/{alert_id}/read", status_code=204, responses=error_responses(404))
async def read_alert(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    if not await AlertStore(session).mark_read(user.id, alert_id, datetime.now(UTC)):
        raise ApiError(404, "alert_not_found", "No such alert.")
    await session.commit()
    return Response(status_code=204)
