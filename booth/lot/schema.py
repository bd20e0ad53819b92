"""The lot server's tables (issue #18): what every booth of a lot shares on one PostgreSQL.

Each booth stays the authority for what happened at its own lanes: its SQLite store is its journal. The
server holds a *mirror* of each booth's journal tables, one row per (booth_id, local id), with the same
columns as the booth's own table (booth.store.models) but no foreign keys and no lot-wide unique keys: a
booth's rows arrive as they are, in the order they were written, and never fail to apply because of another
booth's rows. What must hold lot-wide (a trade_no booked once, a stay closed once) is *checked* on the
server after each push, and a breach is kept in ``lot_conflicts`` for the supervisor, never refused.

Beside the mirrors:

- ``lot_booths``: one row per booth (last contact, version, backlog, open shift, and ``pushed_seq``: how far
  the server has applied that booth's journal, which makes a catch-up exactly once);
- ``lot_conflicts``: what the checks found, per rule, with the rows involved.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from booth.store.models import Base, UTCDateTime

#: the booth's journal tables mirrored on the server, in the order a push applies them (parents first)
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

BOOTH_ID_MAX = 32

lot_metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def mirror_name(table: str) -> str:
    return f"lot_{table}"


def _mirror(name: str) -> Table:
    local = Base.metadata.tables[name]
    columns = [Column("booth_id", String(BOOTH_ID_MAX), primary_key=True, nullable=False)]
    for col in local.columns:
        # same name and type; no foreign key, no unique key; only the id is part of the key, and NOT NULL
        # (PostgreSQL makes every key column so: said here too, or the lot migrations' drift test differs)
        nullable = bool(col.nullable and not col.primary_key)
        columns.append(
            Column(col.name, col.type, primary_key=col.primary_key, nullable=nullable, autoincrement=False)
        )
    return Table(mirror_name(name), lot_metadata, *columns)


MIRRORS: dict[str, Table] = {name: _mirror(name) for name in MIRRORED}

# what the lot asks of its mirrors: a plate's open stay at any booth, a stay by its Bolink order id (the same
# order id at two booths is one stay met at both), a trade number booked at two booths, a month's report
Index("ix_lot_stays_plate_state", MIRRORS["stays"].c.plate, MIRRORS["stays"].c.state)
Index("ix_lot_stays_order_id", MIRRORS["stays"].c.order_id)
Index("ix_lot_stays_entry_at", MIRRORS["stays"].c.entry_at)
Index("ix_lot_payments_trade_no", MIRRORS["payments"].c.trade_no)
Index("ix_lot_payments_paid_at", MIRRORS["payments"].c.paid_at)
Index("ix_lot_people_username", MIRRORS["people"].c.username)
Index("ix_lot_shifts_opened_at", MIRRORS["shifts"].c.opened_at)
Index("ix_lot_outbox_cloud_state", MIRRORS["outbox"].c.cloud, MIRRORS["outbox"].c.state)
# the lot report (booth.lot.report, lot revision l0003): a period's exits, entries and payments per booth,
# each by an index-only scan of the period's range (the columns it groups and sums are included)
Index(
    "ix_lot_stays_exit_report",
    MIRRORS["stays"].c.exit_at,
    postgresql_include=["booth_id", "state", "exit_lane"],
)
Index(
    "ix_lot_stays_entry_report", MIRRORS["stays"].c.entry_at, postgresql_include=["booth_id", "origin_booth"]
)
Index(
    "ix_lot_payments_report",
    MIRRORS["payments"].c.paid_at,
    postgresql_include=["booth_id", "channel", "pay_channel", "flag", "amount_fen"],
)

lot_booths = Table(
    "lot_booths",
    lot_metadata,
    Column("booth_id", String(BOOTH_ID_MAX), primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("lanes", Text, nullable=False, server_default=""),  # the booth's lane ids, comma separated
    Column("version", String(64), nullable=False, server_default=""),
    Column("first_contact_at", UTCDateTime, nullable=False),
    Column("last_contact_at", UTCDateTime, nullable=False),
    #: the highest journal sequence number of this booth the server has applied (exactly-once catch-up)
    Column("pushed_seq", BigInteger, nullable=False, server_default="0"),
    Column("backlog", Integer, nullable=False, server_default="0"),  # journal rows not yet pushed, as told
    Column("open_shift_id", Integer, nullable=True),
    Column("open_shift_person", String(64), nullable=True),
)

lot_conflicts = Table(
    "lot_conflicts",
    lot_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("rule", String(32), nullable=False),  # e.g. "trade_no_twice", "stay_closed_twice"
    Column("subject", String(128), nullable=False),  # the trade_no, the order id, the plate
    Column("detail_json", Text, nullable=False),  # the rows involved: booth ids, local ids, times
    Column("found_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime, nullable=True),
    Column("settled_by", String(64), nullable=True),  # the supervisor who settled it (booth lot settle)
    Column("settled_note", Text, nullable=True),  # what they decided, in their words (lot revision l0004)
    UniqueConstraint("rule", "subject"),
)

#: a booth's outbox row relayed by another booth while it was silent (booth.sync.lot_relay): one claim per
#: row, so two live booths never both take it; ``outcome`` NULL while the claimer sends it, then "retry",
#: "sent" or "dead"; ``settled_at`` once the owner booth has written the outcome into its own outbox
lot_relay_claims = Table(
    "lot_relay_claims",
    lot_metadata,
    Column("booth_id", String(BOOTH_ID_MAX), primary_key=True),  # the booth whose outbox row it is
    Column("outbox_id", Integer, primary_key=True, autoincrement=False),  # its local outbox id
    Column("cloud", String(16), nullable=False),
    Column("claimed_by", String(BOOTH_ID_MAX), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("settled_at", UTCDateTime, nullable=True),
)
Index("ix_lot_relay_claims_claimed_by", lot_relay_claims.c.claimed_by)

__all__ = [
    "BOOTH_ID_MAX",
    "MIRRORED",
    "MIRRORS",
    "lot_booths",
    "lot_conflicts",
    "lot_metadata",
    "lot_relay_claims",
    "mirror_name",
]
