"""bot trades: every position a bot closed, for the dashboard's win rate and P&L per strategy

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# adapters.db.models_bots.Amount as of this revision (see 0006).
AMOUNT = sa.Numeric(precision=38, scale=18).with_variant(sa.String(length=40), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bot_trades",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=10), nullable=False),
        sa.Column("quote", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closing_order", sa.String(length=64), nullable=False),
        sa.Column("profit", AMOUNT, nullable=False),
        sa.Column("won", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_trades_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bot_trades_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["trading_contexts.id"],
            name=op.f("fk_bot_trades_context_id_trading_contexts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_trades")),
        sa.UniqueConstraint("bot_id", "number", name="uq_bot_trades_bot_number"),
    )
    op.create_index("ix_bot_trades_user_closed", "bot_trades", ["user_id", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_bot_trades_user_closed", table_name="bot_trades")
    op.drop_table("bot_trades")
