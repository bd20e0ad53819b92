"""Lane timings: camera push → quote shown and the Bolink round trip, per lane, for the supervisor's figures
(issue #16). Written in batches by background jobs, pruned after some days.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Written by hand against booth.store.models (plain sa.DateTime(timezone=True), as in 0001 to 0003).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lane_timings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lane_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ms", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('camera_to_quote', 'bolink_round_trip')", name=op.f("ck_lane_timings_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lane_timings")),
    )
    op.create_index("ix_lane_timings_at", "lane_timings", ["at"])


def downgrade() -> None:
    op.drop_index("ix_lane_timings_at", table_name="lane_timings")
    op.drop_table("lane_timings")
