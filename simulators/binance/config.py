"""Configuration of the Binance simulator: markets, price paths, accounts, fees and limits."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.market_data import data_dir


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FixedPath(_Config):
    """The price stays where it is put (by config or by `/_sim/price`): deterministic tests."""

    kind: Literal["fixed"] = "fixed"
    price: Decimal


class RandomWalkPath(_Config):
    kind: Literal["random_walk"] = "random_walk"
    start_price: Decimal
    volatility: Decimal | None = None  # per step; None: calibrated on real candles
    seed: int = 1
    step_seconds: int = 1


class ReplayPath(_Config):
    """Real candles (a data/ohlcv file), replayed from a day before the simulator started."""

    kind: Literal["replay"] = "replay"
    file: Path
    scale: Decimal = Decimal(1)


PathSpec = Annotated[FixedPath | RandomWalkPath | ReplayPath, Field(discriminator="kind")]


class SymbolConfig(_Config):
    """One spot market and its exchangeInfo filters (tickSize, stepSize, notional...)."""

    base: str
    quote: str
    path: PathSpec
    tick_size: Decimal = Decimal("0.01")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000000")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    market_max_qty: Decimal = Decimal("100")
    min_notional: Decimal = Decimal("10")
    max_notional: Decimal = Decimal("9000000")
    base_precision: int = 8
    quote_precision: int = 8
    # PERCENT_PRICE_BY_SIDE: a limit price within these multiples of the average price over
    # avg_price_mins (0: the last price); Binance's BTCUSDT values.
    bid_multiplier_up: Decimal = Decimal(5)
    bid_multiplier_down: Decimal = Decimal("0.2")
    ask_multiplier_up: Decimal = Decimal(5)
    ask_multiplier_down: Decimal = Decimal("0.2")
    avg_price_mins: int = Field(default=5, ge=0)
    iceberg_parts: int = Field(default=10, ge=1)  # ICEBERG_PARTS limit

    @property
    def name(self) -> str:
        return f"{self.base}{self.quote}"

    @property
    def domain_symbol(self) -> str:
        return f"{self.base}-{self.quote}"


class AccountConfig(_Config):
    api_key: str
    secret: str
    balances: dict[str, Decimal] = Field(default_factory=dict)
    # The key's own permission, as /sapi/v1/account/apiRestrictions reports it.
    enable_withdrawals: bool = False
    # "Use BNB to pay for fees" (spotBNBBurn, also set by POST /sapi/v1/bnbBurn).
    fees_in_bnb: bool = False


class SimConfig(_Config):
    symbols: list[SymbolConfig] = Field(default_factory=lambda: default_symbols())
    accounts: list[AccountConfig] = Field(default_factory=list)
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    bnb_discount: Decimal = Decimal("0.25")  # off the standard commission when paid in BNB
    slippage: Decimal = Decimal(0)  # fraction: market buys fill at price*(1+s), sells at (1-s)
    partial_fill_ratio: Decimal = Decimal(1)  # share of a resting order filled per crossing move
    clock_speed: float = 1.0  # market seconds per wall second
    weight_limit: int = 6000  # REQUEST_WEIGHT per window, per client IP
    weight_window_seconds: int = 60
    ban_after: int = 3  # requests sent while already rate limited before a 418 ban
    ban_seconds: int = 120
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    spread_ticks: int = 1  # best bid/ask sit this many ticks from the price
    depth_seed: int = 7


def default_symbols() -> list[SymbolConfig]:
    """BRL and USDT markets on seeded random walks; ETHBTC replays real 1m candles."""
    symbols = [
        SymbolConfig(base="BTC", quote="BRL", path=RandomWalkPath(start_price=Decimal(350000))),
        SymbolConfig(
            base="ETH", quote="BRL", path=RandomWalkPath(start_price=Decimal(18000), seed=2)
        ),
        SymbolConfig(
            base="BTC", quote="USDT", path=RandomWalkPath(start_price=Decimal(65000), seed=3)
        ),
    ]
    eth_btc = SymbolConfig(
        base="ETH",
        quote="BTC",
        path=ReplayPath(file=data_dir() / "ETH_BTC-1m.parquet"),
        tick_size=Decimal("0.00000001"),
        min_price=Decimal("0.00000001"),
        step_size=Decimal("0.0001"),
        min_qty=Decimal("0.0001"),
        min_notional=Decimal("0.0001"),
        max_notional=Decimal("9000"),
    )
    return [*symbols, eth_btc]


_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")


def parse_account(text: str) -> AccountConfig:
    """Parse the CLI's ``--account KEY:SECRET[:ASSET=AMOUNT,...]``, e.g.
    ``alice:s3cret:BTC=1,BRL=100000``."""
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"account must look like KEY:SECRET[:BTC=1,BRL=100], got {text!r}")
    balances: dict[str, Decimal] = {}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            asset, sep, amount = item.partition("=")
            asset = asset.strip().upper()
            if not sep or not _ASSET.match(asset):
                raise ValueError(f"balance must look like BTC=1.5, got {item!r}")
            try:
                value = Decimal(amount.strip())
            except InvalidOperation:
                raise ValueError(f"amount of {asset} is not a number: {amount!r}") from None
            if not value.is_finite() or value < 0:
                raise ValueError(f"amount of {asset} must be a non-negative number: {amount!r}")
            if asset in balances:
                raise ValueError(f"asset {asset} given twice in {text!r}")
            balances[asset] = value
    return AccountConfig(api_key=parts[0], secret=parts[1], balances=balances)
