"""The bots API over HTTP, on the real database, Temporal dev server and production workers:
every refusal of a new bot with its own code, the bot's reads (live and projected), commands
as Updates of the real SmartBot workflow, deletion, and owner scoping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.subscriptions import PlanChange, SubscriptionActivities
from adapters.db.models import ExchangeCredential
from adapters.db.models_bots import BotRecord
from adapters.payments.gateways import PaymentGateways
from adapters.settings import Settings
from adapters.vault import Vault
from domain.bots.state import BotStatus
from domain.plans import PLANS, Plan
from tests.api.bot_helpers import (
    MANUAL,
    Sessions,
    Trader,
    add_bot_row,
    add_context,
    api_without_temporal,
    bot_body,
    bot_reads,
    create_bot,
    end_bots,
    save_binance_key,
    set_plan,
    trader,
)
from tests.conftest import assert_error
from tests.exchanges.conftest_binance import BinanceSim
from workflows.search_attributes import BOT_STATUS, USER_ID

__all__ = ["end_bots", "trader"]  # fixtures

pytestmark = pytest.mark.usefixtures("end_bots")


# -- refusals of a new bot ----------------------------------------------------------------------


async def test_a_context_unknown_or_of_another_user_is_404(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t, other = await trader(), await trader()
    theirs = await add_context(sessions, other.id)
    for context_id in (uuid.uuid4(), theirs):
        response = await api.post("/api/bots", json=bot_body(context_id), headers=t.headers)
        assert_error(response, 404, "context_not_found")


async def test_a_paused_context_takes_no_bot(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id, paused=True)
    response = await api.post("/api/bots", json=bot_body(context), headers=t.headers)
    assert_error(response, 409, "context_paused")


async def test_a_kind_outside_the_plan_is_plan_feature_and_its_own_config_is_required(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    body = {**bot_body(context), "kind": "candle"}
    error = assert_error(
        await api.post("/api/bots", json=body, headers=t.headers), 403, "plan_feature"
    )
    assert error["details"] == {"plan": "FREE", "feature": "candle_bots"}
    await set_plan(sessions, t.id, Plan.PRO)
    response = await api.post("/api/bots", json=body, headers=t.headers)
    fields = assert_error(response, 422, "invalid_config")["details"]["fields"]
    assert {"config.strategy", "config.mode"} <= {field["field"] for field in fields}


async def test_the_plan_limit_counts_the_users_bots_not_deleted(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    limit = PLANS[Plan.FREE].max_bots
    assert limit is not None
    # Spread over two contexts: the limit is per user.
    contexts = [await add_context(sessions, t.id), await add_context(sessions, t.id, coin="ETH")]
    bots = [await add_bot_row(sessions, t.id, contexts[i % 2]) for i in range(limit)]
    error = assert_error(
        await api.post("/api/bots", json=bot_body(contexts[0]), headers=t.headers),
        403,
        "plan_limit",
    )
    assert error["details"] == {"plan": "FREE", "limit": limit, "current": limit}
    async with sessions() as session:
        await session.execute(
            update(BotRecord).where(BotRecord.id == bots[0]).values(deleted_at=datetime.now(UTC))
        )
        await session.commit()
    # Room again: the request goes on to the next check (here a config refused).
    body = bot_body(contexts[0], order_amount="0")
    response = await api.post("/api/bots", json=body, headers=t.headers)
    assert_error(response, 422, "invalid_config")


async def test_two_bots_created_at_once_never_both_take_the_last_room(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    await add_bot_row(sessions, t.id, context)  # the FREE plan has room for one more
    responses = await asyncio.gather(
        *(api.post("/api/bots", json=bot_body(context), headers=t.headers) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 403], [r.text for r in responses]


async def test_an_invalid_config_names_every_field(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    body = bot_body(context, mode="SCHEDULED", order_amount="-1", allocated_balance="lots", bogus=1)
    error = assert_error(
        await api.post("/api/bots", json=body, headers=t.headers), 422, "invalid_config"
    )
    fields = {item["field"] for item in error["details"]["fields"]}
    assert fields == {
        "config.order_amount",
        "config.allocated_balance",
        "config.cron",
        "config.timezone",
        "config.bogus",
    }
    mismatch = await api.post(
        "/api/bots", json=bot_body(context, symbol="ETH-BRL"), headers=t.headers
    )
    error = assert_error(mismatch, 422, "invalid_config")
    assert [item["field"] for item in error["details"]["fields"]] == ["config.symbol"]
    assert "BTC-BRL" in error["details"]["fields"][0]["message"]
    # Finer than the order tables store: such an order could never be recorded.
    fine = bot_body(context, order_amount="0.0000000000000000001", allocated_balance="1e20")
    error = assert_error(
        await api.post("/api/bots", json=fine, headers=t.headers), 422, "invalid_config"
    )
    assert {f["field"] for f in error["details"]["fields"]} == {
        "config.order_amount",
        "config.allocated_balance",
    }


async def test_a_venue_without_keys_is_credentials_missing(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id, exchange="binance", fiat="USDT")
    response = await api.post("/api/bots", json=bot_body(context), headers=t.headers)
    assert_error(response, 409, "credentials_missing")


async def test_funds_are_the_free_balance_less_what_other_live_bots_may_spend(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    """A new paper account holds 100,000 BRL free."""
    t = await trader()
    context = await add_context(sessions, t.id)
    too_much = bot_body(context, allocated_balance="100000.01")
    error = assert_error(
        await api.post("/api/bots", json=too_much, headers=t.headers), 409, "insufficient_funds"
    )
    assert error["details"] == {
        "asset": "BRL",
        "free": "100000",
        "committed_to_bots": "0",
        "requested": "100000.01",
    }
    # Another context's live bot on the same venue and quote may still spend 90,000 of it; a
    # stopped bot and a deleted one commit nothing.
    await set_plan(sessions, t.id, Plan.PRO)
    other = await add_context(sessions, t.id, coin="ETH")
    await add_bot_row(sessions, t.id, other, allocated="90000")
    await add_bot_row(sessions, t.id, other, allocated="50000", status=BotStatus.STOPPED)
    await add_bot_row(sessions, t.id, other, allocated="50000", deleted=True)
    error = assert_error(
        await api.post(
            "/api/bots", json=bot_body(context, allocated_balance="10000.5"), headers=t.headers
        ),
        409,
        "insufficient_funds",
    )
    assert error["details"]["committed_to_bots"] == "90000"
    async with sessions() as session:
        assert await session.scalar(select(BotRecord.id).where(BotRecord.name == "my bot")) is None
    await create_bot(api, t, context, allocated_balance="10000")


async def test_a_failed_start_leaves_no_bot_behind(
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    async with api_without_temporal(settings, sessions) as down:
        response = await down.post("/api/bots", json=bot_body(context), headers=t.headers)
        assert_error(response, 503, "temporal_unavailable")
        bot = await add_bot_row(sessions, t.id, context)
        # Reads fall back to the stored projection; commands answer 503.
        read = await down.get(f"/api/bots/{bot}", headers=t.headers)
        assert read.status_code == 200, read.text
        assert read.json()["live"] is False
        assert read.json()["funds"]["allocated_balance"] == "1000"
        paused = await down.post(f"/api/bots/{bot}/pause", headers=t.headers)
        assert_error(paused, 503, "temporal_unavailable")
    async with sessions() as session:
        names = (await session.scalars(select(BotRecord.name))).all()
    assert names == ["row only"]


# -- a running bot ------------------------------------------------------------------------------


async def test_a_new_bot_runs_and_reads_back_with_decimals_as_strings(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    temporal: Client,
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    bot = await create_bot(api, t, context, allocated_balance="1000.50")
    assert bot["status"] == "running" and bot["kind"] == "smart" and bot["venue"] == "paper"
    assert bot["config"]["symbol"] == "BTC-BRL"
    assert bot["config"]["allocated_balance"] == "1000.50"  # the user's figure, as given
    # The books in their shortest exact form (a sum of 0.001 - 0.001 reads "0").
    assert bot["funds"]["allocated_balance"] == "1000.5"
    assert bot["funds"]["free"] == "1000.5" and bot["funds"]["blocked"] == "0"
    assert bot["funds"]["average_price"] is None
    assert bot["risk"]["consecutive_losses"] == 0
    description = await temporal.get_workflow_handle(f"bot:{bot['id']}").describe()
    attributes = description.typed_search_attributes
    assert attributes.get(USER_ID) == str(t.id)
    assert attributes.get(BOT_STATUS) == "running"
    live = await api.get(f"/api/bots/{bot['id']}", headers=t.headers)
    assert live.status_code == 200, live.text
    assert live.json()["live"] is True
    assert live.json()["funds"]["allocated_balance"] == "1000.5"
    listed = await api.get("/api/bots", headers=t.headers)
    assert [b["id"] for b in listed.json()] == [bot["id"]]


async def test_commands_are_applied_or_refused_by_the_bot(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    bot = await create_bot(api, t, await add_context(sessions, t.id))
    url = f"/api/bots/{bot['id']}"
    paused = await api.post(f"{url}/pause", headers=t.headers)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["status"], paused.json()["pause_reason"]) == ("paused", "user")
    assert paused.json()["live"] is True
    again = assert_error(
        await api.post(f"{url}/pause", headers=t.headers), 409, "bot_command_refused"
    )
    assert "only a running bot pauses" in again["message"]
    resumed = await api.post(f"{url}/resume", headers=t.headers)
    assert resumed.json()["status"] == "running"
    assert_error(
        await api.post(f"{url}/reset-circuit-breaker", headers=t.headers),
        409,
        "bot_command_refused",
    )
    for amount in ("", "0", "-1", "1e3", "0.0000000000000000001", 5):
        malformed = await api.post(f"{url}/buy", json={"amount": amount}, headers=t.headers)
        assert_error(malformed, 422, "validation_error")
    # Nothing held: a manual sell has nothing to sell.
    assert_error(
        await api.post(f"{url}/sell", json={"amount": "0.1"}, headers=t.headers),
        409,
        "bot_command_refused",
    )


async def test_a_config_change_answers_the_applied_config_and_names_refused_fields(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    bot = await create_bot(api, t, await add_context(sessions, t.id))
    url = f"/api/bots/{bot['id']}/config"
    applied = await api.put(url, json={**MANUAL, "order_amount": "20.5"}, headers=t.headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["order_amount"] == "20.5"
    assert applied.json()["symbol"] == "BTC-BRL"
    read = await api.get(f"/api/bots/{bot['id']}", headers=t.headers)
    assert read.json()["config"]["order_amount"] == "20.5"
    refused = await api.put(url, json={**MANUAL, "interval_seconds": 0}, headers=t.headers)
    error = assert_error(refused, 422, "invalid_config")
    assert [f["field"] for f in error["details"]["fields"]] == ["config.interval_seconds"]
    moved = await api.put(url, json={**MANUAL, "symbol": "ETH-BRL"}, headers=t.headers)
    assert_error(moved, 422, "invalid_config")


async def test_only_a_stopped_bot_is_deleted_and_its_orders_stay(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    bot = await create_bot(api, t, await add_context(sessions, t.id))
    url = f"/api/bots/{bot['id']}"
    assert_error(await api.delete(url, headers=t.headers), 409, "bot_not_stopped")
    stopped = await api.post(f"{url}/stop", headers=t.headers)
    assert stopped.json()["status"] == "stopped"
    deleted = await api.delete(url, headers=t.headers)
    assert deleted.status_code == 204, deleted.text
    assert_error(await api.get(url, headers=t.headers), 404, "bot_not_found")
    assert_error(await api.delete(url, headers=t.headers), 404, "bot_not_found")
    assert (await api.get("/api/bots", headers=t.headers)).json() == []
    history = await api.get(f"{url}/orders", headers=t.headers)
    assert history.status_code == 200, history.text
    async with sessions() as session:
        row = await session.get(BotRecord, uuid.UUID(bot["id"]))
        assert row is not None and row.deleted_at is not None


async def test_a_manual_buy_on_paper_is_an_order_of_the_bot(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    bot = await create_bot(api, t, await add_context(sessions, t.id))
    bought = await api.post(f"/api/bots/{bot['id']}/buy", json={"amount": "100"}, headers=t.headers)
    assert bought.status_code == 200, bought.text
    funds = bought.json()["funds"]
    assert Decimal(funds["invested"]) > 0 and Decimal(funds["position_quantity"]) > 0
    orders = (await api.get(f"/api/bots/{bot['id']}/orders", headers=t.headers)).json()["orders"]
    assert [(o["side"], o["strategy"]) for o in orders] == [("buy", "manual")]
    detail = await api.get(f"/api/orders/{orders[0]['id']}", headers=t.headers)
    assert detail.json()["creation_context"], detail.text


# -- owner scoping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("GET", "/orders", None),
        ("PUT", "/config", MANUAL),
        ("POST", "/pause", None),
        ("POST", "/buy", {"amount": "1"}),
        ("POST", "/emergency-sell", None),
        ("DELETE", "", None),
    ],
)
async def test_another_users_bot_is_not_found(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    owner, other = await trader(), await trader()
    bot = await add_bot_row(sessions, owner.id, await add_context(sessions, owner.id))
    response = await api.request(method, f"/api/bots/{bot}{path}", json=body, headers=other.headers)
    assert_error(response, 404, "bot_not_found")
    assert (await api.get("/api/bots", headers=other.headers)).json() == []


async def test_a_plan_change_pauses_and_resumes_the_bots_of_the_contexts_it_moves(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
    temporal: Client,
) -> None:
    """The subscription's activity, run on the real Temporal client: the downgrade pauses the
    newest context, whose bot hears it; the upgrade resumes both."""
    t = await trader()
    await set_plan(sessions, t.id, Plan.PRO)
    await add_context(sessions, t.id)
    newest = await add_context(sessions, t.id, coin="ETH")
    bot = await create_bot(api, t, newest, allocated_balance="100")
    gateways = PaymentGateways.from_settings(settings)  # not called by the plan limits
    limits = SubscriptionActivities(sessions, gateways)
    environment = ActivityEnvironment(client=temporal)

    down = await environment.run(limits.apply_plan_limits, PlanChange(user_id=t.id, plan=Plan.FREE))
    assert down.paused_contexts == [newest]
    await bot_reads(api, t, bot["id"], "paused", "context_paused")
    assert_error(
        await api.post(f"/api/bots/{bot['id']}/resume", headers=t.headers),
        409,
        "context_paused",
    )
    up = await environment.run(limits.apply_plan_limits, PlanChange(user_id=t.id, plan=Plan.PRO))
    assert up.resumed_contexts == [newest]
    await bot_reads(api, t, bot["id"], "running", None)
    await gateways.aclose()


async def test_a_binance_bot_is_funded_from_the_users_key(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
    binance_sim: BinanceSim,
) -> None:
    """The Binance simulator's account behind the user's saved key holds 500 BRL."""
    t = await trader()
    context = await add_context(sessions, t.id, exchange="binance")
    credential = await save_binance_key(sessions, settings, t.id, binance_sim, BRL="500")
    error = assert_error(
        await api.post("/api/bots", json=bot_body(context), headers=t.headers),
        409,
        "insufficient_funds",
    )
    assert (error["details"]["free"], error["details"]["requested"]) == ("500", "1000")
    bot = await create_bot(api, t, context, allocated_balance="400")
    assert (bot["venue"], bot["funds"]["allocated_balance"]) == ("binance", "400")
    # A key the venue refuses (here: its secret no longer the account's).
    async with sessions() as session:
        stored = await session.get(ExchangeCredential, credential.id)
        assert stored is not None
        context_label = f"exchange-credential:{t.id}:binance:api_secret"
        vault = Vault(settings.credential_keys, settings.credentials_key_version)
        stored.api_secret_sealed = vault.seal("not-the-secret", context_label)
        await session.commit()
    await set_plan(sessions, t.id, Plan.PRO)
    response = await api.post(
        "/api/bots",
        json=bot_body(context, order_amount="1", allocated_balance="1"),
        headers=t.headers,
    )
    assert_error(response, 409, "credentials_rejected")


async def test_a_context_the_user_pauses_pauses_its_bots_and_keeps_them_on_delete(
    api: httpx.AsyncClient,
    sessions: Sessions,
    trader: Callable[[], Awaitable[Trader]],
) -> None:
    """Pausing a context tells its bots (they pause with the context's reason and resume with
    it); a context with bots cannot be deleted (409), another user's stays a 404."""
    t = await trader()
    context = await add_context(sessions, t.id)
    bot = await create_bot(api, t, context, allocated_balance="100")

    paused = await api.post(f"/api/contexts/{context}/pause", headers=t.headers)
    assert paused.status_code == 200, paused.text
    await bot_reads(api, t, bot["id"], "paused", "context_paused")
    refused = assert_error(
        await api.post(f"/api/bots/{bot['id']}/buy", headers=t.headers), 409, "bot_command_refused"
    )
    assert "paused" in refused["message"]
    assert_error(  # the bot resumes with its context, not before
        await api.post(f"/api/bots/{bot['id']}/resume", headers=t.headers), 409, "context_paused"
    )
    resumed = await api.post(f"/api/contexts/{context}/resume", headers=t.headers)
    assert resumed.status_code == 200, resumed.text
    await bot_reads(api, t, bot["id"], "running", None)
    assert_error(
        await api.delete(f"/api/contexts/{context}", headers=t.headers), 409, "context_has_bots"
    )
    stranger = await trader()
    assert_error(
        await api.delete(f"/api/contexts/{context}", headers=stranger.headers),
        404,
        "context_not_found",
    )
