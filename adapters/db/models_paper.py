"""The paper venue's accounts in the database (`adapters.exchanges.paper_store`): balances,
orders and fills per paper account, so paper bots survive restarts and every worker process
trades on one paper market. Amounts are exact decimals (`Amount`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from adapters.db.models import Base, utcnow


class Amount(TypeDecorator[Decimal]):
    """An exact decimal: unbounded NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC
    affinity would keep only 15 significant digits (as a float)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class PaperVenue(Base):
    """The one paper market's epoch: every process builds its price paths from it."""

    __tablename__ = "paper_venue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime]


class PaperAccount(Base):
    """One paper account. Every change to it locks this row first (one writer at a time);
    `synced_at` is how far its resting orders have been caught up with the price paths; the
    counters number its orders and trades (ids are `id * ID_BLOCK + n`: sequential per
    account, unique in the venue)."""

    __tablename__ = "paper_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    synced_at: Mapped[datetime]
    orders_placed: Mapped[int] = mapped_column(BigInteger, default=0)
    trades_made: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperBalance(Base):
    __tablename__ = "paper_balances"

    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id"), primary_key=True)
    asset: Mapped[str] = mapped_column(String(20), primary_key=True)
    free: Mapped[Decimal] = mapped_column(Amount())
    locked: Mapped[Decimal] = mapped_column(Amount())


class PaperOrder(Base):
    """An order as the matching engine keeps it (`domain.matching_state.OrderState`)."""

    __tablename__ = "paper_orders"
    # A client order id names one order of the account per market, ever: create_order's retry
    # finds it instead of placing another.
    __table_args__ = (
        UniqueConstraint("account_id", "symbol", "client_order_id"),
        Index("ix_paper_orders_account_id_open", "account_id", "open"),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id"))
    client_order_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    open: Mapped[bool] = mapped_column(Boolean)
    quantity: Mapped[Decimal] = mapped_column(Amount())
    price: Mapped[Decimal | None] = mapped_column(Amount())
    stop_price: Mapped[Decimal | None] = mapped_column(Amount())
    lock_price: Mapped[Decimal] = mapped_column(Amount())
    filled: Mapped[Decimal] = mapped_column(Amount())
    quote: Mapped[Decimal] = mapped_column(Amount())
    locked: Mapped[Decimal] = mapped_column(Amount())
    # {asset: decimal as a string}: exact, every asset charged.
    fees: Mapped[dict[str, str]] = mapped_column(JSON)
    working_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]


class PaperFill(Base):
    __tablename__ = "paper_fills"
    # An account's fills of a market, by trade id (fills, fills_since).
    __table_args__ = (
        Index("ix_paper_fills_account_id_symbol", "account_id", "symbol", "trade_id"),
    )

    trade_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id"))
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("paper_orders.order_id"))
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal] = mapped_column(Amount())
    quantity: Mapped[Decimal] = mapped_column(Amount())
    fee: Mapped[Decimal] = mapped_column(Amount())
    fee_asset: Mapped[str] = mapped_column(String(20))
    maker: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]
