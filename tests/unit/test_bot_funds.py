"""A bot's fund ledger: each transition and each refusal, table-driven (random event sequences:
test_bot_funds_properties.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.bots.funds import (
    BotFunds,
    DuplicateOrder,
    FundsError,
    InsufficientFunds,
    InsufficientPosition,
    InvalidEvent,
    OverFill,
    UnknownOrder,
)
from domain.market import Fill, OrderRequest, OrderType, Side

D = Decimal
SYMBOL = "BTC-BRL"
AT = datetime(2026, 12, 7, tzinfo=UTC)


def buy(cid: str, quantity: str | None = None, price: str | None = None,
        quote: str | None = None, reserve: str | None = None) -> tuple[Any, ...]:  # fmt: skip
    kind = OrderType.LIMIT if price else OrderType.MARKET
    request = OrderRequest(
        client_order_id=cid, symbol=SYMBOL, side=Side.BUY, type=kind,
        quantity=_d(quantity), price=_d(price), quote_quantity=_d(quote),
    )  # fmt: skip
    return ("place", request, _d(reserve))


def sell(cid: str, quantity: str, price: str | None = None) -> tuple[Any, ...]:
    kind = OrderType.LIMIT if price else OrderType.MARKET
    request = OrderRequest(
        client_order_id=cid, symbol=SYMBOL, side=Side.SELL, type=kind,
        quantity=D(quantity), price=_d(price),
    )  # fmt: skip
    return ("place", request, None)


def fill(cid: str, trade: str, side: Side, price: str, quantity: str,
         fee: str = "0", fee_asset: str = "BRL") -> tuple[Any, ...]:  # fmt: skip
    return ("fill", cid, _fill(trade, side, D(price), D(quantity), D(fee), fee_asset))


def finish(cid: str) -> tuple[Any, ...]:
    return ("finish", cid)


def _d(text: str | None) -> Decimal | None:
    return None if text is None else D(text)


def _fill(trade: str, side: Side, price: Decimal, quantity: Decimal, fee: Decimal,
          fee_asset: str) -> Fill:  # fmt: skip
    return Fill(trade_id=trade, order_id="venue-" + trade, symbol=SYMBOL, side=side, price=price,
                quantity=quantity, fee=fee, fee_asset=fee_asset, at=AT)  # fmt: skip


def apply(funds: BotFunds, event: tuple[Any, ...]) -> BotFunds:
    match event:
        case ("place", request, reserve):
            return funds.place(request, reserve=reserve)
        case ("fill", cid, trade):
            return funds.fill(cid, trade)
        case ("finish", cid):
            return funds.finish(cid)
    raise AssertionError(event)


def run(events: list[tuple[Any, ...]], allocated: str = "1000") -> BotFunds:
    funds = BotFunds.allocate(SYMBOL, D(allocated))
    for event in events:
        funds = apply(funds, event)
        assert funds.violations() == []
    return funds


B, S = Side.BUY, Side.SELL

CASES: list[tuple[str, list[tuple[Any, ...]], dict[str, str | None]]] = [
    (
        "limit buy blocks price x quantity",
        [buy("b", "0.01", "50000")],
        {"free": "500", "blocked": "500", "invested": "0"},
    ),
    (
        "market buy by quote amount blocks that amount",
        [buy("b", quote="250.5")],
        {"free": "749.5", "blocked": "250.5"},
    ),
    (
        "market buy by base quantity blocks the caller's reserve",
        [buy("b", "0.01", reserve="520")],
        {"free": "480", "blocked": "520"},
    ),
    (
        "partial fill converts the filled part; price improvement stays blocked until final",
        [buy("b", "0.01", "50000"), fill("b", "t1", B, "49000", "0.004")],
        {
            "free": "500",
            "blocked": "304",
            "invested": "196",
            "position_quantity": "0.004",
            "average_price": "49000",
        },
    ),
    (
        "the last fill completes the order and releases the rest",
        [
            buy("b", "0.01", "50000"),
            fill("b", "t1", B, "49000", "0.004"),
            fill("b", "t2", B, "50000", "0.006"),
        ],
        {
            "free": "504",
            "blocked": "0",
            "invested": "496",
            "position_quantity": "0.01",
            "average_price": "49600",
        },
    ),
    (
        "cancel after a partial fill releases what remains blocked",
        [buy("b", "0.01", "50000"), fill("b", "t1", B, "50000", "0.002"), finish("b")],
        {"free": "900", "blocked": "0", "invested": "100", "position_quantity": "0.002"},
    ),
    (
        "cancel without fills releases everything",
        [buy("b", "0.01", "50000"), finish("b")],
        {"free": "1000", "blocked": "0", "invested": "0"},
    ),
    (
        "a buy's fee in quote adds to its cost",
        [buy("b", quote="100"), fill("b", "t1", B, "50000", "0.002", "0.1", "BRL"), finish("b")],
        {
            "free": "899.9",
            "invested": "100.1",
            "position_quantity": "0.002",
            "average_price": "50050",
            "fees": "BRL=0.1",
        },
    ),
    (
        "a buy's fee in base reduces the quantity received",
        [buy("b", quote="100"), fill("b", "t1", B, "50000", "0.002", "0.000002", "BTC")],
        {"free": "900", "invested": "100", "position_quantity": "0.001998", "fees": "BTC=0.000002"},
    ),
    (
        "a buy's fee in BNB is recorded and moves neither quote nor base",
        [buy("b", quote="100"), fill("b", "t1", B, "50000", "0.002", "0.00015", "BNB")],
        {"free": "900", "invested": "100", "position_quantity": "0.002", "fees": "BNB=0.00015"},
    ),
    (
        "a sell blocks base from the position",
        [buy("b", quote="100"), fill("b", "t1", B, "50000", "0.002"), sell("s", "0.0015")],
        {"blocked_quantity": "0.0015", "position_quantity": "0.002", "blocked": "0"},
    ),
    (
        "a sale at a profit realizes against the average cost; a quote fee reduces proceeds",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "50000", "0.002"),
            sell("s", "0.001"),
            fill("s", "t2", S, "60000", "0.001", "0.06", "BRL"),
        ],
        {
            "free": "959.94",
            "invested": "50",
            "proceeds": "59.94",
            "realized_profit": "9.94",
            "position_quantity": "0.001",
            "blocked_quantity": "0",
            "average_price": "50000",
        },
    ),
    (
        "a sale at a loss",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "50000", "0.002"),
            sell("s", "0.002"),
            fill("s", "t2", S, "45000", "0.002"),
        ],
        {
            "free": "990",
            "invested": "0",
            "proceeds": "90",
            "realized_profit": "-10",
            "position_quantity": "0",
            "average_price": None,
        },
    ),
    (
        "selling the whole position removes its whole cost (no rounding left behind)",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "30000", "0.001"),
            fill("b", "t2", B, "35000", "0.002"),
            sell("s", "0.003"),
            fill("s", "t3", S, "40000", "0.003", "0.0000001", "BNB"),
        ],
        {"invested": "0", "realized_profit": "20", "free": "1020", "fees": "BNB=0.0000001"},
    ),
    (
        "a partial sale of a position whose cost does not divide evenly",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "30000", "0.001"),
            fill("b", "t2", B, "35000", "0.002"),
            sell("s", "0.001"),
            fill("s", "t3", S, "40000", "0.001"),
        ],
        {
            "invested": "66.666666666666666667",
            "realized_profit": "6.666666666666666667",
            "position_quantity": "0.002",
        },
    ),
    (
        "a sale's base fee beyond what is held comes from the order's own block",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "50000", "0.002"),
            sell("s", "0.002"),
            fill("s", "t2", S, "50000", "0.001", "0.000001", "BTC"),
        ],
        {
            "position_quantity": "0.000999",
            "blocked_quantity": "0.000999",
            "free": "950",
            "realized_profit": "-0.05",
        },
    ),
    (
        "a fill applied twice changes nothing",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "50000", "0.001"),
            fill("b", "t1", B, "50000", "0.001"),
        ],
        {"invested": "50", "position_quantity": "0.001", "blocked": "50"},
    ),
    (
        "a late fill after the cancel draws from free",
        [buy("b", "0.01", "50000"), finish("b"), fill("b", "t1", B, "50000", "0.002")],
        {"free": "900", "blocked": "0", "invested": "100", "position_quantity": "0.002"},
    ),
    (
        "a market buy that cost more than its reserve overdraws free",
        [buy("b", "0.02", reserve="1000"), fill("b", "t1", B, "51000", "0.02")],
        {"free": "-20", "blocked": "0", "invested": "1020"},
    ),
]


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_transition(events: list[tuple[Any, ...]], expected: dict[str, str | None]) -> None:
    funds = run(events)
    for name, value in expected.items():
        if name == "fees":
            asset, amount = str(value).split("=")
            assert funds.fees[asset] == D(amount)
        else:
            got = getattr(funds, name)
            assert got == (None if value is None else D(value)), name


REFUSED: list[tuple[str, list[tuple[Any, ...]], type[FundsError]]] = [
    ("blocking more than free", [buy("b", "0.03", "50000")], InsufficientFunds),
    (
        "two buys blocking more than free together",
        [buy("a", quote="600"), buy("b", quote="500")],
        InsufficientFunds,
    ),
    ("selling more than held", [sell("s", "0.001")], InsufficientPosition),
    (
        "selling what an open sell already blocks",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "50000", "0.002"),
            sell("s", "0.002"),
            sell("s2", "0.001"),
        ],
        InsufficientPosition,
    ),
    ("a market buy by base quantity without a reserve", [buy("b", "0.01")], InvalidEvent),
    (
        "a client order id reused for another order",
        [buy("b", quote="100"), buy("b", quote="200")],
        DuplicateOrder,
    ),
    ("a fill of an unknown order", [fill("x", "t1", B, "50000", "0.001")], UnknownOrder),
    (
        "a fill beyond the order's quantity",
        [
            buy("b", "0.01", "50000"),
            fill("b", "t1", B, "50000", "0.008"),
            fill("b", "t2", B, "50000", "0.003"),
        ],
        OverFill,
    ),
    (
        "a fill spending beyond a buy's quote amount",
        [buy("b", quote="100"), fill("b", "t1", B, "50000", "0.0021")],
        OverFill,
    ),
    (
        "a fill on the wrong side",
        [buy("b", quote="100"), fill("b", "t1", S, "50000", "0.001")],
        InvalidEvent,
    ),
    (
        "a buy's base fee of all it received",
        [buy("b", quote="100"), fill("b", "t1", B, "50000", "0.001", "0.001", "BTC")],
        InvalidEvent,
    ),
    (
        "a sale's base fee beyond what is held",
        [
            buy("b", quote="100"),
            fill("b", "t1", B, "50000", "0.002"),
            sell("s", "0.002"),
            fill("s", "t2", S, "50000", "0.002", "0.000001", "BTC"),
        ],
        InsufficientPosition,
    ),
]


@pytest.mark.parametrize(("events", "error"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused(events: list[tuple[Any, ...]], error: type[FundsError]) -> None:
    funds = run(events[:-1])
    with pytest.raises(error):
        apply(funds, events[-1])


def test_placement_and_final_status_repeated_change_nothing() -> None:
    funds = run([buy("b", "0.01", "50000"), fill("b", "t1", B, "50000", "0.002"), finish("b")])
    assert run([buy("b", "0.01", "50000"), fill("b", "t1", B, "50000", "0.002"), finish("b"),
                buy("b", "0.01", "50000"), finish("b")]) == funds  # fmt: skip


def test_forget_drops_finished_orders_only() -> None:
    funds = run([buy("a", quote="100"), buy("b", quote="100"), finish("a")])
    with pytest.raises(InvalidEvent):
        funds.forget(["a", "b"])
    forgotten = funds.forget(["a", "never-known"])
    assert list(forgotten.orders) == ["b"] and forgotten.violations() == []
    with pytest.raises(UnknownOrder):
        forgotten.fill("a", _fill("t1", B, D(50000), D("0.001"), D(0), "BRL"))


def test_reallocate_takes_back_only_free_funds() -> None:
    funds = run([buy("b", quote="700")])
    assert funds.reallocate(D(1500)).free == D(800)
    assert funds.reallocate(D(700)).free == D(0)
    with pytest.raises(InsufficientFunds):
        funds.reallocate(D(699))


def test_json_round_trip_keeps_every_decimal_as_a_string() -> None:
    funds = run([buy("b", quote="100"), fill("b", "t1", B, "30000", "0.001", "0.03", "BRL"),
                 fill("b", "t2", B, "35000", "0.002", "0.0001", "BNB")])  # fmt: skip
    data = funds.model_dump(mode="json")
    assert data["invested"] == "100.030" and data["average_price"] == "33343.333333333333333333"
    assert BotFunds.model_validate_json(funds.model_dump_json()) == funds
