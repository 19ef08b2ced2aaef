"""A context's market as candles, for the web app's price chart: read from the venue's public
market data (the paper venue's replayed candles for a paper context) through the shared
MarketPrices, so every chart of a market polling at once costs the venue one request."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from adapters.exchanges.catalogue import TIMEFRAMES
from adapters.exchanges.errors import ExchangeError
from api.contexts.endpoints import owned_context
from api.deps import CurrentUser, PricesDep, SessionDep
from api.errors import ApiError, error_responses
from api.exchanges.endpoints import market_unreadable
from domain.indicators.availability import timeframe_refusal
from domain.market import Candle, Venue

router = APIRouter(
    prefix="/api/contexts", tags=["contexts"], responses=error_responses(401, 422, 500)
)

MAX_CANDLES = 500
# Every venue's timeframes; the context's own venue may serve fewer (timeframe_unsupported).
ANY_TIMEFRAME = "^(" + "|".join(sorted({t for ts in TIMEFRAMES.values() for t in ts})) + ")$"


class CandleList(BaseModel):
    symbol: str
    exchange: Venue
    timeframe: str
    candles: list[Candle]  # oldest first; the last may still be open


@router.get("/{context_id}/candles", response_model=CandleList, responses=error_responses(404, 503))
async def context_candles(
    context_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    prices: PricesDep,
    timeframe: Annotated[str, Query(pattern=ANY_TIMEFRAME)] = "1m",
    limit: Annotated[int, Query(ge=1, le=MAX_CANDLES)] = 200,
) -> CandleList:
    """The newest `limit` candles of the context's market on its venue, oldest first."""
    context = await owned_context(session, user.id, context_id)
    venue = Venue(context.exchange)
    refusal = timeframe_refusal(venue, timeframe)
    if refusal is not None:
        raise ApiError(422, "timeframe_unsupported", refusal.message, {"timeframe": timeframe})
    symbol = f"{context.coin}-{context.fiat}"
    try:
        candles = await prices.candles((venue, symbol), timeframe, limit)
    except ExchangeError as error:
        raise market_unreadable(venue, symbol, error) from None
    return CandleList(symbol=symbol, exchange=venue, timeframe=timeframe, candles=candles)
