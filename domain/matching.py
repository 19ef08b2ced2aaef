"""The matching rules shared by the Binance and Mercado Bitcoin simulators and the paper venue.

Orders never meet each other: they trade against a price path that the caller moves with
`set_price`. Market orders fill at once at the last price ± slippage (buys up, sells down) as
takers; limit orders that are marketable on entry fill at once as takers (never worse than their
limit); other limit orders rest and fill at their limit price as makers when the price crosses
them, at most `partial_fill_ratio` of what remains per crossing update. A post-only
(`LIMIT_MAKER`) order that would take on entry is refused (`WouldTake`). A `STOP_LOSS_LIMIT`
order waits, funds locked, until the last price reaches its stop (a buy's from below, a sell's
from above; one already there is refused, `WouldTrigger`), then works as a limit order: a
taker at once if marketable at that price, else a resting maker.

Money: balances move free -> locked on entry, are settled on every fill, and a cancel releases
what is still locked. Fees are charged in the received asset (base on a buy, quote on a sell),
or, for an account set to `pay_fees_in` an asset (Binance's BNB) that holds enough of it, in that
asset at the engine's price for it, discounted. Fill quantities sit on the lot step and fill
prices on the tick, so quote amounts (quantity x price) and fees (amount x rate) are exact
decimals, computed in a wide context; a converted fee is rounded to `FEE_QUANTUM`.

Pure and deterministic: no I/O, no clock (times are passed in), ids are sequential per engine.
Per account and asset, free + locked always equals deposits + what fills received - what fills
paid - fees, and nothing is ever negative (property-tested).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from domain.market import (
    Balance,
    Fill,
    MarketRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Symbol,
)
from domain.matching_state import (
    AccountState,
    DuplicateClientOrderId,
    FeeAsset,
    Fees,
    InsufficientFunds,
    InvalidRequest,
    MatchingError,
    NoPrice,
    OrderNotOpen,
    OrderState,
    RuleViolation,
    UnknownMarket,
    UnknownOrder,
    Wallet,
    WouldTake,
    WouldTrigger,
    assets,
    best,
    converted_fee,
    marketable,
    triggered,
)

# The refusals and settings live in matching_state; callers import them from here.
__all__ = [
    "AccountState",
    "DuplicateClientOrderId",
    "FeeAsset",
    "Fees",
    "InsufficientFunds",
    "InvalidRequest",
    "MatchingEngine",
    "MatchingError",
    "NoPrice",
    "OrderNotOpen",
    "RuleViolation",
    "UnknownMarket",
    "UnknownOrder",
    "WouldTake",
    "WouldTrigger",
]

# Wide enough that products of 8-decimal quantities, prices and fee rates never round.
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_ZERO = Decimal(0)


class MatchingEngine:
    def __init__(
        self,
        markets: Iterable[MarketRules],
        fees: Fees,
        slippage: Decimal = _ZERO,
        partial_fill_ratio: Decimal = Decimal(1),
    ) -> None:
        if not _ZERO <= slippage < 1:
            raise ValueError("slippage must be in [0, 1)")
        if not _ZERO < partial_fill_ratio <= 1:
            raise ValueError("partial_fill_ratio must be in (0, 1]")
        self.markets: dict[str, MarketRules] = {str(Symbol.parse(m.symbol)): m for m in markets}
        self.fees = fees
        self.slippage = slippage
        self.partial_fill_ratio = partial_fill_ratio
        self._prices: dict[str, Decimal] = {}
        self._wallets: dict[str, dict[str, Wallet]] = {}
        self._orders: dict[str, list[OrderState]] = {}  # by account, oldest first
        # The same orders by account and client order id (oldest first: an id may be reused
        # once final), and by account and venue id: a lookup never walks an account's history.
        self._by_client: dict[str, dict[str, list[OrderState]]] = {}
        self._by_id: dict[str, dict[str, OrderState]] = {}
        self._resting: dict[str, list[OrderState]] = {}  # open limit orders by symbol
        self._stops: dict[str, list[OrderState]] = {}  # stop orders waiting, by symbol
        self._fee_assets: dict[str, FeeAsset] = {}  # by account
        self.maker_trades: set[str] = set()  # trade ids of resting orders' fills
        self._fills: dict[tuple[str, str], list[Fill]] = {}
        self._next_order = 0
        self._next_trade = 0

    # -- balances --------------------------------------------------------------------------

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        if amount <= 0:
            raise ValueError("deposit amount must be positive")
        with localcontext(_CONTEXT):
            self._wallet(account, asset).free += amount

    def pay_fees_in(self, account: str, fee_asset: FeeAsset | None) -> None:
        """From the next fill on, charge this account's fees in `fee_asset` (None: in the
        received asset)."""
        if fee_asset is None:
            self._fee_assets.pop(account, None)
        else:
            self._fee_assets[account] = fee_asset

    def fee_asset(self, account: str) -> FeeAsset | None:
        return self._fee_assets.get(account)

    def balances(self, account: str) -> list[Balance]:
        wallets = self._wallets.get(account, {})
        return [
            # `or` turns an exact zero such as 0E-10 into a plain 0.
            Balance(asset=asset, free=w.free or _ZERO, locked=w.locked or _ZERO)
            for asset, w in sorted(wallets.items())
        ]

    # -- market ----------------------------------------------------------------------------

    def price(self, symbol: str) -> Decimal:
        key = self.key(symbol)
        try:
            return self._prices[key]
        except KeyError:
            raise NoPrice(f"no price yet for {key}") from None

    def set_price(self, symbol: str, price: Decimal, at: datetime) -> list[Fill]:
        key = self.key(symbol)
        rules = self.markets[key]
        if price <= 0:
            raise ValueError("price must be positive")
        self._prices[key] = price
        fills: list[Fill] = []
        with localcontext(_CONTEXT):
            for order in list(self._resting.get(key, [])):
                assert order.price is not None  # only limit orders rest
                crossed = price <= order.price if order.side is Side.BUY else price >= order.price
                if crossed:
                    quantity = self._portion(rules, order.remaining)
                    fill = self._fill(order, quantity, order.price, self.fees.maker, at)
                    self.maker_trades.add(fill.trade_id)
                    fills.append(fill)
            for order in list(self._stops.get(key, [])):
                assert order.stop_price is not None and order.price is not None
                if triggered(order.side, order.stop_price, price):
                    self._stops[key].remove(order)
                    order.working_since = order.updated_at = at
                    if marketable(order.side, order.price, price):
                        taker = best(
                            order.side, self._taker_price(rules, order.side, price), order.price
                        )
                        fills.append(self._fill(order, order.remaining, taker, self.fees.taker, at))
                    else:
                        self._resting.setdefault(key, []).append(order)
        return fills

    # -- orders ----------------------------------------------------------------------------

    def place(self, account: str, request: OrderRequest, at: datetime) -> Order:
        symbol = self.key(request.symbol)
        rules = self.markets[symbol]
        same_id = self._by_client.get(account, {}).get(request.client_order_id, [])
        if any(not o.status.is_final for o in same_id):
            raise DuplicateClientOrderId(request.client_order_id)
        with localcontext(_CONTEXT):
            quantity, limit, taker_price = self._terms(symbol, rules, request)
            if quantity <= 0:
                raise RuleViolation("quantity_range")
            check_price = limit if limit is not None else taker_price
            assert check_price is not None
            rule = rules.violation(quantity, check_price)
            if rule:
                raise RuleViolation(rule)
            base, quote = assets(symbol)
            lock_price = limit if limit is not None else check_price
            paid, lock = (
                (quote, quantity * lock_price) if request.side is Side.BUY else (base, quantity)
            )
            stop = request.stop_price
            if stop is not None and triggered(request.side, stop, self.price(symbol)):
                raise WouldTrigger(f"{symbol} is already at the stop {stop}")
            if request.type is OrderType.LIMIT_MAKER and taker_price is not None:
                raise WouldTake(f"{symbol}: {request.price} would take at once")
            free = self._wallets.get(account, {}).get(paid, Wallet()).free  # refusals add nothing
            if free < lock:
                raise InsufficientFunds(f"{paid}: need {lock}, free {free}")
            wallet = self._wallet(account, paid)
            wallet.free -= lock
            wallet.locked += lock
            self._next_order += 1
            order = OrderState(
                account=account,
                order_id=str(self._next_order),
                client_order_id=request.client_order_id,
                symbol=symbol,
                side=request.side,
                type=request.type,
                quantity=quantity,
                price=limit,
                lock_price=lock_price,
                created_at=at,
                stop_price=stop,
                working_since=None if stop is not None else at,
                locked=lock,
            )
            self._orders.setdefault(account, []).append(order)
            self._track(order)
            if stop is not None:
                self._stops.setdefault(symbol, []).append(order)
            elif taker_price is not None:
                self._fill(order, quantity, taker_price, self.fees.taker, at)
            else:
                self._resting.setdefault(symbol, []).append(order)
        return order.snapshot()

    def cancel(
        self,
        account: str,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        at: datetime,
    ) -> Order:
        order = self._find(account, symbol, order_id, client_order_id)
        if order.status.is_final:
            raise OrderNotOpen(f"order {order.order_id} is {order.status}")
        with localcontext(_CONTEXT):
            wallet = self._wallet(account, self._paid_asset(order))
            wallet.locked -= order.locked
            wallet.free += order.locked
        order.locked = _ZERO
        order.status = OrderStatus.CANCELED
        order.updated_at = at
        waiting = self._stops if order.working_since is None else self._resting
        waiting[order.symbol].remove(order)
        return order.snapshot()

    def working_since(self, account: str, symbol: str, order_id: str) -> datetime | None:
        """When the order began to work: its placement, a stop order's trigger, or None while
        a stop order still waits."""
        return self._find(account, symbol, order_id, None).working_since

    def get(
        self,
        account: str,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        return self._find(account, symbol, order_id, client_order_id).snapshot()

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        wanted = self.key(symbol) if symbol else None
        return [
            o.snapshot()
            for o in self._orders.get(account, [])
            if not o.status.is_final and (wanted is None or o.symbol == wanted)
        ]

    def orders(self, account: str, symbol: str) -> list[Order]:
        wanted = self.key(symbol)
        return [o.snapshot() for o in self._orders.get(account, []) if o.symbol == wanted]

    def orders_from(self, account: str, index: int) -> list[Order]:
        """The account's orders placed after its first `index`, oldest first."""
        return [o.snapshot() for o in self._orders.get(account, [])[index:]]

    def fills(self, account: str, symbol: str) -> list[Fill]:
        return list(self._fills.get((account, self.key(symbol)), []))

    # -- an account kept elsewhere -----------------------------------------------------------

    def restore(self, account: str, state: AccountState) -> None:
        """Load `account` from a store: its wallets and open orders (oldest first; a stop order
        not yet `working_since` waits for its stop, the others rest), ids continuing from the
        state's counters. From then on the engine's own rules apply to it (one implementation
        of matching, whether the state lives here or in a database)."""
        self._wallets[account] = state.wallets
        self._orders[account] = state.orders
        self._by_client[account], self._by_id[account] = {}, {}
        for order in state.orders:
            self._track(order)
            if not order.status.is_final:
                waiting = self._stops if order.working_since is None else self._resting
                waiting.setdefault(order.symbol, []).append(order)
        self._next_order, self._next_trade = state.next_order, state.next_trade

    def state(self, account: str) -> AccountState:
        """`account` as it is now, to write back: the restored objects, changed in place, and
        the new orders; the fills made since `restore`, oldest first; the id counters."""
        fills = [f for (owner, _), made in self._fills.items() if owner == account for f in made]
        return AccountState(
            self._wallets.get(account, {}),
            self._orders.get(account, []),
            sorted(fills, key=lambda fill: int(fill.trade_id)),
            self._next_order,
            self._next_trade,
        )

    # -- internals -------------------------------------------------------------------------

    def key(self, symbol: str) -> str:
        """The normalised ``BASE-QUOTE`` of a known market (`UnknownMarket` otherwise)."""
        if symbol in self.markets:  # already normalised: the hot path of every price read
            return symbol
        try:
            key = str(Symbol.parse(symbol))
        except ValueError:
            raise UnknownMarket(symbol) from None
        if key not in self.markets:
            raise UnknownMarket(symbol)
        return key

    def _wallet(self, account: str, asset: str) -> Wallet:
        return self._wallets.setdefault(account, {}).setdefault(asset, Wallet())

    def _terms(
        self, symbol: str, rules: MarketRules, request: OrderRequest
    ) -> tuple[Decimal, Decimal | None, Decimal | None]:
        """(quantity, limit price, taker fill price or None if the order rests or waits)."""
        if request.type.has_limit_price:
            if request.price is None or request.quantity is None or request.quote_quantity:
                raise InvalidRequest("a limit order needs quantity and price, no quote_quantity")
            last = self._prices.get(symbol)
            waits = request.type is OrderType.STOP_LOSS_LIMIT
            if waits or last is None or not marketable(request.side, request.price, last):
                return request.quantity, request.price, None
            taker = self._taker_price(rules, request.side, last)
            return request.quantity, request.price, best(request.side, taker, request.price)
        if request.price is not None or (request.quantity is None) == (
            request.quote_quantity is None
        ):
            raise InvalidRequest("a market order needs exactly one of quantity, quote_quantity")
        taker = self._taker_price(rules, request.side, self.price(symbol))
        if request.quantity is not None:
            return request.quantity, None, taker
        assert request.quote_quantity is not None
        return rules.quantise_quantity(request.quote_quantity / taker), None, taker

    def _taker_price(self, rules: MarketRules, side: Side, last: Decimal) -> Decimal:
        """Last price moved against the taker by the slippage, onto the tick (at least one)."""
        if side is Side.BUY:
            return rules.quantise_price(last * (1 + self.slippage), Side.SELL)  # rounds up
        return max(rules.quantise_price(last * (1 - self.slippage), Side.BUY), rules.price_tick)

    def _portion(self, rules: MarketRules, remaining: Decimal) -> Decimal:
        """What one crossing update fills: the ratio of the rest, at least one lot step."""
        if self.partial_fill_ratio == 1:
            return remaining
        part = rules.quantise_quantity(remaining * self.partial_fill_ratio)
        return min(max(part, rules.lot_step), remaining)

    def _paid_asset(self, order: OrderState) -> str:
        base, quote = assets(order.symbol)
        return quote if order.side is Side.BUY else base

    def _fill(
        self, order: OrderState, quantity: Decimal, price: Decimal, rate: Decimal, at: datetime
    ) -> Fill:
        base, quote = assets(order.symbol)
        amount = quantity * price
        if order.side is Side.BUY:
            released = quantity * order.lock_price
            paying, receiving = (
                self._wallet(order.account, quote),
                self._wallet(order.account, base),
            )
            received, fee_asset = quantity, base
        else:
            released = quantity
            paying, receiving = (
                self._wallet(order.account, base),
                self._wallet(order.account, quote),
            )
            received, fee_asset = amount, quote
        fee = received * rate
        other = self._fee_elsewhere(order, fee, fee_asset, price)
        paying.locked -= released
        if order.side is Side.BUY:
            paying.free += released - amount  # a buy filled below its lock price gets the change
        if other is not None:
            fee_asset, fee = other
            self._wallet(order.account, fee_asset).free -= fee
            receiving.free += received
        else:
            receiving.free += received - fee
        order.locked -= released
        order.filled += quantity
        order.quote += amount
        order.fees[fee_asset] = order.fees.get(fee_asset, _ZERO) + fee
        order.updated_at = at
        if order.remaining == 0:
            order.status = OrderStatus.FILLED
            if order in self._resting.get(order.symbol, []):
                self._resting[order.symbol].remove(order)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        self._next_trade += 1
        fill = Fill(
            trade_id=str(self._next_trade),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=quantity,
            fee=fee,
            fee_asset=fee_asset,
            at=at,
        )
        self._fills.setdefault((order.account, order.symbol), []).append(fill)
        return fill

    def _fee_elsewhere(
        self, order: OrderState, fee: Decimal, fee_asset: str, price: Decimal
    ) -> tuple[str, Decimal] | None:
        """(asset, fee) when the account pays in its fee asset and holds enough of it."""
        chosen = self._fee_assets.get(order.account)
        if chosen is None or fee == 0:
            return None
        charged = converted_fee(chosen, self._prices, fee, fee_asset, order.symbol, price)
        if charged is None or self._wallet(order.account, chosen.asset).free < charged:
            return None
        return chosen.asset, charged

    def _track(self, order: OrderState) -> None:
        self._by_client.setdefault(order.account, {}).setdefault(order.client_order_id, []).append(
            order
        )
        self._by_id.setdefault(order.account, {})[order.order_id] = order

    def _find(
        self, account: str, symbol: str, order_id: str | None, client_order_id: str | None
    ) -> OrderState:
        if order_id is None and client_order_id is None:
            raise InvalidRequest("give order_id or client_order_id")
        wanted = self.key(symbol)
        if client_order_id is not None:
            candidates = self._by_client.get(account, {}).get(client_order_id, [])
        else:
            assert order_id is not None
            found = self._by_id.get(account, {}).get(order_id)
            candidates = [] if found is None else [found]
        # Newest first: a client id may be reused once its earlier order is final.
        for order in reversed(candidates):
            if order.symbol != wanted:
                continue
            if order_id is not None and order.order_id != order_id:
                continue
            if client_order_id is not None and order.client_order_id != client_order_id:
                continue
            return order
        raise UnknownOrder(f"no order {order_id or client_order_id} for {account} on {wanted}")
