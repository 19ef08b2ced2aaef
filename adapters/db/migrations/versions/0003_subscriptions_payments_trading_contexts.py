"""subscriptions, payments, trading contexts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 05:20:49.706074
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_customers",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payment_customers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("provider", "customer_id", name=op.f("pk_payment_customers")),
    )
    with op.batch_alter_table("payment_customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_customers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "payment_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=60), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payment_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_payment_events_provider")),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("plan", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("customer_id", sa.String(length=100), nullable=True),
        sa.Column("subscription_id", sa.String(length=100), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_provider_subscription", ["provider", "subscription_id"], unique=False
        )

    op.create_table(
        "trading_contexts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("coin", sa.String(length=20), nullable=False),
        sa.Column("fiat", sa.String(length=20), nullable=False),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("paused_reason", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_trading_contexts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_contexts")),
        sa.UniqueConstraint(
            "user_id", "coin", "fiat", "exchange", name=op.f("uq_trading_contexts_user_id")
        ),
    )
    with op.batch_alter_table("trading_contexts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trading_contexts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trading_contexts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trading_contexts_user_id"))

    op.drop_table("trading_contexts")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_provider_subscription")

    op.drop_table("subscriptions")
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_events_user_id"))

    op.drop_table("payment_events")
    with op.batch_alter_table("payment_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_customers_user_id"))

    op.drop_table("payment_customers")
