"""Shifts: an attendant opens with a float, takes cash, and closes with a blind count by denomination.

The expected cash (the float plus the cash the booth took in the shift's window) is computed at close and
never shown before the count. A variance above `cosign_variance` needs a supervisor other than the
attendant to co-sign; the float left in the drawer is handed over to the next shift.

Cash that stays in the drawer is what the lane books as a payment with channel "cash" (booth.domain.lane
`CashTaken`): its amount is the due, not the tendered note (the change went back to the driver), and it
is booked once (trade_no CASH_<lane>_<exit order>). A cash payment the store flagged (e.g. the car backed
away) is still in the drawer until the supervisor refunds it, so it counts too. Payments Bolink reports
(operator "bolink"), even with pay_type "cash", were not taken at this booth and do not count.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booth.config import ShiftSettings
from booth.domain.money import format_yuan
from booth.office.staff import AuthError, Staff, database_session, utc_now, write_audit
from booth.store.db import Database
from booth.store.models import Payment, Person, Shift
from booth.store.records import StoreError

ShiftState = Literal["open", "closed"]
#: Most pieces of one denomination a count may give: more is a typing slip, not a drawer.
MAX_PIECES = 100_000
NOTE_MAX = 2000
BOLINK_OPERATOR = "bolink"


@dataclass(frozen=True, slots=True)
class ShiftRecord:
    id: int
    attendant: str  # username
    attendant_name: str
    state: ShiftState
    opened_at: datetime
    opening_float_fen: int
    closed_at: datetime | None
    counted: dict[int, int] | None  # denomination (fen) -> pieces, largest first
    counted_fen: int | None
    expected_fen: int | None
    variance_fen: int | None  # counted - expected
    cosigned_by: str | None
    handover_float_fen: int | None
    close_note: str | None


class ShiftError(Exception):
    """A shift operation was refused and nothing changed. ``code`` is one of "shift_open",
    "no_open_shift", "not_open", "bad_count", "cosign_required", "bad_cosigner", "bad_handover",
    "not_found", "bad_float", "bad_attendant", "bad_note"; ``message`` (English) names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Shifts:
    """The booth's shifts in its database; one instance per open Database."""

    def __init__(
        self,
        db: Database,
        settings: ShiftSettings,
        staff: Staff,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._settings = settings
        self._staff = staff
        self._clock = clock

    # --- reading ---------------------------------------------------------------------------------------

    def current(self) -> ShiftRecord | None:
        """The open shift, if any (there is at most one)."""
        with database_session(self._db, "current shift", write=False) as session:
            row = session.scalar(select(Shift).where(Shift.state == "open"))
            return None if row is None else _record(session, row)

    def get(self, shift_id: int) -> ShiftRecord:
        shift_id = _shift_id(shift_id)
        with database_session(self._db, "get shift", write=False) as session:
            return _record(session, _existing(session, shift_id))

    def list(
        self,
        *,
        since: datetime | None = None,
        attendant: str | None = None,
        until: datetime | None = None,
    ) -> builtins.list[ShiftRecord]:
        """Shifts whose window overlaps [since, until) (a shift still open reaches to now), oldest first."""
        statement = select(Shift).order_by(Shift.opened_at, Shift.id)
        if since is not None:
            since = _aware("since", since)
            statement = statement.where((Shift.closed_at.is_(None)) | (Shift.closed_at > since))
        if until is not None:
            statement = statement.where(Shift.opened_at < _aware("until", until))
        with database_session(self._db, "list shifts", write=False) as session:
            if attendant is not None:
                statement = statement.join(Person, Person.id == Shift.attendant_id).where(
                    Person.username == attendant
                )
            return [_record(session, row) for row in session.scalars(statement)]

    def next_float_fen(self) -> int:
        """The float the last close handed over, else the configured default (a first shift)."""
        with database_session(self._db, "next float", write=False) as session:
            handover = session.scalar(
                select(Shift.handover_float_fen)
                .where(Shift.state == "closed")
                .order_by(Shift.closed_at.desc(), Shift.id.desc())
                .limit(1)
            )
        return self._settings.default_float if handover is None else handover

    def expected_cash_fen(self, shift_id: int) -> int:
        """Float plus the cash taken in the shift so far (for a closed shift: what was expected at close).
        For the supervisor and the reports: never show it to the attendant before the count."""
        shift_id = _shift_id(shift_id)
        with database_session(self._db, "expected cash", write=False) as session:
            row = _existing(session, shift_id)
            if row.state == "closed" and row.expected_fen is not None:
                return row.expected_fen
            return row.opening_float_fen + _cash_taken(session, row.opened_at, None)

    # --- open and close --------------------------------------------------------------------------------

    def open(self, attendant: str, *, opening_float_fen: int | None = None) -> ShiftRecord:
        """Start `attendant`'s shift with the float in the drawer (default: the last handover)."""
        if opening_float_fen is None:
            opening_float_fen = self.next_float_fen()
        if not _is_int(opening_float_fen) or opening_float_fen < 0:
            raise ShiftError(
                "bad_float", f"the opening float is a non-negative amount in fen, got {opening_float_fen!r}"
            )
        now = self._now()
        try:
            with database_session(self._db, "open shift", write=True) as session:
                person = session.scalar(select(Person).where(Person.username == attendant))
                if person is None or person.disabled_at is not None:
                    state = "unknown" if person is None else "disabled"
                    raise ShiftError("bad_attendant", f"{attendant!r} cannot open a shift: {state}")
                _refuse_if_open(session)
                row = Shift(
                    attendant_id=person.id,
                    state="open",
                    open_slot=1,
                    opened_at=now,
                    opening_float_fen=opening_float_fen,
                )
                session.add(row)
                session.flush()
                write_audit(
                    session,
                    now,
                    person.username,
                    "shift_opened",
                    {"shift_id": row.id, "opening_float_fen": opening_float_fen},
                )
                return _record(session, row)
        except StoreError as exc:
            # Another booth opened one between the check and the insert (PostgreSQL; SQLite serialises).
            if isinstance(exc.__cause__, IntegrityError):
                raise _open_elsewhere(self._db) from None
            raise

    def close(
        self,
        shift_id: int,
        counted: Mapping[int, int],
        *,
        handover_float_fen: int,
        cosigner: tuple[str, str] | None = None,
        note: str = "",
    ) -> ShiftRecord:
        """Close with the blind count (denomination in fen -> pieces; one missing counts 0).

        Records expected, counted and variance in one transaction. When |variance| exceeds
        `cosign_variance`, `cosigner` = (username, PIN) of a supervisor other than the attendant is
        required; a cosigner given is always checked and recorded. On any refusal the shift stays open.
        """
        shift_id = _shift_id(shift_id)
        pieces = self._count(counted)
        counted_fen = sum(d * n for d, n in pieces.items())
        if not _is_int(handover_float_fen) or not 0 <= handover_float_fen <= counted_fen:
            raise ShiftError(
                "bad_handover",
                f"the float handed over must be between 0 and the counted {format_yuan(counted_fen)} yuan, "
                f"got {handover_float_fen!r} fen",
            )
        if not isinstance(note, str) or len(note) > NOTE_MAX:
            raise ShiftError("bad_note", f"the note must be text of at most {NOTE_MAX} characters")
        if cosigner is not None and (
            not isinstance(cosigner, tuple)
            or len(cosigner) != 2
            or not all(isinstance(v, str) for v in cosigner)
        ):
            raise ShiftError("bad_cosigner", "the co-signer is a (username, PIN) pair of text")
        now = self._now()

        with database_session(self._db, "close shift", write=False) as session:
            row = _existing(session, shift_id)
            attendant = _username_of(session, row.attendant_id)
            if row.state != "open":
                raise ShiftError("not_open", f"shift {shift_id} is already closed")
            expected = row.opening_float_fen + _cash_taken(session, row.opened_at, now)
        try:
            self._require_cosign(counted_fen - expected, cosigner)
        except ShiftError:
            # The shift stays open and unchanged, but the attempt is on record: a blind count tried again
            # and again until no co-signature is asked for would otherwise leave no trace.
            with database_session(self._db, "close shift refused", write=True) as session:
                write_audit(
                    session, now, attendant, "shift_close_refused",
                    {"shift_id": shift_id, "counted_fen": counted_fen, "reason": "cosign_required"},
                )
            raise
        cosigned_by = None if cosigner is None else self._cosign(cosigner, attendant)

        # The cosigner's PIN is checked outside this transaction (scrypt never holds the write lock);
        # everything is read again inside it, so a payment booked meanwhile is not missed.
        with database_session(self._db, "close shift", write=True) as session:
            row = _existing(session, shift_id)
            if row.state != "open":
                raise ShiftError("not_open", f"shift {shift_id} is already closed")
            expected = row.opening_float_fen + _cash_taken(session, row.opened_at, now)
            variance = counted_fen - expected
            self._require_cosign(variance, cosigner)
            row.state = "closed"
            row.open_slot = None  # frees the one open slot for the next shift
            row.closed_at = now
            row.counted_json = json.dumps({str(d): n for d, n in pieces.items()})
            row.counted_fen = counted_fen
            row.expected_fen = expected
            row.variance_fen = variance
            row.cosigned_by = cosigned_by
            row.handover_float_fen = handover_float_fen
            row.close_note = note
            write_audit(
                session,
                now,
                attendant,
                "shift_closed",
                {
                    "shift_id": shift_id,
                    "counted": {str(d): n for d, n in pieces.items()},
                    "counted_fen": counted_fen,
                    "expected_fen": expected,
                    "variance_fen": variance,
                    "cosigned_by": cosigned_by,
                    "handover_float_fen": handover_float_fen,
                },
            )
            return _record(session, row)

    # --- internals -------------------------------------------------------------------------------------

    def _count(self, counted: Mapping[int, int]) -> dict[int, int]:
        """Every configured denomination (largest first) with its pieces, or ShiftError("bad_count")."""
        if not isinstance(counted, Mapping):
            raise ShiftError(
                "bad_count", f"the count maps denomination (fen) to pieces, got {type(counted).__name__}"
            )
        denominations = self._settings.denominations
        for denomination, number in counted.items():
            if not _is_int(denomination) or denomination not in denominations:
                known = ", ".join(format_yuan(d) for d in denominations)
                raise ShiftError(
                    "bad_count",
                    f"{denomination!r} is not a denomination counted here (fen; known: {known} yuan)",
                )
            what = f"the count of {format_yuan(denomination)} yuan"
            if not _is_int(number):
                raise ShiftError("bad_count", f"{what} must be a whole number of pieces, got {number!r}")
            if number < 0:
                raise ShiftError("bad_count", f"{what} is negative: {number}")
            if number > MAX_PIECES:
                raise ShiftError("bad_count", f"{what} is {number} pieces, more than {MAX_PIECES}")
        return {d: counted.get(d, 0) for d in denominations}

    def _require_cosign(self, variance: int, cosigner: tuple[str, str] | None) -> None:
        limit = self._settings.cosign_variance
        if abs(variance) > limit and cosigner is None:
            # Neither the amount nor its sign: the count stays blind.
            raise ShiftError(
                "cosign_required",
                f"the count differs from the expected cash by more than {format_yuan(limit)} yuan: "
                "a supervisor must co-sign the close",
            )

    def _cosign(self, cosigner: tuple[str, str], attendant: str) -> str:
        username, pin = cosigner
        if username == attendant:
            raise ShiftError(
                "bad_cosigner", f"{username} cannot co-sign their own shift: another supervisor must"
            )
        try:
            person = self._staff.authenticate(username, pin, role="supervisor")
        except AuthError as exc:
            raise ShiftError("bad_cosigner", f"co-signer {username!r} refused: {exc.message}") from exc
        return person.username

    def _now(self) -> datetime:
        return _aware("clock()", self._clock())


def _cash_taken(session: Session, start: datetime, end: datetime | None) -> int:
    """Cash the booth kept with paid_at in [start, end) (end None: up to now, whatever the lane's clock)."""
    return cash_kept(session, start, end)[1]


def cash_kept(session: Session, start: datetime, end: datetime | None) -> tuple[int, int]:
    """(payments, fen) of the cash the booth's drawer took with paid_at in [start, end): the attendants'
    cash, not a "cash" result Bolink reports (paid at another till). The close and the report both count
    the drawer this way, so the report's float + cash taken is the close's expected amount."""
    statement = select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount_fen), 0)).where(
        Payment.channel == "cash", Payment.operator != BOLINK_OPERATOR, Payment.paid_at >= start
    )
    if end is not None:
        statement = statement.where(Payment.paid_at < end)
    count, fen = session.execute(statement).one()
    return int(count or 0), int(fen or 0)


def _refuse_if_open(session: Session) -> None:
    row = session.scalar(select(Shift).where(Shift.state == "open"))
    if row is not None:
        raise _shift_open(_username_of(session, row.attendant_id), row)


def _open_elsewhere(db: Database) -> ShiftError:
    with database_session(db, "open shift", write=False) as session:
        row = session.scalar(select(Shift).where(Shift.state == "open"))
        if row is None:
            return ShiftError("shift_open", "another shift was being opened at the same time: try again")
        return _shift_open(_username_of(session, row.attendant_id), row)


def _shift_open(username: str, row: Shift) -> ShiftError:
    return ShiftError(
        "shift_open",
        f"shift {row.id} of {username} (opened {row.opened_at:%Y-%m-%d %H:%M} UTC) is still open: "
        "close it first",
    )


def _existing(session: Session, shift_id: int) -> Shift:
    row = session.get(Shift, shift_id)
    if row is None:
        raise ShiftError("not_found", f"no shift with id {shift_id}")
    return row


def _username_of(session: Session, person_id: int) -> str:
    return session.scalar(select(Person.username).where(Person.id == person_id)) or f"#{person_id}"


def _record(session: Session, row: Shift) -> ShiftRecord:
    person = session.get(Person, row.attendant_id)
    counted = None
    if row.counted_json is not None:
        counted = {int(d): int(n) for d, n in json.loads(row.counted_json).items()}
    return ShiftRecord(
        id=row.id,
        attendant=person.username if person is not None else f"#{row.attendant_id}",
        attendant_name=person.display_name if person is not None else "",
        state=cast(ShiftState, row.state),
        opened_at=row.opened_at,
        opening_float_fen=row.opening_float_fen,
        closed_at=row.closed_at,
        counted=counted,
        counted_fen=row.counted_fen,
        expected_fen=row.expected_fen,
        variance_fen=row.variance_fen,
        cosigned_by=row.cosigned_by,
        handover_float_fen=row.handover_float_fen,
        close_note=row.close_note,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shift_id(value: int) -> int:
    if not _is_int(value) or value < 1:
        raise ShiftError("not_found", f"a shift id is a positive integer, got {value!r}")
    return value


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC)
