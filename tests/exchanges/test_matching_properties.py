"""Properties of the matching engine over generated markets, orders and event sequences."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.market import MarketRules, OrderRequest, OrderType, Side, Symbol
from domain.matching import FeeAsset, Fees, MatchingEngine, MatchingError, WouldTrigger

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal
ACCOUNTS = ("a", "b")
MARKETS = (
    MarketRules(
        symbol="BTC-BRL",
        price_tick=D("1"),
        lot_step=D("0.00001"),
        min_quantity=D("0.00001"),
        min_notional=D(10),
    ),
    MarketRules(
        symbol="TRX-BTC",
        price_tick=D("0.00000001"),
        lot_step=D(1),
        min_quantity=D(1),
        min_notional=D("0.0001"),
    ),
    MarketRules(  # prices BNB, in which an account may pay its fees
        symbol="BNB-BRL",
        price_tick=D("0.1"),
        lot_step=D("0.001"),
        min_quantity=D("0.001"),
        min_notional=D(10),
    ),
)
LEVELS = {"BTC-BRL": D(300_000), "TRX-BTC": D("0.00000123"), "BNB-BRL": D(3000)}


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(D(low), D(high), places=places, allow_nan=False, allow_infinity=False)


rules_strategy = st.builds(
    lambda tick, lot, minimum, notional: MarketRules(
        symbol="X-Y",
        price_tick=tick,
        lot_step=lot,
        min_quantity=lot * minimum,
        min_notional=notional,
    ),
    st.sampled_from([D(1), D("0.01"), D("0.000001"), D("0.00000001")]),
    st.sampled_from([D(1), D("0.001"), D("0.00001"), D("0.00000001")]),
    st.integers(1, 10),
    st.sampled_from([D(0), D("0.0001"), D(10)]),
)


@settings(max_examples=300, deadline=None)
@given(
    rules=rules_strategy,
    ticks=st.integers(1, 10**12),
    jitter=decimals("0", "0.9999", 4),
    size=decimals("1", "1000", 4),
    side=st.sampled_from(Side),
    last=decimals("0.00000001", "1000000", 8),
)
def test_an_order_quantised_to_the_rules_that_passes_violation_is_accepted(
    rules: MarketRules,
    ticks: int,
    jitter: Decimal,
    size: Decimal,
    side: Side,
    last: Decimal,
) -> None:
    # Raw values off the grid, from about the smallest acceptable order upwards.
    raw_price = (ticks + jitter) * rules.price_tick
    raw_quantity = max(rules.min_quantity, rules.min_notional / raw_price) * size
    price = rules.quantise_price(raw_price, side)
    quantity = rules.quantise_quantity(raw_quantity)
    assume(rules.violation(quantity, price) is None)
    engine = MatchingEngine([rules], Fees(maker=D("0.001"), taker=D("0.002")))
    if side is Side.BUY:
        engine.deposit("a", "Y", quantity * price)
    else:
        engine.deposit("a", "X", quantity)
    engine.set_price("X-Y", last, T0)
    request = OrderRequest(
        client_order_id="q",
        symbol="X-Y",
        side=side,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )
    order = engine.place("a", request, T0)
    assert (order.quantity, order.price) == (quantity, price)
    assert all(b.free >= 0 and b.locked >= 0 for b in engine.balances("a"))


# -- random event sequences ---------------------------------------------------------------------

UNITS = {"BRL": D(1), "BTC": D("0.0001"), "TRX": D(10), "BNB": D("0.001")}
TYPES = {
    "limit": OrderType.LIMIT,
    "maker": OrderType.LIMIT_MAKER,
    "stop": OrderType.STOP_LOSS_LIMIT,
    "market": OrderType.MARKET,
    "cost": OrderType.MARKET,
}


@dataclass(frozen=True)
class Deposit:
    account: str
    asset: str
    units: int

    @property
    def amount(self) -> Decimal:
        return self.units * UNITS[self.asset]


@dataclass(frozen=True)
class Move:
    symbol: str
    permille: int  # from the market's level


@dataclass(frozen=True)
class Place:
    account: str
    symbol: str
    side: Side
    how: str  # a TYPES key: cost is a market order by quote quantity
    lots: int
    permille: int  # limit price offset from the market's level


@dataclass(frozen=True)
class Cancel:
    account: str
    index: int


@dataclass(frozen=True)
class PayInBnb:
    account: str
    on: bool


Event = Deposit | Move | Place | Cancel | PayInBnb
accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(list(LEVELS))
events = st.lists(
    st.one_of(
        st.builds(Deposit, accounts, st.sampled_from(list(UNITS)), st.integers(1, 10**6)),
        st.builds(Move, symbols, st.integers(-200, 200)),
        st.builds(
            Place,
            accounts,
            symbols,
            st.sampled_from(Side),
            st.sampled_from(list(TYPES)),
            st.integers(1, 5000),
            st.integers(-100, 100),
        ),
        st.builds(Cancel, accounts, st.integers(0, 30)),
        st.builds(PayInBnb, accounts, st.booleans()),
    ),
    max_size=60,
)


def level_price(rules: MarketRules, permille: int) -> Decimal:
    raw = LEVELS[rules.symbol] * (1 + D(permille) / 1000)
    return max(rules.quantise_price(raw, Side.BUY), rules.price_tick)


def apply(engine: MatchingEngine, event: Event, step: int) -> None:
    match event:
        case Deposit():
            engine.deposit(event.account, event.asset, event.amount)
        case Move():
            engine.set_price(
                event.symbol, level_price(engine.markets[event.symbol], event.permille), T0
            )
        case Place():
            rules = engine.markets[event.symbol]
            quantity = rules.lot_step * event.lots * (1 if event.symbol == "TRX-BTC" else 10)
            kind = TYPES[event.how]
            price = level_price(rules, event.permille) if kind.has_limit_price else None
            stop = price if kind is OrderType.STOP_LOSS_LIMIT else None
            if stop is not None:  # a limit 1% past the stop: taker or maker once triggered
                price = level_price(rules, event.permille + (10 if event.side is Side.BUY else -10))
            request = OrderRequest(
                client_order_id=f"c{step}",
                symbol=event.symbol,
                side=event.side,
                type=kind,
                quantity=quantity if event.how != "cost" else None,
                quote_quantity=quantity * LEVELS[event.symbol] if event.how == "cost" else None,
                price=price,
                stop_price=stop,
            )
            engine.place(event.account, request, T0)
        case PayInBnb():
            bnb = FeeAsset("BNB", D("0.25")) if event.on else None
            engine.pay_fees_in(event.account, bnb)
        case Cancel():
            orders = engine.open_orders(event.account)
            if orders:
                chosen = orders[event.index % len(orders)]
                engine.cancel(event.account, chosen.symbol, order_id=chosen.order_id, at=T0)


def assert_invariants(engine: MatchingEngine, deposits: dict[tuple[str, str], Decimal]) -> None:
    """Per account and asset: free + locked == deposits + received - paid - fees (from the
    fills, each fee in its own asset), locked == what open orders (waiting stops too) still
    hold, nothing negative."""
    for account in ACCOUNTS:
        expected: dict[str, Decimal] = defaultdict(Decimal)
        locked: dict[str, Decimal] = defaultdict(Decimal)
        for (who, asset), amount in deposits.items():
            if who == account:
                expected[asset] += amount
        for symbol in LEVELS:
            base, quote = Symbol.parse(symbol).base, Symbol.parse(symbol).quote
            for fill in engine.fills(account, symbol):
                sign = 1 if fill.side is Side.BUY else -1
                expected[base] += sign * fill.quantity
                expected[quote] -= sign * fill.quantity * fill.price
                expected[fill.fee_asset] -= fill.fee
            charged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
            for fill in engine.fills(account, symbol):
                charged[(fill.order_id, fill.fee_asset)] += fill.fee
            for order in engine.orders(account, symbol):  # every asset an order paid in
                assert order.fees == {
                    asset: fee for (oid, asset), fee in charged.items() if oid == order.order_id
                }
        for order in engine.open_orders(account):
            base, quote = Symbol.parse(order.symbol).base, Symbol.parse(order.symbol).quote
            rest = order.quantity - order.filled_quantity
            assert order.price is not None
            if order.side is Side.BUY:
                locked[quote] += rest * order.price
            else:
                locked[base] += rest
        balances = {b.asset: b for b in engine.balances(account)}
        for asset, b in balances.items():
            assert b.free >= 0 and b.locked >= 0, (account, b)
            assert b.free + b.locked == expected[asset], (account, asset)
            assert b.locked == locked[asset], (account, asset)
        assert all(expected[a] == 0 for a in expected if a not in balances)


# Prices and funds from the start (when drawn, placements are mostly accepted), or nothing.
PREAMBLE: list[Event] = [
    *(Move(symbol, 0) for symbol in LEVELS),
    *(Deposit(account, asset, 10**6) for account in ACCOUNTS for asset in UNITS),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=events,
    funded=st.booleans(),
    ratio=st.sampled_from([D(1), D("0.5"), D("0.3")]),
    slippage=st.sampled_from([D(0), D("0.001"), D("0.01")]),
)
def test_random_event_sequences_keep_balances_conserved_and_non_negative(
    sequence: list[Event], funded: bool, ratio: Decimal, slippage: Decimal
) -> None:
    if funded:
        sequence = PREAMBLE + sequence
    engine = MatchingEngine(
        MARKETS,
        Fees(maker=D("0.003"), taker=D("0.007")),
        slippage=slippage,
        partial_fill_ratio=ratio,
    )
    deposits: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for step, event in enumerate(sequence):
        try:
            apply(engine, event, step)
        except MatchingError:
            pass  # a refusal must change nothing: the invariants below would catch it
        else:
            if isinstance(event, Deposit):
                deposits[(event.account, event.asset)] += event.amount
        assert_invariants(engine, deposits)


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from(Side),
    stop_permille=st.integers(-150, 150),
    limit_offset=st.integers(-20, 20),
    moves=st.lists(st.integers(-200, 200), max_size=12),
    ratio=st.sampled_from([D(1), D("0.5")]),
)
def test_a_stop_order_works_from_the_first_price_that_reaches_its_stop(
    side: Side, stop_permille: int, limit_offset: int, moves: list[int], ratio: Decimal
) -> None:
    """Waiting, it never fills; it works from the first price at or past its stop (a buy's
    from below, a sell's from above), or is refused if the price is already there."""
    engine = MatchingEngine(
        MARKETS, Fees(maker=D("0.003"), taker=D("0.007")), partial_fill_ratio=ratio
    )
    deposits: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for step, event in enumerate(PREAMBLE):
        apply(engine, event, step)
        if isinstance(event, Deposit):
            deposits[(event.account, event.asset)] += event.amount
    rules = engine.markets["BTC-BRL"]
    stop = level_price(rules, stop_permille)
    request = OrderRequest(
        client_order_id="stop",
        symbol="BTC-BRL",
        side=side,
        type=OrderType.STOP_LOSS_LIMIT,
        quantity=D("0.01"),
        price=level_price(rules, stop_permille + limit_offset),
        stop_price=stop,
    )
    reached = (lambda p: p >= stop) if side is Side.BUY else (lambda p: p <= stop)
    if reached(engine.price("BTC-BRL")):
        with pytest.raises(WouldTrigger):
            engine.place("a", request, T0)
        return
    order = engine.place("a", request, T0)
    first: datetime | None = None
    for second, permille in enumerate(moves, start=1):
        at = T0 + timedelta(seconds=second)
        price = level_price(rules, permille)
        engine.set_price("BTC-BRL", price, at)
        if first is None and reached(price):
            first = at
        fills = [f for f in engine.fills("a", "BTC-BRL") if f.order_id == order.order_id]
        assert first is not None or not fills
        assert all(f.at >= first for f in fills if first is not None)
        assert_invariants(engine, deposits)
    assert engine.working_since("a", "BTC-BRL", order.order_id) == first
