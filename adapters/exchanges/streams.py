"""What venue streams deliver, in Crypteras' vocabulary (symbols ``BASE-QUOTE``, `Decimal`
amounts), and the reconnect pacing every stream client shares. Stream clients are plain
asyncio (no Temporal): iterate them with ``async for``; they reconnect by themselves."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from domain.market import Candle, Fill, Money, Order


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


class BookTickerEvent(_Event):
    """The best bid and ask of one market, as they changed."""

    symbol: str
    bid: Money
    bid_qty: Money
    ask: Money
    ask_qty: Money
    update_id: int


class KlineEvent(_Event):
    """The current candle of one market and interval; `closed` once it will not change."""

    symbol: str
    interval: str
    candle: Candle
    closed: bool


class OrderUpdate(_Event):
    """An order as it is now, and the fill that made it so (None: placed, canceled, expired,
    or its state as read back after a reconnect)."""

    order: Order
    fill: Fill | None = None


@dataclass
class Backoff:
    """Exponential reconnect delays with full jitter, so a venue restart does not see every
    client come back in the same instant; `reset` once a connection proved good."""

    base: float = 0.5
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return random.uniform(delay / 2, delay)  # pacing, not security

    def reset(self) -> None:
        self.attempt = 0
