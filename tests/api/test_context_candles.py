"""A context's candles for the web app's chart: its own market on its own venue, only to its
owner, in the venue's timeframes, bounded."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

import httpx

from tests.api.bot_helpers import Sessions, Trader, add_context, trader
from tests.conftest import assert_error

__all__ = ["trader"]  # fixtures


async def test_the_markets_newest_candles_oldest_first(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id, coin="ETH", fiat="BTC")
    response = await api.get(
        f"/api/contexts/{context}/candles",
        params={"timeframe": "5m", "limit": 30},
        headers=t.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["symbol"], body["exchange"], body["timeframe"]) == ("ETH-BTC", "paper", "5m")
    candles = body["candles"]
    assert 0 < len(candles) <= 30
    opens = [datetime.fromisoformat(c["open_time"]) for c in candles]
    assert opens == sorted(opens) and len(set(opens)) == len(opens)
    for candle in candles:  # exact decimals, as every amount of the API
        low, high = Decimal(candle["low"]), Decimal(candle["high"])
        assert low <= Decimal(candle["open"]) <= high and low <= Decimal(candle["close"]) <= high


async def test_another_users_context_or_none_is_404(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t, other = await trader(), await trader()
    theirs = await add_context(sessions, other.id)
    for context_id in (theirs, uuid.uuid4()):
        response = await api.get(f"/api/contexts/{context_id}/candles", headers=t.headers)
        assert_error(response, 404, "context_not_found")
    assert_error(await api.get(f"/api/contexts/{theirs}/candles"), 401, "not_authenticated")


async def test_a_timeframe_the_venue_lacks_or_too_many_candles_are_refused(
    api: httpx.AsyncClient, trader: Callable[[], Awaitable[Trader]], sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    url = f"/api/contexts/{context}/candles"
    # Mercado Bitcoin's 3h is no timeframe of the paper venue's; 7m is no venue's.
    refused = await api.get(url, params={"timeframe": "3h"}, headers=t.headers)
    assert_error(refused, 422, "timeframe_unsupported")
    invalid = await api.get(url, params={"timeframe": "7m"}, headers=t.headers)
    assert_error(invalid, 422, "validation_error")
    assert_error(
        await api.get(url, params={"limit": 501}, headers=t.headers), 422, "validation_error"
    )
