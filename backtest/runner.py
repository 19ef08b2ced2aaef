"""The backtest's loop: a bot's own `Trader` on the paper venue, driven through candles by the
same events that drive it live.

Each candle is walked as the venue's price path walks it (open, low, high, close; open, high,
low, close when it fell: `domain.price_paths.CandleReplay`), a quarter of its time at each
price. The bot is woken as its workflow is: by its market feed when its published triggers fire
(the feed's own `MarketBoard`, on the best bid), by its timer (`timer_due`), and by the account
sync when one of its resting orders changes at the venue. Between those events nothing it
published can act, so the loop skips ahead: a vectorised scan over the candles' lows and highs
finds the next candle that could fire a trigger or fill a resting order (conservatively: a
false hit costs a look, never a trade), and only there are prices read one by one.

No look-ahead: an event at time t is decided on the venue as it stands at t (the candles' path
up to t); nothing after t is read before the clock gets there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from activities.bot_models import BotRef, OrderReport
from activities.bots import observation
from activities.market_watch import MarketBoard
from adapters.db.bot_triggers import TriggerRow
from adapters.exchanges.paper import BINANCE_FEES, SLIPPAGE, PaperMarket
from backtest.analysis import StrategyCloses
from backtest.candles import Candles
from backtest.host import BacktestHost
from domain.bots.candle import CandleBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.funds import BotFunds
from domain.bots.kinds import KindConfig, engine_config
from domain.bots.risk import Observation
from domain.bots.smart import timer_due
from domain.bots.state import BotKind, BotTriggers, SmartBotState
from domain.market import MarketRules, Side, Symbol, Venue, from_epoch_ms
from domain.matching import Fees, MatchingEngine
from domain.price_paths import CandleReplay, candle_walk
from workflows.bots import candle
from workflows.bots.trading import Trader

ACCOUNT = "backtest"
BOT_ID = uuid.UUID(int=1)
_CHUNK = 4096  # candles scanned at once for the next one that matters
_FEED_READ = timedelta(seconds=1)  # the live feed reads every second: its previous look
_BID_ROOM = 0.999  # the best bid: half a spread (0.05 %) and a tick under the last price
_EPSILON = 1e-9  # float scan against exact levels: err towards a look


@dataclass(frozen=True)
class BacktestMarket:
    """The market a backtest trades: its rules, the venue's fees and market orders' slippage
    (by default the paper venue's)."""

    rules: MarketRules
    fees: Fees = BINANCE_FEES
    slippage: Decimal = SLIPPAGE


class Backtest:
    def __init__(
        self, kind: BotKind, config: KindConfig, candles: Candles, venue: BacktestMarket
    ) -> None:
        smart = engine_config(config)
        symbol = str(Symbol.parse(smart.symbol))
        if symbol != str(Symbol.parse(venue.rules.symbol)):
            raise ValueError(f"the bot trades {symbol}, the candles are {venue.rules.symbol}")
        self.candles = candles
        self.now = candles.start
        self.path = CandleReplay(candles.rows, started_at=candles.start)
        engine = MatchingEngine([venue.rules], venue.fees, venue.slippage)
        engine.deposit(ACCOUNT, Symbol.parse(symbol).quote, smart.allocated_balance)
        market = PaperMarket(engine, {symbol: self.path}, clock=self.clock)
        self.board = MarketBoard()
        self.host = BacktestHost(market.exchange(ACCOUNT), self.clock, self._published)
        self.bot = BotRef(
            bot_id=BOT_ID, user_id=BOT_ID, context_id=BOT_ID, kind=kind, venue=Venue.PAPER,
            symbol=symbol,
        )  # fmt: skip
        state = SmartBotState(
            config=smart,
            dca=config if isinstance(config, DcaBotConfig) else None,
            candle=config if isinstance(config, CandleBotConfig) else None,
            funds=BotFunds.allocate(symbol, smart.allocated_balance),
        )
        self.trader = Trader(self.bot, state, self.host)
        self._triggers = BotTriggers()
        self._quarter = candles.interval / 4
        self._quarter_ms = int(self._quarter.total_seconds() * 1000)
        self.funds_at: list[tuple[datetime, BotFunds]] = []
        strategy = config.strategy if isinstance(config, CandleBotConfig) else None
        self._closes = None if strategy is None else StrategyCloses(strategy, candles)

    def clock(self) -> datetime:
        return self.now

    async def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Trade through every candle; `progress` is told how many candles are behind."""
        await self.trader.start_run()
        self._record()
        total = 4 * len(self.candles.rows)
        point = 0  # the next price point to look at: candle * 4 + quarter
        while point < total:
            due = timer_due(self.trader.state)
            until = total if due is None else min(self._first_point_at(due), total)
            woke = await self._next_wake(point, until)
            if woke is not None:
                point = woke + 1
            elif due is not None and due < self.candles.end:
                self.now = max(due, self.now)
                before = self.trader.state
                await self.trader.tick()
                if timer_due(self.trader.state) == due and self.trader.state == before:
                    raise RuntimeError(f"the bot's timer stayed at {due}: it would never end")
                await self._publish(before)
                point = max(point, self._first_point_at(self.now))
            else:
                break
            if progress is not None:
                progress(min(point, total) // 4)
        self.now = self.candles.end

    async def _next_wake(self, point: int, until: int) -> int | None:
        """The first price point in [point, until) where the feed wakes the bot or one of its
        resting orders changed (the bot's work there is done), or None."""
        while point < until:
            end = min(4 * (point // 4 + _CHUNK), until)
            first = point // 4
            flagged = first + np.flatnonzero(self._could_fire(first, -(-end // 4)))
            for index in flagged.tolist():
                for candidate in range(max(4 * index, point), min(4 * index + 4, end)):
                    if await self._look(candidate):
                        return candidate
            point = end
        return None

    def _could_fire(self, first: int, last: int) -> np.ndarray:
        """Which candles in [first, last) could fire the published triggers or fill a resting
        order (a superset: every point of a flagged candle is then looked at exactly)."""
        lows = self.candles.lows[first:last] * _BID_ROOM
        highs = self.candles.highs[first:last]
        hit = np.zeros(last - first, dtype=bool)
        t, risk = self._triggers, self._triggers.risk
        below = [
            t.buy.at_or_below if t.buy else None,
            t.warn.at_or_below if t.warn else None,
            risk.sell_at_or_below,
            risk.soft_stop_at_or_below,
            risk.orders_band_low,
        ]
        above = [
            t.warn.at_or_above if t.warn else None,
            risk.sell_at_or_above,
            risk.orders_band_high,
        ]
        for order in self.trader.state.resting.values():
            (below if order.side is Side.BUY else above).append(order.price)
        for level in below:
            if level is not None:
                hit |= lows <= float(level) * (1 + _EPSILON)
        for level in above:
            if level is not None:
                hit |= highs >= float(level) * (1 - _EPSILON)
        if risk.trailing_percent is not None and (
            risk.trailing_arm_at_or_above is not None or risk.trailing_peak is not None
        ):
            watched = self.board.bots.get(BOT_ID)
            seen = [p for p in (risk.trailing_peak, watched.high if watched else None) if p]
            start = float(max(seen)) if seen else 0.0
            peaks = np.maximum.accumulate(np.concatenate(([start], highs)))
            arm = risk.trailing_arm_at_or_above
            armed = peaks[1:] >= (0.0 if arm is None else float(arm) * (1 - _EPSILON))
            # Once armed, a new peak moves the stop (the feed must see it) and a fall to the
            # stop sells.
            hit |= armed & (highs > peaks[:-1])
            fall = 1 - float(risk.trailing_percent) / 100
            hit |= armed & (lows <= peaks[1:] * fall * (1 + _EPSILON))
        if self._closes is not None and t.analysis is not None:
            hit |= self._closes.flags(first, last)
        if risk.wake_at is not None:
            index = self._first_point_at(risk.wake_at) // 4
            if first <= index < last:
                hit[index - first] = True
        return hit

    async def _look(self, point: int) -> bool:
        """The account sync's and the feed's look at the venue at one price point, and the
        bot's work when either has news for it (as `SmartBotWorkflow._work` orders it:
        reports, then a Candle bot's signals, then the wake-up)."""
        self.now = self._point_time(point)
        before = self.trader.state
        reported = await self._reports()
        analysed = False
        if self._closes is not None and point % 4 == 0 and self._triggers.analysis is not None:
            for end_ms in self._closes.ends(point // 4):  # more than one across a gap
                self.now = from_epoch_ms(end_ms)
                analysed |= await self._analyse()
            self.now = self._point_time(point)
        venue = self.host.venue
        bid, _ = venue.best(self.bot.symbol, self._price(point))  # as the feed reads it
        woken = bool(self.board.fired(bid, self.now))
        if woken:
            watched = self.board.bots.get(BOT_ID)
            seen = await self._feed_read()
            high = watched.high if watched else None
            await self.trader.evaluate(seen.model_copy(update={"high": high}), timer=False)
        if reported or woken:
            await self._publish(before)
        return reported or analysed or woken

    async def _analyse(self) -> bool:
        """A Candle bot's signal on the strategy candle that closed now, acted on."""
        assert self._closes is not None
        before = self.trader.state
        made = await self._closes.analysis(
            self.host.venue, self.bot.symbol, await self._feed_read()
        )
        if made is None:
            return False
        await candle.analysed(self.trader, made)
        await self._publish(before)
        return True

    async def _feed_read(self) -> Observation:
        """The market as the feed reads it now, with its previous read a second before."""
        ticker = await self.host.venue.ticker(self.bot.symbol)
        at = self.now - _FEED_READ
        previous = Observation(price=self.path.price_at(at), at=at)
        return observation(ticker, previous)  # the paper venue's ticker is stamped now

    def _price(self, point: int) -> Decimal:
        """The path's price at a point: the candle's walk (`CandleReplay`'s own)."""
        return candle_walk(self.candles.rows[point // 4])[point % 4]

    async def _reports(self) -> bool:
        """Whether a resting order of the bot changed at the venue; each change is applied."""
        changed = False
        for cid in list(self.trader.state.resting):
            order = await self.host.venue.get_order(self.bot.symbol, client_order_id=cid)
            known = self.host.sent(cid)  # as last reported to the bot
            if known is not None and (known.status, known.filled_quantity) == (
                order.status,
                order.filled_quantity,
            ):
                continue
            self.host.settled(order)
            fills = await self.host.order_fills(order)
            await self.trader.apply_report(OrderReport(order=order, fills=fills))
            changed = True
        return changed

    async def _publish(self, before: SmartBotState) -> None:
        if self.trader.state != before:
            await self.trader.publish()
        self._record()

    def _published(self, triggers: BotTriggers, version: int) -> None:
        self._triggers = triggers
        self.board.update([TriggerRow(BOT_ID, triggers, version, self.now)])

    def _record(self) -> None:
        self.funds_at.append((self.now, self.trader.state.funds))

    def _point_time(self, point: int) -> datetime:
        candle = self.candles.rows[point // 4]
        return candle.open_time + self._quarter * (point % 4)

    def _first_point_at(self, at: datetime) -> int:
        """The first price point at or after `at`."""
        ms = int(at.timestamp() * 1000)
        index = int(np.searchsorted(self.candles.open_ms, ms, side="right")) - 1
        if index < 0:
            return 0
        offset = ms - int(self.candles.open_ms[index])
        quarter = -(-offset // self._quarter_ms)  # ceiling
        if quarter >= 4:
            return 4 * (index + 1)
        return 4 * index + quarter
