"""A bot's fund ledger under random event sequences (placements, partial and whole fills with
random prices and fees in quote, base or BNB, final statuses, late fills, sales): the invariants
hold after every event, the ledger agrees with a separate tally of the fills, and any event applied
again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.bots.funds import BotFunds
from domain.market import Fill, Side
from tests.unit.test_bot_funds import SYMBOL, apply, buy, fill, finish, sell

D = Decimal

QUANTUM = D("0.00000001")
FEE_ASSETS = ("BRL", "BTC", "BNB")


@dataclass
class Tally:
    """What the fills say, counted apart from the ledger: the position, what buying cost and what
    selling brought (fees in quote and base counted, BNB not)."""

    position: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    proceeds: Decimal = Decimal(0)

    def add(self, trade: Fill) -> None:
        base_fee = trade.fee if trade.fee_asset == "BTC" else D(0)
        quote_fee = trade.fee if trade.fee_asset == "BRL" else D(0)
        with localcontext() as ctx:
            ctx.prec = 60
            if trade.side is Side.BUY:
                self.position += trade.quantity - base_fee
                self.cost += trade.price * trade.quantity + quote_fee
            else:
                self.position -= trade.quantity + base_fee
                self.proceeds += trade.price * trade.quantity - quote_fee

    def check(self, funds: BotFunds) -> None:
        assert funds.position_quantity == self.position
        assert funds.proceeds == self.proceeds
        with localcontext() as ctx:
            ctx.prec = 60
            # What was realized is what came in, minus what went out, minus what is still held.
            assert funds.realized_profit == self.proceeds - self.cost + funds.invested


def _amount(data: st.DataObject, low: str, high: str, places: int = 8) -> Decimal:
    return data.draw(st.decimals(min_value=D(low), max_value=D(high), places=places))


def _next_event(data: st.DataObject, funds: BotFunds, n: int) -> tuple[Any, ...] | None:
    open_orders = [cid for cid, o in funds.orders.items() if not o.final]
    kind = data.draw(st.sampled_from(["buy", "sell", "fill", "fill", "fill", "finish", "late"]))
    if kind == "buy" and funds.free > 1:
        style = data.draw(st.sampled_from(["limit", "quote", "reserve"]))
        price = _amount(data, "1", "100000", 2)
        spend = (funds.free * _amount(data, "0.01", "1", 2)).quantize(QUANTUM, ROUND_DOWN)
        quantity = (spend / price).quantize(QUANTUM, ROUND_DOWN)
        if style == "quote":
            return buy(f"o{n}", quote=str(spend))
        if quantity <= 0:
            return None
        if style == "limit":
            return buy(f"o{n}", str(quantity), str(price))
        return buy(f"o{n}", str(quantity), reserve=str(spend))
    if kind == "sell" and funds.sellable_quantity > 0:
        share = _amount(data, "0.01", "1", 2)
        quantity = (funds.sellable_quantity * share).quantize(QUANTUM, ROUND_DOWN)
        return sell(f"o{n}", str(quantity)) if quantity > 0 else None
    if kind in ("fill", "late") and funds.orders:
        pool = open_orders if kind == "fill" else list(funds.orders)
        if not pool:
            return None
        cid = data.draw(st.sampled_from(sorted(pool)))
        return _random_fill(data, funds, cid, n)
    if kind == "finish" and open_orders:
        return finish(data.draw(st.sampled_from(sorted(open_orders))))
    return None


def _random_fill(data: st.DataObject, funds: BotFunds, cid: str, n: int) -> tuple[Any, ...] | None:
    order = funds.orders[cid]
    price = _amount(data, "1", "100000", 2)
    if order.quantity is not None:
        left = order.quantity - order.filled_quantity
    else:
        assert order.quote_quantity is not None
        left = ((order.quote_quantity - order.filled_quote) / price).quantize(QUANTUM, ROUND_DOWN)
    whole = data.draw(st.booleans())
    quantity = left if whole else (left * _amount(data, "0.01", "1", 2)).quantize(QUANTUM)
    if order.side is Side.SELL:  # what the position can still give, late fills included
        room = order.blocked + funds.sellable_quantity
        quantity = min(quantity, room)
    if quantity <= 0:
        return None
    asset = data.draw(st.sampled_from(FEE_ASSETS))
    rate = _amount(data, "0", "0.002", 4)
    received = quantity if order.side is Side.BUY else quantity * price
    fee = (received * rate).quantize(QUANTUM, ROUND_DOWN)
    if order.side is Side.SELL and asset == "BTC":
        fee = min(fee, funds.sellable_quantity + order.blocked - quantity)
    return fill(cid, f"t{n}", order.side, str(price), str(quantity), str(fee), asset)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), allocated=st.decimals(min_value=1, max_value=10**7, places=2))
def test_random_events_keep_the_invariants_and_replays_change_nothing(
    data: st.DataObject, allocated: Decimal
) -> None:
    funds = BotFunds.allocate(SYMBOL, allocated)
    tally, applied = Tally(), []
    for n in range(data.draw(st.integers(min_value=1, max_value=40))):
        event = _next_event(data, funds, n)
        if event is None:
            continue
        funds = apply(funds, event)
        applied.append(event)
        if event[0] == "fill":
            tally.add(event[2])
        assert funds.violations() == [], event
        tally.check(funds)
        assert funds.position_quantity >= 0 and funds.invested >= 0
        # The same event again, or any earlier one, changes nothing.
        assert apply(funds, event) == funds
        earlier = data.draw(st.sampled_from(applied))
        assert apply(funds, earlier) == funds
    for cid in list(funds.orders):  # every order final: nothing stays blocked
        funds = funds.finish(cid)
    assert funds.violations() == [] and funds.blocked == funds.blocked_quantity == 0
