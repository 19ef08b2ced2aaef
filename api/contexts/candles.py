"""A context's market as candles, for the web app's price chart: read from the venue's public
market data (the paper venue's replayed candles for a paper context) and kept a few seconds, so
every chart of a market polling at once costs the venue one request."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from adapters.contexts import ContextRepository
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

_Key = tuple[Venue, str, str, int]
_cache: dict[_Key, tuple[float, list[Candle]]] = {}


class CandleList(BaseModel):
    symbol: str
    exchange: Venue
    timeframe: str
    candles: list[Candle]  # oldest first; the last may still be open


async def _read(exchanges: ExchangeFactory, key: _Key) -> list[Candle]:
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < FRESH_SECONDS:
        return cached[1]
    venue, symbol, timeframe, limit = key
    async with exchanges.connect(venue) as exchange:
        candles = await exchange.candles(symbol, timeframe, limit=limit)
    for old in [k for k, (at, _) in _cache.items() if now - at >= FRESH_SECONDS]:
        del _cache[old]
    _cache[key] = (now, candles)
    return candles


@router.get("/{context_id}/candles", response_model=CandleList, responses=error_responses(404, 503))
async def context_candles(
    context_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    exchanges: ExchangesDep,
    timeframe: Annotated[str, Query(max_length=8)] = "1m",
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
