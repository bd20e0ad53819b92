"""The lot server's first schema: a mirror of each booth's journal tables, lot_booths and lot_conflicts.

Revision ID: l0001
Revises:
Create Date: 2026-12-03

Written by hand against booth.lot.schema as it stood at this revision (the store at its revision 0004):
plain sa.DateTime(timezone=True) instead of the app's UTCDateTime, and every column spelt out, so this
revision never changes when the models do. A mirror (``lot_<table>``) has the booth table's columns, with
``booth_id`` in front and (booth_id, id) as its key, and no foreign or unique keys.

A store migration that adds or changes a column of a mirrored table needs a lot revision too
(tests/test_lot_migrations.py fails until the lot's migrated schema matches booth.lot.schema again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "l0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the columns' kinds, each NOT NULL unless null=True


def _col(name: str, kind: sa.types.TypeEngine[Any], *, null: bool = False) -> sa.Column[Any]:
    return sa.Column(name, kind, nullable=null)


def _text(name: str, *, null: bool = False) -> sa.Column[Any]:
    return _col(name, sa.Text(), null=null)


def _str(name: str, length: int, *, null: bool = False) -> sa.Column[Any]:
    return _col(name, sa.String(length=length), null=null)


def _int(name: str, *, null: bool = False) -> sa.Column[Any]:
    return _col(name, sa.Integer(), null=null)


def _fen(name: str, *, null: bool = False) -> sa.Column[Any]:
    return _col(name, sa.BigInteger(), null=null)


def _at(name: str, *, null: bool = False) -> sa.Column[Any]:
    return _col(name, sa.DateTime(timezone=True), null=null)


def _mirror(table: str, *columns: sa.Column[Any]) -> None:
    """``lot_<table>``: booth_id, the booth's id, then its other columns; keyed by (booth_id, id)."""
    name = f"lot_{table}"
    op.create_table(
        name,
        _str("booth_id", 32),
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        *columns,
        sa.PrimaryKeyConstraint("booth_id", "id", name=f"pk_{name}"),
    )


MIRRORED = (
    "people",
    "shifts",
    "stays",
    "exit_orders",
    "payments",
    "arrears",
    "lane_exceptions",
    "gate_events",
    "audit_log",
    "outbox",
)

_INDEXES = (
    ("ix_lot_stays_plate_state", "lot_stays", ["plate", "state"]),
    ("ix_lot_stays_order_id", "lot_stays", ["order_id"]),
    ("ix_lot_stays_entry_at", "lot_stays", ["entry_at"]),
    ("ix_lot_payments_trade_no", "lot_payments", ["trade_no"]),
    ("ix_lot_payments_paid_at", "lot_payments", ["paid_at"]),
    ("ix_lot_people_username", "lot_people", ["username"]),
    ("ix_lot_shifts_opened_at", "lot_shifts", ["opened_at"]),
    ("ix_lot_outbox_cloud_state", "lot_outbox", ["cloud", "state"]),
)


def upgrade() -> None:
    _mirror(
        "people",
        _str("username", 64),
        _str("display_name", 64),
        _str("role", 16),
        _text("pin_hash"),
        _int("failed_pins"),
        _at("locked_until", null=True),
        _at("disabled_at", null=True),
        _str("disabled_by", 64, null=True),
        _at("created_at"),
        _str("created_by", 64),
    )
    _mirror(
        "shifts",
        _int("attendant_id"),
        _str("state", 16),
        _int("open_slot", null=True),
        _at("opened_at"),
        _fen("opening_float_fen"),
        _at("closed_at", null=True),
        _text("counted_json", null=True),
        _fen("counted_fen", null=True),
        _fen("expected_fen", null=True),
        _fen("variance_fen", null=True),
        _str("cosigned_by", 64, null=True),
        _fen("handover_float_fen", null=True),
        _text("close_note", null=True),
    )
    _mirror(
        "stays",
        _str("order_id", 48),
        _str("plate", 32),
        _str("plate_colour", 32),
        _str("vehicle_class", 32),
        _str("entry_lane", 32),
        _at("entry_at"),
        _str("exit_lane", 32, null=True),
        _at("exit_at", null=True),
        _str("state", 16),
        _at("created_at"),
        _str("origin_booth", 32, null=True),
    )
    _mirror(
        "exit_orders",
        _int("stay_id"),
        _str("lane_id", 32),
        _at("opened_at"),
        _text("quote_json"),
        _fen("gross_fen"),
        _fen("paid_before_fen"),
        _fen("discount_fen"),
        _fen("due_fen"),
        _str("state", 16),
        _at("settled_at", null=True),
        _int("settled_by", null=True),
        _text("release_reason", null=True),
        _str("released_by", 64, null=True),
        _fen("arrears_fen"),
    )
    _mirror(
        "payments",
        _int("stay_id", null=True),
        _str("order_ref", 128),
        _int("exit_order_id", null=True),
        _str("channel", 32),
        _int("pay_channel", null=True),
        _str("trade_no", 64, null=True),
        _fen("amount_fen"),
        _at("paid_at"),
        _str("lane_id", 32, null=True),
        _str("operator", 64),
        _str("payer_id", 64, null=True),
        _str("flag", 32, null=True),
        _text("raw_json"),
        _at("created_at"),
    )
    _mirror(
        "arrears",
        _int("stay_id"),
        _str("plate", 32),
        _fen("amount_fen"),
        _at("noticed_at"),
        _str("noticed_lane", 32),
        _str("state", 16),
        _int("exit_order_id", null=True),
        _at("settled_at", null=True),
        _str("settled_by", 64, null=True),
        _str("approved_by", 64, null=True),
        _text("reason", null=True),
    )
    _mirror(
        "lane_exceptions",
        _at("at"),
        _str("kind", 32),
        _str("lane_id", 32),
        _int("stay_id", null=True),
        _int("exit_order_id", null=True),
        _str("plate", 32, null=True),
        _fen("due_fen"),
        _str("reason", 64),
        _text("note"),
        _str("operator", 64),
        _str("approved_by", 64, null=True),
        _text("photo", null=True),
    )
    _mirror(
        "gate_events",
        _str("lane_id", 32),
        _int("stay_id", null=True),
        _str("reason", 32),
        _str("operator", 64),
        _text("note"),
        _str("outcome", 16),
        _int("attempt"),
        _text("detail"),
        _at("at"),
    )
    _mirror(
        "audit_log",
        _at("at"),
        _str("actor", 64),
        _str("action", 64),
        _text("detail_json"),
    )
    _mirror(
        "outbox",
        _int("stay_id", null=True),
        _str("cloud", 16),
        _str("kind", 32),
        _text("payload_json"),
        _str("dedupe_key", 200),
        _str("state", 16),
        _int("attempts"),
        _at("next_attempt_at"),
        _text("last_error", null=True),
        _at("created_at"),
        _at("sent_at", null=True),
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)

    op.create_table(
        "lot_booths",
        _str("booth_id", 32),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("lanes", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.String(length=64), server_default="", nullable=False),
        _at("first_contact_at"),
        _at("last_contact_at"),
        sa.Column("pushed_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("backlog", sa.Integer(), server_default="0", nullable=False),
        _int("open_shift_id", null=True),
        _str("open_shift_person", 64, null=True),
        sa.PrimaryKeyConstraint("booth_id", name="pk_lot_booths"),
    )
    op.create_table(
        "lot_conflicts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        _str("rule", 32),
        _str("subject", 128),
        _text("detail_json"),
        _at("found_at"),
        _at("settled_at", null=True),
        _str("settled_by", 64, null=True),
        sa.PrimaryKeyConstraint("id", name="pk_lot_conflicts"),
        sa.UniqueConstraint("rule", "subject", name="uq_lot_conflicts_rule"),
    )


def downgrade() -> None:
    op.drop_table("lot_conflicts")
    op.drop_table("lot_booths")
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    for table in reversed(MIRRORED):
        op.drop_table(f"lot_{table}")
