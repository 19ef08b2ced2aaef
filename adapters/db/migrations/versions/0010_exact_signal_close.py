"""bot signals: the candle's close exact (NUMERIC, like every amount), not a float

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# adapters.db.models_bots.Amount as of this revision (see 0006).
AMOUNT = sa.Numeric(precision=38, scale=18).with_variant(sa.String(length=40), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("bot_signals") as batch:  # SQLite: the table is copied
        batch.alter_column(
            "close",
            existing_type=sa.Float(),
            type_=AMOUNT,
            existing_nullable=False,
            postgresql_using="close::numeric(38, 18)",
        )


def downgrade() -> None:
    with op.batch_alter_table("bot_signals") as batch:
        batch.alter_column(
            "close",
            existing_type=AMOUNT,
            type_=sa.Float(),
            existing_nullable=False,
            postgresql_using="close::double precision",
        )
