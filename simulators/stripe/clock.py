"""The simulator's own clock: object timestamps and billing periods follow it, so tests can
jump a month ahead. Webhook signatures use the wall clock (receivers check it against theirs)."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime


class SimClock:
    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._anchor_sim = time.time() if start is None else start
        self._anchor_wall = time.monotonic()
        self.frozen = frozen

    def now(self) -> int:
        """Unix seconds, as Stripe timestamps are."""
        return int(self._now_float())

    def _now_float(self) -> float:
        if self.frozen:
            return self._anchor_sim
        return self._anchor_sim + (time.monotonic() - self._anchor_wall)

    def set(self, at: float, *, frozen: bool | None = None) -> None:
        """Moves the clock to `at`; refuses to go back (objects would end before they began)."""
        if at < self._now_float() - 1e-6:
            raise ValueError("the simulated clock only moves forward")
        self._anchor_sim = at
        self._anchor_wall = time.monotonic()
        if frozen is not None:
            self.frozen = frozen

    def advance_to(self, at: float) -> None:
        """Moves to `at` if it is in the future; a no-op otherwise."""
        if at > self._now_float():
            self.set(at)


def add_months(ts: int, months: int, anchor_day: int) -> int:
    """`ts` moved `months` calendar months ahead, on `anchor_day` (clamped to the month's last
    day), as Stripe bills: anchored on the 31st renews on Feb 28/29, then on Mar 31."""
    dt = datetime.fromtimestamp(ts, UTC)
    index = dt.month - 1 + months
    year, month = dt.year + index // 12, index % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return int(dt.replace(year=year, month=month, day=day).timestamp())
