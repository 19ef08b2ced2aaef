"""A context's market as candles, for the web app's price chart: read from the venue's public
market data (the paper venue's replayed candles for a paper context) and kept a few seconds, so
every chart of a market polling at once costs the venue one request."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from adapters.contexts import ContextRepository
from adapters.exchanges.catalogue import TIMEFRAMES
from adapters.exchanges.errors import ExchangeError, UnknownSymbol
from adapters.exchanges.factory import ExchangeFactory
from api.deps import CurrentUser, ExchangesDep, SessionDep
from api.errors import ApiError, error_responses
from domain.indicators.availability import timeframe_refusal
from domain.market import Candle, Venue

router = APIRouter(
    prefix="/api/contexts", tags=["contexts"], responses=error_responses(401, 422, 500)
)

MAX_CANDLES = 500
FRESH_SECONDS = 5.0
# Every venue's timeframes; the context's own venue may serve fewer (timeframe_unsupported).
ANY_TIMEFRAME = "^(" + "|".join(sorted({t for ts in TIMEFRAMES.values() for t in ts})) + ")$"

_Key = tuple[Venue, str, str, int]
# A market's read, shared by every request that asks while it is fresh (or still running).
_reads: dict[_Key, tuple[float, asyncio.Task[list[Candle]]]] = {}


class CandleList(BaseModel):
    symbol: str
    exchange: Venue
    timeframe: str
    candles: list[Candle]  # oldest first; the last may still be open


async def _fetch(exchanges: ExchangeFactory, key: _Key) -> list[Candle]:
    venue, symbol, timeframe, limit = key
    async with exchanges.connect(venue) as exchange:
        return await exchange.candles(symbol, timeframe, limit=limit)


async def _read(exchanges: ExchangeFactory, key: _Key) -> list[Candle]:
    now = time.monotonic()
    for old in [k for k, (at, _) in _reads.items() if now - at >= FRESH_SECONDS]:
        del _reads[old]
    if key not in _reads or _reads[key][1].get_loop() is not asyncio.get_running_loop():
        _reads[key] = (now, asyncio.create_task(_fetch(exchanges, key)))
    at, read = _reads[key]
    try:
        # shield: a caller that gives up (client gone) does not cancel the others' read.
        return await asyncio.shield(read)
    except Exception:
        if _reads.get(key) == (at, read):
            del _reads[key]  # a failed read is not kept: the next request asks again
        raise


@router.get("/{context_id}/candles", response_model=CandleList, responses=error_responses(404, 503))
async def context_candles(
    context_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    exchanges: ExchangesDep,
    timeframe: Annotated[str, Query(pattern=ANY_TIMEFRAME)] = "1m",
    limit: Annotated[int, Query(ge=1, le=MAX_CANDLES)] = 200,
) -> CandleList:
    """The newest `limit` candles of the context's market on its venue, oldest first."""
    context = await ContextRepository(session).get(user.id, context_id)
    if context is None:
        raise ApiError(404, "context_not_found", "No such trading context.")
    venue = Venue(context.exchange)
    refusal = timeframe_refusal(venue, timeframe)
    if refusal is not None:
        raise ApiError(422, "timeframe_unsupported", refusal.message, {"timeframe": timeframe})
    symbol = f"{context.coin}-{context.fiat}"
    try:
        candles = await _read(exchanges, (venue, symbol, timeframe, limit))
    except UnknownSymbol:
        raise ApiError(
            422, "unknown_market", f"{venue.value} has no market {symbol}.", {"symbol": symbol}
        ) from None
    except ExchangeError as error:
        raise ApiError(
            503, "venue_unavailable", f"{venue.value} could not be read: {error.message}"
        ) from None
    return CandleList(symbol=symbol, exchange=venue, timeframe=timeframe, candles=candles)
