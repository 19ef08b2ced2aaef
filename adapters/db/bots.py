"""The bot engine's storage: bots, orders and fills, written by idempotent upserts.

Each bot's workflow is the single writer of its trading state; the rows here are its
projection (DESIGN "Single writer"). Every write may be repeated (a retried activity, the user
stream and a REST sync reporting the same thing) and changes nothing the second time:
- an order intent is keyed by its client order id: a repeat is ignored;
- an order's reports only move it forward: a final status is never left, the filled quantity
  never decreases, so a late or repeated report changes nothing;
- a fill is keyed by (venue, symbol, trade id);
- a bot's projection carries the workflow's sequence: an older one never overwrites a newer.
Writes run in the caller's session, which commits. Every read for the API is scoped to its
owner: another user's rows are simply not found.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models_bots import (
    BotFillRecord,
    BotKind,
    BotOrderRecord,
    BotRecord,
    BotStatus,
    plain,
)
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.bots.risk import RiskState
from domain.market import Fill, Order, OrderRequest, OrderStatus, Side

__all__ = [
    "BotStore",
    "OrderFilter",
    "OrderPage",
    "order_status",
    "venue_status",
]

MAX_PAGE = 200
# A compare-and-set lost to a concurrent report is retried against the newer row; more losses
# in a row than this mean something writes the order in a loop.
_CAS_ATTEMPTS = 5


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


def _jsonable(value: Any) -> Any:
    """JSON for a column: models as they dump, decimals as positional text, never floats."""
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
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


def _funds(funds: BotFunds) -> dict[str, Any]:
    # The per-order books stay in the workflow: the orders have their own table.
    return dict(_jsonable(funds.model_dump(mode="json", exclude={"orders"})))


@dataclass(frozen=True)
class OrderFilter:
    context_id: uuid.UUID | None = None
    bot_id: uuid.UUID | None = None
    strategy: Strategy | None = None
    status: OrderStatus | None = None
    side: Side | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


@dataclass(frozen=True)
class OrderPage:
    orders: list[BotOrderRecord]
    next_cursor: str | None  # pass back for the next (older) page; None on the last page


def _encode_cursor(order: BotOrderRecord) -> str:
    raw = f"{order.created_at.isoformat()}|{order.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """ValueError for anything this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, order_id = raw.partition("|")
        moment = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("invalid cursor") from error
    if moment.tzinfo is None:
        raise ValueError("invalid cursor")
    return moment, uuid.UUID(order_id)


class BotStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, model: type[Any]) -> Any:
        dialect = self.session.get_bind().dialect.name
        insert: Callable[..., Any] = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return insert(model)

    # -- bots ------------------------------------------------------------------------------

    async def create_bot(
        self,
        *,
        user_id: uuid.UUID,
        context_id: uuid.UUID,
        kind: BotKind,
        name: str,
        config: BaseModel | Mapping[str, Any],
        funds: BotFunds,
        risk: RiskState,
        at: datetime,
        bot_id: uuid.UUID | None = None,
    ) -> BotRecord:
        """A new bot, running, at sequence 0 (its workflow's projections follow)."""
        bot = BotRecord(
            id=bot_id or uuid.uuid4(),
            user_id=user_id,
            context_id=context_id,
            kind=kind,
            name=name,
            config=_jsonable(config),
            status=BotStatus.RUNNING,
            funds=_funds(funds),
            risk=_jsonable(risk),
            sequence=0,
            created_at=at,
            updated_at=at,
        )
        self.session.add(bot)
        await self.session.flush()
        return bot

    async def project_bot(
        self,
        bot_id: uuid.UUID,
        sequence: int,
        *,
        status: BotStatus,
        pause_reason: str | None,
        funds: BotFunds,
        risk: RiskState,
        last_decision: BaseModel | Mapping[str, Any] | None,
        at: datetime,
        config: BaseModel | Mapping[str, Any] | None = None,
    ) -> bool:
        """The workflow's state as of its `sequence`; False (nothing written) when the stored
        projection is as new or newer (a repeat or a late retry), or the bot is unknown."""
        values: dict[str, Any] = {
            "sequence": sequence,
            "status": status,
            "pause_reason": pause_reason,
            "funds": _funds(funds),
            "risk": _jsonable(risk),
            "last_decision": _jsonable(last_decision),
            "updated_at": at,
        }
        if config is not None:
            values["config"] = _jsonable(config)
        result = await self.session.execute(
            update(BotRecord)
            .where(BotRecord.id == bot_id, BotRecord.sequence < sequence)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_bot(self, user_id: uuid.UUID, bot_id: uuid.UUID, at: datetime) -> bool:
        """Soft delete of the owner's stopped bot (False otherwise); its orders stay."""
        result = await self.session.execute(
            update(BotRecord)
            .where(
                BotRecord.id == bot_id,
                BotRecord.user_id == user_id,
                BotRecord.status == BotStatus.STOPPED,
                BotRecord.deleted_at.is_(None),
            )
            .values(deleted_at=at, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def list_bots(self, user_id: uuid.UUID) -> Sequence[BotRecord]:
        """The owner's bots, oldest first; deleted ones are gone from the list."""
        result = await self.session.scalars(
            select(BotRecord)
            .where(BotRecord.user_id == user_id, BotRecord.deleted_at.is_(None))
            .order_by(BotRecord.created_at, BotRecord.id)
            .execution_options(populate_existing=True)
        )
        return result.all()

    async def get_bot(
        self, user_id: uuid.UUID, bot_id: uuid.UUID, *, include_deleted: bool = False
    ) -> BotRecord | None:
        query = select(BotRecord).where(BotRecord.id == bot_id, BotRecord.user_id == user_id)
        if not include_deleted:
            query = query.where(BotRecord.deleted_at.is_(None))
        return await self.session.scalar(query.execution_options(populate_existing=True))

    async def count_bots(self, user_id: uuid.UUID) -> int:
        """The bots counted against the plan's limit: every one not deleted."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(BotRecord)
            .where(BotRecord.user_id == user_id, BotRecord.deleted_at.is_(None))
        )
        return int(count or 0)

    # -- orders ----------------------------------------------------------------------------

    async def record_order_intent(
        self,
        bot_id: uuid.UUID,
        request: OrderRequest,
        *,
        venue: str,
        strategy: Strategy,
        creation_context: BaseModel | Mapping[str, Any],
        at: datetime,
    ) -> bool:
        """An order about to be sent, with why it was made. Recorded before it leaves; a repeat
        with the same client order id changes nothing (False). LookupError for an unknown bot,
        ValueError when the id is already another bot's order."""
        owner = (
            await self.session.execute(
                select(BotRecord.user_id, BotRecord.context_id).where(BotRecord.id == bot_id)
            )
        ).one_or_none()
        if owner is None:
            raise LookupError(f"no bot {bot_id}")
        statement = (
            self._insert(BotOrderRecord)
            .values(
                id=uuid.uuid4(),
                bot_id=bot_id,
                user_id=owner.user_id,
                context_id=owner.context_id,
                client_order_id=request.client_order_id,
                venue=venue,
                symbol=request.symbol,
                side=request.side.value,
                type=request.type.value,
                status=venue_status(OrderStatus.NEW),
                quantity=request.quantity,
                quote_order_quantity=request.quote_quantity,
                filled_quantity=Decimal(0),
                quote_quantity=Decimal(0),
                price=request.price,
                stop_price=request.stop_price,
                fees={},
                strategy=strategy.value,
                creation_context=_jsonable(creation_context),
                revision=0,
                created_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing(index_elements=[BotOrderRecord.client_order_id])
            .returning(BotOrderRecord.id)
        )
        if (await self.session.execute(statement)).first() is not None:
            return True
        existing = await self.session.scalar(
            select(BotOrderRecord.bot_id).where(
                BotOrderRecord.client_order_id == request.client_order_id
            )
        )
        if existing != bot_id:
            raise ValueError(f"client order id {request.client_order_id} is another bot's order")
        return False

    async def record_order_state(self, order: Order) -> bool:
        """The venue's report of an order, merged forward: False when it teaches nothing new
        (a repeat, or older than what is stored). LookupError for an order never intended."""
        for _ in range(_CAS_ATTEMPTS):
            stored = (
                await self.session.execute(
                    select(BotOrderRecord.__table__).where(
                        BotOrderRecord.client_order_id == order.client_order_id
                    )
                )
            ).one_or_none()
            if stored is None:
                raise LookupError(f"no order {order.client_order_id}")
            changes = _forward(dict(stored._mapping), order)
            if not changes:
                return False
            result = await self.session.execute(
                update(BotOrderRecord)
                .where(BotOrderRecord.id == stored.id, BotOrderRecord.revision == stored.revision)
                .values(**changes, revision=stored.revision + 1)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
        raise RuntimeError(f"order {order.client_order_id} kept changing under its report")

    async def record_fills(self, client_order_id: str, fills: Sequence[Fill]) -> int:
        """Trades of one order; those already stored are ignored. Returns how many were new.
        LookupError for an order never intended."""
        if not fills:
            return 0
        order = (
            await self.session.execute(
                select(
                    BotOrderRecord.venue,
                    BotOrderRecord.bot_id,
                    BotOrderRecord.user_id,
                ).where(BotOrderRecord.client_order_id == client_order_id)
            )
        ).one_or_none()
        if order is None:
            raise LookupError(f"no order {client_order_id}")
        kept = {"symbol", "trade_id", "price", "quantity", "fee", "fee_asset", "at"}
        rows = [
            {
                **fill.model_dump(include=kept),
                "id": uuid.uuid4(),
                "venue": order.venue,
                "client_order_id": client_order_id,
                "exchange_order_id": fill.order_id,
                "bot_id": order.bot_id,
                "user_id": order.user_id,
                "side": fill.side.value,
                "created_at": fill.at,
            }
            for fill in fills
        ]
        statement = (
            self._insert(BotFillRecord)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=[BotFillRecord.venue, BotFillRecord.symbol, BotFillRecord.trade_id]
            )
            .returning(BotFillRecord.id)
        )
        return len((await self.session.execute(statement)).all())

    async def list_orders(
        self,
        user_id: uuid.UUID,
        where: OrderFilter = OrderFilter(),
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> OrderPage:
        """The owner's orders matching `where`, newest first, `limit` a page. The cursor
        (from the previous page) holds the last order's place, so orders recorded meanwhile
        neither repeat nor shift the pages. ValueError for a cursor not made here."""
        limit = max(1, min(limit, MAX_PAGE))
        query = _filtered(select(BotOrderRecord), user_id, where)
        if cursor is not None:
            at, order_id = _decode_cursor(cursor)
            query = query.where(
                or_(
                    BotOrderRecord.created_at < at,
                    and_(BotOrderRecord.created_at == at, BotOrderRecord.id < order_id),
                )
            )
        query = query.order_by(BotOrderRecord.created_at.desc(), BotOrderRecord.id.desc())
        rows = list(
            (
                await self.session.scalars(
                    query.limit(limit + 1).execution_options(populate_existing=True)
                )
            ).all()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return OrderPage(rows, _encode_cursor(rows[-1]) if more else None)

    async def get_order(self, user_id: uuid.UUID, order_id: uuid.UUID) -> BotOrderRecord | None:
        """One of the owner's orders, with its creation context."""
        return await self.session.scalar(
            select(BotOrderRecord)
            .where(BotOrderRecord.id == order_id, BotOrderRecord.user_id == user_id)
            .execution_options(populate_existing=True)
        )

    async def order_fills(
        self, user_id: uuid.UUID, client_order_id: str
    ) -> Sequence[BotFillRecord]:
        """The trades of one of the owner's orders, oldest first."""
        result = await self.session.scalars(
            select(BotFillRecord)
            .where(
                BotFillRecord.client_order_id == client_order_id,
                BotFillRecord.user_id == user_id,
            )
            .order_by(BotFillRecord.at, BotFillRecord.trade_id)
            .execution_options(populate_existing=True)
        )
        return result.all()


def _filtered(
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
    return query


def _forward(stored: Mapping[str, Any], order: Order) -> dict[str, Any]:
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
