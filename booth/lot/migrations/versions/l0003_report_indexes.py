"""The lot report's indexes: each of its three big aggregates read from an index alone.

Revision ID: l0003
Revises: l0002
Create Date: 2026-12-03

Written by hand against booth.lot.schema. ``booth lot report`` groups a period's exits, entries and payments
by booth; a lot server keeps every month it was given, so without these it reads the whole of lot_stays and
lot_payments for any period. Each index has the period's column first and INCLUDEs the columns the report
groups and sums, so PostgreSQL answers with an index-only scan of the period's range (measured: a month of a
million exits with four months on the server, 3.7–4.3 s before, about 2 s after; see docs/lot.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "l0003"
down_revision: str | Sequence[str] | None = "l0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name, table, key column, included columns (as booth.lot.schema declares them)
_INDEXES = (
    ("ix_lot_stays_exit_report", "lot_stays", "exit_at", ["booth_id", "state", "exit_lane"]),
    ("ix_lot_stays_entry_report", "lot_stays", "entry_at", ["booth_id", "origin_booth"]),
    (
        "ix_lot_payments_report",
        "lot_payments",
        "paid_at",
        ["booth_id", "channel", "pay_channel", "flag", "amount_fen"],
    ),
)


def upgrade() -> None:
    for name, table, column, include in _INDEXES:
        op.create_index(name, table, [column], postgresql_include=include)


def downgrade() -> None:
    for name, table, _column, _include in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
