"""The paper venue: trading in-process against price paths, with the matching rules of the
simulators (`domain.matching`). Real candles (data/ohlcv) drive the BTC-quoted markets,
seeded random walks the others. The replays loop (forwards, then mirrored backwards, and so on),
so a paper market left running for weeks keeps moving instead of going flat when the data ends.

One `PaperMarket` holds the engine, the paths and the clock and is shared by every account;
`PaperMarket.exchange(account)` is that account's `Exchange`. Before each call the market
catches up with the clock: every path's low and high since the last catch-up and then its
current price are fed to the engine, so a resting limit order the path touched in between fills.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from adapters import market_data
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import (
    InsufficientBalance,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    TemporaryError,
    UnknownSymbol,
)
from adapters.exchanges.paper_klines import INTERVALS, klines
from domain.market import (
    Balance,
    BookLevel,
    Candle,
    Fill,
    MarketRules,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Side,
    Ticker,
    Venue,
)
from domain.matching import (
    Fees,
    InsufficientFunds,
    MatchingEngine,
    MatchingError,
    NoPrice,
    OrderNotOpen,
    RuleViolation,
    UnknownMarket,
    UnknownOrder,
)
from domain.price_paths import (
    CandleReplay,
    PricePath,
    RandomWalk,
    on_grid,
)

Clock = Callable[[], datetime]

BINANCE_FEES = Fees(maker=Decimal("0.001"), taker=Decimal("0.001"))
SLIPPAGE = Decimal("0.0005")  # of the price, against a market order
_HALF_SPREAD = Decimal("0.0005")  # of the price, each side of the synthesised book


def _rules(symbol: str, tick: str, lot: str, min_notional: str) -> MarketRules:
    return MarketRules(
        symbol=symbol,
        price_tick=Decimal(tick),
        lot_step=Decimal(lot),
        min_quantity=Decimal(lot),
        max_quantity=Decimal(9_000_000),
        min_notional=Decimal(min_notional),
    )


# (rules, what drives the price): a data file name, or (random walk seed, start price).
DEFAULT_MARKETS: tuple[tuple[MarketRules, str | tuple[int, Decimal]], ...] = (
    (_rules("BTC-BRL", "1", "0.00001", "10"), (1, Decimal(350_000))),
    (_rules("ETH-BRL", "0.01", "0.0001", "10"), (2, Decimal(18_000))),
    (_rules("BTC-USDT", "0.01", "0.00001", "5"), (3, Decimal(65_000))),
    (_rules("ETH-USDT", "0.01", "0.0001", "5"), (4, Decimal(3_200))),
    (_rules("ETH-BTC", "0.00000001", "0.001", "0.0001"), "ETH_BTC-5m.parquet"),
    (_rules("LTC-BTC", "0.00000001", "0.01", "0.0001"), "LTC_BTC-5m.parquet"),
    (_rules("ADA-BTC", "0.00000001", "1", "0.0001"), "ADA_BTC-5m.parquet"),
    (_rules("TRX-BTC", "0.00000001", "1", "0.0001"), "TRX_BTC-5m.parquet"),
    (_rules("XLM-BTC", "0.00000001", "1", "0.0001"), "XLM_BTC-5m.parquet"),
)


class PaperMarket:
    """The venue itself: one engine and one path per market, shared by all accounts."""

    def __init__(self, engine: MatchingEngine, paths: Mapping[str, PricePath], clock: Clock):
        missing = set(engine.markets) - set(paths)
        if missing:
            raise ValueError(f"no price path for {sorted(missing)}")
        self.engine = engine
        self.clock = clock
        self._paths = dict(paths)
        self._synced: dict[str, datetime] = {}

    def exchange(self, account: str) -> PaperExchange:
        return PaperExchange(self, account)

    def path(self, symbol: str) -> PricePath:
        return self._paths[symbol]

    def set_path(self, symbol: str, path: PricePath) -> None:
        """Drive `symbol` by another path from now on (e.g. `FixedPrice` to pin it)."""
        self.sync(symbol)
        self._paths[symbol] = path
        self._synced.pop(symbol)
        self.sync(symbol)

    def sync(self, symbol: str | None = None) -> None:
        """Bring the engine's prices (and so resting orders) up to the clock."""
        now = self.clock()
        for name in [symbol] if symbol else list(self._paths):
            path, since = self._paths[name], self._synced.get(name)
            if since is not None and since < now:
                swept = path.candle(since, now)
                self.engine.set_price(name, swept.low, now)
                self.engine.set_price(name, swept.high, now)
            if since is None or since < now:
                self.engine.set_price(name, path.price_at(now), now)
                self._synced[name] = now


class PaperExchange(Exchange):
    venue: ClassVar[Venue] = Venue.PAPER
    intervals: ClassVar[tuple[str, ...]] = tuple(INTERVALS)

    def __init__(self, market: PaperMarket, account: str) -> None:
        self.market = market
        self.account = account

    @property
    def _engine(self) -> MatchingEngine:
        return self.market.engine

    async def markets(self) -> list[MarketRules]:
        return list(self._engine.markets.values())

    async def market_rules(self, symbol: str) -> MarketRules:
        return self._engine.markets[self._known(symbol)]

    async def ticker(self, symbol: str) -> Ticker:
        symbol = self._known(symbol)
        self.market.sync(symbol)
        now = self.market.clock()
        last = self._engine.price(symbol)
        bid, ask = self.best(symbol, last)
        day = self.market.path(symbol).candle(now - timedelta(days=1), now)
        return Ticker(
            symbol=symbol,
            last=last,
            bid=bid,
            ask=ask,
            high_24h=max(day.high, last),
            low_24h=min(day.low, last),
            volume_24h=day.volume,
            at=now,
        )

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        """In process every market is one call away: each ticker as `ticker` gives it."""
        names = list(self._engine.markets) if symbols is None else symbols
        return [await self.ticker(name) for name in dict.fromkeys(names)]

    async def order_book(self, symbol: str, limit: int = 20) -> OrderBook:
        symbol = self._known(symbol)
        self.market.sync(symbol)
        rules = self._engine.markets[symbol]
        last = self._engine.price(symbol)
        bid, ask = self.best(symbol, last)
        step = max(rules.quantise_price(last * _HALF_SPREAD, Side.BUY), rules.price_tick)
        # Deeper levels hold more, a few minimum orders each, so the book looks like one.
        unit = max(rules.min_quantity, rules.quantise_quantity(rules.min_notional / last))
        unit = max(unit, rules.lot_step)
        bids = [
            BookLevel(price=bid - i * step, quantity=unit * (2 + i % 5))
            for i in range(limit)
            if bid - i * step > 0
        ]
        asks = [BookLevel(price=ask + i * step, quantity=unit * (2 + i % 5)) for i in range(limit)]
        return OrderBook(symbol=symbol, bids=bids, asks=asks, at=self.market.clock())

    async def candles(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Candle]:
        """Binance's klines semantics (`adapters.exchanges.paper_klines`)."""
        path = self.market.path(self._known(symbol))
        return klines(path, interval, self.market.clock(), limit=limit, start=start, end=end)

    async def create_order(self, request: OrderRequest, *, maybe_sent: bool = False) -> Order:
        # In process: every call's outcome is known, so `maybe_sent` changes nothing.
        symbol = self._known(request.symbol)
        self.market.sync(symbol)
        with _mapped():
            try:
                return self._engine.get(
                    self.account, symbol, client_order_id=request.client_order_id
                )
            except UnknownOrder:
                pass
            placed = self._engine.place(self.account, self._quantised(request), self.market.clock())
        return placed

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        symbol = self._known(symbol)
        self.market.sync(symbol)
        with _mapped():
            try:
                return self._engine.cancel(
                    self.account,
                    symbol,
                    order_id=order_id,
                    client_order_id=client_order_id,
                    at=self.market.clock(),
                )
            except OrderNotOpen:
                order = self._engine.get(
                    self.account, symbol, order_id=order_id, client_order_id=client_order_id
                )
                if order.status is not OrderStatus.CANCELED:
                    raise
                return order  # canceled already: the cancel is done

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        symbol = self._known(symbol)
        self.market.sync(symbol)
        with _mapped():
            return self._engine.get(
                self.account, symbol, order_id=order_id, client_order_id=client_order_id
            )

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        symbol = self._known(symbol) if symbol else None
        self.market.sync(symbol)
        return self._engine.open_orders(self.account, symbol)

    async def recent_orders(self, symbol: str, limit: int = 50) -> list[Order]:
        """The newest `limit` orders, oldest first."""
        symbol = self._known(symbol)
        self.market.sync(symbol)
        return self._engine.orders(self.account, symbol)[-limit:]

    async def balances(self) -> list[Balance]:
        self.market.sync()
        return self._engine.balances(self.account)

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        """The newest `limit` fills, oldest first."""
        symbol = self._known(symbol)
        self.market.sync(symbol)
        return self._engine.fills(self.account, symbol)[-limit:]

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        """Oldest first from trade id `from_id` (inclusive): the engine's ids are sequential, as
        Binance's, and shared by every account (so one account's ids have gaps)."""
        if (from_id is not None and not from_id.isdigit()) or limit < 1:
            raise InvalidOrder("from_id is a trade id and limit positive", venue=self.venue)
        symbol = self._known(symbol)
        self.market.sync(symbol)
        fills, start = self._engine.fills(self.account, symbol), int(from_id or 0)
        return [f for f in fills if int(f.trade_id) >= start][:limit]

    def _known(self, symbol: str) -> str:
        with _mapped():
            return self._engine.key(symbol)

    def best(self, symbol: str, last: Decimal) -> tuple[Decimal, Decimal]:
        """Best bid and ask, half a spread either side of the last price, on the tick."""
        rules = self._engine.markets[symbol]
        bid = rules.quantise_price(last * (1 - _HALF_SPREAD), Side.BUY)
        ask = rules.quantise_price(last * (1 + _HALF_SPREAD), Side.SELL)
        return max(bid, rules.price_tick), max(ask, bid + rules.price_tick)

    def _quantised(self, request: OrderRequest) -> OrderRequest:
        """Onto the tick and lot step, as every adapter does before an order leaves."""
        rules = self._engine.markets[self._known(request.symbol)]
        changes: dict[str, Decimal] = {}
        if request.quantity is not None:
            changes["quantity"] = rules.quantise_quantity(request.quantity)
        if request.price is not None and request.type.has_limit_price:
            changes["price"] = rules.quantise_price(request.price, request.side)
        if request.stop_price is not None:  # triggering no later than asked, as on Binance
            changes["stop_price"] = rules.quantise_price(request.stop_price, request.side)
        return request.model_copy(update=changes)


@contextmanager
def _mapped() -> Iterator[None]:
    """Matching errors become the exchange taxonomy."""
    venue = Venue.PAPER.value
    try:
        yield
    except InsufficientFunds as e:
        raise InsufficientBalance(str(e), venue=venue) from e
    except RuleViolation as e:
        raise InvalidOrder(str(e), venue=venue, code=e.rule) from e
    except UnknownMarket as e:
        raise UnknownSymbol(f"unknown symbol {e}", venue=venue) from e
    except UnknownOrder as e:
        raise OrderNotFound(str(e), venue=venue) from e
    except OrderNotOpen as e:
        raise OrderNotCancelable(str(e), venue=venue) from e
    except NoPrice as e:
        raise TemporaryError(str(e), venue=venue) from e
    except MatchingError as e:
        raise InvalidOrder(str(e), venue=venue) from e


def build_paper_market(
    balances: Mapping[str, Mapping[str, Decimal]] | None = None,
    *,
    clock: Clock | None = None,
    data_dir: Path | None = None,
    history: timedelta = timedelta(days=7),
    fees: Fees = BINANCE_FEES,
    slippage: Decimal = SLIPPAGE,
    partial_fill_ratio: Decimal = Decimal(1),
    markets: tuple[tuple[MarketRules, str | tuple[int, Decimal]], ...] = DEFAULT_MARKETS,
    looping: bool = True,
    started_at: datetime | None = None,
) -> PaperMarket:
    """The paper venue with `balances` per account ({"alice": {"BRL": Decimal(1000)}}).

    Replays start `history` before now, so indicators find candles in the past. With `looping`
    (the default) a replay plays its data backwards when it runs out, then forwards again, with
    no jump at the turns, and mirrors likewise before it started; without it a replayed market
    holds its first open before its data and its last close after. Random walks move about 3% a
    day. `started_at` (default now) is where the walks start and the replays' `history` ends:
    processes that share one paper market give the same one, so they see the same prices."""
    clock = clock or (lambda: datetime.now(UTC))
    now = started_at if started_at is not None else clock()
    paths: dict[str, PricePath] = {}
    for rules, driver in markets:
        if isinstance(driver, str):
            candles = market_data.read_candles((data_dir or market_data.data_dir()) / driver)
            start = on_grid(candles, now - history)
            paths[rules.symbol] = CandleReplay(candles, started_at=start, looping=looping)
        else:
            seed, price = driver
            paths[rules.symbol] = RandomWalk(
                seed=seed,
                start_price=price,
                started_at=now,
                volatility=Decimal("0.0001"),  # ~3% a day at one step a second
                volume_per_step=rules.min_quantity * 10,
            )
    engine = MatchingEngine(
        [rules for rules, _ in markets],
        fees=fees,
        slippage=slippage,
        partial_fill_ratio=partial_fill_ratio,
    )
    for account, assets in (balances or {}).items():
        for asset, amount in assets.items():
            engine.deposit(account, asset, amount)
    return PaperMarket(engine, paths, clock)
