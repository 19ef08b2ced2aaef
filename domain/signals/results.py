"""What a strategy says about the last closed candle: an action, how sure, and why."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.market import Money
from domain.signals.strategy import Rule

__all__ = ["Confidence", "Reason", "Signal", "SignalAction"]


class SignalAction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class Confidence(StrEnum):
    """Ordered LOW < MEDIUM < HIGH (`at_least`); the values are names, not ranks."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: Confidence) -> bool:
        return self.rank >= other.rank

    def raised(self) -> Confidence:
        """One level up, HIGH staying HIGH."""
        return _ORDER[min(self.rank + 1, len(_ORDER) - 1)]


_ORDER = (Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH)


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Reason(_Result):
    """One enabled rule's reading of the last candle, shown to the user as is."""

    rule: Rule
    vote: SignalAction | None  # BUY or SELL; None when the rule did not vote (or never votes)
    detail: str  # e.g. "RSI 27.4 ≤ 30: oversold"
    # The indicator values that decided, None where still unknown (too few candles).
    values: dict[str, float | None]


class Signal(_Result):
    action: SignalAction
    confidence: Confidence
    reasons: tuple[Reason, ...]  # every enabled rule, voting or not, in `Rule` order
    candle_open_ms: int  # the last closed candle's open time, the one the signal is about
    close: Money  # its close, exactly as the venue gave it
