"""Which timeframes each venue serves, and who may use the advanced indicators where."""

from __future__ import annotations

import pytest

from adapters.exchanges.binance.exchange import BinanceExchange
from adapters.exchanges.mercado_bitcoin.exchange import MercadoBitcoinExchange
from domain.indicators.availability import TIMEFRAMES, advanced_refusal, timeframe_refusal
from domain.market import Venue
from domain.plans import PLANS, Plan


def test_each_venue_has_its_documented_timeframes() -> None:
    assert len(TIMEFRAMES[Venue.BINANCE]) == 16
    assert TIMEFRAMES[Venue.MERCADO_BITCOIN] == ("1m", "15m", "1h", "3h", "1d", "1w", "1M")
    # The adapters serve candles in exactly these.
    assert BinanceExchange.intervals == TIMEFRAMES[Venue.BINANCE]
    assert MercadoBitcoinExchange.intervals == TIMEFRAMES[Venue.MERCADO_BITCOIN]


@pytest.mark.parametrize(
    ("venue", "timeframe"),
    [(Venue.BINANCE, "1s"), (Venue.BINANCE, "1M"), (Venue.MERCADO_BITCOIN, "3h")],
)
def test_a_venues_timeframe_is_accepted(venue: Venue, timeframe: str) -> None:
    assert timeframe_refusal(venue, timeframe) is None


@pytest.mark.parametrize(
    ("venue", "timeframe"),
    [
        (Venue.MERCADO_BITCOIN, "5m"),
        (Venue.BINANCE, "3h"),
        (Venue.BINANCE, "1H"),
        (Venue.PAPER, ""),
    ],
)
def test_another_timeframe_is_refused_with_the_valid_ones(venue: Venue, timeframe: str) -> None:
    refusal = timeframe_refusal(venue, timeframe)
    assert refusal is not None
    assert refusal.code == "timeframe_unsupported"
    assert refusal.detail["valid"] == list(TIMEFRAMES[venue])
    assert all(valid in refusal.message for valid in TIMEFRAMES[venue])


@pytest.mark.parametrize("venue", [Venue.BINANCE, Venue.PAPER])
def test_max_has_the_advanced_indicators_on_binance_and_paper(venue: Venue) -> None:
    assert advanced_refusal(PLANS[Plan.MAX], venue) is None


@pytest.mark.parametrize("plan", [Plan.FREE, Plan.PRO])
def test_below_max_the_advanced_indicators_are_refused_naming_max(plan: Plan) -> None:
    refusal = advanced_refusal(PLANS[plan], Venue.BINANCE)
    assert refusal is not None
    assert (refusal.code, refusal.detail["unlocked_by"]) == ("plan_feature", "MAX")


def test_mercado_bitcoin_has_no_advanced_indicators_even_on_max() -> None:
    refusal = advanced_refusal(PLANS[Plan.MAX], Venue.MERCADO_BITCOIN)
    assert refusal is not None
    assert refusal.code == "venue_unsupported"
