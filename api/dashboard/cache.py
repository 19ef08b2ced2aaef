"""What the dashboard keeps between requests, per API process.

`DashboardCache`: the aggregates, per user for a while (`Settings.dashboard_cache_seconds`)
and only while the user's bots stay as they were: a bot's projection (a fill, a closed trade,
a status) stamps its row, and a stamp newer than the cached entry's computes it again. One
indexed read of the user's bot rows decides; the aggregates run only on a miss.

`BalanceBook`: the venues' balances as last read, per user."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models_bots import BotRecord
from domain.market import Balance, Venue

MAX_ENTRIES = 20_000
BALANCES_TTL_SECONDS = 60.0  # a few responses for each of thousands of users; the oldest go first


class DashboardCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, bytes]] = OrderedDict()

    async def response(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        key: Hashable,
        compute: Callable[[], Awaitable[BaseModel]],
    ) -> Response:
        """`compute()`'s answer for the user's `key` (what the request asked, its plan) as
        JSON, from the cache when it is young and the user's bots did not change since. The
        JSON is kept, not the model: a hit serializes nothing again (a year of points is
        hundreds of kilobytes)."""
        if self._ttl <= 0:
            return _json((await compute()).model_dump_json().encode())
        version = tuple(
            (
                await session.execute(
                    select(func.max(BotRecord.updated_at), func.count()).where(
                        BotRecord.user_id == user_id
                    )
                )
            ).one()
        )
        full_key = (user_id, key)
        now = self._clock()
        cached = self._entries.get(full_key)
        if cached is not None and now - cached[0] < self._ttl and cached[1] == version:
            self._entries.move_to_end(full_key)
            return _json(cached[2])
        body = (await compute()).model_dump_json().encode()
        self._entries[full_key] = (now, version, body)
        self._entries.move_to_end(full_key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return _json(body)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@dataclass(frozen=True)
class ReadBalances:
    balances: tuple[Balance, ...]
    read_at: datetime  # when the venue answered


class BalanceBook:
    """Each user's balances per venue as last read: fresh for `ttl` seconds, and kept after
    that as the last known value for when the venue cannot be read."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._read: OrderedDict[tuple[uuid.UUID, Venue], tuple[float, ReadBalances]] = OrderedDict()

    def fresh(self, user_id: uuid.UUID, venue: Venue) -> ReadBalances | None:
        entry = self._read.get((user_id, venue))
        return entry[1] if entry and self._clock() - entry[0] < self._ttl else None

    def last(self, user_id: uuid.UUID, venue: Venue) -> ReadBalances | None:
        entry = self._read.get((user_id, venue))
        return entry[1] if entry else None

    def keep(self, user_id: uuid.UUID, venue: Venue, read: ReadBalances) -> None:
        self._read[(user_id, venue)] = (self._clock(), read)
        self._read.move_to_end((user_id, venue))
        while len(self._read) > MAX_ENTRIES:
            self._read.popitem(last=False)
