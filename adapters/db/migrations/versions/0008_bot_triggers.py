"""bot triggers: what wakes each bot, read by its market's feed; the bots' order sequence and
pause detail

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a NOT NULL column without rebuilding the table.
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("order_sequence", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("pause_detail", sa.String(length=300), nullable=True))

    op.create_table(
        "bot_triggers",
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("venue", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=41), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_triggers_bot_id_bots")),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_bot_triggers")),
    )
    op.create_index(
        "ix_bot_triggers_market_updated",
        "bot_triggers",
        ["venue", "symbol", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_bot_triggers_market_updated", table_name="bot_triggers")
    op.drop_table("bot_triggers")
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.drop_column("pause_detail")
        batch_op.drop_column("order_sequence")
