"""What the exports render: a report's data, already computed and formatted where it is text.

Money and quantities are exact Decimals, printed as given (never through a float); times are
timezone-aware and shown in UTC. Everything here is frozen: the renderers only read it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

# An asset (BTC, BRL): no blank and no ";", so a fees cell "0.001 BNB; 0.5 BRL" reads back.
Asset = Annotated[str, StringConstraints(pattern=r"^[^\s;]+$")]
# An identifier: never empty, so an empty CSV cell can only mean "none".
Identifier = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SummaryLine(_Model):
    """One line of the summary, formatted by the caller (e.g. "Realized profit", "12.50 BRL")."""

    label: str
    value: str


class StrategyRow(_Model):
    """A strategy's results in one currency."""

    strategy: str
    currency: str
    invested: Decimal
    realized_profit: Decimal
    trades: int
    win_rate: Decimal | None  # the share of trades that made money (0.5 is half); None: no trade


class EquityPoint(_Model):
    at: AwareDatetime
    equity: Decimal


class EquitySeries(_Model):
    """The equity curve in one currency, oldest point first."""

    currency: str
    points: list[EquityPoint]


class OrderLine(_Model):
    created_at: AwareDatetime
    bot: str  # the bot's name, as its owner typed it
    strategy: str
    symbol: str
    side: str
    type: str
    status: str
    quantity: Decimal | None  # base asked; None for a buy by quote amount
    filled_quantity: Decimal
    price: Decimal | None  # the limit price
    average_price: Decimal | None
    quote_quantity: Decimal  # quote filled
    fees: dict[Asset, Decimal]  # asset -> fee charged in it
    client_order_id: Identifier
    exchange_order_id: Identifier | None


class FillLine(_Model):
    at: AwareDatetime
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: Asset
    trade_id: Identifier
    client_order_id: Identifier


class Report(_Model):
    title: str
    owner: str  # whose report, as shown under the title
    generated_at: AwareDatetime
    period_from: AwareDatetime | None  # None: since the first order
    period_to: AwareDatetime
    summary: list[SummaryLine]
    strategies: list[StrategyRow]
    equity: list[EquitySeries]
    orders: list[OrderLine]  # the newest the PDF shows (all of them, for a short history)
    orders_total: int | None = None  # how many the period holds; None: len(orders)
