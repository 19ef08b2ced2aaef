"""The market catalogue: the venues' own market lists (cached) and their timeframes."""

from __future__ import annotations

from decimal import Decimal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel

from adapters.exchanges.catalogue import CatalogueUnavailable, MarketCatalogue
from adapters.exchanges.errors import ExchangeError, UnknownSymbol
from api.deps import CatalogueDep
from api.errors import ApiError, error_responses
from domain.market import MarketRules, Money, Symbol, Venue

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/exchanges", tags=["exchanges"], responses=error_responses(422, 500))


class Pair(BaseModel):
    symbol: str
    base: str
    quote: str
    price_tick: Money
    lot_step: Money
    min_quantity: Money
    min_notional: Money


class VenuePairs(BaseModel):
    exchange: Venue
    timeframes: list[str]
    pairs: list[Pair]


class VenueSymbols(BaseModel):
    exchange: Venue
    timeframes: list[str]
    symbols: list[str]
    available: bool


def _pair(rules: MarketRules) -> Pair:
    symbol = Symbol.parse(rules.symbol)
    return Pair(
        symbol=rules.symbol,
        base=symbol.base,
        quote=symbol.quote,
        price_tick=rules.price_tick,
        lot_step=rules.lot_step,
        min_quantity=rules.min_quantity,
        min_notional=rules.min_notional or Decimal(0),
    )


async def _markets(catalogue: MarketCatalogue, venue: Venue) -> list[MarketRules]:
    try:
        return await catalogue.markets(venue)
    except CatalogueUnavailable as exc:
        log.warning("market list unavailable", exchange=venue.value, error=str(exc))
        raise ApiError(
            503,
            "exchange_unavailable",
            f"The market list of {venue.value} cannot be read right now.",
            {"exchange": venue.value},
        ) from None


def market_unreadable(venue: Venue, symbol: str, error: ExchangeError) -> ApiError:
    """A venue's refusal to give a market's data, as the API answers it: a market the venue
    does not list is the caller's 422, anything else the venue's 503."""
    if isinstance(error, UnknownSymbol):
        return ApiError(
            422,
            "unknown_market",
            f"{venue.value} has no market {symbol}.",
            {"venue": venue.value, "symbol": symbol},
        )
    return ApiError(503, "venue_unavailable", f"{venue.value} could not be read: {error.message}")


@router.get("/symbols", response_model=list[VenueSymbols])
async def symbols(catalogue: CatalogueDep) -> list[VenueSymbols]:
    """Every venue's tradable symbols (`BASE-QUOTE`) and candle timeframes. A venue that cannot
    be read right now is listed with `available: false`."""
    listed = []
    for venue in Venue:
        try:
            markets = await catalogue.markets(venue)
        except CatalogueUnavailable:
            markets = []
        listed.append(
            VenueSymbols(
                exchange=venue,
                timeframes=list(catalogue.timeframes(venue)),
                symbols=[m.symbol for m in markets],
                available=bool(markets),
            )
        )
    return listed


@router.get("/{exchange}/pairs", response_model=VenuePairs, responses=error_responses(503))
async def pairs(exchange: Venue, catalogue: CatalogueDep) -> VenuePairs:
    """One venue's markets with their trading rules (tick, lot step, minimums)."""
    markets = await _markets(catalogue, exchange)
    return VenuePairs(
        exchange=exchange,
        timeframes=list(catalogue.timeframes(exchange)),
        pairs=[_pair(m) for m in markets],
    )
