"""The /_sim/ control API: accounts, prices, clocks, limits and injected faults. Not Binance's;
unauthenticated, for tests and the local stack only (the server binds to loopback)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from simulators.binance.config import AccountConfig
from simulators.binance.limits import OrderCounter, WeightLimiter
from simulators.binance.venue import BinanceVenue, Fault
from simulators.binance.wire import BinanceError, fmt


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Deposit(_Body):
    asset: str
    amount: Decimal = Field(gt=0)


class FeesInBnb(_Body):
    enabled: bool  # Binance's spotBNBBurn: commissions in BNB while the account holds enough


class PriceUpdate(_Body):
    symbol: str  # Binance name, e.g. BTCBRL
    price: Decimal | None = Field(default=None, gt=0)  # None: follow the price path again


class ClockUpdate(_Body):
    speed: float | None = Field(default=None, gt=0)
    offset_ms: int | None = None
    advance_seconds: float | None = Field(default=None, ge=0)


class LimitsUpdate(_Body):
    weight_limit: int | None = Field(default=None, ge=1)
    window_seconds: int | None = Field(default=None, ge=1)
    ban_after: int | None = Field(default=None, ge=0)
    ban_seconds: int | None = Field(default=None, ge=1)
    orders_per_10s: int | None = Field(default=None, ge=1)
    orders_per_day: int | None = Field(default=None, ge=1)


def _balances(venue: BinanceVenue, api_key: str) -> dict[str, Any]:
    if api_key not in venue.secrets:
        raise HTTPException(404, f"no account {api_key}")
    return {
        "api_key": api_key,
        "balances": [
            {"asset": b.asset, "free": fmt(b.free), "locked": fmt(b.locked)}
            for b in venue.engine.balances(api_key)
        ],
    }


def control_router(venue: BinanceVenue) -> APIRouter:
    router = APIRouter(prefix="/_sim", tags=["simulator control"])

    @router.post("/accounts", status_code=201)
    async def create_account(account: AccountConfig) -> dict[str, Any]:
        try:
            venue.add_account(account)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        return _balances(venue, account.api_key)

    @router.get("/accounts/{api_key}")
    async def get_account(api_key: str) -> dict[str, Any]:
        return _balances(venue, api_key)

    @router.post("/accounts/{api_key}/deposit")
    async def deposit(api_key: str, body: Deposit) -> dict[str, Any]:
        _balances(venue, api_key)
        venue.deposit(api_key, body.asset, body.amount)
        return _balances(venue, api_key)

    @router.post("/accounts/{api_key}/fees-in-bnb")
    async def fees_in_bnb(api_key: str, body: FeesInBnb) -> dict[str, Any]:
        _balances(venue, api_key)
        venue.pay_fees_in_bnb(api_key, body.enabled)
        return {"api_key": api_key, "fees_in_bnb": body.enabled}

    @router.post("/price")
    async def set_price(body: PriceUpdate) -> dict[str, Any]:
        try:
            fills = venue.set_price(body.symbol, body.price)
        except BinanceError as exc:
            raise HTTPException(404, exc.msg) from None
        return {"symbol": body.symbol, "price": fmt(venue.price(body.symbol)), "fills": fills}

    @router.post("/clock")
    async def set_clock(body: ClockUpdate) -> dict[str, Any]:
        venue.set_clock(
            speed=body.speed, offset_ms=body.offset_ms, advance_seconds=body.advance_seconds
        )
        return {
            "server_time": venue.server_ms(),
            "market_time": int(venue.market_now().timestamp() * 1000),
            "speed": venue.speed,
            "offset_ms": venue.offset_ms,
        }

    @router.post("/faults", status_code=201)
    async def add_fault(fault: Fault) -> dict[str, Any]:
        venue.faults.append(fault)
        return {"pending": len(venue.faults)}

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        venue.faults.clear()
        return {"pending": 0}

    @router.post("/limits")
    async def set_limits(body: LimitsUpdate) -> dict[str, Any]:
        """Change the limits; counters and bans start afresh either way."""
        w = venue.weights
        venue.weights = WeightLimiter(
            body.weight_limit or w.limit,
            body.window_seconds or w.window_seconds,
            w.ban_after if body.ban_after is None else body.ban_after,
            body.ban_seconds or w.ban_seconds,
        )
        orders = venue.order_counter
        venue.order_counter = OrderCounter(
            body.orders_per_10s or orders.limit, body.orders_per_day or orders.day_limit
        )
        return {
            "weight_limit": venue.weights.limit,
            "window_seconds": venue.weights.window_seconds,
            "ban_after": venue.weights.ban_after,
            "ban_seconds": venue.weights.ban_seconds,
            "orders_per_10s": venue.order_counter.limit,
            "orders_per_day": venue.order_counter.day_limit,
        }

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return {
            "requests": venue.stats.requests,
            "statuses": venue.stats.statuses,
            "orders_placed": venue.stats.orders_placed,
            # Prices are lazy: how many markets were priced so far, and the path work done.
            "markets_priced": sum(1 for m in venue.markets.values() if m.synced_at is not None),
            "path_evaluations": sum(m.evaluations for m in venue.markets.values()),
        }

    return router
