"""Trading contexts: one market (coin + fiat) on one venue per context, isolated per user."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from adapters.contexts import (
    ContextRepository,
    has_bots,
    pause_context,
    resume_context,
    tell_bots,
)
from adapters.db.bot_signals import SignalStore
from adapters.db.models import ContextStatus, PauseReason, TradingContext
from adapters.db.repositories import CredentialRepository
from adapters.exchanges.catalogue import CatalogueUnavailable
from adapters.temporal import TEMPORAL_CALL_ERRORS
from api.bots.history import PageLimit, signal_public
from api.bots.schemas import SignalList
from api.bots.workflow_calls import temporal_unavailable
from api.deps import (
    BEARER_SECURITY,
    CatalogueDep,
    CurrentUser,
    SessionDep,
    TemporalDep,
    utcnow,
)
from api.errors import ApiError, error_responses
from api.orders.endpoints import CursorQuery, invalid_cursor
from api.reads import CallerReadsDep, owned_by_caller
from api.subscriptions.endpoints import stored_subscription
from domain.market import Venue
from domain.plans import PLANS
from domain.subscriptions import SubscriptionStatus

router = APIRouter(
    prefix="/api/contexts", tags=["contexts"], responses=error_responses(401, 422, 500)
)

VENUE_NAMES = {
    Venue.BINANCE: "Binance",
    Venue.MERCADO_BITCOIN: "MercadoBitcoin",
    Venue.PAPER: "Paper",
}


ASSET_CODE = r"^\s*[A-Za-z0-9]+\s*$"  # any case; spaces around are trimmed


class ContextCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coin: str = Field(min_length=2, max_length=20, pattern=ASSET_CODE, examples=["BTC"])
    fiat: str = Field(min_length=2, max_length=20, pattern=ASSET_CODE, examples=["BRL"])
    exchange: Venue

    @field_validator("coin", "fiat")
    @classmethod
    def _asset(cls, value: str) -> str:
        value = value.strip().upper()
        if not value.isalnum():
            raise ValueError("must be an asset code such as BTC or BRL")
        return value


class ContextPublic(BaseModel):
    id: uuid.UUID
    name: str = Field(examples=["BTC-BRL-MercadoBitcoin"])
    coin: str
    fiat: str
    symbol: str
    exchange: Venue
    status: ContextStatus
    paused_reason: PauseReason | None
    created_at: datetime


class ContextFields(Protocol):
    """A context as a model object or as a row of `trading_contexts`."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def coin(self) -> str: ...
    @property
    def fiat(self) -> str: ...
    @property
    def exchange(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def paused_reason(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


def context_public(context: ContextFields) -> ContextPublic:
    venue = Venue(context.exchange)
    return ContextPublic(
        id=context.id,
        name=f"{context.coin}-{context.fiat}-{VENUE_NAMES[venue]}",
        coin=context.coin,
        fiat=context.fiat,
        symbol=f"{context.coin}-{context.fiat}",
        exchange=venue,
        status=ContextStatus(context.status),
        paused_reason=PauseReason(context.paused_reason) if context.paused_reason else None,
        created_at=context.created_at,
    )


def _not_found() -> ApiError:
    return ApiError(404, "context_not_found", "No such trading context.")


async def owned_context(
    session: SessionDep, user_id: uuid.UUID, context_id: uuid.UUID
) -> TradingContext:
    context = await ContextRepository(session).get(user_id, context_id)
    if context is None:
        raise _not_found()
    return context


async def _written(session: SessionDep, context: TradingContext) -> ContextPublic:
    """Write the change inside the route: a context deleted since it was read matches no row,
    which is a 404 here rather than a StaleDataError (a 500) at commit."""
    try:
        await session.flush()
    except StaleDataError:
        raise _not_found() from None
    return context_public(context)


_CONTEXTS: Table = TradingContext.__table__  # type: ignore[assignment]
# Oldest first, as ContextRepository.for_user: the order in which contexts keep running.
_OWN_CONTEXTS = owned_by_caller(_CONTEXTS, _CONTEXTS.c.created_at, _CONTEXTS.c.id)


@router.get("", response_model=list[ContextPublic], openapi_extra=BEARER_SECURITY)
async def list_contexts(reads: CallerReadsDep) -> list[ContextPublic]:
    return [context_public(row) for row in await reads.owned(_OWN_CONTEXTS)]


@router.post(
    "",
    status_code=201,
    response_model=ContextPublic,
    responses=error_responses(402, 403, 409, 503),
)
async def create_context(
    body: ContextCreate,
    user: CurrentUser,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> ContextPublic:
    """Needs, in this order: a market the venue lists, keys saved for the venue (the paper
    venue needs none), an active subscription, and room under the plan's context limit."""
    symbol = f"{body.coin}-{body.fiat}"
    try:
        markets = {m.symbol for m in await catalogue.markets(body.exchange)}
    except CatalogueUnavailable:
        raise ApiError(
            503,
            "exchange_unavailable",
            f"{body.exchange.value} cannot be reached to check {symbol}.",
        ) from None
    if symbol not in markets:
        raise ApiError(
            422,
            "unknown_market",
            f"{body.exchange.value} has no {symbol} market.",
            {"exchange": body.exchange.value, "symbol": symbol},
        )
    credentials = CredentialRepository(session)
    if (
        body.exchange is not Venue.PAPER
        and await credentials.get(user.id, body.exchange.value) is None
    ):
        raise ApiError(
            409,
            "credentials_required",
            f"Save your {body.exchange.value} API keys first (POST /api/credentials).",
            {"exchange": body.exchange.value},
        )
    state = await stored_subscription(session, user)
    if state.status is not SubscriptionStatus.ACTIVE:
        raise ApiError(
            402,
            "subscription_inactive",
            "Your subscription is not active; settle the pending payment to open contexts.",
            {"status": state.status.value},
        )
    repository = ContextRepository(session)
    limit = PLANS[state.plan].max_contexts
    count = await repository.count(user.id)
    if not PLANS[state.plan].within(limit, count):
        raise ApiError(
            403,
            "plan_limit_reached",
            f"The {state.plan.value} plan allows {limit} trading context(s); upgrade for more.",
            {"plan": state.plan.value, "limit": limit, "current": count},
        )
    context = TradingContext(
        user_id=user.id,
        coin=body.coin,
        fiat=body.fiat,
        exchange=body.exchange.value,
        created_at=utcnow(),
    )
    try:
        await repository.add(context)
    except IntegrityError:
        raise ApiError(
            409, "context_exists", f"You already have {symbol} on {body.exchange.value}."
        ) from None
    return context_public(context)


@router.get("/{context_id}", response_model=ContextPublic, responses=error_responses(404))
async def get_context(
    context_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ContextPublic:
    return context_public(await owned_context(session, user.id, context_id))


async def _tell_bots(
    temporal: TemporalDep, session: SessionDep, context: TradingContext, paused: bool
) -> None:
    """The context's bots hear of the change once it is written, before it commits: when they
    cannot be told, the change is rolled back (503) and the user tries again."""
    try:
        await tell_bots(temporal, session, [context.id], "context_paused", paused)
    except TEMPORAL_CALL_ERRORS:
        raise temporal_unavailable() from None


@router.post(
    "/{context_id}/pause", response_model=ContextPublic, responses=error_responses(404, 503)
)
async def pause(
    context_id: uuid.UUID, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> ContextPublic:
    context = await owned_context(session, user.id, context_id)
    changed = pause_context(context, PauseReason.USER, utcnow())
    public = await _written(session, context)
    if changed:
        await _tell_bots(temporal, session, context, paused=True)
    return public


@router.post(
    "/{context_id}/resume",
    response_model=ContextPublic,
    responses=error_responses(403, 404, 503),
)
async def resume(
    context_id: uuid.UUID, user: CurrentUser, session: SessionDep, temporal: TemporalDep
) -> ContextPublic:
    """Active contexts must fit the plan: a context a downgrade paused resumes on upgrade."""
    repository = ContextRepository(session)
    context = await owned_context(session, user.id, context_id)
    if context.status == ContextStatus.ACTIVE:
        return context_public(context)
    state = await stored_subscription(session, user)
    limit = PLANS[state.plan].max_contexts
    active = sum(1 for c in await repository.for_user(user.id) if c.status == ContextStatus.ACTIVE)
    if limit is not None and active >= limit:
        raise ApiError(
            403,
            "plan_limit_reached",
            f"The {state.plan.value} plan runs {limit} context(s) at a time; pause another first.",
            {"plan": state.plan.value, "limit": limit, "active": active},
        )
    resume_context(context, utcnow())
    public = await _written(session, context)
    await _tell_bots(temporal, session, context, paused=False)
    return public


@router.get("/{context_id}/signals", response_model=SignalList, responses=error_responses(404))
async def context_signals(
    context_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: PageLimit = 50,
    cursor: CursorQuery = None,
) -> SignalList:
    """The signals of every Candle bot of the context (deleted bots' too), newest candle
    first, each naming its bot: bots with one strategy each have their own row."""
    await owned_context(session, user.id, context_id)
    try:
        page = await SignalStore(session).context_page(context_id, limit=limit, cursor=cursor)
    except ValueError:
        raise invalid_cursor() from None
    return SignalList(
        signals=[signal_public(row) for row in page.signals], next_cursor=page.next_cursor
    )


@router.delete("/{context_id}", status_code=204, responses=error_responses(404, 409))
async def delete_context(context_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """A context with bots (deleted ones too: their orders are its history) stays; pause it."""
    if await has_bots(session, context_id):
        await owned_context(session, user.id, context_id)  # another user's context stays a 404
        raise ApiError(
            409, "context_has_bots", "This context has bots and their history; pause it instead."
        )
    # One conditional DELETE: of two racing deletes, one answers 204 and the other 404.
    if not await ContextRepository(session).delete(user.id, context_id):
        raise _not_found()
    return Response(status_code=204)
