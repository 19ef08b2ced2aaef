"""Configuration of the Mercado Bitcoin simulator: markets, accounts, fees, limits, clock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.market_data import data_dir
from domain.market import MarketRules, Symbol
from domain.matching import Fees

# Published MB v4 figures: 0.30% maker / 0.70% taker for the entry tier.
DEFAULT_FEES = Fees(maker=Decimal("0.003"), taker=Decimal("0.007"))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MarketSpec(_Frozen):
    """One market: its rules and where its price comes from.

    `path`: ``fixed`` moves only when the control API sets it; ``random_walk`` is seeded;
    ``replay`` replays real candles from `file` (data/ohlcv) at the clock's speed (prices times
    `scale`).
    """

    rules: MarketRules
    description: str = ""
    start_price: Decimal
    path: Literal["fixed", "random_walk", "replay"] = "fixed"
    volatility: Decimal | None = None  # per second; None: calibrated on real candles
    seed: int = 1
    file: Path | None = None
    scale: Decimal = Decimal(1)


class Limit(_Frozen):
    requests: int = Field(gt=0)
    per_seconds: float = Field(gt=0)


class RateLimits(_Frozen):
    """Per endpoint family, per client address (MB v4 docs, "Rate Limit" on each endpoint)."""

    enabled: bool = True
    public: Limit = Limit(requests=1, per_seconds=1)
    place_cancel: Limit = Limit(requests=3, per_seconds=1)
    list_orders: Limit = Limit(requests=10, per_seconds=1)
    get_order: Limit = Limit(requests=1, per_seconds=1)
    account: Limit = Limit(requests=3, per_seconds=1)
    list_all_orders: Limit = Limit(requests=3, per_seconds=1)
    cancel_all: Limit = Limit(requests=1, per_seconds=60)
    overall: Limit = Limit(requests=500, per_seconds=60)


class AccountSpec(_Frozen):
    """An API token (login = token id, password = secret) and the balances of its account."""

    key: str = Field(min_length=1)
    secret: str = Field(min_length=1)
    balances: dict[str, Decimal] = Field(default_factory=dict)


class SimConfig(_Frozen):
    markets: list[MarketSpec] = Field(default_factory=lambda: default_markets())
    accounts: list[AccountSpec] = Field(default_factory=list)
    fees: Fees = DEFAULT_FEES
    slippage: Decimal = Decimal(0)
    partial_fill_ratio: Decimal = Decimal(1)
    token_lifetime_seconds: float = Field(default=3600, gt=0)  # MB issues one-hour tokens
    clock_speed: float = Field(default=1.0, gt=0)
    started_at: datetime | None = None  # simulated time at start; default: now
    rate_limits: RateLimits = RateLimits()


def rules(
    symbol: str,
    tick: str,
    min_qty: str,
    max_qty: str,
    min_cost: str,
    max_cost: str,
    min_price: str,
    max_price: str,
    lot: str = "0.00000001",
) -> MarketRules:
    return MarketRules(
        symbol=symbol,
        price_tick=Decimal(tick),
        lot_step=Decimal(lot),
        min_quantity=Decimal(min_qty),
        max_quantity=Decimal(max_qty),
        min_notional=Decimal(min_cost),
        max_notional=Decimal(max_cost),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
    )


def default_markets() -> list[MarketSpec]:
    """A few markets in the shape MB publishes them; ETH-BTC replays real candles."""
    return [
        MarketSpec(
            rules=rules("BTC-BRL", "0.01", "0.00000150", "8", "1", "1000000", "1000", "5000000"),
            description="Bitcoin",
            start_price=Decimal("350000"),
        ),
        MarketSpec(
            rules=rules("ETH-BRL", "0.01", "0.00001", "100", "1", "1000000", "100", "500000"),
            description="Ethereum",
            start_price=Decimal("12000"),
        ),
        MarketSpec(
            rules=rules(
                "PEPE-BRL", "0.00000001", "1", "10000000000", "1", "1000000", "0.00000001", "1"
            ),
            description="Pepe",
            start_price=Decimal("0.00000123"),
        ),
        MarketSpec(
            rules=rules(
                "ETH-BTC", "0.00000001", "0.0001", "1000", "0.00001", "100", "0.00000001", "10"
            ),
            description="Ethereum/Bitcoin",
            start_price=Decimal("0.00162008"),
            path="replay",
            file=data_dir() / "ETH_BTC-1m.parquet",
        ),
    ]


def parse_account(text: str) -> AccountSpec:
    """Parse ``KEY:SECRET`` or ``KEY:SECRET:BTC=1,BRL=100000`` (the CLI's ``--account``)."""
    key, sep, rest = text.partition(":")
    if not sep or not key or not rest:
        raise ValueError(f"account must look like KEY:SECRET[:ASSET=AMOUNT,...], got {text!r}")
    secret, balances_text = rest, ""
    head, sep, tail = rest.rpartition(":")
    if sep and "=" in tail:  # the secret itself may contain ':'
        secret, balances_text = head, tail
    if not secret:
        raise ValueError(f"account secret is empty in {text!r}")
    balances: dict[str, Decimal] = {}
    for item in filter(None, balances_text.split(",")):
        asset, eq, amount = item.partition("=")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal("NaN")
        if not eq or not asset.isalnum() or not value.is_finite() or value < 0:
            raise ValueError(f"balance must look like BTC=1.5, got {item!r}")
        balances[asset.upper()] = value
    return AccountSpec(key=key, secret=secret, balances=balances)


def normalise_symbol(text: str) -> str | None:
    """``BTC-BRL`` for a well-formed symbol (any case), else None."""
    try:
        return str(Symbol.parse(text))
    except ValueError:
        return None
