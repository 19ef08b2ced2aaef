"""bot signals: a Candle bot's signal for each closed candle, per bot and context

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_signals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("timeframe", sa.String(length=3), nullable=False),
        sa.Column("candle_open_ms", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=4), nullable=False),
        sa.Column("confidence", sa.String(length=6), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_signals_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["trading_contexts.id"],
            name=op.f("fk_bot_signals_context_id_trading_contexts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_signals")),
        sa.UniqueConstraint("bot_id", "candle_open_ms", name="uq_bot_signals_bot_candle"),
    )
    op.create_index(
        "ix_bot_signals_context_candle", "bot_signals", ["context_id", "candle_open_ms"]
    )


def downgrade() -> None:
    op.drop_index("ix_bot_signals_context_candle", table_name="bot_signals")
    op.drop_table("bot_signals")
