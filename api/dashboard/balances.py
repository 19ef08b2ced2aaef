"""`GET /api/dashboard/balances`: what the caller holds on each venue they trade on (their
contexts' venues and those they saved keys for), read from the venue with their key.

A venue's answer is kept for a minute (the dashboard polls; the venue's request budget is the
bots'); when the venue cannot be read, or refuses the key, the last balances known are shown,
flagged stale, with the reason. Only assets held are listed (Binance lists every asset it has).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import ExchangeCredential, TradingContext, User
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import AuthError, ExchangeError
from api.dashboard.cache import ReadBalances
from api.deps import BalanceBookDep, CurrentUser, ExchangesDep, SessionDep, VaultDep
from api.errors import ApiError, error_responses
from api.venue_accounts import account_exchange
from domain.market import Money, Venue

router = APIRouter(
    prefix="/api/dashboard", tags=["dashboard"], responses=error_responses(401, 422, 500)
)

READ_TIMEOUT_SECONDS = 10.0  # a venue slower than this shows its last known balances


class AssetBalance(BaseModel):
    asset: str
    free: Money
    locked: Money = Field(description="held by open orders")
    total: Money


class Problem(BaseModel):
    code: str = Field(description="exchange_unavailable, credentials_refused, ...")
    message: str


class VenueBalances(BaseModel):
    venue: Venue
    read_at: datetime | None = Field(description="when the venue answered; null: never yet")
    stale: bool = Field(description="the venue could not be read now: the last known value")
    problem: Problem | None = Field(description="why it could not be read")
    balances: list[AssetBalance]


class Balances(BaseModel):
    venues: list[VenueBalances]


@router.get("/balances", response_model=Balances)
async def balances(
    user: CurrentUser,
    session: SessionDep,
    vault: VaultDep,
    exchanges: ExchangesDep,
    book: BalanceBookDep,
) -> Balances:
    venues = sorted(await _venues(session, user), key=lambda v: v.value)
    answers: dict[Venue, ReadBalances | Problem] = {}
    reads: dict[Venue, Coroutine[Any, Any, ReadBalances | Problem]] = {}
    for venue in venues:
        fresh = book.fresh(user.id, venue)
        if fresh is not None:
            answers[venue] = fresh
            continue
        try:
            exchange = await account_exchange(session, vault, exchanges, user.id, venue)
        except ApiError as error:
            answers[venue] = Problem(code=error.code, message=error.message)
            continue
        reads[venue] = _read(exchange)
    for venue, answer in zip(reads, await asyncio.gather(*reads.values()), strict=True):
        if isinstance(answer, ReadBalances):
            book.keep(user.id, venue, answer)
        answers[venue] = answer
    return Balances(
        venues=[_shown(venue, answers[venue], book.last(user.id, venue)) for venue in venues]
    )


async def _venues(session: AsyncSession, user: User) -> set[Venue]:
    contexts = await session.scalars(
        select(TradingContext.exchange).where(TradingContext.user_id == user.id)
    )
    keys = await session.scalars(
        select(ExchangeCredential.exchange).where(ExchangeCredential.user_id == user.id)
    )
    return {Venue(name) for name in [*contexts, *keys]}


async def _read(exchange: Exchange) -> ReadBalances | Problem:
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            held = await exchange.balances()
    except AuthError as exc:
        return Problem(code="credentials_refused", message=exc.message)
    except ExchangeError as exc:
        return Problem(code="exchange_unavailable", message=exc.message)
    except TimeoutError:
        return Problem(code="exchange_unavailable", message="the venue did not answer in time")
    finally:
        await exchange.aclose()
    return ReadBalances(tuple(b for b in held if b.total > 0), datetime.now(UTC))


def _shown(
    venue: Venue, answer: ReadBalances | Problem, last: ReadBalances | None
) -> VenueBalances:
    problem = answer if isinstance(answer, Problem) else None
    read = answer if isinstance(answer, ReadBalances) else last
    return VenueBalances(
        venue=venue,
        read_at=read.read_at if read else None,
        stale=problem is not None and read is not None,
        problem=problem,
        balances=[
            AssetBalance(asset=b.asset, free=b.free, locked=b.locked, total=b.total)
            for b in (read.balances if read else ())
        ],
    )
