"""Deleting a venue key pauses, at once, the bots that trade with it (not at their next order,
which may be a stop loss); they resume when the user says so. A deletion the bots cannot be
told of is refused (503) and the key stays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import select

from adapters.db.models import ExchangeCredential
from adapters.settings import Settings
from tests.api.bot_helpers import (
    Sessions,
    Trader,
    add_context,
    api_without_temporal,
    bot_reads,
    create_bot,
    end_bots,
    save_binance_key,
    trader,
)
from tests.conftest import assert_error
from tests.exchanges.conftest_binance import BinanceSim

__all__ = ["end_bots", "trader"]  # fixtures

pytestmark = pytest.mark.usefixtures("end_bots")


async def test_deleting_a_key_pauses_the_bots_trading_with_it_and_no_other(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
    binance_sim: BinanceSim,
) -> None:
    t = await trader()
    await save_binance_key(sessions, settings, t.id, binance_sim, BRL="500")
    context = await add_context(sessions, t.id, exchange="binance")
    on_binance = (await create_bot(api, t, context, allocated_balance="100"))["id"]
    on_paper = (await create_bot(api, t, await add_context(sessions, t.id)))["id"]

    deleted = await api.delete("/api/credentials/binance", headers=t.headers)
    assert deleted.status_code == 204, deleted.text
    paused = await bot_reads(api, t, on_binance, "paused", "credentials")
    assert "key was deleted" in paused["pause_detail"]
    assert paused["last_decision"]["reason"] == "credentials"
    refused = assert_error(
        await api.post(f"/api/bots/{on_binance}/buy", headers=t.headers),
        409,
        "bot_command_refused",
    )
    assert "key was deleted" in refused["message"]
    await bot_reads(api, t, on_paper, "running", None)

    # The user saves a key again and resumes the bot.
    await save_binance_key(sessions, settings, t.id, binance_sim, BRL="500")
    resumed = await api.post(f"/api/bots/{on_binance}/resume", headers=t.headers)
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["pause_reason"]) == ("running", None)


async def test_a_key_whose_bots_cannot_be_told_stays(
    api: httpx.AsyncClient,
    trader: Callable[[], Awaitable[Trader]],
    sessions: Sessions,
    settings: Settings,
    binance_sim: BinanceSim,
) -> None:
    t = await trader()
    await save_binance_key(sessions, settings, t.id, binance_sim, BRL="500")
    context = await add_context(sessions, t.id, exchange="binance")
    await create_bot(api, t, context, allocated_balance="100")
    async with api_without_temporal(settings, sessions) as down:
        response = await down.delete("/api/credentials/binance", headers=t.headers)
    assert_error(response, 503, "temporal_unavailable")
    async with sessions() as session:
        kept = await session.scalar(
            select(ExchangeCredential.id).where(ExchangeCredential.user_id == t.id)
        )
    assert kept is not None
