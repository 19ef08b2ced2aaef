"""MercadoBitcoinExchange's bulk reads and venue-side order types against the simulator over real
HTTP: tickers of every market in slices, every market's open orders in one list call, fills
since an id across partial fills, post-only and stoplimit as MB spells them on the wire."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from adapters.exchanges.errors import InvalidOrder
from adapters.exchanges.mercado_bitcoin.wire import rules_from_columns
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from simulators.mercadobitcoin import running
from simulators.mercadobitcoin.config import MarketSpec, default_markets, rules
from simulators.mercadobitcoin.server import RunningSim
from tests.exchanges.conftest_mercadobitcoin import MbControl, mb_adapter, mb_sim_config
from tests.exchanges.lost_answers import CountRequests

_ONE_LIST = re.compile(r"GET /api/v4/accounts/[^/]+/orders")


def _request(
    cid: str,
    kind: OrderType,
    side: Side,
    quantity: str,
    price: str | None = None,
    stop: str | None = None,
    symbol: str = "BTC-BRL",
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=kind,
        quantity=Decimal(quantity),
        price=Decimal(price) if price else None,
        stop_price=Decimal(stop) if stop else None,
    )


def _sent_since(network: CountRequests, before: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in network.sent.items() if n > before.get(k, 0)}


async def test_tickers_of_every_market_in_slices_of_a_hundred() -> None:
    extra = [
        MarketSpec(
            rules=rules(f"T{i:03d}-BRL", "0.01", "0.001", "1000", "1", "1000000", "0.01", "1000"),
            start_price=Decimal(100 + i),
        )
        for i in range(150)
    ]
    async with running(mb_sim_config(markets=default_markets() + extra)) as sim:
        network = CountRequests()
        async with mb_adapter(sim, transport=network) as exchange:
            names = [m.symbol for m in await exchange.markets()]
            every = await exchange.tickers()
            asked = await exchange.tickers(["t149-brl", "BTC-BRL", "T149-BRL"])
    assert len(names) == 154 and [t.symbol for t in every] == names
    assert every[names.index("T007-BRL")].last == Decimal(107)
    assert [(t.symbol, t.last) for t in asked] == [
        ("T149-BRL", Decimal(249)),
        ("BTC-BRL", Decimal(350000)),
    ]
    # /symbols once (cached), then 154 markets in two calls and the two asked for in one.
    assert network.sent["GET /api/v4/symbols"] == 1
    assert network.sent["GET /api/v4/tickers"] == 3


def test_instruments_mb_lists_but_does_not_trade_are_no_market() -> None:
    columns: dict[str, list[Any]] = {
        "symbol": ["BTC-BRL", "IMOB01-BRL"],
        "exchange-listed": [True, True],
        "exchange-traded": [True, False],
        "minmovement": ["0.01000000", "0.01000000"],
        "pricescale": [100, 100],
        "min-volume": ["0.00000150", "1"],
    }
    assert [r.symbol for r in rules_from_columns(columns)] == ["BTC-BRL"]


async def test_open_orders_of_every_market_come_from_one_list_call(mb_sim: RunningSim) -> None:
    network = CountRequests()
    async with mb_adapter(mb_sim, transport=network) as exchange:
        btc = await exchange.create_order(
            _request("all-btc", OrderType.LIMIT, Side.BUY, "0.01", "340000")
        )
        eth = await exchange.create_order(
            _request("all-eth", OrderType.LIMIT_MAKER, Side.BUY, "0.1", "11000", symbol="ETH-BRL")
        )
        stop = await exchange.create_order(
            _request("all-stop", OrderType.STOP_LOSS_LIMIT, Side.SELL, "0.01", "329000", "330000")
        )
        await exchange.create_order(_request("all-market", OrderType.MARKET, Side.BUY, "0.001"))
        before = dict(network.sent)
        every = await exchange.open_orders()
        sent = _sent_since(network, before)
    assert len(sent) == 1 and all(n == 1 and _ONE_LIST.fullmatch(k) for k, n in sent.items())
    assert [(o.order_id, o.symbol, o.type) for o in every] == [
        (btc.order_id, "BTC-BRL", OrderType.LIMIT),
        (eth.order_id, "ETH-BRL", OrderType.LIMIT_MAKER),
        (stop.order_id, "BTC-BRL", OrderType.STOP_LOSS_LIMIT),
    ]
    assert (every[2].price, every[2].stop_price) == (Decimal(329000), Decimal(330000))


async def test_fills_since_walks_partial_fills_across_orders_oldest_first() -> None:
    async with running(mb_sim_config(partial_fill_ratio=Decimal("0.5"))) as sim:
        control = MbControl(sim)
        network = CountRequests()
        async with mb_adapter(sim, transport=network) as exchange:
            rest = await exchange.create_order(
                _request("since-rest", OrderType.LIMIT, Side.BUY, "0.04", "340000")
            )
            await control.set_price("BTC-BRL", Decimal("339000"))  # 0.02 of it
            await control.set_price("BTC-BRL", Decimal("339000"))  # 0.01
            taken = await exchange.create_order(
                _request("since-take", OrderType.MARKET, Side.BUY, "0.002")
            )
            await control.set_price("BTC-BRL", Decimal("339000"))  # 0.005
            before = dict(network.sent)
            every = await exchange.fills_since("BTC-BRL")
            reads = _sent_since(network, before)
            second = every[1]
            from_second = await exchange.fills_since("BTC-BRL", second.trade_id)
            two = await exchange.fills_since("BTC-BRL", second.trade_id, limit=2)
            last = await exchange.fills_since("BTC-BRL", every[-1].trade_id)
            unlisted = await exchange.fills_since("BTC-BRL", "0")  # sorts before every fill id
        await control.http.aclose()
    assert list(reads.values()) == [1] and next(iter(reads)).endswith("/BTC-BRL/orders")
    orders = [f.order_id for f in every]
    assert orders[:2] == [rest.order_id] * 2 and orders[-1] == rest.order_id
    assert set(orders[2:-1]) == {taken.order_id}
    assert [f.quantity for f in every if f.order_id == rest.order_id] == [
        Decimal("0.02"),
        Decimal("0.01"),
        Decimal("0.005"),
    ]
    assert sum(f.quantity for f in every if f.order_id == taken.order_id) == taken.filled_quantity
    assert from_second == every[1:] and two == every[1:3] and last == every[-1:]
    assert unlisted == every


async def test_post_only_and_stoplimit_go_out_as_mb_spells_them(mb_sim: RunningSim) -> None:
    control = MbControl(mb_sim)
    async with mb_adapter(mb_sim) as exchange:
        maker = await exchange.create_order(
            _request("po-1", OrderType.LIMIT_MAKER, Side.BUY, "0.01", "340000")
        )
        with pytest.raises(InvalidOrder):  # at 350000 a buy at 351000 would take
            await exchange.create_order(
                _request("po-take", OrderType.LIMIT_MAKER, Side.BUY, "0.01", "351000")
            )
        # A buy stop onto the tick downwards: it triggers no later than asked.
        stop = await exchange.create_order(
            _request("sl-1", OrderType.STOP_LOSS_LIMIT, Side.BUY, "0.01", "361000", "360000.009")
        )
        with pytest.raises(InvalidOrder) as refused:  # over MB's max price for BTC-BRL
            await exchange.create_order(
                _request("sl-far", OrderType.STOP_LOSS_LIMIT, Side.BUY, "0.01", "400000", "6e6")
            )
        assert refused.value.code == "stop_price"
        venue = {o["externalId"]: o for o in await control.orders()}
        assert set(venue) == {"po-1", "sl-1"}  # the refusals placed nothing
        assert (venue["po-1"]["type"], Decimal(str(venue["po-1"]["limitPrice"]))) == (
            "post-only",
            Decimal(340000),
        )
        assert venue["sl-1"]["type"] == "stoplimit"
        assert Decimal(str(venue["sl-1"]["stopPrice"])) == Decimal("360000.00")
        assert (stop.type, stop.status, stop.stop_price) == (
            OrderType.STOP_LOSS_LIMIT,
            OrderStatus.NEW,
            Decimal("360000.00"),
        )
        await control.set_price("BTC-BRL", Decimal("360500"))  # reaches the stop: a taker buy
        bought = await exchange.get_order("BTC-BRL", client_order_id="sl-1")
        assert bought.status is OrderStatus.FILLED and bought.average_price is not None
        assert bought.average_price <= Decimal(361000)
        assert bought.fees == {"BTC": Decimal("0.01") * control.fees.taker}
        assert await exchange.get_order("BTC-BRL", order_id=maker.order_id) == maker
    await control.http.aclose()
