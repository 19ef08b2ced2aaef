"""Candle bots' signals: a configurable strategy (`CandleStrategy`) turns the latest closed
candles into BUY, SELL or HOLD, with a confidence and the reasons that decided (`analyse`).

Pure functions over polars DataFrames, no I/O, no clock: the same candles give the same signal
in a live bot's activity and in a backtest.
"""

from domain.signals.analysis import analyse
from domain.signals.results import Confidence, Reason, Signal, SignalAction
from domain.signals.strategy import (
    ADVANCED_RULES,
    MAX_CANDLES,
    VOTING_RULES,
    AtrRule,
    BollingerRule,
    CandleStrategy,
    CombineRule,
    MfiRule,
    MovingAverageKind,
    MovingAverageRule,
    ObvRule,
    RsiRule,
    Rule,
    VolatilityRule,
    VolumeProfileRule,
    VolumeRule,
    VwapRule,
    advanced_rules,
    candles_needed,
    decimal_text,
    enabled_rules,
    uses_advanced,
)

__all__ = [
    "ADVANCED_RULES",
    "MAX_CANDLES",
    "VOTING_RULES",
    "AtrRule",
    "BollingerRule",
    "CandleStrategy",
    "CombineRule",
    "Confidence",
    "MfiRule",
    "MovingAverageKind",
    "MovingAverageRule",
    "ObvRule",
    "Reason",
    "RsiRule",
    "Rule",
    "Signal",
    "SignalAction",
    "VolatilityRule",
    "VolumeProfileRule",
    "VolumeRule",
    "VwapRule",
    "advanced_rules",
    "analyse",
    "candles_needed",
    "decimal_text",
    "enabled_rules",
    "uses_advanced",
]
