"""The orders API over HTTP on orders written with the bot storage itself: filters, pages newest
first, one order with its creation context and fills, decimals as strings, owner scoping."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from adapters.db.models_bots import BotRecord
from domain.bots.orders import Strategy
from domain.market import OrderStatus, Side
from tests.api.bot_helpers import T0, Sessions, Trader, add_bot_row, add_context, add_order, trader
from tests.conftest import assert_error

__all__ = ["trader"]  # the fixture


async def orders(api: httpx.AsyncClient, t: Trader, url: str = "/api/orders", **params: Any) -> Any:
    response = await api.get(url, params=params, headers=t.headers)
    assert response.status_code == 200, response.text
    return response.json()


def cids(page: Any) -> list[str]:
    return [order["client_order_id"] for order in page["orders"]]


async def test_orders_page_newest_first_without_repeats(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    bot = await add_bot_row(sessions, t.id, await add_context(sessions, t.id))
    made = [await add_order(sessions, bot, n) for n in range(5)]
    first = await orders(api, t, limit=2)
    assert cids(first) == [made[4], made[3]]
    second = await orders(api, t, limit=2, cursor=first["next_cursor"])
    # An order recorded meanwhile (newer) shifts nothing.
    await add_order(sessions, bot, 9)
    third = await orders(api, t, limit=2, cursor=second["next_cursor"])
    assert cids(second) == [made[2], made[1]]
    assert cids(third) == [made[0]] and third["next_cursor"] is None
    assert_error(
        await api.get("/api/orders?cursor=nonsense", headers=t.headers), 422, "invalid_cursor"
    )


async def test_orders_filter_by_context_bot_strategy_status_side_and_period(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    btc = await add_context(sessions, t.id)
    eth = await add_context(sessions, t.id, coin="ETH")
    first, second = await add_bot_row(sessions, t.id, btc), await add_bot_row(sessions, t.id, eth)
    a = await add_order(sessions, first, 0, strategy=Strategy.MANUAL)
    b = await add_order(sessions, first, 1, side=Side.SELL, status=OrderStatus.CANCELED)
    c = await add_order(sessions, second, 2, status=OrderStatus.FILLED)
    assert cids(await orders(api, t)) == [c, b, a]
    assert cids(await orders(api, t, context_id=str(eth))) == [c]
    assert cids(await orders(api, t, bot_id=str(first))) == [b, a]
    assert cids(await orders(api, t, strategy="manual")) == [a]
    assert cids(await orders(api, t, status="CANCELED")) == [b]
    assert cids(await orders(api, t, status="FILLED", side="buy")) == [c]
    assert cids(await orders(api, t, side="sell")) == [b]
    period = {
        "from": (T0 + timedelta(minutes=1)).isoformat(),
        "to": (T0 + timedelta(minutes=2)).isoformat(),
    }
    assert cids(await orders(api, t, **period)) == [b]  # from inclusive, to exclusive
    assert cids(await orders(api, t, f"/api/bots/{second}/orders")) == [c]
    assert cids(await orders(api, t, f"/api/bots/{first}/orders", side="buy")) == [a]
    refused = await api.get("/api/orders?status=filled", headers=t.headers)
    assert refused.status_code == 422  # the venues' vocabulary: FILLED
    for moment in ("0.5", "2026-11-02T12:00:00"):  # no Unix times, no naive times
        refused = await api.get("/api/orders", params={"to": moment}, headers=t.headers)
        assert_error(refused, 422, "validation_error")


async def test_an_order_shows_its_creation_context_and_fills_with_decimals_as_strings(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    bot = await add_bot_row(sessions, t.id, context)
    cid = await add_order(sessions, bot, 3, status=OrderStatus.FILLED)
    listed = (await orders(api, t))["orders"][0]
    assert listed["client_order_id"] == cid and "creation_context" not in listed
    response = await api.get(f"/api/orders/{listed['id']}", headers=t.headers)
    assert response.status_code == 200, response.text
    order = response.json()
    assert {k: order[k] for k in ("side", "type", "status", "strategy", "exchange_order_id")} == {
        "side": "buy",
        "type": "limit",
        "status": "FILLED",
        "strategy": "smart",
        "exchange_order_id": "venue-3",
    }
    assert (order["bot_id"], order["context_id"]) == (str(bot), str(context))
    assert order["quantity"] == "0.001"
    assert order["filled_quantity"] == "0.001"
    assert order["price"] == "350000.1"
    assert order["average_price"] == "350000.1"
    assert order["quote_quantity"] == "350.0001"
    assert order["fees"] == {"BTC": "0.000001"}
    assert order["creation_context"] == {"source": "smart", "bid": "349999.9"}
    assert [(f["price"], f["quantity"], f["fee"], f["fee_asset"]) for f in order["fills"]] == [
        ("350000.1", "0.001", "0.000001", "BTC")
    ]
    assert datetime.fromisoformat(order["created_at"]) == T0 + timedelta(minutes=3)


async def test_a_deleted_bots_orders_stay_listed(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    bot = await add_bot_row(sessions, t.id, await add_context(sessions, t.id))
    cid = await add_order(sessions, bot, 0)
    async with sessions() as session:
        deleted = update(BotRecord).where(BotRecord.id == bot).values(deleted_at=datetime.now(UTC))
        await session.execute(deleted)
        await session.commit()
    assert cids(await orders(api, t)) == [cid]
    assert cids(await orders(api, t, f"/api/bots/{bot}/orders")) == [cid]


async def test_another_users_orders_are_not_found(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    owner, other = await trader(), await trader()
    bot = await add_bot_row(sessions, owner.id, await add_context(sessions, owner.id))
    await add_order(sessions, bot, 0)
    order_id = (await orders(api, owner))["orders"][0]["id"]
    assert (await orders(api, other))["orders"] == []
    assert (await orders(api, other, bot_id=str(bot)))["orders"] == []
    assert_error(
        await api.get(f"/api/orders/{order_id}", headers=other.headers), 404, "order_not_found"
    )
    assert_error(
        await api.get(f"/api/bots/{bot}/orders", headers=other.headers), 404, "bot_not_found"
    )
    assert_error(
        await api.get(f"/api/orders/{uuid.uuid4()}", headers=owner.headers), 404, "order_not_found"
    )
