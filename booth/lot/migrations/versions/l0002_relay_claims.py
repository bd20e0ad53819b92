"""The relay claims: a silent booth's outbox rows relayed by a live booth, each row claimed once.

Revision ID: l0002
Revises: l0001
Create Date: 2026-12-03

Written by hand against booth.lot.schema.lot_relay_claims (booth.sync.lot_relay uses it): one row per claimed
outbox row, keyed by the owner booth and its local outbox id, so an INSERT … ON CONFLICT DO NOTHING lets
exactly one booth take a row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0002"
down_revision: str | Sequence[str] | None = "l0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lot_relay_claims",
        sa.Column("booth_id", sa.String(length=32), nullable=False),
        sa.Column("outbox_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cloud", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("booth_id", "outbox_id", name="pk_lot_relay_claims"),
    )
    op.create_index("ix_lot_relay_claims_claimed_by", "lot_relay_claims", ["claimed_by"])


def downgrade() -> None:
    op.drop_index("ix_lot_relay_claims_claimed_by", table_name="lot_relay_claims")
    op.drop_table("lot_relay_claims")
