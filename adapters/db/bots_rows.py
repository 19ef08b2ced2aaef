"""How the bot storage's rows are built, merged and paged (adapters/db/bots.py): pure
functions, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, exists, select

from adapters.db.models_bots import BotFillRecord, BotOrderRecord, plain
from adapters.db.paging import encode_place
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.market import Order, OrderStatus, Side

T = TypeVar("T")


def venue_status(status: OrderStatus) -> str:
    """The stored status: the venue's vocabulary (``PARTIALLY_FILLED``)."""
    return status.name


def order_status(stored: str) -> OrderStatus:
    """A stored (or API-given) status back in the domain; KeyError when it is none."""
    return OrderStatus[stored]


def _rank(status: OrderStatus) -> int:
    if status.is_final:
        return 2
    return 1 if status is OrderStatus.PARTIALLY_FILLED else 0


def jsonable(value: Any) -> Any:
    """JSON for a column: models as they dump, decimals as positional text, never floats."""
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return format(plain(value), "f")
    if isinstance(value, float):
        raise TypeError("a float in stored JSON: amounts are Decimal")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def funds_json(funds: BotFunds) -> dict[str, Any]:
    # The per-order books stay in the workflow: the orders have their own table.
    return dict(jsonable(funds.model_dump(mode="json", exclude={"orders"})))


@dataclass(frozen=True)
class OrderFilter:
    context_id: uuid.UUID | None = None
    bot_id: uuid.UUID | None = None
    strategy: Strategy | None = None
    status: OrderStatus | None = None
    side: Side | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    filled: bool = False  # only orders with at least one trade (a DCA bot's executions)


@dataclass(frozen=True)
class OrderPage:
    orders: list[BotOrderRecord]
    next_cursor: str | None  # pass back for the next (older) page; None on the last page


def encode_cursor(order: BotOrderRecord) -> str:
    return encode_place(order.created_at, order.id)


def filtered(
    query: Select[BotOrderRecord], user_id: uuid.UUID, where: OrderFilter
) -> Select[BotOrderRecord]:
    column = BotOrderRecord
    wanted = [
        (column.context_id, where.context_id),
        (column.bot_id, where.bot_id),
        (column.strategy, where.strategy and where.strategy.value),
        (column.status, where.status and venue_status(where.status)),
        (column.side, where.side and where.side.value),
    ]
    query = query.where(column.user_id == user_id)
    query = query.where(*(field == value for field, value in wanted if value is not None))
    if where.since is not None:
        query = query.where(column.created_at >= where.since)
    if where.until is not None:
        query = query.where(column.created_at < where.until)
    if where.filled:
        trades = select(BotFillRecord.id).where(
            BotFillRecord.client_order_id == column.client_order_id
        )
        query = query.where(exists(trades))
    return query


def forward(stored: Mapping[str, Any], order: Order) -> dict[str, Any]:
    """What a report changes in the stored order: nothing that would move it back.

    The status only climbs (NEW, then PARTIALLY_FILLED, then one final status, which stays);
    the fill progress (filled and quote quantities, average price, fees) comes as a whole
    from the report that filled more. Compared in Python: SQLite stores amounts as text."""
    changes: dict[str, Any] = {}
    current = order_status(stored["status"])
    if not current.is_final and _rank(order.status) > _rank(current):
        changes["status"] = venue_status(order.status)
    if order.filled_quantity > stored["filled_quantity"]:
        changes.update(
            filled_quantity=order.filled_quantity,
            quote_quantity=order.quote_quantity,
            average_price=order.average_price,
            fees={asset: format(plain(fee), "f") for asset, fee in order.fees.items()},
        )
        if stored["quote_order_quantity"] is not None:  # sized by quote: the base bought
            changes["quantity"] = order.quantity
    if stored["quantity"] is None and "quantity" not in changes and order.quantity:
        changes["quantity"] = order.quantity
    if stored["exchange_order_id"] is None and order.order_id:
        changes["exchange_order_id"] = order.order_id
    if changes:
        changes["updated_at"] = max(stored["updated_at"], order.updated_at)
    return changes
