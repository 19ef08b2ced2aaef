"""Single-flight reads of public market data, shared by every caller for a few seconds: the
bots' market views (activities.bots) and the web app's charts (adapters.exchanges.prices), so
many callers asking for one market at once cost the venue one request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_PRUNE_ABOVE = 512


class SharedReads(Generic[K, V]):
    """One read per key at a time, served to every caller for `ttl` seconds from its start
    (single flight: callers arriving during the read wait for it). A failed read is not kept:
    the next caller reads again."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._reads: dict[K, tuple[float, asyncio.Task[V]]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        now = self._clock()
        entry = self._reads.get(key)
        if entry is None or self._stale(entry, now):
            if len(self._reads) > _PRUNE_ABOVE:
                self._reads = {k: e for k, e in self._reads.items() if not self._stale(e, now)}
            entry = (now, asyncio.ensure_future(read()))
            entry[1].add_done_callback(_retrieve)
            self._reads[key] = entry
        # Shielded: a caller cancelled (its activity timed out, its client left) leaves the
        # read to the others.
        return await asyncio.shield(entry[1])

    def _stale(self, entry: tuple[float, asyncio.Task[V]], now: float) -> bool:
        started, task = entry
        if not task.done():
            return False
        return task.cancelled() or task.exception() is not None or now - started >= self._ttl


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Marks a failure seen even when every waiter left, so asyncio does not log it as lost.
    if not task.cancelled():
        task.exception()
