"""A Candle bot's signals in a backtest, made as its market feed makes them live
(activities/market_analysis.py): when a candle of the strategy's timeframe closes, the venue's
latest candles of that timeframe (the open one dropped) are analysed by
`domain.signals.analyse`, and the bot gets the signal with the market as the feed reads it.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from activities.bot_models import CandleAnalysis
from activities.market_analysis import candle_frame
from adapters.exchanges.paper import PaperExchange
from backtest.candles import Candles
from domain.bots.risk import Observation
from domain.indicators.availability import timeframe_seconds
from domain.market import Candle, epoch_ms, from_epoch_ms
from domain.signals import CandleStrategy, analyse, candles_needed


class StrategyCloses:
    """When the candles of a strategy's timeframe close, on the backtest's candles."""

    def __init__(self, strategy: CandleStrategy, candles: Candles) -> None:
        if strategy.timeframe == "1M":
            raise ValueError("a monthly strategy cannot be backtested: its candles vary in length")
        self.strategy = strategy
        self.step_ms = timeframe_seconds(strategy.timeframe) * 1000
        if candles.interval.total_seconds() * 1000 > self.step_ms:
            raise ValueError(
                f"the strategy's {strategy.timeframe} candles are shorter than the data's"
            )
        self.needed = candles_needed(strategy)
        self._open_ms = candles.open_ms
        self._window: deque[Candle] = deque(maxlen=self.needed)  # the latest closed
        self._next_ms: int | None = None  # the open of the next candle to read

    def flags(self, first: int, last: int) -> np.ndarray:
        """Which candles in [first, last) open at or after the close of a strategy candle
        that was still open at the previous candle's open."""
        opens = self._open_ms[first:last]
        before = self._open_ms[max(first - 1, 0) : max(last - 1, 0)]
        if first == 0:
            before = np.concatenate(([opens[0]], before))
        return opens // self.step_ms > before // self.step_ms

    def ends(self, candle: int) -> list[int]:
        """The closes (ms) between the previous candle's open and this one's, oldest first."""
        if candle == 0:
            return []
        previous, now = int(self._open_ms[candle - 1]), int(self._open_ms[candle])
        first = (previous // self.step_ms + 1) * self.step_ms
        return list(range(first, now + 1, self.step_ms))

    async def analysis(
        self, venue: PaperExchange, symbol: str, observation: Observation
    ) -> CandleAnalysis | None:
        """The signal on the candle that closed last, as the feed reads the venue now. The
        venue's klines are read as the feed reads them, but each closed candle once: a closed
        candle never changes."""
        timeframe = self.strategy.timeframe
        if self._next_ms is None:
            closed = (await venue.candles(symbol, timeframe, limit=self.needed + 1))[:-1]
        else:
            forming_ms = epoch_ms(venue.market.clock()) // self.step_ms * self.step_ms
            count = (forming_ms - self._next_ms) // self.step_ms
            start = from_epoch_ms(self._next_ms)
            closed = await venue.candles(symbol, timeframe, start=start, limit=count)
            closed = closed[:count] if count > 0 else []
        self._window.extend(closed)
        if closed:
            self._next_ms = epoch_ms(closed[-1].open_time) + self.step_ms
        if not self._window:
            return None
        signal = analyse(candle_frame(list(self._window)), self.strategy)
        return CandleAnalysis(signal=signal, observation=observation)
