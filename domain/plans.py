"""Plans: the one table of truth for prices, limits and features."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Plan(StrEnum):
    FREE = "FREE"
    PRO = "PRO"
    MAX = "MAX"

    @property
    def paid(self) -> bool:
        return self is not Plan.FREE


class Feature(StrEnum):
    DASHBOARD = "dashboard"
    BASIC_SMARTBOTS = "basic_smartbots"
    CANDLE_BOTS = "candle_bots"
    DCA_BOTS = "dca_bots"
    STANDARD_INDICATORS = "standard_indicators"
    ADVANCED_INDICATORS = "advanced_indicators"
    ADVANCED_METRICS = "advanced_metrics"
    MARKET_COMPARISON = "market_comparison"
    PDF_EXPORT = "pdf_export"
    BACKTESTING = "backtesting"


class PlanLimits(BaseModel):
    """None means unlimited."""

    model_config = ConfigDict(frozen=True)

    plan: Plan
    name: str
    monthly_price_brl: Decimal
    max_contexts: int | None
    max_bots: int | None
    chat_messages_per_day: int | None
    history_days: int | None
    backtests_per_day: int  # counted per day in America/Sao_Paulo
    backtest_days: int  # the longest period one backtest covers
    features: frozenset[Feature]

    def allows(self, feature: Feature) -> bool:
        return feature in self.features

    def within(self, limit: int | None, count: int) -> bool:
        """Whether one more item fits when `count` exist."""
        return limit is None or count < limit


_FREE_FEATURES = frozenset({Feature.DASHBOARD, Feature.BASIC_SMARTBOTS})
_PRO_FEATURES = _FREE_FEATURES | {
    Feature.CANDLE_BOTS,
    Feature.DCA_BOTS,
    Feature.STANDARD_INDICATORS,
    Feature.MARKET_COMPARISON,
    Feature.BACKTESTING,
}
_MAX_FEATURES = _PRO_FEATURES | {
    Feature.ADVANCED_INDICATORS,
    Feature.ADVANCED_METRICS,
    Feature.PDF_EXPORT,
}

# Bots per plan (our choice, documented in the README): enough for a context's strategies at
# each tier, bounded so one account cannot flood the workers. Backtests likewise (our choice):
# each runs up to a few seconds of a worker's CPU per year of minute candles.
PLANS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(
        plan=Plan.FREE,
        name="Free",
        monthly_price_brl=Decimal("0.00"),
        max_contexts=1,
        max_bots=2,
        chat_messages_per_day=10,
        history_days=30,
        backtests_per_day=0,
        backtest_days=0,
        features=_FREE_FEATURES,
    ),
    Plan.PRO: PlanLimits(
        plan=Plan.PRO,
        name="Pro",
        monthly_price_brl=Decimal("19.90"),
        max_contexts=3,
        max_bots=15,
        chat_messages_per_day=100,
        history_days=90,
        backtests_per_day=20,
        backtest_days=92,
        features=_PRO_FEATURES,
    ),
    Plan.MAX: PlanLimits(
        plan=Plan.MAX,
        name="Max",
        monthly_price_brl=Decimal("97.00"),
        max_contexts=None,
        max_bots=100,
        chat_messages_per_day=None,
        history_days=None,
        backtests_per_day=200,
        backtest_days=731,
        features=_MAX_FEATURES,
    ),
}


def limits(plan: Plan) -> PlanLimits:
    return PLANS[plan]


def unlocking_plan(feature: Feature) -> Plan:
    """The cheapest plan that has `feature`: what a refusal tells the user to pick."""
    return min(
        (p for p in PLANS.values() if p.allows(feature)), key=lambda p: p.monthly_price_brl
    ).plan
