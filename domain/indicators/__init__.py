"""Technical indicators over candles, in polars: the one interface the bots, backtests and
users' own analyses call.

Each function takes a DataFrame with the columns `open high low close volume` (floats,
decimals or integers; other columns, such as times, are ignored: an indicator works per row,
so a gap in time is simply the next row) and keyword periods, and returns a Float64 Series
aligned with the input rows, null in its warm-up rows — or a DataFrame where named. Results
are floats: indicators describe a market, they never size an order.

The definitions are the `ta` library's (0.11) and agree with it to 1e-9 relative after the
warm-up rows; where they differ by definition, the function says so (docs/indicators.md lists
every difference).
"""

from domain.indicators.prices import bollinger, ema, rsi, sma, volatility
from domain.indicators.ranges import atr
from domain.indicators.volume import (
    mfi,
    obv,
    relative_volume,
    volume_average,
    volume_profile,
    vwap,
)

__all__ = [
    "atr",
    "bollinger",
    "ema",
    "mfi",
    "obv",
    "relative_volume",
    "rsi",
    "sma",
    "volatility",
    "volume_average",
    "volume_profile",
    "vwap",
]
