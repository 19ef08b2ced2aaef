"""What every route shares: the venue, rate limiting, authentication, symbol and body parsing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request

from simulators.mercadobitcoin.config import normalise_symbol
from simulators.mercadobitcoin.state import Venue
from simulators.mercadobitcoin.wire import (
    MbError,
    forbidden,
    rate_limited,
    route_not_found,
    unprocessable,
)


def get_venue(request: Request) -> Venue:
    venue: Venue = request.app.state.venue
    return venue


VenueDep = Annotated[Venue, Depends(get_venue)]


class RateLimitedError(MbError):
    def __init__(self, retry_after: float) -> None:
        body = rate_limited()
        super().__init__(body.status, body.body["code"], body.body["message"])
        self.retry_after = retry_after


def throttle(venue: Venue, request: Request, family: str) -> None:
    """Count the request against its endpoint family; 429 with Retry-After when over."""
    caller = request.client.host if request.client else "unknown"
    wait = venue.limiter.hit(family, caller)
    if wait is not None:
        raise RateLimitedError(wait)


def caller_account(venue: Venue, request: Request, account_id: str) -> str:
    """Authenticate, then the path's account must be the token's (MB answers 403 otherwise)."""
    login = venue.tokens.verify(request.headers.get("authorization"))
    account = venue.accounts.get(login)
    if account is None or account.account_id != account_id:
        raise forbidden()
    return account_id


def invalid_symbol() -> MbError:
    return MbError(
        400,
        "API|REQUEST|INVALID_SYMBOL",
        "{symbol} param does not exist or it's not on the BASE-QUOTE format, ex: BTC-BRL",
    )


def public_market(venue: Venue, text: str) -> str:
    symbol = normalise_symbol(text)
    if symbol is None or symbol not in venue.engine.markets:
        raise invalid_symbol()
    return symbol


def route_symbol(text: str) -> str:
    """A symbol not shaped BASE-QUOTE matches no route on MB: 404, before auth."""
    symbol = normalise_symbol(text)
    if symbol is None:
        raise route_not_found()
    return symbol


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError:
        raise unprocessable("body", "json") from None
