"""A settled conflict keeps the supervisor's note: ``lot_conflicts.settled_note``.

Revision ID: l0004
Revises: l0003
Create Date: 2026-12-03

Written by hand against booth.lot.schema.lot_conflicts. ``booth lot settle ID --note TEXT``
(booth.lot.conflicts) writes ``settled_at`` (the server's clock), ``settled_by`` (the supervisor, PIN
checked) and this note, once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l0004"
down_revision: str | Sequence[str] | None = "l0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lot_conflicts", sa.Column("settled_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("lot_conflicts", "settled_note")
