"""The bot engine's tables: bots, their orders and fills.

A projection of each bot's workflow, the single writer of its trading state (DESIGN "Single
writer"), written by idempotent upserts (adapters/db/bots.py). Orders and fills are never
deleted: a deleted bot keeps them for history and the P&L per strategy.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Numeric,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from adapters.db.models import Base, utcnow
from domain.bots.orders import Strategy
from domain.bots.state import BotKind as BotKind  # re-exported: the columns' types
from domain.bots.state import BotStatus as BotStatus
from domain.market import AMOUNT_PRECISION, AMOUNT_SCALE

# 20 integer and 18 fractional digits (domain.bots.config, where a bot's amounts are refused
# beyond them): Binance quantities (8 decimals), token amounts to the wei-like 18, notionals
# past a billion. A value finer than the scale is refused, never rounded.
_WIDE = Context(prec=AMOUNT_PRECISION + 10)


def plain(value: Decimal) -> Decimal:
    """The value without trailing zeros and never with a positive exponent (``0.00000001``,
    ``100``, not ``1E+2``), so both databases give back the same Decimal, whatever padding the
    venue or PostgreSQL's fixed scale added."""
    exponent = value.normalize(_WIDE).as_tuple().exponent
    assert isinstance(exponent, int)  # finite: NaN and infinities are refused on the way in
    return value.quantize(Decimal(1).scaleb(min(exponent, 0)), context=_WIDE)


class Amount(TypeDecorator[Decimal]):
    """An exact Decimal: NUMERIC(38, 18) on PostgreSQL; text on SQLite, whose NUMERIC affinity
    turns ``123456789.12345678`` into a float (it keeps only 15 significant digits)."""

    impl = Numeric(AMOUNT_PRECISION, AMOUNT_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(AMOUNT_PRECISION + 2))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"an amount must be a finite Decimal, got {value!r}")
        value = plain(value)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > AMOUNT_SCALE or value.adjusted() >= AMOUNT_PRECISION - AMOUNT_SCALE:
            raise ValueError(f"{value} does not fit NUMERIC({AMOUNT_PRECISION}, {AMOUNT_SCALE})")
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else plain(Decimal(value))


class BotRecord(Base):
    """A bot: what the API created, and the latest projection of its workflow's state."""

    __tablename__ = "bots"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    context_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trading_contexts.id"), index=True)
    kind: Mapped[BotKind] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # the validated config, decimals as text
    status: Mapped[BotStatus] = mapped_column(String(10))
    pause_reason: Mapped[str | None] = mapped_column(String(300))
    pause_detail: Mapped[str | None] = mapped_column(String(300))  # which trigger fired, ...
    funds: Mapped[dict[str, Any]] = mapped_column(JSON)  # BotFunds, without its per-order books
    risk: Mapped[dict[str, Any]] = mapped_column(JSON)  # RiskState
    last_decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # RiskDecision and when
    # The workflow's projection counter: a projection carrying an older sequence than the one
    # stored is late (a retried activity) and changes nothing.
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    # The next client order id's sequence, as of the projection (the workflow owns it).
    order_sequence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Soft delete: the bot leaves the lists; the record and its orders stay for history.
    deleted_at: Mapped[datetime | None]


class BotTriggerRecord(Base):
    """What would wake a bot (its `BotTriggers`), read by its market's feed: the feed loads
    the rows of its market changed since its last read. Empty triggers are stored too (the
    bot waits for nothing the feed can see). `version` is the bot's projection sequence: an
    older one never overwrites a newer."""

    __tablename__ = "bot_triggers"
    __table_args__ = (Index("ix_bot_triggers_market_updated", "venue", "symbol", "updated_at"),)

    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id"), primary_key=True)
    venue: Mapped[str] = mapped_column(String(20))
    symbol: Mapped[str] = mapped_column(String(41))  # BASE-QUOTE
    triggers: Mapped[dict[str, Any]] = mapped_column(JSON)  # BotTriggers, decimals as text
    # Not `triggers.empty`: what the feed counts to learn whether anyone still watches.
    armed: Mapped[bool]
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class BotOrderRecord(Base):
    """One order of a bot, written before it is sent (its creation context: why it was made)
    and followed to a final status. `status` is the venue's vocabulary (NEW,
    PARTIALLY_FILLED, FILLED, CANCELED, REJECTED, EXPIRED); `side` and `type` are
    `domain.market`'s values."""

    __tablename__ = "bot_orders"
    __table_args__ = (
        # The API's reads, each scoped to the owner, newest first (a B-tree reads backwards).
        Index("ix_bot_orders_user_created", "user_id", "created_at", "id"),
        Index("ix_bot_orders_user_status", "user_id", "status", "created_at"),
        # Also what the dashboard sums of the buys (strategy, market, quote spent): read from
        # the index alone, without a visit to each order's row.
        Index(
            "ix_bot_orders_user_side",
            "user_id",
            "side",
            "created_at",
            "strategy",
            "symbol",
            "quote_quantity",
        ),
        Index("ix_bot_orders_bot_created", "bot_id", "created_at", "id"),
        Index("ix_bot_orders_context_created", "context_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    context_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trading_contexts.id"))
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))  # None until it answers
    venue: Mapped[str] = mapped_column(String(20))
    symbol: Mapped[str] = mapped_column(String(41))  # BASE-QUOTE
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    # Base asked; None for a market order sized by quote, until the venue reports what it bought.
    quantity: Mapped[Decimal | None] = mapped_column(Amount)
    quote_order_quantity: Mapped[Decimal | None] = mapped_column(Amount)  # quote asked to spend
    filled_quantity: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    quote_quantity: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))  # quote filled
    price: Mapped[Decimal | None] = mapped_column(Amount)
    stop_price: Mapped[Decimal | None] = mapped_column(Amount)
    average_price: Mapped[Decimal | None] = mapped_column(Amount)
    fees: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # asset -> decimal text
    strategy: Mapped[Strategy] = mapped_column(String(10))  # what the P&L per strategy groups by
    creation_context: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Bumped by every write: the compare-and-set that keeps two late reports from racing.
    revision: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BotFillRecord(Base):
    """One trade of a bot's order, as the venue reported it; a report seen twice (the user
    stream and a REST sync) hits the unique key and changes nothing."""

    __tablename__ = "bot_fills"
    __table_args__ = (
        UniqueConstraint("venue", "symbol", "trade_id", name="uq_bot_fills_venue_symbol_trade"),
        Index("ix_bot_fills_bot_at", "bot_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    venue: Mapped[str] = mapped_column(String(20))
    symbol: Mapped[str] = mapped_column(String(41))
    trade_id: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("bot_orders.client_order_id"), index=True
    )
    exchange_order_id: Mapped[str] = mapped_column(String(64))
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal] = mapped_column(Amount)
    quantity: Mapped[Decimal] = mapped_column(Amount)
    fee: Mapped[Decimal] = mapped_column(Amount)
    fee_asset: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BotSignalRecord(Base):
    """A Candle bot's signal about one closed candle (`domain.signals.Signal`), per bot and
    context: the action, its confidence, the close and every rule's reason with its values."""

    __tablename__ = "bot_signals"
    __table_args__ = (
        UniqueConstraint("bot_id", "candle_open_ms", name="uq_bot_signals_bot_candle"),
        Index("ix_bot_signals_context_candle", "context_id", "candle_open_ms"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id"))
    context_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trading_contexts.id"))
    timeframe: Mapped[str] = mapped_column(String(3))
    candle_open_ms: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(4))
    confidence: Mapped[str] = mapped_column(String(6))
    close: Mapped[Decimal] = mapped_column(Amount)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class BotTradeRecord(Base):
    """A position a bot closed (`domain.bots.trades.TradeResult`), written by its projection,
    keyed by (bot, number) so a repeated projection writes it once. `strategy` is that of the
    sale that closed it (a manual sale closes a manual trade); `won` is the profit's sign (1,
    0, -1), counted in SQL where the exact profit is text (SQLite)."""

    __tablename__ = "bot_trades"
    __table_args__ = (
        UniqueConstraint("bot_id", "number", name="uq_bot_trades_bot_number"),
        # Every column the dashboard's aggregates read: they scan the index alone.
        Index(
            "ix_bot_trades_user_closed",
            "user_id",
            "closed_at",
            "context_id",
            "strategy",
            "quote",
            "won",
            "profit",
            "opened_at",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    context_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trading_contexts.id"))
    number: Mapped[int]
    strategy: Mapped[Strategy] = mapped_column(String(10))
    quote: Mapped[str] = mapped_column(String(20))  # the currency `profit` is in
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime]
    closing_order: Mapped[str] = mapped_column(String(64))
    profit: Mapped[Decimal] = mapped_column(Amount)
    won: Mapped[int]
