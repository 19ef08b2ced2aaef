"""login throttles replace login failures; e-mail change verification; mail outbox

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttles",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_throttles")),
    )
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_throttles_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("to", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_outbox_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("pending_email_token_hash", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("pending_email_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_users_pending_email_token_hash"), ["pending_email_token_hash"]
        )

    # Failed logins now live in per-key counters (throttles): the per-attempt rows go.
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_ip_at")
        batch_op.drop_index("ix_login_failures_email_at")
    op.drop_table("login_failures")


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_email_at", ["email", "at"], unique=False)
        batch_op.create_index("ix_login_failures_ip_at", ["ip", "at"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_pending_email_token_hash"), type_="unique")
        batch_op.drop_column("pending_email_expires_at")
        batch_op.drop_column("pending_email_token_hash")
        batch_op.drop_column("pending_email")

    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_created_at"))
    op.drop_table("mail_outbox")

    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttles_expires_at"))
    op.drop_table("throttles")
