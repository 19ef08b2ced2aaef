"""What the engine needs of the `Exchange` port beyond the conformance checks, where it depends
on the venue: Binance's request counts (every market's tickers and open orders in one read
each), its error codes for LIMIT_MAKER and STOP_LOSS_LIMIT, its paging of fills; commissions in
several assets summed per asset."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.binance.wire import parse_order
from adapters.exchanges.errors import InvalidOrder
from adapters.exchanges.paper import DEFAULT_MARKETS, build_paper_market
from domain.market import MarketRules, OrderRequest, OrderStatus, OrderType, Side
from domain.matching import FeeAsset
from simulators.binance.config import FixedPath, SymbolConfig
from tests.exchanges.conftest import PaperClock
from tests.exchanges.conftest_binance import BTC_BRL, BinanceSim, SimFactory

_BNB_BRL = SymbolConfig(  # the price the simulator values BNB commissions at
    base="BNB",
    quote="BRL",
    path=FixedPath(price=Decimal(3000)),
    tick_size=Decimal("0.1"),
    step_size=Decimal("0.001"),
    min_qty=Decimal("0.001"),
    min_notional=Decimal(1),
)


def _order(
    client_order_id: str,
    symbol: str,
    side: Side,
    quantity: str,
    price: str | None = None,
    kind: OrderType | None = None,
    stop: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        type=kind or (OrderType.LIMIT if price else OrderType.MARKET),
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        stop_price=None if stop is None else Decimal(stop),
    )


async def _requests(sim: BinanceSim) -> dict[str, int]:
    counts: dict[str, int] = (await sim.stats())["requests"]
    return counts


def _more(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


async def test_tickers_of_every_market_take_one_read_of_each_kind(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange
) -> None:
    markets = [m.symbol for m in await binance_exchange.markets()]
    before = await _requests(binance_sim)
    every = await binance_exchange.tickers()
    assert _more(before, await _requests(binance_sim)) == {
        "GET /api/v3/ticker/bookTicker": 1,
        "GET /api/v3/ticker/price": 1,
    }
    assert [t.symbol for t in every] == markets and len(markets) == 4
    assert all(0 < t.bid < t.ask and t.last > 0 and t.high_24h is None for t in every)

    before = await _requests(binance_sim)
    two = await binance_exchange.tickers(["XLM-BTC", "BTC-BRL", "xlm-btc"])
    assert _more(before, await _requests(binance_sim)) == {"GET /api/v3/ticker/24hr": 1}
    assert [t.symbol for t in two] == ["XLM-BTC", "BTC-BRL"]  # once each, in the order asked
    assert all(t.high_24h is not None and t.low_24h is not None for t in two)


async def test_tickers_of_more_than_twenty_markets_take_the_cheap_reads(
    binance_sim_factory: SimFactory,
) -> None:
    """ticker/24hr would weigh 40 for 21 to 100 symbols: bookTicker and ticker/price weigh 4
    each, whatever the count, and take the same JSON array of symbols."""
    listed = [
        SymbolConfig(base=f"COIN{n}", quote="BRL", path=FixedPath(price=Decimal(100 + n)))
        for n in range(25)
    ]
    sim = binance_sim_factory(symbols=listed)
    key, secret = await sim.account()
    wanted = [f"COIN{n}-BRL" for n in reversed(range(3, 24))]  # 21 of the 25
    async with sim.exchange(key, secret) as exchange:
        await exchange.markets()
        before = await _requests(sim)
        tickers = await exchange.tickers(wanted)
        assert _more(before, await _requests(sim)) == {
            "GET /api/v3/ticker/bookTicker": 1,
            "GET /api/v3/ticker/price": 1,
        }
    assert [t.symbol for t in tickers] == wanted
    assert [t.last for t in tickers] == [Decimal(100 + n) for n in reversed(range(3, 24))]


async def test_open_orders_of_every_market_take_one_request(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    key = binance_account[0]
    await binance_sim.deposit(key, "BRL", Decimal(1000))
    await binance_sim.deposit(key, "BTC", Decimal(1))
    await binance_sim.set_price("BTCBRL", Decimal(350000))  # other tests move the shared market
    brl = await binance_exchange.create_order(
        _order("all-brl", "BTC-BRL", Side.BUY, "0.001", "300000")
    )
    btc = await binance_exchange.create_order(
        _order("all-btc", "XLM-BTC", Side.BUY, "100", "0.00000100")
    )
    before = await _requests(binance_sim)
    every = await binance_exchange.open_orders()
    # Nothing executed: no myTrades read for commissions either.
    assert _more(before, await _requests(binance_sim)) == {"GET /api/v3/openOrders": 1}
    assert {o.order_id: o for o in every} == {brl.order_id: brl, btc.order_id: btc}


async def test_fills_since_page_through_every_fill_once(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.deposit(binance_account[0], "BRL", Decimal(1000))
    for n in range(5):
        await binance_exchange.create_order(_order(f"page-{n}", "BTC-BRL", Side.BUY, "0.0001"))
    every = await binance_exchange.fills("BTC-BRL")
    assert len(every) == 5
    seen, cursor = [], None
    while True:  # resume from the last fill seen: it comes back first, then the new ones
        page = await binance_exchange.fills_since("BTC-BRL", cursor, limit=2)
        fresh = page if cursor is None else page[1:]
        if not fresh:
            break
        seen.extend(fresh)
        cursor = page[-1].trade_id
    assert seen == every
    with pytest.raises(InvalidOrder):
        await binance_exchange.fills_since("BTC-BRL", "not-an-id")


async def test_limit_maker_that_would_take_is_refused_with_binances_code(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    await binance_sim.deposit(binance_account[0], "BRL", Decimal(1000))
    maker = OrderType.LIMIT_MAKER
    with pytest.raises(InvalidOrder) as refused:
        await binance_exchange.create_order(
            _order("maker-takes", "BTC-BRL", Side.BUY, "0.001", "360000", maker)
        )
    assert refused.value.code == -2010
    assert "would immediately match and take" in refused.value.message
    assert await binance_exchange.open_orders("BTC-BRL") == []
    # Off the tick it is rounded down like any buy, and rests: no timeInForce was sent.
    resting = await binance_exchange.create_order(
        _order("maker-rests", "BTC-BRL", Side.BUY, "0.001", "340000.019", maker)
    )
    assert (resting.type, resting.status, resting.price) == (
        maker,
        OrderStatus.NEW,
        Decimal("340000.01"),
    )


async def test_stop_loss_limit_carries_its_stop_on_the_tick(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    await binance_sim.deposit(binance_account[0], "BTC", Decimal("0.01"))
    stop_loss = OrderType.STOP_LOSS_LIMIT
    with pytest.raises(InvalidOrder) as refused:  # a sell stop above the price: triggers now
        await binance_exchange.create_order(
            _order("stop-now", "BTC-BRL", Side.SELL, "0.001", "355000", stop_loss, "360000")
        )
    assert refused.value.code == -2010 and "would trigger immediately" in refused.value.message
    order = await binance_exchange.create_order(
        _order("stop", "BTC-BRL", Side.SELL, "0.001", "329999.991", stop_loss, "330000.001")
    )
    # A sell's prices round up: the stop triggers no later, the limit sells no cheaper.
    assert (order.price, order.stop_price) == (Decimal("330000.00"), Decimal("330000.01"))
    [listed] = await binance_exchange.open_orders()
    assert listed == order and listed.status is OrderStatus.NEW
    with pytest.raises(ValueError):  # no stop: refused before any venue sees it
        _order("no-stop", "BTC-BRL", Side.SELL, "0.001", "330000", stop_loss)


async def test_an_order_paying_bnb_then_btc_records_both(binance_sim_factory: SimFactory) -> None:
    """Fees in BNB (25% off, at BNB's price) until the account runs out, then in the bought
    asset: a resting order filled in two parts pays one in each, and every read of it (GET
    order, openOrders, allOrders: their commissions summed from myTrades) says so."""
    sim = binance_sim_factory(symbols=[BTC_BRL, _BNB_BRL], partial_fill_ratio=Decimal("0.5"))
    key, secret = f"bnb-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    body = {"BRL": "1000", "BNB": "0.0001"}  # one maker commission's worth of BNB
    account = {"api_key": key, "secret": secret, "balances": body, "fees_in_bnb": True}
    (await sim.http.post("/_sim/accounts", json=account)).raise_for_status()
    async with sim.exchange(key, secret) as exchange:
        order = await exchange.create_order(
            _order("bnb-then-btc", "BTC-BRL", Side.BUY, "0.002", "340000")
        )
        await sim.set_price("BTCBRL", Decimal(339000))
        # 0.1% of 0.001 BTC is 0.34 BRL at 340000: 0.00011333 BNB at 3000, less 25%.
        [half] = await exchange.open_orders()
        assert half.fees == {"BNB": Decimal("0.000085")}
        await sim.set_price("BTCBRL", Decimal(338000))  # half the rest: 0.0005 BTC
        both = {"BNB": Decimal("0.000085"), "BTC": Decimal("0.0000005")}
        [listed] = await exchange.open_orders("BTC-BRL")
        assert listed.fees == both and listed.filled_quantity == Decimal("0.0015")
        canceled = await exchange.cancel_order("BTC-BRL", order_id=order.order_id)
        assert canceled.status is OrderStatus.CANCELED and canceled.fees == both
        assert await exchange.recent_orders("BTC-BRL") == [canceled]
        balances = {b.asset: b.free for b in await exchange.balances()}
        assert balances["BNB"] == Decimal("0.000015")
        assert balances["BTC"] == Decimal("0.0015") - Decimal("0.0000005")


def test_commissions_in_several_assets_are_summed_per_asset() -> None:
    """A FULL answer whose fills paid BNB until the account ran out, then the base asset."""
    fills: list[dict[str, Any]] = [
        {"price": "350000", "qty": "0.001", "commission": "0.00021", "commissionAsset": "BNB"},
        {"price": "350010", "qty": "0.001", "commission": "0.00019", "commissionAsset": "BNB"},
        {"price": "350020", "qty": "0.001", "commission": "0.000001", "commissionAsset": "BTC"},
    ]
    raw = {
        "symbol": "BTCBRL",
        "orderId": 7,
        "clientOrderId": "bnb",
        "transactTime": 1_700_000_000_000,
        "price": "0",
        "origQty": "0.003",
        "executedQty": "0.003",
        "cummulativeQuoteQty": "1050.03",
        "status": "FILLED",
        "type": "MARKET",
        "side": "BUY",
        "fills": fills,
    }
    order = parse_order("BTC-BRL", raw)
    assert order.fees == {"BNB": Decimal("0.00040"), "BTC": Decimal("0.000001")}


async def test_paper_records_bnb_then_base_asset_commissions(paper_clock: PaperClock) -> None:
    """Fees paid in BNB (at a discount) while the account holds enough, then in the received
    asset: each order records what it paid in each, and the balances agree to the unit."""
    bnb_brl = MarketRules(
        symbol="BNB-BRL",
        price_tick=Decimal("0.01"),
        lot_step=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        min_notional=Decimal(10),
    )
    market = build_paper_market(
        clock=paper_clock,
        markets=(DEFAULT_MARKETS[0], (bnb_brl, (5, Decimal(3000)))),
    )
    market.sync()  # BNB's price, to value the fees in it
    engine, exchange = market.engine, market.exchange("bnb")
    engine.deposit("bnb", "BRL", Decimal(10_000))
    engine.deposit("bnb", "BNB", Decimal("0.0002"))  # about two orders' fees
    engine.pay_fees_in("bnb", FeeAsset("BNB", discount=Decimal("0.25")))
    orders = []
    for n in range(3):
        paper_clock.advance(timedelta(seconds=1))
        request = _order(f"bnb-{n}", "BTC-BRL", Side.BUY, "0.001")
        orders.append(await exchange.create_order(request))
    assert [set(o.fees) for o in orders] == [{"BNB"}, {"BNB"}, {"BTC"}]
    in_bnb = orders[0].fees["BNB"] + orders[1].fees["BNB"]
    balances = {b.asset: b.free for b in await exchange.balances()}
    assert balances["BNB"] == Decimal("0.0002") - in_bnb
    assert balances["BTC"] == Decimal("0.003") - orders[2].fees["BTC"]
    assert orders[2].fees["BTC"] == Decimal("0.001") * engine.fees.taker
