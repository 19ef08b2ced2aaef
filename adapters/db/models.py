"""SQLAlchemy 2 typed models: the relational store of accounts, sessions, consents and audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from domain.accounts import CredentialStatus


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both PostgreSQL and SQLite (which drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UtcDateTime, uuid.UUID: Uuid}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Soft delete (LGPD): login refused, data kept for the legal retention period.
    deleted_at: Mapped[datetime | None]
    # A requested e-mail change, used for nothing until its single-use token comes back
    # (only the token's SHA-256 is stored).
    pending_email: Mapped[str | None] = mapped_column(String(254))
    pending_email_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pending_email_expires_at: Mapped[datetime | None]

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="user", order_by="ConsentRecord.created_at"
    )


class ConsentKind(StrEnum):
    TERMS = "terms"
    PRIVACY = "privacy"
    MARKETING = "marketing"


class ConsentRecord(Base):
    """Append-only: every grant or revocation is a row; the newest per kind is in force."""

    __tablename__ = "consent_records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[ConsentKind] = mapped_column(String(20))
    granted: Mapped[bool]
    document_version: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="consents")


class RefreshTokenStatus(StrEnum):
    ACTIVE = "active"
    ROTATED = "rotated"  # used once; presenting it again is reuse
    REVOKED = "revoked"


class RefreshToken(Base):
    """Only the SHA-256 of the token is stored. Tokens of one login share a family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[RefreshTokenStatus] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class ThrottleKind(StrEnum):
    LOGIN_IP = "login_ip"  # failed logins per IP: a hard limit per window
    LOGIN_ACCOUNT = "login_account"  # failed logins per account: growing delays
    REGISTER_IP = "register_ip"
    CHECKOUT_USER = "checkout_user"


class Throttle(Base):
    """One counter per (kind, key), changed only by single atomic statements
    (adapters/db/throttles.py), so it holds across API processes and concurrent requests.
    Rows past `expires_at` count as empty and are purged daily."""

    __tablename__ = "throttles"

    kind: Mapped[ThrottleKind] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(254), primary_key=True)
    count: Mapped[int]
    # Fixed windows: when the window started. Backoff: when the next attempt may start.
    started_at: Mapped[datetime]
    next_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class VenueBudget(Base):
    """Weight or orders reserved from one venue limit's fixed window by every worker process
    (adapters/db/budgets.py), changed only by single atomic statements. A row named ``BLOCKED``
    holds the venue's Retry-After or ban for an IP until `expires_at`. Rows past `expires_at`
    count as empty and are purged."""

    __tablename__ = "venue_budgets"

    venue: Mapped[str] = mapped_column(String(20), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)  # ip:<host>|account:<hash>
    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # the venue's limit name
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class MailOutbox(Base):
    """Mails the platform sends, written in the same transaction as the change they announce.
    Locally nothing delivers them: `crypteras outbox` prints them."""

    __tablename__ = "mail_outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Security events: who (if known), what, from where, when. Never holds secrets."""

    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ExchangeCredential(Base):
    """A user's API key for one venue. Key and secret are sealed by `adapters.vault`; only the
    last four characters of the key are kept in clear, for display."""

    __tablename__ = "exchange_credentials"
    __table_args__ = (UniqueConstraint("user_id", "exchange"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    exchange: Mapped[str] = mapped_column(String(20))
    api_key_sealed: Mapped[str] = mapped_column(String(1024))
    api_secret_sealed: Mapped[str] = mapped_column(String(1024))
    key_version: Mapped[int]
    api_key_last4: Mapped[str] = mapped_column(String(4))
    testnet: Mapped[bool] = mapped_column(default=False)
    status: Mapped[CredentialStatus] = mapped_column(String(10))
    can_withdraw: Mapped[bool | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    validated_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SubscriptionRecord(Base):
    """Projection of the user's SubscriptionWorkflow (the single writer), for reads and
    lookups; written by an idempotent upsert on every transition."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_provider_subscription", "provider", "subscription_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    plan: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    provider: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(100))
    subscription_id: Mapped[str | None] = mapped_column(String(100))
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    since: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentCustomer(Base):
    """Which user a provider's customer is, written when a checkout completes so that later
    events naming only the customer find their user."""

    __tablename__ = "payment_customers"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentEventRecord(Base):
    """Every provider event, stored under (provider, event id) before it is acted on: a
    repeat hits the unique constraint and changes nothing."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(60))  # signaled / ignored: <reason>
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContextStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class PauseReason(StrEnum):
    PLAN_LIMIT = "plan_limit"  # paused by a downgrade; resumed by the next upgrade
    USER = "user"


class TradingContext(Base):
    """A market a user trades in: coin + fiat + exchange. Positions, P&L and history hang off
    the context, so contexts never see each other's trading."""

    __tablename__ = "trading_contexts"
    __table_args__ = (UniqueConstraint("user_id", "coin", "fiat", "exchange"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    coin: Mapped[str] = mapped_column(String(20))
    fiat: Mapped[str] = mapped_column(String(20))
    exchange: Mapped[str] = mapped_column(String(20))
    status: Mapped[ContextStatus] = mapped_column(String(10), default=ContextStatus.ACTIVE)
    paused_reason: Mapped[PauseReason | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def symbol(self) -> str:
        return f"{self.coin}-{self.fiat}"


from adapters.db import alerts as alerts  # noqa: E402  (the users' alerts)
from adapters.db import backtests as backtests  # noqa: E402  (backtests asked through the API)
from adapters.db import models_bots as models_bots  # noqa: E402  (bot tables on this Base)
from adapters.db import models_paper as models_paper  # noqa: E402  (paper venue tables)
from adapters.db import reports as reports  # noqa: E402  (the exports users asked for)
