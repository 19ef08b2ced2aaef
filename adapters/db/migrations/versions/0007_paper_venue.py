"""paper venue: the paper accounts' balances, orders and fills, shared by every process

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# adapters.db.models_paper.Amount as of this revision: unbounded NUMERIC on PostgreSQL (a
# fee on a quote amount can have more than 18 decimals), text on SQLite (its NUMERIC affinity
# would keep only 15 significant digits).
AMOUNT = sa.Numeric().with_variant(sa.String(length=80), "sqlite")


def upgrade() -> None:
    op.create_table(
        "paper_venue",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_venue")),
    )
    op.create_table(
        "paper_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders_placed", sa.BigInteger(), nullable=False),
        sa.Column("trades_made", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_paper_accounts_name")),
    )
    op.create_table(
        "paper_balances",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=20), nullable=False),
        sa.Column("free", AMOUNT, nullable=False),
        sa.Column("locked", AMOUNT, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["paper_accounts.id"],
            name=op.f("fk_paper_balances_account_id_paper_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "asset", name=op.f("pk_paper_balances")),
    )
    op.create_table(
        "paper_orders",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("quantity", AMOUNT, nullable=False),
        sa.Column("price", AMOUNT, nullable=True),
        sa.Column("stop_price", AMOUNT, nullable=True),
        sa.Column("lock_price", AMOUNT, nullable=False),
        sa.Column("filled", AMOUNT, nullable=False),
        sa.Column("quote", AMOUNT, nullable=False),
        sa.Column("locked", AMOUNT, nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("working_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["paper_accounts.id"],
            name=op.f("fk_paper_orders_account_id_paper_accounts"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_paper_orders")),
        sa.UniqueConstraint(
            "account_id",
            "symbol",
            "client_order_id",
            name=op.f("uq_paper_orders_account_id"),
        ),
    )
    op.create_index(
        "ix_paper_orders_account_id_open", "paper_orders", ["account_id", "open"], unique=False
    )
    op.create_table(
        "paper_fills",
        sa.Column("trade_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price", AMOUNT, nullable=False),
        sa.Column("quantity", AMOUNT, nullable=False),
        sa.Column("fee", AMOUNT, nullable=False),
        sa.Column("fee_asset", sa.String(length=20), nullable=False),
        sa.Column("maker", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["paper_accounts.id"],
            name=op.f("fk_paper_fills_account_id_paper_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["paper_orders.order_id"],
            name=op.f("fk_paper_fills_order_id_paper_orders"),
        ),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_paper_fills")),
    )
    op.create_index(
        "ix_paper_fills_account_id_symbol",
        "paper_fills",
        ["account_id", "symbol", "trade_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_paper_fills_account_id_symbol", table_name="paper_fills")
    op.drop_table("paper_fills")
    op.drop_index("ix_paper_orders_account_id_open", table_name="paper_orders")
    op.drop_table("paper_orders")
    op.drop_table("paper_balances")
    op.drop_table("paper_accounts")
    op.drop_table("paper_venue")
