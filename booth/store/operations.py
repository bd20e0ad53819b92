"""The units of work the engine calls, each one transaction: business rows and their outbox rows commit
together or not at all.

Synchronous on purpose: the engine runs them on one dedicated database thread. Inputs are checked at the
boundary and refused with a StoreError that names the problem; database failures come out as StoreError
too, so the caller has one thing to catch. Results are frozen records, never ORM objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select

from booth.store.checks import (
    GATE_OUTCOMES,
    check_exception_refs,
    checked_aware,
    checked_exception_kind,
    checked_fen,
    checked_order_id,
    checked_row_id,
    checked_text,
    get_row,
    json_text,
    lane_exception_row,
)
from booth.store.models import (
    NAME_MAX,
    PLATE_MAX,
    SHORT_MAX,
    Arrears,
    AuditEntry,
    GateEvent,
    LaneException,
    Stay,
)
from booth.store.outbox_ops import OutboxOps, enqueue_rows, outbox_items
from booth.store.payment_ops import PaymentOps, cancel_awaiting, mark_stay_exited, state_of_stay
from booth.store.records import (
    ArrearsRecord,
    AuditRecord,
    LaneExceptionItem,
    LaneExceptionRecord,
    OutboxItem,
    StayRecord,
    StoreError,
)
from booth.store.to_records import (
    arrears_record,
    lane_exception_record,
    stay_record,
)

_GATE_EVENTS = cast(Table, GateEvent.__table__)


class Store(PaymentOps, OutboxOps):
    """Booth's persistent state behind plain method calls; one instance per open Database. Its parts:
    exit orders and payments (``payment_ops``), the outbox (``outbox_ops``); stays, arrears, lane
    exceptions, gate events and the audit here."""

    # --- stays ----------------------------------------------------------------------------------------

    def create_stay(
        self,
        *,
        order_id: str,
        plate: str,
        plate_colour: str,
        vehicle_class: str,
        lane_id: str,
        entry_at: datetime,
        outbox: Sequence[OutboxItem] = (),
    ) -> StayRecord:
        """Record a vehicle entering, with what must be reported of it (e.g. Bolink inpark)."""
        order_id = checked_order_id(order_id)
        plate = checked_text("plate", plate, PLATE_MAX)
        plate_colour = checked_text("plate_colour", plate_colour, SHORT_MAX)
        vehicle_class = checked_text("vehicle_class", vehicle_class, SHORT_MAX)
        lane_id = checked_text("lane_id", lane_id, SHORT_MAX)
        entry_at = checked_aware("entry_at", entry_at)
        items = outbox_items(outbox)
        now = self._now()
        with self._write("create_stay") as session:
            taken = session.scalar(select(Stay.id).where(Stay.order_id == order_id))
            if taken is not None:
                raise StoreError(f"order_id {order_id!r} is already used by stay {taken}")
            stay = Stay(
                order_id=order_id,
                plate=plate,
                plate_colour=plate_colour,
                vehicle_class=vehicle_class,
                entry_lane=lane_id,
                entry_at=entry_at,
                state="in_lot",
                created_at=now,
            )
            session.add(stay)
            session.flush()
            enqueue_rows(session, items, stay_id=stay.id, now=now)
            return stay_record(stay)

    def import_stay(
        self,
        *,
        order_id: str,
        plate: str,
        plate_colour: str,
        vehicle_class: str,
        entry_lane: str,
        entry_at: datetime,
        origin_booth: str,
    ) -> StayRecord:
        """Keep here a stay that entered at another booth of the lot (#18), met at this booth's exit: the same
        Bolink order id, plate and entry, ``origin_booth`` set, and no outbox row (the entry booth told Bolink
        and the clouds of the entry). From here on it is a stay like any other (priced, paid, closed).

        Idempotent for the same order id: the stay already kept is returned as it is, whatever its state (one
        imported earlier and since closed stays closed). The same order id for another plate is refused."""
        order_id = checked_order_id(order_id)
        plate = checked_text("plate", plate, PLATE_MAX)
        plate_colour = checked_text("plate_colour", plate_colour, SHORT_MAX)
        vehicle_class = checked_text("vehicle_class", vehicle_class, SHORT_MAX)
        entry_lane = checked_text("entry_lane", entry_lane, SHORT_MAX)
        entry_at = checked_aware("entry_at", entry_at)
        origin_booth = checked_text("origin_booth", origin_booth, SHORT_MAX)
        with self._write("import_stay") as session:
            kept = session.scalar(select(Stay).where(Stay.order_id == order_id))
            if kept is not None:
                if kept.plate != plate:
                    raise StoreError(
                        f"order_id {order_id!r} is already used by stay {kept.id} of plate {kept.plate!r},"
                        f" not {plate!r}"
                    )
                return stay_record(kept)
            stay = Stay(
                order_id=order_id,
                plate=plate,
                plate_colour=plate_colour,
                vehicle_class=vehicle_class,
                entry_lane=entry_lane,
                entry_at=entry_at,
                state="in_lot",
                created_at=self._now(),
                origin_booth=origin_booth,
            )
            session.add(stay)
            session.flush()
            return stay_record(stay)

    def stay_by_id(self, stay_id: int) -> StayRecord | None:
        with self._read("stay_by_id") as session:
            stay = session.get(Stay, checked_row_id("stay_id", stay_id))
            return None if stay is None else stay_record(stay)

    def stay_by_order_id(self, order_id: str) -> StayRecord | None:
        with self._read("stay_by_order_id") as session:
            stay = session.scalar(select(Stay).where(Stay.order_id == order_id))
            return None if stay is None else stay_record(stay)

    def open_stay_for_plate(self, plate: str) -> StayRecord | None:
        """The latest stay of this plate still in the lot (the one an exit settles)."""
        with self._read("open_stay_for_plate") as session:
            stay = session.scalar(
                select(Stay)
                .where(Stay.plate == plate, Stay.state == "in_lot")
                .order_by(Stay.entry_at.desc(), Stay.id.desc())
                .limit(1)
            )
            return None if stay is None else stay_record(stay)

    def count_in_lot(self) -> int:
        with self._read("count_in_lot") as session:
            return session.scalar(select(func.count()).select_from(Stay).where(Stay.state == "in_lot")) or 0

    def plates_in_lot(self) -> list[str]:
        """Distinct plates in the lot, sorted: what a misread plate is matched against."""
        with self._read("plates_in_lot") as session:
            plates = select(Stay.plate).where(Stay.state == "in_lot").distinct().order_by(Stay.plate)
            return list(session.scalars(plates))

    def close_stay(
        self, stay_id: int, *, lane_id: str, exit_at: datetime, outbox: Sequence[OutboxItem] = ()
    ) -> None:
        """Mark the vehicle gone; an exit order still awaiting is cancelled, so a later payment is flagged.

        Idempotent: closing an exited stay again changes nothing and queues nothing.
        """
        stay_id = checked_row_id("stay_id", stay_id)
        lane_id = checked_text("lane_id", lane_id, SHORT_MAX)
        exit_at = checked_aware("exit_at", exit_at)
        items = outbox_items(outbox)
        with self._write("close_stay") as session:  # (statements built once: #14, the lanes' path)
            state = state_of_stay(session, stay_id)
            if state == "exited":
                return
            if state != "in_lot":
                raise StoreError(f"stay {stay_id} is {state}, it cannot exit")
            mark_stay_exited(session, stay_id, lane_id=lane_id, at=exit_at)
            enqueue_rows(session, items, stay_id=stay_id, now=self._now())

    def close_stay_released_elsewhere(
        self,
        stay_id: int,
        *,
        lane_id: str,
        exit_at: datetime,
        detail: Mapping[str, Any],
        outbox: Sequence[OutboxItem] = (),
    ) -> bool:
        """A lot booth let this stay's car out as no_stay (#18, ``released_without_stay``): the stay is closed
        with that booth's lane and release time, never priced or charged (no exit order, no payment; an exit
        order still awaiting is cancelled), and audited ``lot_released_without_stay`` with ``detail`` (the
        release) in the same transaction. ``outbox`` is queued with the close, and only when it closes (the
        exit's Tmall ``leave``: the clouds hear of the exit once). False, changing nothing and queueing
        nothing, when the stay is not in the lot any more (closed meanwhile, or by an earlier call)."""
        stay_id = checked_row_id("stay_id", stay_id)
        lane_id = checked_text("lane_id", lane_id, SHORT_MAX)
        exit_at = checked_aware("exit_at", exit_at)
        detail_json = json_text("detail", {**dict(detail), "stay_id": stay_id})
        items = outbox_items(outbox)
        with self._write("close_stay_released_elsewhere") as session:
            stay = get_row(session, Stay, stay_id, "stay")
            if stay.state != "in_lot":
                return False
            stay.state = "exited"
            stay.exit_lane = lane_id
            stay.exit_at = exit_at
            cancel_awaiting(session, stay_id, at=exit_at)
            action = "lot_released_without_stay"
            session.add(AuditEntry(at=self._now(), actor="lot", action=action, detail_json=detail_json))
            session.flush()
            enqueue_rows(session, items, stay_id=stay_id, now=self._now())
            return True

    def close_missed_stay(
        self, stay_id: int, *, at: datetime, lane_id: str, owed_fen: int
    ) -> ArrearsRecord | None:
        """The plate entered again while this stay was in the lot: its exit was never seen. The stay is closed
        (state "cancelled", `at` as its exit time) and what it owed then, if anything, is kept as arrears for
        the plate's next exit (returned). Idempotent: a stay already closed this way changes nothing."""
        stay_id = checked_row_id("stay_id", stay_id)
        at = checked_aware("at", at)
        lane_id = checked_text("lane_id", lane_id, SHORT_MAX)
        owed_fen = checked_fen("owed_fen", owed_fen)
        with self._write("close_missed_stay") as session:
            stay = get_row(session, Stay, stay_id, "stay")
            if stay.state == "cancelled":
                return None
            if stay.state != "in_lot":
                raise StoreError(f"stay {stay_id} is {stay.state}, its exit cannot have been missed")
            stay.state = "cancelled"
            stay.exit_at = at
            cancel_awaiting(session, stay_id, at=at)
            if not owed_fen:
                return None
            row = Arrears(
                stay_id=stay_id,
                plate=stay.plate,
                amount_fen=owed_fen,
                noticed_at=at,
                noticed_lane=lane_id,
                state="open",
            )
            session.add(row)
            session.flush()
            return arrears_record(row)

    def open_arrears(self, plate: str) -> list[ArrearsRecord]:
        """The plate's arrears not yet collected or waived, oldest first."""
        plate = checked_text("plate", plate, PLATE_MAX)
        with self._read("open_arrears") as session:
            rows = session.scalars(
                select(Arrears).where(Arrears.plate == plate, Arrears.state == "open").order_by(Arrears.id)
            )
            return [arrears_record(row) for row in rows]

    def arrears_between(self, since: datetime, until: datetime) -> list[ArrearsRecord]:
        """Arrears noticed, collected or waived in [since, until), oldest first (the reports' list)."""
        since, until = checked_aware("since", since), checked_aware("until", until)
        with self._read("arrears_between") as session:
            rows = session.scalars(
                select(Arrears)
                .where(
                    ((Arrears.noticed_at >= since) & (Arrears.noticed_at < until))
                    | ((Arrears.settled_at >= since) & (Arrears.settled_at < until))
                )
                .order_by(Arrears.id)
            )
            return [arrears_record(row) for row in rows]

    # --- lane exceptions (free releases and manual lifts) ----------------------------------------------

    def record_lane_exception(self, item: LaneExceptionItem) -> LaneExceptionRecord:
        """Keep a free release or manual lift that settles no exit order (no stay found, an empty lane, a
        gate fault after payment, an entry lane)."""
        row = lane_exception_row(item)
        with self._write("record_lane_exception") as session:
            check_exception_refs(session, row)
            session.add(row)
            session.flush()
            return lane_exception_record(row)

    def lane_exceptions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        lane_id: str | None = None,
    ) -> list[LaneExceptionRecord]:
        """Exceptions in [since, until), oldest first (for reports and the supervisor's review)."""
        query = select(LaneException).order_by(LaneException.at, LaneException.id)
        if since is not None:
            query = query.where(LaneException.at >= checked_aware("since", since))
        if until is not None:
            query = query.where(LaneException.at < checked_aware("until", until))
        if kind is not None:
            query = query.where(LaneException.kind == checked_exception_kind(kind))
        if lane_id is not None:
            query = query.where(LaneException.lane_id == checked_text("lane_id", lane_id, SHORT_MAX))
        with self._read("lane_exceptions") as session:
            return [lane_exception_record(row) for row in session.scalars(query)]

    def count_lane_exceptions(self, kind: str, *, since: datetime, until: datetime | None = None) -> int:
        """How many exceptions of one kind in [since, until): the per-shift limits count with this."""
        query = select(func.count(LaneException.id)).where(
            LaneException.kind == checked_exception_kind(kind),
            LaneException.at >= checked_aware("since", since),
        )
        if until is not None:
            query = query.where(LaneException.at < checked_aware("until", until))
        with self._read("count_lane_exceptions") as session:
            return int(session.scalar(query) or 0)

    # --- gate and audit ----------------------------------------------------------------------------------

    def record_gate_event(
        self,
        *,
        lane_id: str,
        stay_id: int | None,
        reason: str,
        operator: str,
        note: str,
        outcome: str,
        attempt: int,
        detail: str,
        at: datetime,
    ) -> None:
        """Keep the evidence of one barrier command: why, by whom, and whether the gate opened."""
        lane_id = checked_text("lane_id", lane_id, SHORT_MAX)
        if stay_id is not None:
            stay_id = checked_row_id("stay_id", stay_id)
        reason = checked_text("reason", reason, SHORT_MAX)
        operator = checked_text("operator", operator, NAME_MAX)
        note = checked_text("note", note, 2000, allow_empty=True)
        if outcome not in GATE_OUTCOMES:
            raise StoreError(f"outcome must be one of {GATE_OUTCOMES}, got {outcome!r}")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise StoreError(f"attempt must be an integer >= 1, got {attempt!r}")
        detail = checked_text("detail", detail, 10_000, allow_empty=True)
        at = checked_aware("at", at)
        with self._write("record_gate_event") as session:  # (Core, no unit of work: #14, the lanes' path)
            if stay_id is not None:
                state_of_stay(session, stay_id)
            session.connection().execute(
                _GATE_EVENTS.insert(),
                {
                    "lane_id": lane_id,
                    "stay_id": stay_id,
                    "reason": reason,
                    "operator": operator,
                    "note": note,
                    "outcome": outcome,
                    "attempt": attempt,
                    "detail": detail,
                    "at": at,
                },
            )

    def audit(self, *, actor: str, action: str, detail: Mapping[str, Any], at: datetime) -> None:
        actor = checked_text("actor", actor, NAME_MAX)
        action = checked_text("action", action, NAME_MAX)
        detail_json = json_text("detail", dict(detail))
        at = checked_aware("at", at)
        with self._write("audit") as session:
            session.add(AuditEntry(at=at, actor=actor, action=action, detail_json=detail_json))

    def audit_entries(self, action: str, *, limit: int = 100) -> list[AuditRecord]:
        """The latest entries of one action, newest first (e.g. the lot's registration with Alipay)."""
        action = checked_text("action", action, NAME_MAX)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise StoreError(f"limit must be a positive integer, got {limit!r}")
        with self._read("audit_entries") as session:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
            return [
                AuditRecord(id=r.id, at=r.at, actor=r.actor, action=r.action, detail_json=r.detail_json)
                for r in rows
            ]

    def audit_between(self, action: str, *, since: datetime, until: datetime) -> list[AuditRecord]:
        """Entries of one action in [since, until), oldest first (e.g. failed payments for a report)."""
        action = checked_text("action", action, NAME_MAX)
        since, until = checked_aware("since", since), checked_aware("until", until)
        if until <= since:
            raise StoreError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
        with self._read("audit_between") as session:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.at >= since, AuditEntry.at < until)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
            return [
                AuditRecord(id=r.id, at=r.at, actor=r.actor, action=r.action, detail_json=r.detail_json)
                for r in rows
            ]
