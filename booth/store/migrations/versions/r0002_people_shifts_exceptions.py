"""People (attendants, supervisors), shifts, lane exceptions, and the time indexes the reports read by.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Written by hand against booth.store.models; plain sa.DateTime(timezone=True) as in 0001. Only one shift may
be open at a time: an open shift holds shifts.open_slot = 1, which is unique (closed ones hold NULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME_INDEXES = (
    ("stays", "ix_stays_entry_at", ["entry_at"]),
    ("stays", "ix_stays_exit_at", ["exit_at"]),
    ("exit_orders", "ix_exit_orders_settled_at", ["settled_at"]),
    ("payments", "ix_payments_paid_at", ["paid_at"]),
    ("audit_log", "ix_audit_log_action_at", ["action", "at"]),
)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    for table, name, columns in _TIME_INDEXES:
        op.create_index(name, table, columns)

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.Text(), nullable=False),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        _timestamp("locked_until", nullable=True),
        _timestamp("disabled_at", nullable=True),
        sa.Column("disabled_by", sa.String(length=64), nullable=True),
        _timestamp("created_at"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("role IN ('attendant', 'supervisor')", name=op.f("ck_people_role")),
        sa.CheckConstraint("failed_pins >= 0", name=op.f("ck_people_failed_pins_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("username", name=op.f("uq_people_username")),
    )

    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attendant_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("open_slot", sa.Integer(), nullable=True),
        _timestamp("opened_at"),
        sa.Column("opening_float_fen", sa.BigInteger(), nullable=False),
        _timestamp("closed_at", nullable=True),
        sa.Column("counted_json", sa.Text(), nullable=True),
        sa.Column("counted_fen", sa.BigInteger(), nullable=True),
        sa.Column("expected_fen", sa.BigInteger(), nullable=True),
        sa.Column("variance_fen", sa.BigInteger(), nullable=True),
        sa.Column("cosigned_by", sa.String(length=64), nullable=True),
        sa.Column("handover_float_fen", sa.BigInteger(), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_shifts_state")),
        sa.CheckConstraint("opening_float_fen >= 0", name=op.f("ck_shifts_opening_float_not_negative")),
        sa.CheckConstraint(
            "(counted_fen IS NULL OR counted_fen >= 0)"
            " AND (handover_float_fen IS NULL OR handover_float_fen >= 0)",
            name=op.f("ck_shifts_close_amounts_not_negative"),
        ),
        sa.CheckConstraint(
            "(state = 'open' AND open_slot = 1) OR (state = 'closed' AND open_slot IS NULL)",
            name=op.f("ck_shifts_open_slot"),
        ),
        sa.UniqueConstraint("open_slot", name=op.f("uq_shifts_open_slot")),
        sa.ForeignKeyConstraint(["attendant_id"], ["people.id"], name=op.f("fk_shifts_attendant_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    op.create_index("ix_shifts_attendant_id", "shifts", ["attendant_id"])
    op.create_index("ix_shifts_opened_at", "shifts", ["opened_at"])

    op.create_table(
        "lane_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=True),
        sa.Column("exit_order_id", sa.Integer(), nullable=True),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("due_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("photo", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('manual_lift', 'free_release')", name=op.f("ck_lane_exceptions_kind")),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"], name=op.f("fk_lane_exceptions_stay_id_stays")),
        sa.ForeignKeyConstraint(
            ["exit_order_id"], ["exit_orders.id"], name=op.f("fk_lane_exceptions_exit_order_id_exit_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lane_exceptions")),
    )
    op.create_index("ix_lane_exceptions_at", "lane_exceptions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_lane_exceptions_at", table_name="lane_exceptions")
    op.drop_table("lane_exceptions")
    for index in ("ix_shifts_opened_at", "ix_shifts_attendant_id"):
        op.drop_index(index, table_name="shifts")
    op.drop_table("shifts")
    op.drop_table("people")
    for table, name, _columns in reversed(_TIME_INDEXES):
        op.drop_index(name, table_name=table)
