"""The test-only control API under /_sim/ (listed in the package docstring)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from simulators.mercadobitcoin.config import AccountSpec, normalise_symbol
from simulators.mercadobitcoin.deps import VenueDep
from simulators.mercadobitcoin.faults import PathFault
from simulators.mercadobitcoin.wire import MbJSON

router = APIRouter(prefix="/_sim")


class Deposit(BaseModel):
    asset: str = Field(min_length=1)
    amount: Decimal = Field(gt=0)


class PriceUpdate(BaseModel):
    price: Decimal = Field(gt=0)


class ClockUpdate(BaseModel):
    speed: float | None = Field(default=None, ge=0)
    advance_seconds: float | None = Field(default=None, ge=0)


class OrderDelay(BaseModel):
    seconds: float = Field(gt=0)


class ErrorFault(BaseModel):
    count: int = Field(default=1, ge=0)
    status: int = Field(default=503, ge=500, le=599)
    after_processing: bool = False


def _market(venue: VenueDep, symbol: str) -> str:
    name = normalise_symbol(symbol)
    if name is None or name not in venue.engine.markets:
        raise HTTPException(404, f"unknown market {symbol}")
    return name


def _account_id(venue: VenueDep, key: str) -> str:
    account = venue.accounts.get(key)
    if account is None:
        raise HTTPException(404, f"unknown API token {key}")
    return account.account_id


@router.post("/accounts")
async def create_account(venue: VenueDep, spec: AccountSpec) -> dict[str, str]:
    return {"account_id": venue.add_account(spec).account_id}


@router.post("/accounts/{key}/deposit")
async def deposit(venue: VenueDep, key: str, body: Deposit) -> dict[str, str]:
    account_id = _account_id(venue, key)
    venue.engine.deposit(account_id, body.asset.upper(), body.amount)
    return {"account_id": account_id}


@router.get("/accounts/{key}/orders")
async def account_orders(venue: VenueDep, key: str) -> MbJSON:
    """Every order the venue holds for the account, across markets, oldest first."""
    account_id = _account_id(venue, key)
    docs = [
        venue.document(account_id, o)
        for m in venue.engine.markets
        for o in venue.engine.orders(account_id, m)
    ]
    return MbJSON(sorted(docs, key=lambda d: str(d["id"])))  # ULIDs sort in creation order


@router.post("/prices/{symbol}")
async def set_price(venue: VenueDep, symbol: str, body: PriceUpdate) -> dict[str, Any]:
    """Pin the market's price; resting orders it crosses fill. Answers the new fill count."""
    fills = venue.set_price(_market(venue, symbol), body.price)
    return {"price": format(body.price, "f"), "fills": len(fills)}


@router.post("/clock")
async def clock(venue: VenueDep, body: ClockUpdate) -> dict[str, Any]:
    if body.speed is not None:
        venue.clock.set_speed(body.speed)
    if body.advance_seconds:
        venue.clock.advance(body.advance_seconds)
    venue.sync_prices()
    return {"now": venue.clock.now().isoformat(), "speed": venue.clock.speed}


@router.post("/faults/order_delay")
async def delay_next_order(venue: VenueDep, body: OrderDelay) -> dict[str, float]:
    venue.faults.order_delay = body.seconds
    return {"seconds": body.seconds}


@router.post("/faults/order_hold")
async def hold_next_order(venue: VenueDep, body: OrderDelay) -> dict[str, float]:
    venue.faults.order_hold = body.seconds
    return {"seconds": body.seconds}


@router.post("/faults/errors")
async def fail_next_requests(venue: VenueDep, body: ErrorFault) -> dict[str, Any]:
    faults = venue.faults
    faults.errors_left, faults.error_status = body.count, body.status
    faults.error_after_processing = body.after_processing
    return body.model_dump()


@router.post("/faults", status_code=201)
async def add_path_fault(venue: VenueDep, fault: PathFault) -> dict[str, int]:
    """Fail (or hold) the next `count` requests to one method and path; see `PathFault`."""
    venue.path_faults.append(fault)
    return {"pending": len(venue.path_faults)}


@router.delete("/faults")
async def clear_path_faults(venue: VenueDep) -> dict[str, int]:
    venue.path_faults.clear()
    return {"pending": 0}


@router.post("/tokens/expire")
async def expire_tokens(venue: VenueDep) -> dict[str, bool]:
    venue.tokens.expire_all()
    return {"expired": True}


@router.post("/rate_limits/reset")
async def reset_rate_limits(venue: VenueDep) -> dict[str, bool]:
    venue.limiter.reset()
    return {"reset": True}


@router.get("/stats")
async def stats(venue: VenueDep) -> dict[str, int]:
    """Tokens issued, and how many markets were priced so far (prices are computed lazily)."""
    return {"tokens_issued": venue.tokens.issued, "markets_priced": venue.markets_priced}
