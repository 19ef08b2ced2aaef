"""Helpers of the stream tests: the stream clients' fast backoff, the simulator's WebSocket
URL, waiting for an event, a user stream read in the background, one WebSocket API request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from adapters.exchanges.binance.user_stream import BinanceUserStream
from adapters.exchanges.streams import Backoff, OrderUpdate
from tests.exchanges.conftest_binance import BinanceSim


def fast() -> Backoff:
    """Reconnect pacing for tests: tenths of a second, not Binance-polite seconds."""
    return Backoff(base=0.05, cap=0.3)


def ws_url(sim: BinanceSim) -> str:
    return sim.base_url.replace("http://", "ws://")


async def until(
    events: AsyncIterator[Any], wanted: Callable[[Any], bool], timeout: float = 10
) -> Any:
    async def first() -> Any:
        async for event in events:
            if wanted(event):
                return event
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(first(), timeout)


async def ws_api_request(
    ws: Any, request_id: int, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    await ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message.get("id") == request_id:
            return message  # type: ignore[no-any-return]


class Collector:
    """A user stream iterated in the background, its updates kept in order."""

    def __init__(self, stream: BinanceUserStream) -> None:
        self.stream = stream
        self.updates: asyncio.Queue[OrderUpdate] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for update in self.stream:
            await self.updates.put(update)

    async def connected(self, times: int = 1) -> None:
        deadline = time.monotonic() + 10
        while self.stream.connects < times:
            assert time.monotonic() < deadline, "the user stream never subscribed"
            await asyncio.sleep(0.02)

    async def next(self, wanted: Callable[[OrderUpdate], bool], timeout: float = 10) -> OrderUpdate:
        async def first() -> OrderUpdate:
            while not wanted(update := await self.updates.get()):
                pass
            return update

        return await asyncio.wait_for(first(), timeout)

    async def close(self) -> None:
        await self.stream.aclose()
        self.task.cancel()
