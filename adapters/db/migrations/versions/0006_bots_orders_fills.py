"""bots, their orders and fills: the bot engine's projection

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# adapters.db.models_bots.Amount as of this revision: exact NUMERIC on PostgreSQL, text on
# SQLite (its NUMERIC affinity would keep only 15 significant digits).
AMOUNT = sa.Numeric(precision=38, scale=18).with_variant(sa.String(length=40), "sqlite")


# The API's order reads, each scoped to the owner, newest first.
_ORDER_INDEXES = {
    "ix_bot_orders_user_created": ["user_id", "created_at", "id"],
    "ix_bot_orders_user_status": ["user_id", "status", "created_at"],
    "ix_bot_orders_user_side": ["user_id", "side", "created_at"],
    "ix_bot_orders_bot_created": ["bot_id", "created_at", "id"],
    "ix_bot_orders_context_created": ["context_id", "created_at", "id"],
}


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("pause_reason", sa.String(length=300), nullable=True),
        sa.Column("funds", sa.JSON(), nullable=False),
        sa.Column("risk", sa.JSON(), nullable=False),
        sa.Column("last_decision", sa.JSON(), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["trading_contexts.id"],
            name=op.f("fk_bots_context_id_trading_contexts"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bots_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bots")),
    )
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bots_context_id"), ["context_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bots_user_id"), ["user_id"], unique=False)

    op.create_table(
        "bot_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("venue", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=41), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("quantity", AMOUNT, nullable=True),
        sa.Column("quote_order_quantity", AMOUNT, nullable=True),
        sa.Column("filled_quantity", AMOUNT, nullable=False),
        sa.Column("quote_quantity", AMOUNT, nullable=False),
        sa.Column("price", AMOUNT, nullable=True),
        sa.Column("stop_price", AMOUNT, nullable=True),
        sa.Column("average_price", AMOUNT, nullable=True),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("strategy", sa.String(length=10), nullable=False),
        sa.Column("creation_context", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_orders_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["trading_contexts.id"],
            name=op.f("fk_bot_orders_context_id_trading_contexts"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bot_orders_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_bot_orders_client_order_id")),
    )
    with op.batch_alter_table("bot_orders", schema=None) as batch_op:
        for name, columns in _ORDER_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)

    op.create_table(
        "bot_fills",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("venue", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=41), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price", AMOUNT, nullable=False),
        sa.Column("quantity", AMOUNT, nullable=False),
        sa.Column("fee", AMOUNT, nullable=False),
        sa.Column("fee_asset", sa.String(length=20), nullable=False),
        _at("at"),
        _at("created_at"),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_fills_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["bot_orders.client_order_id"],
            name=op.f("fk_bot_fills_client_order_id_bot_orders"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bot_fills_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_fills")),
        sa.UniqueConstraint("venue", "symbol", "trade_id", name="uq_bot_fills_venue_symbol_trade"),
    )
    with op.batch_alter_table("bot_fills", schema=None) as batch_op:
        batch_op.create_index("ix_bot_fills_bot_at", ["bot_id", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bot_fills_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bot_fills_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bot_fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_fills_user_id"))
        batch_op.drop_index(batch_op.f("ix_bot_fills_client_order_id"))
        batch_op.drop_index("ix_bot_fills_bot_at")
    op.drop_table("bot_fills")

    with op.batch_alter_table("bot_orders", schema=None) as batch_op:
        for name in _ORDER_INDEXES:
            batch_op.drop_index(name)
    op.drop_table("bot_orders")

    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bots_user_id"))
        batch_op.drop_index(batch_op.f("ix_bots_context_id"))
    op.drop_table("bots")
