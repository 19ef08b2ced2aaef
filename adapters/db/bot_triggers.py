"""What would wake each bot, stored for its market's feed (DESIGN "Bots at scale").

A bot's workflow publishes its triggers with every projection (`activities.bots.bot_project`);
the feed of its market loads the rows changed since its last read and evaluates them on every
price. A row's `version` is the bot's projection sequence: a late or repeated write of an older
version changes nothing. `updated_at` is when the row was written (the writer's clock, not the
workflow's), so a feed asking for the rows changed since its previous read, with a margin for
transactions still committing then, misses none; a row seen twice carries its version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.bots_rows import jsonable
from adapters.db.engine import dialect_insert
from adapters.db.models_bots import BotRecord, BotTriggerRecord
from domain.bots.state import BotTriggers
from domain.market import Venue

__all__ = ["TriggerRow", "TriggerStore"]


class TriggerOwner(Protocol):
    """Which bot and market (a `BotRef` is one)."""

    @property
    def bot_id(self) -> uuid.UUID: ...
    @property
    def venue(self) -> Venue: ...
    @property
    def symbol(self) -> str: ...


@dataclass(frozen=True)
class TriggerRow:
    bot_id: uuid.UUID
    triggers: BotTriggers
    version: int
    updated_at: datetime


class TriggerStore:
    """Writes run in the caller's session, which commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(
        self, bot: TriggerOwner, triggers: BotTriggers, version: int, at: datetime
    ) -> bool:
        """The bot's triggers as of `version`, written at `at`; False (nothing written) when
        the stored version is as new or newer. Empty triggers are stored too: the bot waits
        for nothing its feed can see."""
        statement = dialect_insert(self.session, BotTriggerRecord).values(
            bot_id=bot.bot_id,
            venue=bot.venue.value,
            symbol=bot.symbol,
            triggers=jsonable(triggers),
            armed=not triggers.empty,
            version=version,
            updated_at=at,
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[BotTriggerRecord.bot_id],
            set_={
                "venue": excluded.venue,
                "symbol": excluded.symbol,
                "triggers": excluded.triggers,
                "armed": excluded.armed,
                "version": excluded.version,
                "updated_at": excluded.updated_at,
            },
            where=BotTriggerRecord.version < excluded.version,
        ).returning(BotTriggerRecord.bot_id)
        return (await self.session.execute(statement)).first() is not None

    async def changed_since(
        self, venue: Venue, symbol: str, since: datetime | None
    ) -> list[TriggerRow]:
        """The market's rows written at or after `since` (every row with None), oldest first,
        empty ones included (their bots stopped watching)."""
        query = select(
            BotTriggerRecord.bot_id,
            BotTriggerRecord.triggers,
            BotTriggerRecord.version,
            BotTriggerRecord.updated_at,
        ).where(BotTriggerRecord.venue == venue.value, BotTriggerRecord.symbol == symbol)
        if since is not None:
            query = query.where(BotTriggerRecord.updated_at >= since)
        rows = await self.session.execute(
            query.order_by(BotTriggerRecord.updated_at, BotTriggerRecord.bot_id)
        )
        return [
            TriggerRow(
                bot_id=row.bot_id,
                triggers=BotTriggers.model_validate(row.triggers),
                version=row.version,
                updated_at=row.updated_at,
            )
            for row in rows
        ]

    async def watching(self, venue: Venue, symbol: str) -> int:
        """Bots of the market with something to watch, deleted bots left out."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(BotTriggerRecord)
            .join(BotRecord, BotRecord.id == BotTriggerRecord.bot_id)
            .where(
                BotTriggerRecord.venue == venue.value,
                BotTriggerRecord.symbol == symbol,
                BotTriggerRecord.armed.is_(True),
                BotRecord.deleted_at.is_(None),
            )
        )
        return int(count or 0)
