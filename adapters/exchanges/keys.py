"""What each venue's API keys look like, checked before any network call.

A key that HTTP cannot even carry (a NUL, a line break, a non-ASCII letter) is the caller's
mistake: it must be refused with a message naming the field, never sent, and never counted
against the venue's circuit breaker, which every user of the venue shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.exchanges.errors import AuthError
from domain.market import Venue


@dataclass(frozen=True)
class KeyRule:
    pattern: re.Pattern[str]
    min_length: int
    max_length: int
    allowed: str  # the character set, for people

    def problem(self, value: str) -> str | None:
        """Why `value` cannot be this kind of key, or None."""
        if not self.min_length <= len(value) <= self.max_length:
            return f"must be {self.min_length} to {self.max_length} characters long"
        if not self.pattern.fullmatch(value):
            return f"may contain only {self.allowed}"
        return None


# Binance API keys and HMAC secrets are 64 letters and digits. Length is left loose; the
# character set is not, beyond '-' and '_' (testnet-style and simulator keys use them).
_BINANCE = KeyRule(re.compile(r"[A-Za-z0-9_-]+"), 8, 128, "letters, digits, '-' and '_'")
# Mercado Bitcoin's API token id and secret travel in a JSON body: printable ASCII, no spaces.
_MERCADO_BITCOIN = KeyRule(re.compile(r"[!-~]+"), 8, 256, "printable ASCII without spaces")

KEY_RULES: dict[Venue, dict[str, KeyRule]] = {
    Venue.BINANCE: {"api_key": _BINANCE, "api_secret": _BINANCE},
    Venue.MERCADO_BITCOIN: {"api_key": _MERCADO_BITCOIN, "api_secret": _MERCADO_BITCOIN},
}


class MalformedKey(AuthError):
    """A key or secret that cannot be the venue's: refused before anything is sent."""

    def __init__(self, venue: Venue, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}", venue=venue.value)
        self.field = field


def key_problem(venue: Venue, field: str, value: str) -> str | None:
    """Why `value` cannot be `field` ("api_key" or "api_secret") at `venue`, or None."""
    rule = KEY_RULES.get(venue, {}).get(field)
    return rule.problem(value) if rule else None


def check_key_format(venue: Venue, api_key: str, api_secret: str) -> None:
    """Raise `MalformedKey` naming the first bad field. Venues without rules (paper) pass."""
    for field, value in (("api_key", api_key), ("api_secret", api_secret)):
        problem = key_problem(venue, field, value)
        if problem is not None:
            raise MalformedKey(venue, field, problem)
