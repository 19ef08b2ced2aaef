"""Order ids in MB's shape, and failures injected by method and path.

MB v4 order ids are ULIDs: 26 Crockford base32 characters, a 48-bit millisecond timestamp
then 80 random bits (e.g. ``01H5Z9K3V7...``), so they sort in creation order. Here they are
made monotonic within a millisecond (the random part counts up), as the ULID spec allows.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80


class Ulids:
    def __init__(self) -> None:
        self._last_ms = -1
        self._last_random = 0

    def new(self, at: datetime) -> str:
        ms = max(int(at.timestamp() * 1000), self._last_ms)
        if ms == self._last_ms:
            random = (self._last_random + 1) % (1 << _RANDOM_BITS)
        else:
            random = secrets.randbits(_RANDOM_BITS)
        self._last_ms, self._last_random = ms, random
        value = (ms << _RANDOM_BITS) | random
        return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


class PathFault(BaseModel):
    """The next `count` requests matching `method` and `path` fail: after holding for
    `hang_seconds` (the caller's timeout fires first if shorter), they answer `status` with
    `body` (default: MB's body for that status), or, with no status, answer normally late.
    `path` is the request path below /api/v4, `*` standing for one path segment, e.g.
    ``/accounts/*/BTC-BRL/orders``. With `after_processing` the venue does the work first."""

    method: str | None = None  # None: any
    path: str
    count: int = Field(default=1, ge=1)
    status: int | None = Field(default=None, ge=400, le=599)
    body: dict[str, Any] | None = None
    hang_seconds: float = Field(default=0, ge=0, le=600)
    after_processing: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        pattern = "/".join("[^/]+" if s == "*" else re.escape(s) for s in self.path.split("/"))
        return re.fullmatch(pattern, path) is not None


def take(faults: list[PathFault], method: str, path: str) -> PathFault | None:
    """The first fault matching the request, counted down (removed when used up)."""
    for fault in faults:
        if fault.matches(method, path):
            fault.count -= 1
            if fault.count == 0:
                faults.remove(fault)
            return fault
    return None
