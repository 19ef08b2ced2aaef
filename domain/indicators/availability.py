"""Who may use which indicators, where: the timeframes each venue serves candles in, and the
plan and venue rules of the advanced indicators (issue 12).

Standard indicators (RSI, moving averages, Bollinger Bands, volume, volatility) are for every
plan with Candle bots, on every venue. The advanced ones (VWAP, MFI, volume profile, ATR, OBV)
need the MAX plan and a venue whose candles carry the volume they weigh: Binance, and the paper
venue, which serves Binance's klines (`adapters.exchanges.paper_klines`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.market import Venue
from domain.plans import Feature, PlanLimits
from domain.price_paths import KLINE_INTERVALS

# Each venue's candle intervals, in its own names: Binance's 16 klines intervals, Mercado
# Bitcoin's 7 candle resolutions (API v4 `GET /candles`).
TIMEFRAMES: dict[Venue, tuple[str, ...]] = {
    Venue.BINANCE: tuple(KLINE_INTERVALS),
    Venue.PAPER: tuple(KLINE_INTERVALS),
    Venue.MERCADO_BITCOIN: ("1m", "15m", "1h", "3h", "1d", "1w", "1M"),
}
ADVANCED_VENUES = frozenset({Venue.BINANCE, Venue.PAPER})
# A month's candle (1M) lasts at least 28 days: the bound a caller may rely on.
_SHORTEST_MONTH = 28 * 86_400


def timeframe_seconds(timeframe: str) -> int:
    """How long a candle of `timeframe` lasts (a month: at least 28 days). KeyError for a
    timeframe no venue serves."""
    if timeframe == "1M":
        return _SHORTEST_MONTH
    if timeframe == "3h":  # Mercado Bitcoin's, not Binance's
        return 10_800
    return KLINE_INTERVALS[timeframe]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a strategy is refused: a machine-readable code, the sentence a user reads, and the
    facts behind it (what would be accepted)."""

    code: str
    message: str
    detail: dict[str, Any]


def timeframe_refusal(venue: Venue, timeframe: str) -> Refusal | None:
    valid = TIMEFRAMES[venue]
    if timeframe in valid:
        return None
    return Refusal(
        "timeframe_unsupported",
        f"{venue.value} has no {timeframe!r} candles; use one of {', '.join(valid)}.",
        {"venue": venue.value, "timeframe": timeframe, "valid": list(valid)},
    )


def advanced_refusal(plan: PlanLimits, venue: Venue) -> Refusal | None:
    """None when the advanced indicators are allowed for `plan` on `venue`."""
    if not plan.allows(Feature.ADVANCED_INDICATORS):
        return Refusal(
            "plan_feature",
            f"The {plan.name} plan has no advanced indicators (VWAP, MFI, volume profile, ATR, "
            "OBV); the MAX plan has them.",
            {
                "plan": plan.plan.value,
                "feature": Feature.ADVANCED_INDICATORS.value,
                "unlocked_by": "MAX",
            },
        )
    if venue not in ADVANCED_VENUES:
        return Refusal(
            "venue_unsupported",
            f"Advanced indicators are available on Binance only, not on {venue.value}.",
            {"venue": venue.value, "valid": sorted(v.value for v in ADVANCED_VENUES)},
        )
    return None
