"""The simulated venue's state: accounts, markets on a market clock, the matching engine, the
public trade tape, limits and injected faults. Everything runs on the server's event loop."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.market import Fill, Side
from domain.matching import FeeAsset, Fees, MatchingEngine
from simulators.binance.config import AccountConfig, SimConfig
from simulators.binance.limits import OrderCounter, WeightLimiter
from simulators.binance.market import SymbolMarket
from simulators.binance.wire import BinanceError


class Fault(BaseModel):
    """An injected failure: the next `count` matching requests are delayed and/or answered
    with HTTP `status`, before or after the venue processed them."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = None  # e.g. "/api/v3/order"; None: any /api/ request
    method: str | None = None
    count: int = Field(default=1, ge=1)
    status: int | None = Field(default=None, ge=403, le=599)  # 403 (the WAF) or a 5xx
    delay_seconds: float = Field(default=0, ge=0, le=120)
    after_processing: bool = False  # the order is placed, the caller never hears of it

    @field_validator("status")
    @classmethod
    def _waf_or_server_error(cls, status: int | None) -> int | None:
        if status is not None and status != 403 and status < 500:
            raise ValueError("status must be 403 (the web application firewall) or a 5xx")
        return status

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or self.path == path) and (
            self.method is None or self.method.upper() == method
        )


@dataclass
class OrderMeta:
    """What Binance keeps about an order that the engine does not."""

    client_order_id: str
    time_in_force: str | None
    orig_quote_qty: Decimal
    expired: bool = False
    iceberg_qty: Decimal | None = None  # shown only when the order was sent with one


@dataclass
class TapeTrade:
    trade_id: int
    price: Decimal
    quantity: Decimal
    at_ms: int
    buyer_maker: bool


@dataclass
class Stats:
    requests: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    orders_placed: int = 0


class BinanceVenue:
    def __init__(self, config: SimConfig, *, wall: Callable[[], float] = time.time) -> None:
        self.config = config
        self._wall = wall
        started = datetime.fromtimestamp(wall(), tz=UTC)
        self.markets = {s.name: SymbolMarket.build(s, started) for s in config.symbols}
        self.by_domain = {m.config.domain_symbol: m for m in self.markets.values()}
        self.engine = MatchingEngine(
            (m.rules for m in self.markets.values()),
            Fees(maker=config.maker_fee, taker=config.taker_fee),
            slippage=config.slippage,
            partial_fill_ratio=config.partial_fill_ratio,
        )
        self.secrets: dict[str, str] = {}
        self.withdrawals: dict[str, bool] = {}  # per API key: may it withdraw?
        self.meta: dict[str, OrderMeta] = {}  # by engine order id
        # IOC/FOK stop orders still waiting: expired whatever their trigger leaves unfilled.
        self.immediate_stops: dict[str, tuple[str, str]] = {}  # order id -> (account, symbol)
        self._minute_closes: dict[str, dict[datetime, Decimal]] = {}  # closed 1m klines' closes
        self.tape: dict[str, list[TapeTrade]] = {name: [] for name in self.markets}
        self.weights = WeightLimiter(
            config.weight_limit, config.weight_window_seconds, config.ban_after, config.ban_seconds
        )
        self.order_counter = OrderCounter(config.orders_per_10s, config.orders_per_day)
        self.faults: list[Fault] = []
        # When each market asked for so far may next move, as a heap and by name: a request
        # reprices only the markets whose time came (prices are computed lazily).
        self._due: list[tuple[datetime, str]] = []
        self._scheduled: dict[str, datetime] = {}
        self.stats = Stats()
        # Called after anything may have changed orders, fills or balances (the streams).
        self.listeners: list[Callable[[], None]] = []
        self.offset_ms = 0
        self._speed = config.clock_speed
        self._anchor_wall = wall()
        self._anchor_market = self._anchor_wall
        for account in config.accounts:
            self.add_account(account)

    # -- clocks -----------------------------------------------------------------------------

    def server_time(self) -> float:
        """Seconds; what /api/v3/time answers and signed requests are checked against."""
        return self._wall() + self.offset_ms / 1000

    def server_ms(self) -> int:
        return int(self.server_time() * 1000)

    def server_us(self) -> int:
        return int(self.server_time() * 1_000_000)

    def server_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.server_time(), tz=UTC)

    @property
    def speed(self) -> float:
        return self._speed

    def market_now(self) -> datetime:
        """The clock prices and klines run on: the wall clock, sped up and advanced on demand."""
        seconds = self._anchor_market + (self._wall() - self._anchor_wall) * self._speed
        return datetime.fromtimestamp(seconds, tz=UTC)

    def set_clock(
        self,
        *,
        speed: float | None = None,
        offset_ms: int | None = None,
        advance_seconds: float | None = None,
    ) -> None:
        now_wall = self._wall()
        self._anchor_market = self.market_now().timestamp() + (advance_seconds or 0)
        self._anchor_wall = now_wall
        if speed is not None:
            if speed <= 0:
                raise ValueError("speed must be positive")
            self._speed = speed
        if offset_ms is not None:
            self.offset_ms = offset_ms
        self.sync()

    # -- markets ----------------------------------------------------------------------------

    def market(self, name: str) -> SymbolMarket:
        """The market, priced on first use (orders can only rest in markets asked for)."""
        try:
            market = self.markets[name]
        except KeyError:
            raise BinanceError(-1121, "Invalid symbol.") from None
        if market.synced_at is None:
            self._catch_up(market, self.market_now())
        return market

    def sync(self) -> None:
        """Bring every market asked for so far to the market clock: the path's low and high
        since the last sync, then its price now, so resting orders the path touched in between
        fill. Only markets whose path may have moved since are visited."""
        now = self.market_now()
        while self._due and self._due[0][0] <= now:
            when, name = heapq.heappop(self._due)
            if self._scheduled.get(name) == when:  # else a stale entry, rescheduled since
                del self._scheduled[name]
                self._catch_up(self.markets[name], now)

    def _catch_up(self, market: SymbolMarket, now: datetime) -> None:
        first = market.synced_at is None  # the engine has no price for it yet
        for price in market.advance(now):
            self._move(market, price, force=first)
        self._schedule(market)

    def _schedule(self, market: SymbolMarket) -> None:
        name, when = market.config.name, market.next_change()
        if when is None:
            self._scheduled.pop(name, None)
        elif self._scheduled.get(name) != when:
            self._scheduled[name] = when
            heapq.heappush(self._due, (when, name))

    def set_price(self, name: str, price: Decimal | None) -> int:
        """Pin a price (None: follow the path again). Every call is one crossing update (one
        partial-fill step), even at an unchanged price. Returns how many fills it caused."""
        market = self.market(name)
        market.pin(None if price is None else market.tick(price), self.market_now())
        self._schedule(market)
        fills = self._move(market, market.price_at(self.market_now()), force=True)
        self.changed()
        return fills

    def _move(self, market: SymbolMarket, price: Decimal, *, force: bool = False) -> int:
        if not force and self.engine.price(market.rules.symbol) == price:
            return 0
        at = self.server_datetime()
        fills = self.engine.set_price(market.rules.symbol, price, at)
        self.record(fills)
        self._expire_triggered(at)
        return len(fills)

    @property
    def maker_trades(self) -> set[str]:
        return self.engine.maker_trades

    def _expire_triggered(self, at: datetime) -> None:
        for order_id, (account, symbol) in list(self.immediate_stops.items()):
            if self.engine.working_since(account, symbol, order_id) is None:
                continue
            del self.immediate_stops[order_id]
            if not self.engine.get(account, symbol, order_id=order_id).status.is_final:
                self.engine.cancel(account, symbol, order_id=order_id, at=at)
                self.meta[order_id].expired = True

    def average_price(self, name: str) -> Decimal:
        """The average price PERCENT_PRICE_BY_SIDE checks against: of the closes of the last
        avgPriceMins 1m klines, as /api/v3/avgPrice computes it, the open one closing at the
        last price (0 minutes: the last price). A closed minute is computed once."""
        market = self.market(name)
        last = self.price(name)
        closes = [last]
        now = self.market_now()
        opened = now.replace(second=0, microsecond=0)
        cached = self._minute_closes.setdefault(name, {})
        for _ in range(market.config.avg_price_mins - 1):
            opened -= timedelta(minutes=1)
            if opened not in cached:
                rows = market.klines("1m", now, start=opened, end=opened, limit=1)
                if not rows:  # before the market was listed
                    break
                cached[opened] = rows[0].candle.close
            closes.append(cached[opened])
        for stale in [at for at in cached if at < opened]:
            del cached[stale]
        return sum(closes, Decimal(0)) / len(closes)

    def changed(self) -> None:
        for listener in self.listeners:
            listener()

    def price(self, name: str) -> Decimal:
        return self.engine.price(self.market(name).rules.symbol)

    def record(self, fills: list[Fill]) -> None:
        """Append fills to the public trade tape (the counterparty is the simulated market)."""
        for fill in fills:
            name = fill.symbol.replace("-", "")
            maker = fill.trade_id in self.maker_trades
            self.tape[name].append(
                TapeTrade(
                    trade_id=int(fill.trade_id),
                    price=fill.price,
                    quantity=fill.quantity,
                    at_ms=int(fill.at.timestamp() * 1000),
                    # The buyer was the maker when our resting buy filled, or our taker sold.
                    buyer_maker=(fill.side is Side.BUY) == maker,
                )
            )

    # -- accounts ---------------------------------------------------------------------------

    def add_account(self, account: AccountConfig) -> None:
        if account.api_key in self.secrets:
            raise ValueError(f"account {account.api_key} exists")
        self.secrets[account.api_key] = account.secret
        self.withdrawals[account.api_key] = account.enable_withdrawals
        self.pay_fees_in_bnb(account.api_key, account.fees_in_bnb)
        for asset, amount in account.balances.items():
            if amount > 0:
                self.engine.deposit(account.api_key, asset, amount)

    def pay_fees_in_bnb(self, api_key: str, enabled: bool) -> None:
        """Binance's spotBNBBurn. The markets that price BNB are brought live, so the engine
        has a price to convert fees at."""
        fee_asset = FeeAsset("BNB", self.config.bnb_discount) if enabled else None
        self.engine.pay_fees_in(api_key, fee_asset)
        for name, market in self.markets.items():
            if enabled and "BNB" in (market.config.base, market.config.quote):
                self.market(name)

    def deposit(self, api_key: str, asset: str, amount: Decimal) -> None:
        if api_key not in self.secrets:
            raise KeyError(api_key)
        self.engine.deposit(api_key, asset.upper(), amount)

    # -- faults -----------------------------------------------------------------------------

    def take_fault(self, method: str, path: str, *, after_processing: bool) -> Fault | None:
        for fault in self.faults:
            if fault.after_processing == after_processing and fault.matches(method, path):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None
