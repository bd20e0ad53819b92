"""The supervisor's lot report (issue #18): every booth of the lot, per booth and in total, over a period,
read from the lot server's mirrors (never from a booth's own store).

What it counts, each per booth and summed for the lot, over [start, end):

- **entries**: stays entered at the booth's lanes (``origin_booth`` is NULL: an imported copy of a stay
  entered elsewhere is not an entry here).
- **exits**: stays closed (``exited``) at one of the booth's own lanes (``lot_booths.lanes``). A stay that
  entered at A and left at B is ``exited`` at both: at B (its imported copy, which B let out) and at A (the
  pull closes A's copy with B's lane and time). It counts once, at B: the lane that let the car out is B's.
  An exit at a lane no booth names (renamed since, say) counts at the booth whose row it is.
- **missed exits**: stays closed because the plate entered again (``cancelled``).
- **payments**: by Bolink pay type (cash, wallet, scan…), by pay channel (WeChat, Alipay, …), and the
  flagged ones (late, unknown order…) apart, as the booth's own report counts them, to the fen.
- **manual lifts** and **free releases** (``lot_lane_exceptions``): how many, and the fees let go.
- **open conflicts** (``lot_conflicts`` not settled, whenever found): per rule, and per booth involved.
- **booths silent or behind**, as of the report: not heard from for over ``SILENT_AFTER_S``, journal entries
  not pushed yet (the backlog the booth last told), or a last contact before the period's end (the booth
  may have written rows of the period the server has not seen yet). Their figures may be incomplete.

All of it is aggregated in SQL (GROUP BY booth over the period's time columns) in one read-only, repeatable
read transaction, so the booths' figures and the total are one snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

from booth.lot.conflicts import CONFLICT_COLUMNS, conflict_booths, conflict_fee, conflict_note
from booth.lot.schema import MIRRORS, lot_booths, lot_conflicts
from booth.lot.server import SILENT_AFTER_S, LotServerError, _on_server, shown

#: how many open conflicts the report lists one by one (all are counted)
CONFLICT_LIST_LIMIT = 50
#: the statement timeout of the report's session: a month of a million exits takes seconds, not minutes
REPORT_TIMEOUT_MS = 120_000


@dataclass(frozen=True, slots=True)
class Total:
    """How many and how much of one kind: a Bolink pay type ("cash", "scancode", …), a pay channel (Bolink's
    number: 0 WeChat, 1 Alipay, …; None for cash and the like) or a payment flag. The words for them are the
    booth report's (booth.office.reports), which the command line uses."""

    key: Any
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class BoothFigures:
    """One booth's figures over the period (or the lot's, summed: ``booth_id`` "*")."""

    booth_id: str
    name: str
    entries: int
    exits: int
    missed_exits: int
    payment_count: int
    total_fen: int
    counted_fen: int  # total_fen less the flagged payments
    flagged_fen: int
    by_channel: tuple[Total, ...]  # Bolink pay type: cash, wallet, scancode, ... (by key)
    by_pay_channel: tuple[
        Total, ...
    ]  # Bolink pay_channel: 0 WeChat, 1 Alipay, ...; None for cash and the like
    by_flag: tuple[Total, ...]  # late after settlement, unknown order, ...
    manual_lifts: int
    manual_lift_fen: int  # the fees due when the gate was lifted
    free_releases: int
    free_release_fen: int
    open_conflicts: int


@dataclass(frozen=True, slots=True)
class BoothState:
    """A booth's contact with the server as of the report (not of the period)."""

    booth_id: str
    name: str
    lanes: tuple[str, ...]
    last_contact_at: datetime | None  # None: the booth's rows are on the server but it has no lot_booths row
    age_s: float | None
    backlog: int
    silent: bool
    behind: bool  # a backlog, or no contact since before the period's end

    @property
    def incomplete(self) -> bool:
        return self.silent or self.behind


@dataclass(frozen=True, slots=True)
class ConflictLine:
    id: int
    rule: str
    subject: str
    booths: tuple[str, ...]
    found_at: datetime
    #: what the supervisor decides on, for a rule that says more than its subject (released_without_stay)
    note: str = ""
    #: the money in question (booth.lot.conflicts.conflict_fee): a fee let go, money counted twice; None: none
    fee_fen: int | None = None


@dataclass(frozen=True, slots=True)
class SettledLine:
    """A conflict a supervisor settled during the period (``booth lot settle``), whenever it was found."""

    id: int
    rule: str
    subject: str
    booths: tuple[str, ...]
    found_at: datetime
    settled_at: datetime
    settled_by: str
    settled_note: str


@dataclass(frozen=True, slots=True)
class LotReport:
    server: str
    start: datetime  # aware UTC
    end: datetime
    zone: ZoneInfo
    generated_at: datetime  # the server's clock
    booths: tuple[BoothFigures, ...]
    total: BoothFigures
    states: tuple[BoothState, ...]
    conflicts: tuple[ConflictLine, ...]  # the first CONFLICT_LIST_LIMIT open ones, oldest first
    open_conflicts: int
    conflicts_by_rule: tuple[tuple[str, int], ...] = field(default=())
    settled: tuple[SettledLine, ...] = field(default=())  # settled in the period, in the order settled

    def local_text(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def incomplete(self) -> list[BoothState]:
        return [s for s in self.states if s.incomplete]


def build_lot_report(
    url: str | URL,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    *,
    connect_timeout_s: int = 2,
    conflict_limit: int = CONFLICT_LIST_LIMIT,
) -> LotReport:
    """The lot report of [start, end) from the server at ``url``. LotServerUnreachable when it does not
    answer; LotServerError for a bad period or a server without a lot schema."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise LotServerError(f"the period's {name} must be an aware datetime, got {value!r}")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise LotServerError(
            f"the period ends ({_text(end, zone)}) at or before it starts ({_text(start, zone)})"
        )
    with _on_server(
        url, "the lot report", connect_timeout_s=connect_timeout_s, statement_timeout_ms=REPORT_TIMEOUT_MS
    ) as connection:
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        # JIT compiling these few aggregates costs more (~0.2 s each, measured) than it saves
        connection.execute(text("SET LOCAL jit = off"))
        if not connection.dialect.has_table(connection, "lot_booths"):
            raise LotServerError(f"lot server {shown(url)} has no lot schema: run booth lot init")
        return _gather(connection, shown(url), start, end, zone, conflict_limit)


def _gather(
    c: Any, server: str, start: datetime, end: datetime, zone: ZoneInfo, conflict_limit: int
) -> LotReport:
    stays, payments, exceptions = MIRRORS["stays"], MIRRORS["payments"], MIRRORS["lane_exceptions"]
    now = c.execute(text("SELECT now()")).scalar_one()
    booth_rows = c.execute(select(lot_booths).order_by(lot_booths.c.booth_id)).mappings().all()

    # exits and missed exits: an exit counts at the booth whose lane let the car out (see the module doc)
    # exits and missed exits grouped by exit lane (a few per booth): whose lane let the car out is decided
    # below, per group; each aggregate is an index-only scan of the period (lot revision l0003)
    closed = c.execute(
        select(stays.c.booth_id, stays.c.state, stays.c.exit_lane, func.count())
        .where(stays.c.exit_at >= start, stays.c.exit_at < end, stays.c.state.in_(("exited", "cancelled")))
        .group_by(stays.c.booth_id, stays.c.state, stays.c.exit_lane)
    ).all()
    entered = c.execute(
        select(stays.c.booth_id, func.count())
        .where(stays.c.entry_at >= start, stays.c.entry_at < end, stays.c.origin_booth.is_(None))
        .group_by(stays.c.booth_id)
    ).all()
    paid = c.execute(
        select(
            payments.c.booth_id,
            payments.c.channel,
            payments.c.pay_channel,
            payments.c.flag,
            func.count(),
            func.sum(payments.c.amount_fen),
        )
        .where(payments.c.paid_at >= start, payments.c.paid_at < end)
        .group_by(payments.c.booth_id, payments.c.channel, payments.c.pay_channel, payments.c.flag)
    ).all()
    excepted = c.execute(
        select(exceptions.c.booth_id, exceptions.c.kind, func.count(), func.sum(exceptions.c.due_fen))
        .where(exceptions.c.at >= start, exceptions.c.at < end)
        .group_by(exceptions.c.booth_id, exceptions.c.kind)
    ).all()
    open_rows = c.execute(
        select(
            lot_conflicts.c.id,
            lot_conflicts.c.rule,
            lot_conflicts.c.subject,
            lot_conflicts.c.detail_json,
            lot_conflicts.c.found_at,
        )
        .where(lot_conflicts.c.settled_at.is_(None))
        .order_by(lot_conflicts.c.found_at, lot_conflicts.c.id)
    ).all()
    settled_rows = c.execute(
        select(*CONFLICT_COLUMNS)
        .where(lot_conflicts.c.settled_at >= start, lot_conflicts.c.settled_at < end)
        .order_by(lot_conflicts.c.settled_at, lot_conflicts.c.id)
    ).all()

    lanes = {r["booth_id"]: {lane for lane in r["lanes"].split(",") if lane} for r in booth_rows}
    named = set().union(*lanes.values())
    acc: dict[str, _Acc] = defaultdict(_Acc)
    for booth, state, exit_lane, n in closed:
        if state == "cancelled":
            acc[booth].missed += int(n)
        elif exit_lane in lanes.get(booth, ()) or exit_lane not in named:
            acc[booth].exits += int(n)
    for booth, n in entered:
        acc[booth].entries += int(n)
    for booth, channel, pay_channel, flag, n, fen in paid:
        acc[booth].add_payments(channel, pay_channel, flag, int(n), int(fen))
    for booth, kind, n, fen in excepted:
        acc[booth].add_exception(kind, int(n), int(fen or 0))
    conflicts: list[ConflictLine] = []
    by_rule: dict[str, int] = defaultdict(int)
    for row_id, rule, subject, detail, found_at in open_rows:
        involved = conflict_booths(detail)
        for booth in involved:
            acc[booth].conflicts += 1
        by_rule[rule] += 1
        conflicts.append(
            ConflictLine(
                int(row_id),
                rule,
                subject,
                involved,
                found_at,
                conflict_note(rule, detail, zone),
                conflict_fee(rule, detail),
            )
        )
    settled = tuple(
        SettledLine(int(i), rule, subject, conflict_booths(detail), found, at, by or "", note or "")
        for i, rule, subject, detail, found, at, by, note in settled_rows
    )

    names = {r["booth_id"]: r["name"] for r in booth_rows}
    for r in booth_rows:
        acc[r["booth_id"]]  # a booth with nothing in the period still gets its line
    booths = tuple(acc[b].figures(b, names.get(b, "")) for b in sorted(acc))
    total = _Acc.summed(acc.values()).figures("*", "", conflicts=len(conflicts))

    states = []
    known = set()
    for r in booth_rows:
        known.add(r["booth_id"])
        age = (now - r["last_contact_at"]).total_seconds()
        states.append(
            BoothState(
                booth_id=r["booth_id"],
                name=r["name"],
                lanes=tuple(lane for lane in r["lanes"].split(",") if lane),
                last_contact_at=r["last_contact_at"],
                age_s=age,
                backlog=int(r["backlog"]),
                silent=age > SILENT_AFTER_S,
                behind=int(r["backlog"]) > 0 or r["last_contact_at"] < min(end, now),
            )
        )
    for b in sorted(set(acc) - known):  # rows without a booth row: never pushed through the pusher
        states.append(BoothState(b, "", (), None, None, 0, silent=True, behind=True))
    return LotReport(
        server=server,
        start=start,
        end=end,
        zone=zone,
        generated_at=now,
        booths=booths,
        total=total,
        states=tuple(states),
        conflicts=tuple(conflicts[:conflict_limit]),
        open_conflicts=len(conflicts),
        conflicts_by_rule=tuple(sorted(by_rule.items())),
        settled=settled,
    )


class _Acc:
    """One booth's running sums."""

    def __init__(self) -> None:
        self.entries = self.exits = self.missed = self.conflicts = 0
        self.channel: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.pay: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
        self.flag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.exceptions: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add_payments(self, channel: str, pay_channel: int | None, flag: str | None, n: int, fen: int) -> None:
        self.channel[channel][0] += n
        self.channel[channel][1] += fen
        self.pay[pay_channel][0] += n
        self.pay[pay_channel][1] += fen
        if flag is not None:
            self.flag[flag][0] += n
            self.flag[flag][1] += fen

    def add_exception(self, kind: str, n: int, fen: int) -> None:
        self.exceptions[kind][0] += n
        self.exceptions[kind][1] += fen

    @classmethod
    def summed(cls, parts: Sequence[_Acc] | Any) -> _Acc:
        total = cls()
        for p in parts:
            total.entries += p.entries
            total.exits += p.exits
            total.missed += p.missed
            pairs: tuple[tuple[dict[Any, list[int]], dict[Any, list[int]]], ...] = (
                (total.channel, p.channel),
                (total.pay, p.pay),
                (total.flag, p.flag),
                (total.exceptions, p.exceptions),
            )
            for mine, theirs in pairs:
                for key, (n, fen) in theirs.items():
                    mine[key][0] += n
                    mine[key][1] += fen
        return total

    def figures(self, booth_id: str, name: str, *, conflicts: int | None = None) -> BoothFigures:
        total = sum(fen for _, fen in self.channel.values())
        flagged = sum(fen for _, fen in self.flag.values())
        lifts = self.exceptions.get("manual_lift", [0, 0])
        frees = self.exceptions.get("free_release", [0, 0])
        return BoothFigures(
            booth_id=booth_id,
            name=name,
            entries=self.entries,
            exits=self.exits,
            missed_exits=self.missed,
            payment_count=sum(n for n, _ in self.channel.values()),
            total_fen=total,
            counted_fen=total - flagged,
            flagged_fen=flagged,
            by_channel=_totals(self.channel),
            by_pay_channel=_totals(self.pay),
            by_flag=_totals(self.flag),
            manual_lifts=lifts[0],
            manual_lift_fen=lifts[1],
            free_releases=frees[0],
            free_release_fen=frees[1],
            open_conflicts=self.conflicts if conflicts is None else conflicts,
        )


def _totals(table: dict[Any, list[int]]) -> tuple[Total, ...]:
    """By key (None last); the command line puts them in the booth report's order."""
    keys = sorted(table, key=lambda k: (k is None, str(k)))
    return tuple(Total(k, table[k][0], table[k][1]) for k in keys)


def _text(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


__all__ = [
    "CONFLICT_LIST_LIMIT",
    "BoothFigures",
    "BoothState",
    "ConflictLine",
    "LotReport",
    "SettledLine",
    "Total",
    "build_lot_report",
]
