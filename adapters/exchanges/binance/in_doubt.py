"""Binance placements in doubt: client order ids whose answer was lost, each with the Binance
time after which it can no longer execute (`adapters.exchanges.placement` holds the rule)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from adapters.exchanges.binance.transport import BinanceTransport
from adapters.exchanges.errors import OrderNotFound
from adapters.exchanges.placement import settle
from domain.market import Order

_MAX_AHEAD_MS = 1000  # Binance refuses a timestamp further ahead of its clock than this


class OrdersInDoubt:
    def __init__(
        self, transport: BinanceTransport, *, lookup_delay: float, settle_margin: float
    ) -> None:
        self._http = transport
        self._lookup_delay = lookup_delay  # the first wait between lookups of an order in doubt
        self._settle_margin_ms = int(settle_margin * 1000)
        # Client order id -> Binance time (ms) after which it cannot execute; None: an earlier
        # attempt elsewhere, the window is taken from Binance's clock when settling.
        self._deadlines: dict[str, int | None] = {}
        # Client order id -> its lock and how many calls hold or wait for it.
        self._placing: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def placing(self, client_order_id: str) -> AsyncIterator[bool]:
        """One placement call at a time per client order id on this (shared) instance; yields
        True when another call held it: that call may have sent the order."""
        lock, users = self._placing.setdefault(client_order_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            contended = lock.locked()
            async with lock:
                yield contended
        finally:
            users[0] -= 1
            if not users[0]:
                del self._placing[client_order_id]

    def __contains__(self, client_order_id: str) -> bool:
        return client_order_id in self._deadlines

    def maybe_sent(self, client_order_id: str) -> None:
        """An earlier attempt on another instance may have sent it."""
        self._deadlines.setdefault(client_order_id, None)

    def lost(self, client_order_id: str, stamps: list[int]) -> None:
        """Its answer was lost; `stamps` are the timestamps of the requests sent."""
        window = self._http.recv_window + abs(self._http.offset_ms)
        self._deadlines[client_order_id] = max(stamps) + window + self._settle_margin_ms

    async def settle(
        self, client_order_id: str, fetch: Callable[[], Awaitable[Order]]
    ) -> Order | None:
        """Look the order in doubt up with `fetch` until found or Binance can no longer
        execute it (None: it was never placed and never will be)."""
        deadline = self._deadlines[client_order_id]
        if deadline is None:  # sent by an earlier attempt elsewhere, at the latest now
            window = _MAX_AHEAD_MS + self._http.recv_window + abs(self._http.offset_ms)
            deadline = await self._http.sync_clock() + window + self._settle_margin_ms
            self._deadlines[client_order_id] = deadline

        async def lookup() -> Order | None:
            try:
                return await fetch()
            except OrderNotFound:
                return None

        async def venue_now() -> float:
            return await self._http.sync_clock() / 1000

        found = await settle(
            lookup=lookup,
            venue_now=venue_now,
            deadline=deadline / 1000,
            sleep=asyncio.sleep,
            first_delay=self._lookup_delay,
        )
        self._deadlines.pop(client_order_id, None)
        return found
