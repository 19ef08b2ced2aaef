"""The Mercado Bitcoin simulator over raw HTTP, as a third-party MB v4 client sees it: wire
shapes, MB's error bodies and status codes, limits, faults, and the CLI's account parser."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.mercadobitcoin import AccountSpec, RateLimits, parse_account, parser, running
from simulators.mercadobitcoin.config import Limit
from simulators.mercadobitcoin.server import RunningSim, build_config
from tests.exchanges.conftest_mercadobitcoin import MB_KEY, MB_SECRET, MbControl, mb_sim_config


async def _login(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    response = await http.post("/authorize", json={"login": MB_KEY, "password": MB_SECRET})
    assert response.status_code == 200
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    accounts = (await http.get("/accounts", headers=headers)).json()
    return headers, accounts[0]["id"]


ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # Crockford base32: no I, L, O, U


def _order(**fields: Any) -> dict[str, Any]:
    return {"side": "buy", "type": "limit", "qty": "0.001", "limitPrice": 340000, **fields}


# -- CLI -------------------------------------------------------------------------------------


def test_parse_account_reads_key_secret_and_balances() -> None:
    spec = parse_account("key1:secret1:btc=1.5,BRL=100000")
    assert spec == AccountSpec(
        key="key1", secret="secret1", balances={"BTC": Decimal("1.5"), "BRL": Decimal("100000")}
    )


def test_parse_account_without_balances_and_with_a_colon_in_the_secret() -> None:
    assert parse_account("k:s") == AccountSpec(key="k", secret="s")
    assert parse_account("k:a:b:BTC=2").secret == "a:b"
    assert parse_account("k:a:b").secret == "a:b"


@pytest.mark.parametrize("text", ["k", "k:", ":s", "k:s:BTC=abc", "k:s:BTC=-1", "k:s:B-X=1"])
def test_parse_account_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_account(text)


def test_cli_parser_builds_the_simulator_config() -> None:
    args = parser().parse_args(
        ["--port", "9100", "--account", "a:b:BRL=10", "--account", "c:d", "--speed", "60"]
    )
    config = build_config(args.account, speed=args.speed, rate_limits=not args.no_rate_limits)
    assert args.port == 9100
    assert [a.key for a in config.accounts] == ["a", "c"]
    assert config.accounts[0].balances == {"BRL": Decimal("10")}
    assert config.clock_speed == 60 and config.rate_limits.enabled


# -- auth ------------------------------------------------------------------------------------


async def test_authorize_refuses_bad_credentials_and_missing_fields(
    mb_http: httpx.AsyncClient,
) -> None:
    bad = await mb_http.post("/authorize", json={"login": MB_KEY, "password": "nope"})
    assert (bad.status_code, bad.json()) == (
        400,
        {"code": "AUTHORIZE|AUTHORIZATION|FORBIDDEN", "message": "Invalid login or password"},
    )
    missing = await mb_http.post("/authorize", json={"password": "x"})
    assert missing.status_code == 422
    assert missing.json()["code"] == "API|REQUEST|LOGIN_MUST_BE_REQUIRED"


async def test_private_paths_answer_mb_gateway_errors(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    headers, account = await _login(mb_http)
    anonymous = await mb_http.get(f"/accounts/{account}/balances")
    assert (anonymous.status_code, anonymous.json()) == (
        403,
        {"code": "API|FORBIDDEN", "message": "You need to be authenticated"},
    )
    other = await mb_http.get("/accounts/someone-else/balances", headers=headers)
    assert other.status_code == 403 and other.json()["error"]["status"] == "Forbidden"
    await mb_control.post("/tokens/expire")
    expired = await mb_http.get(f"/accounts/{account}/balances", headers=headers)
    assert (expired.status_code, expired.json()["error"]["code"]) == (401, 401)


# -- public data -----------------------------------------------------------------------------


async def test_symbols_are_column_oriented(mb_http: httpx.AsyncClient) -> None:
    data = (await mb_http.get("/symbols", params={"symbols": "BTC-BRL,PEPE-BRL"})).json()
    assert data["symbol"] == ["BTC-BRL", "PEPE-BRL"]
    assert data["base-currency"] == ["BTC", "PEPE"] and data["currency"] == ["BRL", "BRL"]
    assert data["pricescale"] == [100, 100000000]
    assert data["minmovement"] == ["0.01000000", "0.00000001"]
    assert all(len(column) == 2 for column in data.values())


async def test_tickers_and_book_carry_strings_around_the_price(mb_http: httpx.AsyncClient) -> None:
    ticker = (await mb_http.get("/tickers", params={"symbols": "BTC-BRL"})).json()[0]
    assert set(ticker) == {"pair", "high", "low", "vol", "last", "buy", "sell", "open", "date"}
    assert ticker["last"] == "350000.00000000"
    assert Decimal(ticker["buy"]) < Decimal(ticker["last"]) < Decimal(ticker["sell"])
    book = (await mb_http.get("/BTC-BRL/orderbook", params={"limit": 3})).json()
    assert len(book["asks"]) == len(book["bids"]) == 3
    assert book["asks"][0][0] == ticker["sell"] and book["bids"][0][0] == ticker["buy"]


@pytest.mark.parametrize("resolution", ["1m", "15m", "1h", "3h", "1d", "1w", "1M"])
async def test_candles_answer_columns_at_every_resolution(
    mb_http: httpx.AsyncClient, resolution: str
) -> None:
    params: dict[str, str | int] = {"symbol": "ETH-BTC", "resolution": resolution}
    params |= {"to": 4102444800, "countback": 2}  # `to` in the future: up to now
    data = (await mb_http.get("/candles", params=params)).json()
    assert set(data) == {"t", "o", "h", "l", "c", "v"}
    assert 1 <= len(data["t"]) <= 2 and data["t"] == sorted(data["t"])
    assert all(isinstance(v, str) for v in data["o"] + data["c"])


async def test_candles_refuse_an_unknown_resolution(mb_http: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {"symbol": "BTC-BRL", "resolution": "5m", "to": 4102444800}
    response = await mb_http.get("/candles", params=params)
    assert response.status_code == 400 and response.json()["code"].endswith("INVALID_PARAMETER")


async def test_a_replayed_market_moves_with_the_clock(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    before = (await mb_http.get("/tickers", params={"symbols": "ETH-BTC"})).json()[0]["last"]
    await mb_control.post("/clock", {"advance_seconds": 3 * 3600})
    after = (await mb_http.get("/tickers", params={"symbols": "ETH-BTC"})).json()[0]["last"]
    assert before == "0.00162008" and after != before  # real ETH/BTC candles, 3 hours later


# -- orders ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "body", "status", "code"),
    [
        ("BTC-BRL", _order(qty=0.001), 422, "API|UNPROCESSABLE_ENTITY"),
        ("BTC-BRL", _order(side="hold"), 400, "TRADING|PLACE_ORDER|INVALID_SIDE"),
        ("BTC-BRL", _order(type="stop"), 400, "TRADING|PLACE_ORDER|INVALID_ORDER_TYPE"),
        ("FOO-BAR", _order(), 400, "TRADING|PLACE_ORDER|INVALID_PAIR"),
        ("BTC-BRL", _order(qty="0.0000001"), 400, "TRADING|PLACE_ORDER|INVALID_MIN_QUANTITY"),
        ("BTC-BRL", _order(qty="9"), 400, "TRADING|PLACE_ORDER|INVALID_MAX_QUANTITY"),
        ("BTC-BRL", _order(qty="1"), 400, "TRADING|PLACE_ORDER|INSUFFICIENT_BALANCE"),
        ("BTC-BRL", _order(limitPrice=None), 400, "TRADING|PLACE_ORDER|INVALID_MIN_LIMIT_PRICE"),
        ("BTC-BRL", _order(limitPrice=10), 400, "TRADING|PLACE_ORDER|INVALID_MIN_LIMIT_PRICE"),
        (
            "BTC-BRL",
            _order(limitPrice=340000.001),
            400,
            "TRADING|PLACE_ORDER|INVALID_DECIMAL_PLACES",
        ),
        ("BTC-BRL", _order(qty="0.000002"), 400, "TRADING|PLACE_ORDER|EXCEEDED_COST_LIMIT"),
        ("BTCBRL", _order(), 404, "API|ROUTE_NOT_FOUND"),
    ],
)
async def test_the_simulator_refuses_raw_bad_orders_with_mb_codes(
    mb_http: httpx.AsyncClient,
    mb_control: MbControl,
    symbol: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    headers, account = await _login(mb_http)
    response = await mb_http.post(
        f"/accounts/{account}/{symbol}/orders", headers=headers, json=body
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert await mb_control.orders() == []


async def test_a_repeated_external_id_never_makes_a_second_order(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    headers, account = await _login(mb_http)
    path = f"/accounts/{account}/BTC-BRL/orders"
    first = await mb_http.post(path, headers=headers, json=_order(externalId="abc-1"))
    again = await mb_http.post(path, headers=headers, json=_order(externalId="abc-1"))
    assert first.status_code == 200 and set(first.json()) == {"orderId"}
    assert (again.status_code, again.json()["code"]) == (400, "TRADING|PLACE_ORDER|ORDER_DUPLICATE")
    assert [o["externalId"] for o in await mb_control.orders()] == ["abc-1"]


async def test_order_documents_write_prices_as_exact_json_numbers(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    await mb_control.fund("BRL", Decimal("10"))
    headers, account = await _login(mb_http)
    body = {"side": "buy", "type": "limit", "qty": "1000000", "limitPrice": 0.00000121}
    placed = await mb_http.post(f"/accounts/{account}/PEPE-BRL/orders", headers=headers, json=body)
    order_id = placed.json()["orderId"]
    raw = await mb_http.get(f"/accounts/{account}/PEPE-BRL/orders/{order_id}", headers=headers)
    assert '"limitPrice":0.00000121' in raw.text
    doc = json.loads(raw.text, parse_float=Decimal)
    assert (doc["qty"], doc["status"], doc["filledQty"]) == (
        "1000000.00000000",
        "working",
        "0.00000000",
    )


async def test_unknown_and_final_orders_answer_mb_codes(
    mb_http: httpx.AsyncClient,
) -> None:
    headers, account = await _login(mb_http)
    path = f"/accounts/{account}/BTC-BRL/orders"
    unknown = await mb_http.get(f"{path}/404", headers=headers)
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"code": "TRADING|GET_ORDER|ORDER_NOT_FOUND", "message": "Order not found"},
    )
    market = {"side": "buy", "type": "market", "cost": 100}
    order_id = (await mb_http.post(path, headers=headers, json=market)).json()["orderId"]
    doc = (await mb_http.get(f"{path}/{order_id}", headers=headers)).json()
    assert doc["status"] == "filled" and doc["cost"] == 100
    assert doc["executions"][0]["liquidity"] == "taker"
    assert doc["executions"][0]["fee_rate"] == "0.70000000"
    cancel = await mb_http.delete(f"{path}/{order_id}", headers=headers)
    assert (cancel.status_code, cancel.json()["code"]) == (
        400,
        "TRADING|CANCEL_ORDER|INVALID_STATUS",
    )


async def test_list_all_orders_uses_items_and_external_id(mb_http: httpx.AsyncClient) -> None:
    headers, account = await _login(mb_http)
    await mb_http.post(
        f"/accounts/{account}/BTC-BRL/orders", headers=headers, json=_order(externalId="x1")
    )
    listed = (await mb_http.get(f"/accounts/{account}/orders", headers=headers)).json()
    assert [(i["external_id"], i["status"]) for i in listed["items"]] == [("x1", "working")]
    cancelled = await mb_http.delete(f"/accounts/{account}/cancel_all_open_orders", headers=headers)
    assert [(c["side"], c["fiat"]) for c in cancelled.json()] == [("BID", "BRL")]


async def test_order_ids_are_ulids_in_creation_order(mb_http: httpx.AsyncClient) -> None:
    headers, account = await _login(mb_http)
    path = f"/accounts/{account}/BTC-BRL/orders"
    ids = [
        (await mb_http.post(path, headers=headers, json=_order())).json()["orderId"] for _ in "abc"
    ]
    assert all(ULID.fullmatch(i) for i in ids) and ids == sorted(ids) and len(set(ids)) == 3
    doc = (await mb_http.get(f"{path}/{ids[1]}", headers=headers)).json()
    assert doc["id"] == ids[1]
    items = (await mb_http.get(f"/accounts/{account}/orders", headers=headers)).json()["items"]
    assert [i["id"] for i in items] == ids[::-1]  # most recent first


async def test_order_lists_honour_mb_filters(mb_http: httpx.AsyncClient) -> None:
    headers, account = await _login(mb_http)
    path = f"/accounts/{account}/BTC-BRL/orders"
    buy = (await mb_http.post(path, headers=headers, json=_order())).json()["orderId"]
    sell = _order(side="sell", limitPrice=360000)
    ask = (await mb_http.post(path, headers=headers, json=sell)).json()["orderId"]
    market = {"side": "buy", "type": "market", "cost": 100}
    filled = (await mb_http.post(path, headers=headers, json=market)).json()["orderId"]
    now = int(time.time())

    async def ids(url: str, **query: str | int) -> list[str]:
        body = (await mb_http.get(url, headers=headers, params=query)).json()
        return [o["id"] for o in (body["items"] if isinstance(body, dict) else body)]

    for url in (path, f"/accounts/{account}/orders"):
        assert await ids(url, status="filled") == [filled]
        assert await ids(url, status="working,filled") == [filled, ask, buy]
        assert await ids(url, side="sell") == [ask]
        assert await ids(url, has_executions="true") == [filled]
        assert await ids(url, id_from=ask) == [filled, ask]
        assert await ids(url, id_from=ask, id_to=ask) == [ask]
        assert await ids(url, created_at_from=now + 5) == []
        assert await ids(url, created_at_to=now + 5) == [filled, ask, buy]
        assert await ids(url, executed_at_from=now - 5, executed_at_to=now + 5) == [filled]
    bad = await mb_http.get(path, headers=headers, params={"created_at_from": "yesterday"})
    assert (bad.status_code, bad.json()["code"]) == (400, "TRADING|LIST_ORDERS|INVALID_PARAMETER")


async def test_positions_are_the_open_orders(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    await mb_control.fund("ETH", Decimal("1"))
    headers, account = await _login(mb_http)
    btc = (
        await mb_http.post(f"/accounts/{account}/BTC-BRL/orders", headers=headers, json=_order())
    ).json()["orderId"]
    eth = _order(side="sell", qty="0.5", limitPrice=20000)
    await mb_http.post(f"/accounts/{account}/ETH-BRL/orders", headers=headers, json=eth)
    market = {"side": "buy", "type": "market", "cost": 100}
    await mb_http.post(f"/accounts/{account}/BTC-BRL/orders", headers=headers, json=market)

    url = f"/accounts/{account}/positions"
    every = (await mb_http.get(url, headers=headers)).json()
    assert [(p["instrument"], p["side"], p["category"]) for p in every] == [
        ("ETH-BRL", "sell", "limit"),
        ("BTC-BRL", "buy", "limit"),
    ]
    only = (await mb_http.get(url, headers=headers, params={"symbols": "BTC-BRL"})).json()
    assert only == [
        {
            "id": btc,
            "instrument": "BTC-BRL",
            "side": "buy",
            "category": "limit",
            "qty": "0.00100000",
            "avgPrice": 0,
        }
    ]


async def test_post_only_rests_or_is_refused_and_stoplimit_waits_for_its_stop(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    headers, account = await _login(mb_http)
    path = f"/accounts/{account}/BTC-BRL/orders"
    maker = (await mb_http.post(path, headers=headers, json=_order(type="post-only"))).json()[
        "orderId"
    ]
    assert (await mb_http.get(f"{path}/{maker}", headers=headers)).json()["type"] == "post-only"
    taking = await mb_http.post(
        path, headers=headers, json=_order(type="post-only", limitPrice=360000)
    )
    assert (taking.status_code, taking.json()["code"]) == (
        400,
        "TRADING|PLACE_ORDER|API_GENERIC_ERROR",
    )
    no_stop = await mb_http.post(path, headers=headers, json=_order(type="stoplimit", side="sell"))
    assert (no_stop.status_code, no_stop.json()["code"]) == (
        422,
        "API|REQUEST|STOPPRICE_MUST_BE_REQUIRED",
    )

    stop = _order(type="stoplimit", side="sell", stopPrice=340000, limitPrice=339000)
    stop_id = (await mb_http.post(path, headers=headers, json=stop)).json()["orderId"]
    waiting = (await mb_http.get(f"{path}/{stop_id}", headers=headers)).json()
    assert (waiting["type"], waiting["status"], waiting["stopPrice"]) == (
        "stoplimit",
        "working",
        340000,
    )
    await mb_control.set_price("BTC-BRL", Decimal("345000"))  # above the stop: still waiting
    assert (await mb_http.get(f"{path}/{stop_id}", headers=headers)).json()[
        "filledQty"
    ] == "0.00000000"
    await mb_control.set_price("BTC-BRL", Decimal("339500"))  # at the stop: a sell at >= limit
    done = (await mb_http.get(f"{path}/{stop_id}", headers=headers)).json()
    assert (done["status"], done["filledQty"]) == ("filled", "0.00100000")


# -- limits and faults -----------------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after_until_reset() -> None:
    limits = RateLimits(public=Limit(requests=2, per_seconds=60))
    async with running(mb_sim_config(rate_limits=limits)) as sim:
        control = MbControl(sim)
        async with httpx.AsyncClient(base_url=sim.api_url) as http:
            codes = [(await http.get("/symbols")).status_code for _ in range(3)]
            refused = await http.get("/symbols")
            assert codes == [200, 200, 429]
            assert refused.json()["code"] == "API|RATE_LIMIT|REQUEST_RATE_EXCEEDED"
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            await control.post("/rate_limits/reset")
            assert (await http.get("/symbols")).status_code == 200
        await control.http.aclose()


async def test_injected_errors_fail_the_next_requests_only(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    await mb_control.post("/faults/errors", {"count": 2, "status": 502})
    statuses = [(await mb_http.get("/symbols")).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


async def test_faults_by_path_fail_only_that_route_then_stop(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    headers, account = await _login(mb_http)
    fault = {"method": "GET", "path": "/accounts/*/balances", "count": 2, "status": 503}
    await mb_control.post("/faults", fault)
    balances = f"/accounts/{account}/balances"
    assert (await mb_http.get("/symbols")).status_code == 200  # another route: untouched
    statuses = [(await mb_http.get(balances, headers=headers)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]

    body = {"code": "TRADING|PLACE_ORDER|ORDER_DUPLICATE", "message": "custom"}
    await mb_control.post(
        "/faults",
        {
            "path": f"/accounts/{account}/BTC-BRL/orders",
            "method": "POST",
            "status": 400,
            "body": body,
            "after_processing": True,
        },
    )
    lost = await mb_http.post(f"/accounts/{account}/BTC-BRL/orders", headers=headers, json=_order())
    assert (lost.status_code, lost.json()) == (400, body)
    assert len(await mb_control.orders()) == 1  # placed all the same: the answer was the fault


async def test_a_hanging_route_outlasts_the_callers_timeout(
    mb_http: httpx.AsyncClient, mb_control: MbControl
) -> None:
    await mb_control.post("/faults", {"path": "/tickers", "hang_seconds": 3})
    with pytest.raises(httpx.ReadTimeout):
        await mb_http.get("/tickers", params={"symbols": "BTC-BRL"}, timeout=0.3)
    assert (await mb_http.get("/tickers", params={"symbols": "BTC-BRL"})).status_code == 200


async def test_a_fresh_simulator_per_test_has_its_own_free_port(mb_sim: RunningSim) -> None:
    async with running(mb_sim_config()) as other:
        assert other.url != mb_sim.url
