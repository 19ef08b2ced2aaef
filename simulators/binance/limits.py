"""Binance's request-weight limit per client IP (429 + Retry-After, then a 418 ban for clients
that keep calling) and the per-account new-order count."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulators.binance.wire import BinanceError

_UNITS = {1: ("S", "SECOND"), 60: ("M", "MINUTE"), 3600: ("H", "HOUR"), 86400: ("D", "DAY")}
ORDER_WINDOW_SECONDS = 10
DAY_SECONDS = 86400


def interval_of(seconds: int) -> tuple[int, str, str]:
    """(intervalNum, letter, name) for a window length, as in exchangeInfo rateLimits."""
    for unit in sorted(_UNITS, reverse=True):
        if seconds % unit == 0:
            letter, name = _UNITS[unit]
            return seconds // unit, letter, name
    raise ValueError(f"window must be whole seconds, got {seconds}")


@dataclass
class _Counter:
    window: int = -1
    used: int = 0
    violations: int = 0
    banned_until: float = 0.0


@dataclass
class WeightLimiter:
    limit: int
    window_seconds: int
    ban_after: int
    ban_seconds: int
    _by_ip: dict[str, _Counter] = field(default_factory=dict)

    @property
    def header(self) -> str:
        num, letter, _ = interval_of(self.window_seconds)
        return f"X-MBX-USED-WEIGHT-{num}{letter}"

    def used(self, ip: str, now: float) -> int:
        counter = self._counter(ip, now)
        return counter.used

    def _counter(self, ip: str, now: float) -> _Counter:
        counter = self._by_ip.setdefault(ip, _Counter())
        window = int(now // self.window_seconds)
        if window != counter.window:
            counter.window, counter.used, counter.violations = window, 0, 0
        return counter

    def charge(self, ip: str, weight: int, now: float) -> int:
        """Add `weight` to this IP's window, or refuse the request the way Binance does."""
        counter = self._counter(ip, now)
        if now < counter.banned_until:
            raise self._banned(counter, now)
        if counter.used + weight <= self.limit:
            counter.used += weight
            return counter.used
        counter.violations += 1
        if counter.violations > self.ban_after:
            counter.banned_until = now + self.ban_seconds
            raise self._banned(counter, now)
        num, _, name = interval_of(self.window_seconds)
        retry = math.ceil((counter.window + 1) * self.window_seconds - now)
        raise BinanceError(
            -1003,
            f"Too much request weight used; current limit is {self.limit} request weight per "
            f"{num} {name}. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
            status=429,
            headers={"Retry-After": str(max(retry, 1))},
        )

    def _banned(self, counter: _Counter, now: float) -> BinanceError:
        return BinanceError(
            -1003,
            "Way too much request weight used; IP banned until "
            f"{int(counter.banned_until * 1000)}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            status=418,
            headers={"Retry-After": str(max(math.ceil(counter.banned_until - now), 1))},
        )


@dataclass
class OrderCounter:
    """New orders per account in the 10 s window and the day (UTC), both limited as exchangeInfo
    announces them, and reported as ``X-MBX-ORDER-COUNT-10S`` / ``-1D`` on every successful
    placement."""

    limit: int
    day_limit: int
    _by_account: dict[str, tuple[int, int]] = field(default_factory=dict)
    _by_day: dict[str, tuple[int, int]] = field(default_factory=dict)

    def charge(self, account: str, now: float) -> int:
        window = int(now // ORDER_WINDOW_SECONDS)
        seen, count = self._by_account.get(account, (window, 0))
        count = count if seen == window else 0
        if count >= self.limit:
            raise BinanceError(
                -1015,
                f"Too many new orders; current limit is {self.limit} orders per 10 SECOND.",
                status=429,
                headers={
                    "Retry-After": str(ORDER_WINDOW_SECONDS - int(now) % ORDER_WINDOW_SECONDS)
                },
            )
        day = int(now // DAY_SECONDS)
        seen_day, today = self._by_day.get(account, (day, 0))
        today = today if seen_day == day else 0
        if today >= self.day_limit:
            raise BinanceError(
                -1015,
                f"Too many new orders; current limit is {self.day_limit} orders per DAY.",
                status=429,
                headers={"Retry-After": str((day + 1) * DAY_SECONDS - int(now))},
            )
        self._by_account[account] = (window, count + 1)
        self._by_day[account] = (day, today + 1)
        return count + 1

    def headers(self, account: str, now: float) -> dict[str, str]:
        window, day = int(now // ORDER_WINDOW_SECONDS), int(now // DAY_SECONDS)
        seen, count = self._by_account.get(account, (window, 0))
        seen_day, today = self._by_day.get(account, (day, 0))
        return {
            "X-MBX-ORDER-COUNT-10S": str(count if seen == window else 0),
            "X-MBX-ORDER-COUNT-1D": str(today if seen_day == day else 0),
        }
