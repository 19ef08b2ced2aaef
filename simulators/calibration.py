"""The simulators' default random-walk volatility, measured on the real candles in data/ohlcv
rather than guessed: a market of the walk moves as much in a day as the real one did.

The reference is ETH_BTC-5m (Binance, January 2018): the most traded pair in the data and its
longest stretch (20 days), whose hourly returns give about 5% a day. The 1-minute ETH/BTC file
covers 10 days of November 2017's rally (about 13% a day) and the small coins move 8-11%.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from adapters.market_data import data_dir, read_candles
from domain.price_paths import RandomWalk
from domain.volatility import realised_daily_volatility

CALIBRATION_FILE = "ETH_BTC-5m.parquet"


@lru_cache(maxsize=1)
def daily_volatility() -> Decimal:
    """Standard deviation of the reference market's daily log return."""
    return realised_daily_volatility(read_candles(data_dir() / CALIBRATION_FILE))


def default_volatility(step_seconds: int = 1) -> Decimal:
    """The per-step volatility of a walk that moves `daily_volatility()` a day."""
    return RandomWalk.step_volatility(daily_volatility(), step_seconds)
