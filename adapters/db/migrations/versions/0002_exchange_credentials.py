"""exchange credentials

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 05:08:52.904775
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("exchange", sa.String(length=20), nullable=False),
        sa.Column("api_key_sealed", sa.String(length=1024), nullable=False),
        sa.Column("api_secret_sealed", sa.String(length=1024), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("api_key_last4", sa.String(length=4), nullable=False),
        sa.Column("testnet", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("can_withdraw", sa.Boolean(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_exchange_credentials_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_credentials")),
        sa.UniqueConstraint("user_id", "exchange", name=op.f("uq_exchange_credentials_user_id")),
    )
    with op.batch_alter_table("exchange_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_credentials_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_credentials_user_id"))

    op.drop_table("exchange_credentials")
