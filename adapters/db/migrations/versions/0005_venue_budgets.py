"""venue budgets: venue rate limits shared by every worker process

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "venue_budgets",
        sa.Column("venue", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "venue", "scope", "name", "window_start", name=op.f("pk_venue_budgets")
        ),
    )
    with op.batch_alter_table("venue_budgets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_venue_budgets_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("venue_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_venue_budgets_expires_at"))
    op.drop_table("venue_budgets")
