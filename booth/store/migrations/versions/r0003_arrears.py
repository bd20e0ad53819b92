"""Arrears: the fee a stay owed when its exit was never seen, asked for at the plate's next exit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Written by hand against booth.store.models (plain sa.DateTime(timezone=True), as in 0001 and 0002).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    arrears_fen = sa.Column("arrears_fen", sa.BigInteger(), nullable=False, server_default="0")
    op.add_column("exit_orders", arrears_fen)
    op.create_table(
        "arrears",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noticed_lane", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("exit_order_id", sa.Integer(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_by", sa.String(length=64), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('open', 'collected', 'waived')", name=op.f("ck_arrears_state")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_arrears_amount_positive")),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"], name=op.f("fk_arrears_stay_id_stays")),
        sa.ForeignKeyConstraint(
            ["exit_order_id"], ["exit_orders.id"], name=op.f("fk_arrears_exit_order_id_exit_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears")),
        sa.UniqueConstraint("stay_id", name=op.f("uq_arrears_stay_id")),
    )
    op.create_index("ix_arrears_plate_state", "arrears", ["plate", "state"])
    op.create_index("ix_arrears_noticed_at", "arrears", ["noticed_at"])
    op.create_index("ix_arrears_settled_at", "arrears", ["settled_at"])


def downgrade() -> None:
    for index in ("ix_arrears_settled_at", "ix_arrears_noticed_at", "ix_arrears_plate_state"):
        op.drop_index(index, table_name="arrears")
    op.drop_table("arrears")
    op.execute("ALTER TABLE exit_orders DROP COLUMN arrears_fen")  # SQLite 3.35+, PostgreSQL
