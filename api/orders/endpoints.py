"""The caller's bot orders: filtered, newest first, a page at a time; one order with why it was
made (its creation context) and its fills. Another user's order is simply not found."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.bots import MAX_PAGE, BotStore, OrderFilter, order_status
from adapters.db.models_bots import BotFillRecord, BotOrderRecord
from api.deps import CurrentUser, SessionDep
from api.errors import ApiError, error_responses
from domain.bots.orders import Strategy
from domain.market import Money, OrderType, Side, Venue

router = APIRouter(prefix="/api/orders", tags=["orders"], responses=error_responses(401, 422, 500))


class VenueOrderStatus(StrEnum):
    """An order's status in the venues' own vocabulary."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class OrderPublic(BaseModel):
    id: uuid.UUID
    bot_id: uuid.UUID
    context_id: uuid.UUID
    client_order_id: str = Field(description="ours: the placement's idempotency key")
    exchange_order_id: str | None = Field(description="the venue's; null until it answers")
    venue: Venue
    symbol: str
    side: Side
    type: OrderType
    status: VenueOrderStatus
    quantity: Money | None = Field(description="base asked; null for a buy by quote amount")
    quote_order_quantity: Money | None = Field(description="quote asked to spend")
    filled_quantity: Money
    quote_quantity: Money = Field(description="quote filled so far")
    price: Money | None = Field(description="limit price")
    stop_price: Money | None
    average_price: Money | None
    fees: dict[str, Money] = Field(description="asset -> fee charged in it")
    strategy: Strategy
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: BotOrderRecord) -> OrderPublic:
        return cls.model_validate(order, from_attributes=True)


class FillPublic(BaseModel):
    trade_id: str
    exchange_order_id: str
    side: Side
    price: Money
    quantity: Money
    fee: Money
    fee_asset: str
    at: datetime

    @classmethod
    def of(cls, fill: BotFillRecord) -> FillPublic:
        return cls.model_validate(fill, from_attributes=True)


class OrderDetail(OrderPublic):
    creation_context: dict[str, Any] = Field(
        description="why the order was made: strategy source, parameters, best bid/ask and "
        "spread, the decision's detail"
    )
    fills: list[FillPublic]


class OrderList(BaseModel):
    orders: list[OrderPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


def _iso_datetime(value: object) -> object:
    """ISO 8601 text only: pydantic would also read a number as a Unix time."""
    if isinstance(value, str) and not re.fullmatch(r"\s*[-+]?[0-9.eE+-]*\s*", value):
        return value
    raise ValueError("must be an ISO 8601 date-time with its offset, e.g. 2026-12-01T00:00:00Z")


Moment = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


@dataclass(frozen=True)
class OrderQuery:
    """The filters and the page every order list takes."""

    where: OrderFilter
    limit: int
    cursor: str | None


CursorQuery = Annotated[
    str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="next_cursor")
]


def invalid_cursor() -> ApiError:
    return ApiError(
        422, "invalid_cursor", "The cursor is not one this API gave; start from the top."
    )


async def order_query(
    strategy: Strategy | None = None,
    status: VenueOrderStatus | None = None,
    side: Side | None = None,
    since: Annotated[Moment | None, Query(alias="from", description="created at or after")] = None,
    until: Annotated[Moment | None, Query(alias="to", description="created before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: CursorQuery = None,
) -> OrderQuery:
    where = OrderFilter(
        strategy=strategy,
        status=order_status(status.value) if status else None,
        side=side,
        since=since,
        until=until,
    )
    return OrderQuery(where, limit, cursor)


OrderQueryDep = Annotated[OrderQuery, Depends(order_query)]


async def order_list(session: AsyncSession, user_id: uuid.UUID, query: OrderQuery) -> OrderList:
    try:
        page = await BotStore(session).list_orders(
            user_id, query.where, limit=query.limit, cursor=query.cursor
        )
    except ValueError:
        raise invalid_cursor() from None
    return OrderList(
        orders=[OrderPublic.of(order) for order in page.orders], next_cursor=page.next_cursor
    )


@router.get("", response_model=OrderList)
async def list_orders(
    user: CurrentUser,
    session: SessionDep,
    query: OrderQueryDep,
    context_id: uuid.UUID | None = None,
    bot_id: uuid.UUID | None = None,
) -> OrderList:
    """Every bot's orders, newest first (deleted bots' included: their history stays)."""
    where = replace(query.where, context_id=context_id, bot_id=bot_id)
    return await order_list(session, user.id, replace(query, where=where))


@router.get("/{order_id}", response_model=OrderDetail, responses=error_responses(404))
async def get_order(order_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> OrderDetail:
    store = BotStore(session)
    order = await store.get_order(user.id, order_id)
    if order is None:
        raise ApiError(404, "order_not_found", "No such order.")
    fills = await store.order_fills(user.id, order.client_order_id)
    return OrderDetail(
        **OrderPublic.of(order).model_dump(),
        creation_context=order.creation_context,
        fills=[FillPublic.of(fill) for fill in fills],
    )
