"""The transactional outbox in the store: rows queued with the business rows they report, the relay's
reads and marks (sent, retry, dead), requeues and the backlog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, exists, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, aliased

from booth.store.base import StoreBase
from booth.store.checks import (
    checked_aware,
    checked_cloud,
    checked_row_id,
    checked_text,
    get_row,
    json_text,
)
from booth.store.models import (
    DEDUPE_KEY_MAX,
    SHORT_MAX,
    OutboxRow,
    Stay,
)
from booth.store.records import (
    OutboxBacklog,
    OutboxItem,
    OutboxRecord,
    StoreError,
)
from booth.store.to_records import (
    outbox_record,
)

_OUTBOX = cast(Table, OutboxRow.__table__)
#: the note a row sent by another booth of the lot carries in last_error (followed by that booth's id)
RELAYED_BY = "sent by lot booth "


class OutboxOps(StoreBase):
    """What the relays read and mark; ``enqueue`` for rows that report nothing booked here."""

    # --- outbox ----------------------------------------------------------------------------------------

    def enqueue(self, items: Sequence[OutboxItem], *, stay_id: int | None = None) -> None:
        """Queue items that belong to no business write (e.g. registering the lot with Alipay)."""
        if stay_id is not None:
            stay_id = checked_row_id("stay_id", stay_id)
        prepared = outbox_items(items)
        with self._write("enqueue") as session:
            if stay_id is not None:
                get_row(session, Stay, stay_id, "stay")
            enqueue_rows(session, prepared, stay_id=stay_id, now=self._now())

    def due_outbox(self, cloud: str, now: datetime, limit: int = 50) -> list[OutboxRecord]:
        """Pending rows of `cloud` whose time has come, oldest first.

        A stay's rows go out in the order they were queued: a row is not due while an earlier row of the
        same stay and cloud is still pending (even one waiting for its retry time). Dead rows are parked
        and block nothing. Rows without a stay have no order among themselves.
        """
        cloud = checked_cloud(cloud)
        now = checked_aware("now", now)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise StoreError(f"limit must be a positive integer, got {limit!r}")
        earlier = aliased(OutboxRow)
        blocked = exists().where(
            earlier.cloud == OutboxRow.cloud,
            earlier.stay_id == OutboxRow.stay_id,
            earlier.state == "pending",
            earlier.id < OutboxRow.id,
        )
        with self._read("due_outbox") as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.cloud == cloud,
                    OutboxRow.state == "pending",
                    OutboxRow.next_attempt_at <= now,
                    ~blocked,
                )
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            return [outbox_record(row) for row in rows]

    def dead_outbox(self, cloud: str | None = None, *, limit: int = 100) -> list[OutboxRecord]:
        """Parked rows (of one cloud, or all), oldest first, with their last error: the supervisor's list."""
        if cloud is not None:
            cloud = checked_cloud(cloud)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise StoreError(f"limit must be a positive integer, got {limit!r}")
        statement = select(OutboxRow).where(OutboxRow.state == "dead")
        if cloud is not None:
            statement = statement.where(OutboxRow.cloud == cloud)
        with self._read("dead_outbox") as session:
            rows = session.scalars(statement.order_by(OutboxRow.id).limit(limit))
            return [outbox_record(row) for row in rows]

    def outbox_by_id(self, outbox_id: int) -> OutboxRecord | None:
        with self._read("outbox_by_id") as session:
            row = session.get(OutboxRow, checked_row_id("outbox_id", outbox_id))
            return None if row is None else outbox_record(row)

    def mark_outbox_sent(self, outbox_id: int, *, at: datetime) -> None:
        """The cloud accepted it. Idempotent; also accepted for a dead row (a late success is a success)."""
        outbox_id = checked_row_id("outbox_id", outbox_id)
        at = checked_aware("at", at)
        with self._write("mark_outbox_sent") as session:
            row = get_row(session, OutboxRow, outbox_id, "outbox row")
            if row.state == "sent":
                return
            row.state = "sent"
            row.sent_at = at

    def mark_outbox_retry(self, outbox_id: int, *, error: str, next_attempt_at: datetime) -> None:
        """A failed attempt that may succeed later: count it and wait until `next_attempt_at`."""
        outbox_id = checked_row_id("outbox_id", outbox_id)
        error = checked_text("error", error, 10_000, allow_empty=True)
        next_attempt_at = checked_aware("next_attempt_at", next_attempt_at)
        with self._write("mark_outbox_retry") as session:
            row = get_row(session, OutboxRow, outbox_id, "outbox row")
            if row.state != "pending":
                raise StoreError(f"outbox row {outbox_id} is {row.state}, not pending: no retry")
            row.attempts += 1
            row.last_error = error
            row.next_attempt_at = next_attempt_at

    def mark_outbox_dead(self, outbox_id: int, *, error: str) -> None:
        """Park a row that cannot succeed (counting the failed attempt) until a supervisor requeues it."""
        outbox_id = checked_row_id("outbox_id", outbox_id)
        error = checked_text("error", error, 10_000, allow_empty=True)
        with self._write("mark_outbox_dead") as session:
            row = get_row(session, OutboxRow, outbox_id, "outbox row")
            if row.state == "sent":
                raise StoreError(f"outbox row {outbox_id} was already sent; it cannot be parked")
            if row.state == "dead":
                return
            row.state = "dead"
            row.attempts += 1
            row.last_error = error

    def mark_outbox_relayed(
        self, outbox_id: int, *, by: str, outcome: str, at: datetime, error: str = ""
    ) -> bool:
        """Another booth of the lot relayed this row while this booth was silent (booth.sync.lot_relay):
        "sent" (sent_at ``at``) or "dead" (parked there), with a note naming that booth in last_error. Only a
        pending row changes; False when it was not pending (left as it is)."""
        outbox_id = checked_row_id("outbox_id", outbox_id)
        at = checked_aware("at", at)
        by = checked_text("by", by, SHORT_MAX)
        if outcome not in ("sent", "dead"):
            raise StoreError(f"outcome must be 'sent' or 'dead', got {outcome!r}")
        error = checked_text("error", error, 10_000, allow_empty=True)
        with self._write("mark_outbox_relayed") as session:
            row = get_row(session, OutboxRow, outbox_id, "outbox row")
            if row.state != "pending":
                return False
            if outcome == "sent":
                row.state = "sent"
                row.sent_at = at
                row.last_error = f"{RELAYED_BY}{by}"
            else:
                row.state = "dead"
                row.attempts += 1
                row.last_error = f"parked by lot booth {by}: {error}"
            return True

    def requeue_dead(self, cloud: str | None = None, *, at: datetime | None = None) -> int:
        """Give parked rows (of one cloud, or all) a fresh start: pending, attempts 0, due at `at` (now).

        Returns how many rows were requeued; their last_error is kept for the record.
        """
        if cloud is not None:
            cloud = checked_cloud(cloud)
        due_at = self._now() if at is None else checked_aware("at", at)
        statement = (
            update(OutboxRow)
            .where(OutboxRow.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=due_at)
            .execution_options(synchronize_session=False)
        )
        if cloud is not None:
            statement = statement.where(OutboxRow.cloud == cloud)
        with self._write("requeue_dead") as session:
            result = cast(CursorResult[Any], session.execute(statement))
            return result.rowcount

    def outbox_backlog(self) -> dict[str, OutboxBacklog]:
        """Per cloud with anything pending or dead: counts and the oldest pending row's age.

        A cloud that is missing has nothing pending and nothing dead.
        """
        with self._read("outbox_backlog") as session:
            rows = session.execute(
                select(OutboxRow.cloud, OutboxRow.state, func.count(), func.min(OutboxRow.created_at))
                .where(OutboxRow.state.in_(("pending", "dead")))
                .group_by(OutboxRow.cloud, OutboxRow.state)
            ).all()
        pending: dict[str, tuple[int, datetime | None]] = {}
        dead: dict[str, int] = {}
        for cloud, state, count, oldest in rows:
            if state == "pending":
                pending[cloud] = (int(count), oldest)
            else:
                dead[cloud] = int(count)
        return {
            cloud: OutboxBacklog(
                cloud=cloud,
                pending=pending.get(cloud, (0, None))[0],
                oldest_pending_at=pending.get(cloud, (0, None))[1],
                dead=dead.get(cloud, 0),
            )
            for cloud in sorted(pending.keys() | dead.keys())
        }


# --- outbox ------------------------------------------------------------------------------------------------


def outbox_items(items: Sequence[OutboxItem]) -> list[tuple[OutboxItem, str]]:
    """Check every item and serialise its payload before anything is written."""
    prepared = []
    for index, item in enumerate(items):
        if not isinstance(item, OutboxItem):
            raise StoreError(f"outbox[{index}] must be an OutboxItem, got {type(item).__name__}")
        checked_cloud(item.cloud)
        checked_text(f"outbox[{index}].kind", item.kind, SHORT_MAX)
        checked_text(f"outbox[{index}].dedupe_key", item.dedupe_key, DEDUPE_KEY_MAX)
        if not isinstance(item.payload, Mapping):
            raise StoreError(f"outbox[{index}].payload must be a mapping, got {type(item.payload).__name__}")
        prepared.append((item, json_text(f"outbox[{index}].payload", dict(item.payload))))
    return prepared


def enqueue_rows(
    session: Session, items: list[tuple[OutboxItem, str]], *, stay_id: int | None, now: datetime
) -> None:
    """Insert outbox rows; a dedupe_key already queued (now or before) is skipped, not an error."""
    if not items:
        return
    rows = [
        {
            "stay_id": stay_id,
            "cloud": item.cloud,
            "kind": item.kind,
            "payload_json": payload_json,
            "dedupe_key": item.dedupe_key,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item, payload_json in items
    ]
    conn = session.connection()
    insert = _outbox_insert(conn.dialect.name)
    if insert is not None:  # one statement, built once, for all the rows (Core: no unit of work)
        conn.execute(insert, rows)
        return
    for values in rows:
        if session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == values["dedupe_key"])) is None:
            session.add(OutboxRow(**values))
            session.flush()


_OUTBOX_INSERTS: dict[str, Any] = {}


def _outbox_insert(dialect: str) -> Any:
    """The outbox's INSERT that skips a dedupe_key already queued, for SQLite and PostgreSQL (None: another
    database, which checks first)."""
    if dialect not in _OUTBOX_INSERTS:
        if dialect == "sqlite":
            stmt: Any = sqlite.insert(_OUTBOX)
        elif dialect == "postgresql":
            # imported here, not at the top: ~100 ms of every start that a SQLite booth never needs
            from sqlalchemy.dialects import postgresql

            stmt = postgresql.insert(_OUTBOX)
        else:
            stmt = None
        if stmt is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        _OUTBOX_INSERTS[dialect] = stmt
    return _OUTBOX_INSERTS[dialect]
