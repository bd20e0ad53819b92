"""A stay met at this booth's exit but entered at another booth of the lot (issue #18): ``origin_booth``
names that booth; NULL for a stay that entered here (every stay before this revision).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stays", sa.Column("origin_booth", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE stays DROP COLUMN origin_booth")  # SQLite 3.35+, PostgreSQL
