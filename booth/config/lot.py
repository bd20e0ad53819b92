"""``[lot]``: this booth as one of a lot's booths sharing one PostgreSQL server (issue #18).

Optional: without it Booth works as one booth on its own database. With it, the booth's own database stays
its journal (SQLite: ``database.url`` must name an SQLite file, checked in :class:`~booth.config.Settings`)
and is pushed to the lot server; the lot's stays are looked up there at this booth's exits.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from booth.config.section import Section

#: a booth's id on the lot server: letters, digits, _ and -, at most this long (booth.lot.schema's key)
BOOTH_ID_MAX = 32
_BOOTH_ID = re.compile(r"[A-Za-z0-9_-]+")


class LotSettings(Section):
    """[lot]: the lot server and this booth's id on it."""

    server: str = Field(description='The lot\'s PostgreSQL, "postgresql://user@host:5432/dbname".')
    booth_id: str = Field(description="This booth's id on the lot server: 1-32 letters, digits, _ or -.")
    connect_timeout_s: int = Field(
        2, ge=2, le=60, description="Give up connecting to the server after this long (libpq's minimum: 2)."
    )
    query_timeout_ms: int = Field(
        500, ge=10, le=60_000, description="A lookup at an exit waits no longer for the server than this."
    )
    push_interval_s: float = Field(
        0.2, gt=0, le=60, description="How often the journal is looked at for rows to push."
    )
    heartbeat_s: float = Field(
        5.0, gt=0, le=600, description="Contact with the server (backlog, open shift) at least this often."
    )
    takeover_after_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="A booth silent on the server for longer has its pending cloud messages relayed by a "
        "live booth; this booth sends its own only while its last contact is younger than half this "
        "(0 = never).",
    )

    @model_validator(mode="after")
    def _takeover_after_heartbeats(self) -> LotSettings:
        """The lease (half of takeover_after_s) must outlast a couple of heartbeats, or it never holds."""
        if self.takeover_after_s and self.takeover_after_s < 4 * self.heartbeat_s:
            raise ValueError(
                f"takeover_after_s: 0 (never) or at least 4 x heartbeat_s ({4 * self.heartbeat_s:g} s): this "
                f"booth sends its cloud messages only while its last contact is younger than half of it, got "
                f"{self.takeover_after_s:g}"
            )
        return self

    @field_validator("booth_id")
    @classmethod
    def _booth_id(cls, value: str) -> str:
        if not 1 <= len(value) <= BOOTH_ID_MAX or not _BOOTH_ID.fullmatch(value):
            raise ValueError(
                f"1 to {BOOTH_ID_MAX} characters, only letters, digits, _ and - (it keys this booth's rows "
                f"on the server), got {value!r}"
            )
        return value

    @field_validator("server")
    @classmethod
    def _postgresql(cls, value: str) -> str:
        """A PostgreSQL URL with a database name, driven by psycopg (v3): anything else fails here, not at
        the first push."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        example = '"postgresql://user@host:5432/dbname"'
        if "\x00" in value:
            raise ValueError("a server URL cannot contain a NUL character")
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(f"not a database URL, expected e.g. {example}: {value!r}") from None
        shown = url.render_as_string(hide_password=True)
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"the lot server is PostgreSQL, expected e.g. {example}: {shown!r}")
        if url.drivername not in ("postgresql", "postgresql+psycopg"):
            raise ValueError(
                f"Booth drives PostgreSQL with psycopg (v3): write postgresql://…, not {shown!r}"
            )
        if not url.database:
            raise ValueError(f"name the lot's database, e.g. {example}: {shown!r}")
        return value
