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

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.bots_rows import (
    OrderFilter,
    OrderPage,
    encode_cursor,
    filtered,
    forward,
    funds_json,
    jsonable,
    order_status,
    venue_status,
)
from adapters.db.engine import dialect_insert
from adapters.db.models_bots import (
    BotFillRecord,
    BotKind,
    BotOrderRecord,
    BotRecord,
    BotStatus,
)
from adapters.db.paging import decode_cursor, older_than
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.bots.risk import RiskState
from domain.market import Fill, Order, OrderRequest, OrderStatus

__all__ = [
    "BotStore",
    "OrderFilter",
    "OrderPage",
    "order_status",
    "venue_status",
]

MAX_PAGE = 200
# A compare-and-set lost to a concurrent report is retried against the newer row (each loss is
# another report's win, and reports of one order come a few at once); more losses
# in a row than this mean something writes the order in a loop.
_CAS_ATTEMPTS = 10


class BotStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
            config=jsonable(config),
            status=BotStatus.RUNNING,
            funds=funds_json(funds),
            risk=jsonable(risk),
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
        pause_detail: str | None = None,
        order_sequence: int | None = None,
    ) -> bool:
        """The workflow's state as of its `sequence`; False (nothing written) when the stored
        projection is as new or newer (a repeat or a late retry), or the bot is unknown.
        `config` and `order_sequence` None: kept as stored."""
        values: dict[str, Any] = {
            "sequence": sequence,
            "status": status,
            "pause_reason": pause_reason,
            "pause_detail": pause_detail,
            "funds": funds_json(funds),
            "risk": jsonable(risk),
            "last_decision": jsonable(last_decision),
            "updated_at": at,
        }
        if config is not None:
            values["config"] = jsonable(config)
        if order_sequence is not None:
            values["order_sequence"] = order_sequence
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
            dialect_insert(self.session, BotOrderRecord)
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
                creation_context=jsonable(creation_context),
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
        (a repeat, or older than what is stored). LookupError for an order never intended.
        A placement the venue refused is reported as a REJECTED order with an empty
        `order_id` (the venue gave it none)."""
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
            changes = forward(dict(stored._mapping), order)
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
            dialect_insert(self.session, BotFillRecord)
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
        query = filtered(select(BotOrderRecord), user_id, where)
        if cursor is not None:
            at, order_id = decode_cursor(cursor)
            query = query.where(
                older_than(BotOrderRecord.created_at, BotOrderRecord.id, at, order_id)
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
        return OrderPage(rows, encode_cursor(rows[-1]) if more else None)

    async def open_orders(self, user_id: uuid.UUID, venue: str) -> Sequence[BotOrderRecord]:
        """The owner's orders on `venue` not yet final, oldest first: what an account sync
        compares with the venue's open orders to find those that ended unseen."""
        open_statuses = [venue_status(s) for s in OrderStatus if not s.is_final]
        result = await self.session.scalars(
            select(BotOrderRecord)
            .where(
                BotOrderRecord.user_id == user_id,
                BotOrderRecord.status.in_(open_statuses),
                BotOrderRecord.venue == venue,
            )
            .order_by(BotOrderRecord.created_at, BotOrderRecord.id)
            .execution_options(populate_existing=True)
        )
        return result.all()

    async def order_by_client_id(self, client_order_id: str) -> BotOrderRecord | None:
        """An order by its client order id, for its bot's activities (not owner-scoped: never
        for the API)."""
        return await self.session.scalar(
            select(BotOrderRecord)
            .where(BotOrderRecord.client_order_id == client_order_id)
            .execution_options(populate_existing=True)
        )

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
