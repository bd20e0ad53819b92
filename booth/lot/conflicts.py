"""The lot's conflicts for the supervisor (issue #18): listed (``booth lot conflicts``) and settled (``booth
lot settle ID --note TEXT``).

The lot checks (booth.lot.checks, booth.lot.released) keep each breach as one ``lot_conflicts`` row. A
supervisor settles one once they have dealt with it: ``settled_at`` (the server's clock), ``settled_by`` (the
supervisor, whose PIN the command line checked against this booth's store: people are lot-wide, copied to
every booth by the pull, and a wrong PIN counts towards their lock-out there as at any sign-in) and
``settled_note`` (what they decided, lot revision l0004) are written in one conditional ``UPDATE … WHERE
settled_at IS NULL``, so a conflict is settled once: a second settle, or two at once, finds it settled and
changes nothing.

The audit trace is twofold. The row itself keeps who, when and why, on the server. And the booth where the
supervisor settled it keeps an ``audit_log`` entry ``lot_conflict_settled`` (its journal carries it to the
server's ``lot_audit_log`` with the booth's next push, as every audit entry of a lot booth): the lot has no
audit of its own beside the booths' mirrored ones.

What a conflict is about, beside its subject, in the report's words (``note``), and the money the
supervisor decides on (``fee_fen``):

- ``released_without_stay``: the stay and the release; the fee the stay would have owed, never charged;
- ``trade_no_twice``: the money counted more than once (the rows' amounts less one row's, the largest);
- ``stay_closed_twice``: no money (None).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from booth.domain.money import format_yuan
from booth.lot.schema import lot_conflicts
from booth.lot.server import LotServerError, _on_server, shown
from booth.store import Database, StoreError
from booth.store.models import AuditEntry

#: the lot checks' rules, as the supervisor reads them (the command line's words)
RULE_LABELS = {
    "trade_no_twice": "同一交易号在两个岗亭入账",
    "stay_closed_twice": "同一订单在两个岗亭出场",
    "released_without_stay": "无入场记录放行，入场记录已关闭",
}
#: the audit action a settle leaves at the booth where it was done
SETTLED_ACTION = "lot_conflict_settled"
#: how long a settle's note may be (it is free text, kept on the server)
NOTE_MAX = 1000
#: lot_conflicts.settled_by's width
BY_MAX = 64


class ConflictError(LotServerError):
    """The conflict asked for cannot be settled: there is none with that id, or it is settled already."""


class ConflictNotFound(ConflictError):
    pass


class ConflictAlreadySettled(ConflictError):
    def __init__(self, message: str, conflict: Conflict) -> None:
        super().__init__(message)
        self.conflict = conflict


@dataclass(frozen=True, slots=True)
class Conflict:
    id: int
    rule: str
    subject: str
    found_at: datetime
    booths: tuple[str, ...]  # the booths named in its rows
    note: str  # what the rule says more than its subject ("" when nothing)
    fee_fen: int | None  # the money the supervisor decides on (see the module doc); None: none, or unknown
    settled_at: datetime | None = None
    settled_by: str | None = None
    settled_note: str | None = None

    @property
    def settled(self) -> bool:
        return self.settled_at is not None


@dataclass(frozen=True, slots=True)
class ConflictList:
    server: str
    generated_at: datetime  # the server's clock
    conflicts: tuple[Conflict, ...]  # oldest first


#: a conflict's columns as listed and reported (booth/lot/report.py reads the same)
CONFLICT_COLUMNS = (
    lot_conflicts.c.id,
    lot_conflicts.c.rule,
    lot_conflicts.c.subject,
    lot_conflicts.c.detail_json,
    lot_conflicts.c.found_at,
    lot_conflicts.c.settled_at,
    lot_conflicts.c.settled_by,
    lot_conflicts.c.settled_note,
)


def list_conflicts(
    url: str | URL, zone: ZoneInfo, *, include_settled: bool = False, connect_timeout_s: int = 2
) -> ConflictList:
    """The open conflicts (every one with ``include_settled``), oldest first. LotServerUnreachable when the
    server does not answer; LotServerError for a server without a lot schema."""
    with _on_server(url, "listing the conflicts", connect_timeout_s=connect_timeout_s) as c:
        _require_schema(c, url)
        now = c.execute(select(func.now())).scalar_one()
        query = select(*CONFLICT_COLUMNS).order_by(lot_conflicts.c.found_at, lot_conflicts.c.id)
        if not include_settled:
            query = query.where(lot_conflicts.c.settled_at.is_(None))
        rows = c.execute(query).all()
    return ConflictList(shown(url), now, tuple(_conflict(row, zone) for row in rows))


def get_conflict(url: str | URL, conflict_id: int, zone: ZoneInfo, *, connect_timeout_s: int = 2) -> Conflict:
    """One conflict, settled or not; ConflictNotFound when the server has none with this id."""
    with _on_server(url, f"reading conflict #{conflict_id}", connect_timeout_s=connect_timeout_s) as c:
        _require_schema(c, url)
        row = c.execute(select(*CONFLICT_COLUMNS).where(lot_conflicts.c.id == conflict_id)).one_or_none()
    if row is None:
        raise ConflictNotFound(f"lot server {shown(url)} has no conflict #{conflict_id}")
    return _conflict(row, zone)


def settle_conflict(
    url: str | URL, conflict_id: int, *, by: str, note: str, zone: ZoneInfo, connect_timeout_s: int = 2
) -> Conflict:
    """Settle an open conflict, once: ``settled_at`` by the server's clock, ``settled_by``, ``settled_note``.
    ConflictNotFound for an unknown id; ConflictAlreadySettled (nothing changed) when it was settled before,
    also by someone else a moment ago; ValueError for an empty or overlong note or name."""
    note, by = checked_note(note), by.strip()
    if not by or len(by) > BY_MAX:
        raise ValueError(f"the supervisor's name must be 1-{BY_MAX} characters, got {by!r}")
    with _on_server(url, f"settling conflict #{conflict_id}", connect_timeout_s=connect_timeout_s) as c:
        _require_schema(c, url)
        # one conditional UPDATE: of two settles at once, the second waits for the first's row lock, then
        # finds settled_at set (READ COMMITTED re-reads the row) and updates nothing
        row = c.execute(
            update(lot_conflicts)
            .where(lot_conflicts.c.id == conflict_id, lot_conflicts.c.settled_at.is_(None))
            .values(settled_at=func.now(), settled_by=by, settled_note=note)
            .returning(*CONFLICT_COLUMNS)
        ).one_or_none()
        if row is None:
            known = select(*CONFLICT_COLUMNS).where(lot_conflicts.c.id == conflict_id)
            before = c.execute(known).one_or_none()
    if row is not None:
        return _conflict(row, zone)
    if before is None:
        raise ConflictNotFound(f"lot server {shown(url)} has no conflict #{conflict_id}")
    settled = _conflict(before, zone)
    raise ConflictAlreadySettled(already_settled(settled, zone), settled)


def already_settled(conflict: Conflict, zone: ZoneInfo) -> str:
    assert conflict.settled_at is not None
    return (
        f"conflict #{conflict.id} was settled already, at "
        f"{conflict.settled_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')} by {conflict.settled_by} "
        f"({conflict.settled_note or 'no note'}): nothing changed"
    )


def checked_note(note: str) -> str:
    """A settle's note: some words, at most NOTE_MAX characters (ValueError otherwise)."""
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ValueError("--note: say what was decided (the note is kept with the conflict)")
    if len(note) > NOTE_MAX:
        raise ValueError(f"--note: at most {NOTE_MAX} characters, got {len(note)}")
    return note


def audit_settled(db: Database, conflict: Conflict, *, booth_id: str, at: datetime | None = None) -> None:
    """The ``lot_conflict_settled`` entry in this booth's audit log (its journal takes it to the server)."""
    assert conflict.settled_at is not None
    detail = {
        "conflict_id": conflict.id,
        "rule": conflict.rule,
        "subject": conflict.subject,
        "note": conflict.settled_note,
        "settled_at": conflict.settled_at.astimezone(UTC).isoformat(),
        "booth_id": booth_id,
    }
    entry = AuditEntry(
        at=at or datetime.now(UTC),
        actor=(conflict.settled_by or "?")[:BY_MAX],
        action=SETTLED_ACTION,
        detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )
    try:
        with db.sessionmaker.begin() as session:
            session.add(entry)
    except SQLAlchemyError as exc:  # the settle stands on the server; say why the local trace is missing
        raise StoreError(f"the audit entry of conflict #{conflict.id} was not written: {exc}") from exc


# ------------------------------------------------------------------------ what a conflict says (the report's)
def conflict_booths(detail_json: str) -> tuple[str, ...]:
    """The booths a conflict involves (its detail is a list of rows, each with its booth_id)."""
    rows = _rows(detail_json)
    return tuple(sorted({str(r["booth_id"]) for r in rows if r.get("booth_id")}))


def conflict_note(rule: str, detail_json: str, zone: ZoneInfo) -> str:
    """released_without_stay (booth.lot.released): the stay, the release and the fee it would have owed
    (priced at the stay's booth; never charged), in the report's words; "" for the other rules."""
    if rule != "released_without_stay":
        return ""
    try:
        sides = {r.get("side"): r for r in _rows(detail_json)}
        stay, release = sides["stay"], sides["release"]
        entered = _text(datetime.fromisoformat(stay["entry_at"]), zone)
        left = _text(datetime.fromisoformat(release["at"]), zone)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    fee = stay.get("fee_fen")
    owed = "无法计价" if fee is None else f"应收 {format_yuan(int(fee))}"
    return (
        f"{stay['plate']} {entered} 入场（{stay['booth_id']} {stay['order_id']}），"
        f"{left} 在 {release['booth_id']} {release['lane_id']} 无入场记录放行；{owed}，未收取"
    )


def conflict_fee(rule: str, detail_json: str) -> int | None:
    """The money the supervisor decides on (see the module doc), in fen; None when there is none."""
    rows = _rows(detail_json)
    try:
        if rule == "released_without_stay":
            fee = next((r.get("fee_fen") for r in rows if r.get("side") == "stay"), None)
            return None if fee is None else int(fee)
        if rule == "trade_no_twice":
            amounts = [int(r["amount_fen"]) for r in rows if r.get("amount_fen") is not None]
            return sum(amounts) - max(amounts) if amounts else None
    except (ValueError, TypeError, KeyError):
        return None
    return None


def _rows(detail_json: str) -> list[dict[str, Any]]:
    try:
        rows = json.loads(detail_json)
    except (ValueError, TypeError):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _conflict(row: Sequence[Any], zone: ZoneInfo) -> Conflict:
    row_id, rule, subject, detail, found_at, settled_at, settled_by, settled_note = row
    return Conflict(
        id=int(row_id),
        rule=rule,
        subject=subject,
        found_at=found_at,
        booths=conflict_booths(detail),
        note=conflict_note(rule, detail, zone),
        fee_fen=conflict_fee(rule, detail),
        settled_at=settled_at,
        settled_by=settled_by,
        settled_note=settled_note,
    )


def _require_schema(c: Connection, url: str | URL) -> None:
    """The server's lot schema has the settle's columns (lot revision l0004), or a one-line error."""
    columns = c.execute(
        text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'lot_conflicts'"
        )
    ).scalars()
    found = set(columns)
    if not found:
        raise LotServerError(f"lot server {shown(url)} has no lot schema: run booth lot init")
    if "settled_note" not in found:
        raise LotServerError(
            f"lot server {shown(url)}: the lot schema is older than this Booth's (no settled_note): "
            "run booth lot init"
        )


def _text(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


__all__ = [
    "BY_MAX",
    "NOTE_MAX",
    "RULE_LABELS",
    "SETTLED_ACTION",
    "Conflict",
    "ConflictAlreadySettled",
    "ConflictError",
    "ConflictList",
    "ConflictNotFound",
    "audit_settled",
    "checked_note",
    "conflict_booths",
    "conflict_fee",
    "conflict_note",
    "get_conflict",
    "list_conflicts",
    "settle_conflict",
]
