"""An independent money oracle for whole-engine tests: it reads a booth's SQLite file and checks the money and
gate rules from the rules themselves, not from the code that enforces them.

What it takes from the product is only the GROSS price of a stay (``quote_fee`` with nothing paid: the
tariff's arithmetic is not in dispute here); every deduction, grace and settlement decision is made below:

* a lift for money (gate reason ``paid``, ``cash`` or ``free_tariff``) at moment L is justified only if
  - the gross fee from entry to L is 0 (free minutes, monthly pass, whitelist), or
  - the stay's counted payments (flag NULL) booked by L cover the gross fee from entry to L, or
  - grace: some payment moment t <= L settled the WHOLE fee due then (payments by t >= gross to t) and
    L - t <= grace_minutes (a partial payment never earns grace), or
  - the price shown at the lane is honoured: the lane's latest exit order of the stay before the lift was
    quoted at Q and the payments by L cover the gross fee from entry to Q (the driver paid what the lane
    asked while waiting there, however long that took);
* every other lift has its record: ``entry`` on an entry lane; ``manual_lift``/``free_release`` a
  lane_exceptions row of that kind, lane and stay, with a reason, the operator who lifted, and a supervisor
  (not the operator) when the configured rules require approval;
* no trade_no is booked twice; a stay exits at most once, and only through a lift on an exit lane.

Violations name the rule and carry the rows, so a failure reads as a finding.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from booth.config import ExceptionSettings
from booth.domain.tariff import TariffSettings, quote_fee

MONEY_REASONS = frozenset({"paid", "cash", "free_tariff"})
EXCEPTION_REASONS = frozenset({"manual_lift", "free_release"})


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``rule`` names it, ``detail`` says what was found, with the rows."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.detail}"


@dataclass(frozen=True)
class StayRow:
    id: int
    order_id: str
    plate: str
    colour: str
    entry_at: datetime
    state: str
    exit_lane: str | None
    exit_at: datetime | None


@dataclass(frozen=True)
class PaymentRow:
    id: int
    stay_id: int | None
    order_ref: str
    channel: str
    trade_no: str | None
    amount_fen: int
    paid_at: datetime
    operator: str
    flag: str | None


@dataclass(frozen=True)
class LiftRow:
    id: int
    lane_id: str
    stay_id: int | None
    reason: str
    operator: str
    note: str
    at: datetime


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    kind: str
    lane_id: str
    stay_id: int | None
    reason: str
    operator: str
    approved_by: str | None
    at: datetime


@dataclass(frozen=True)
class ExitOrderRow:
    id: int
    stay_id: int
    lane_id: str
    opened_at: datetime
    state: str


@dataclass
class Snapshot:
    """The rows the oracle judges, read in one go from the booth's database."""

    stays: dict[int, StayRow]
    payments: list[PaymentRow]
    lifts: list[LiftRow]
    exceptions: list[ExceptionRow]
    exit_orders: list[ExitOrderRow]


def _when(text: str | None) -> datetime | None:
    """SQLite keeps the store's UTC timestamps naive; make them aware again."""
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _at(text: str) -> datetime:
    value = _when(text)
    assert value is not None
    return value


def read_snapshot(db_path: Path) -> Snapshot:
    """Read the tables read-only (the engine may be running: SQLite's WAL gives a consistent view)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        con.execute("BEGIN")
        stays = {
            row[0]: StayRow(row[0], row[1], row[2], row[3], _at(row[4]), row[5], row[6], _when(row[7]))
            for row in con.execute(
                "SELECT id, order_id, plate, plate_colour, entry_at, state, exit_lane, exit_at FROM stays"
            )
        }
        payments = [
            PaymentRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), _at(r[6]), r[7], r[8])
            for r in con.execute(
                "SELECT id, stay_id, order_ref, channel, trade_no, amount_fen, paid_at, operator, flag "
                "FROM payments ORDER BY id"
            )
        ]
        lifts = [
            LiftRow(r[0], r[1], r[2], r[3], r[4], r[5], _at(r[6]))
            for r in con.execute(
                "SELECT id, lane_id, stay_id, reason, operator, note, at FROM gate_events "
                "WHERE outcome = 'opened' ORDER BY id"
            )
        ]
        exceptions = [
            ExceptionRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _at(r[7]))
            for r in con.execute(
                "SELECT id, kind, lane_id, stay_id, reason, operator, approved_by, at FROM lane_exceptions "
                "ORDER BY id"
            )
        ]
        exit_orders = [
            ExitOrderRow(r[0], r[1], r[2], _at(r[3]), r[4])
            for r in con.execute("SELECT id, stay_id, lane_id, opened_at, state FROM exit_orders ORDER BY id")
        ]
        con.execute("COMMIT")
    finally:
        con.close()
    return Snapshot(stays, payments, lifts, exceptions, exit_orders)


@dataclass
class MoneyOracle:
    """The rules, configured like the booth under test (tariff, zone, lanes, exception reasons)."""

    tariff: TariffSettings
    zone: ZoneInfo
    entry_lanes: frozenset[str]
    exit_lanes: frozenset[str]
    exceptions: ExceptionSettings
    #: lift id -> how the money lift was justified ("paid", "grace", "free", "quote honoured"): statistics
    justifications: dict[int, str] = field(default_factory=dict)

    # -- the price: the product's gross (not in dispute), everything after it decided here

    def gross_fen(self, stay: StayRow, until: datetime) -> int:
        """The gross fee of ``stay`` from its entry to ``until``, nothing deducted."""
        if until < stay.entry_at:
            until = stay.entry_at
        quote = quote_fee(
            self.tariff,
            plate=stay.plate,
            colour=stay.colour,
            entry=stay.entry_at,
            exit=until,
            tz=self.zone,
            paid_fen=0,
        )
        return quote.gross_fen

    def needs_approval(self, kind: str, reason: str) -> bool:
        """Whether the configured rules want a supervisor for this reason (listed as such, or typed)."""
        ex = self.exceptions
        listed = ex.free_release_reasons if kind == "free_release" else ex.manual_lift_reasons
        typed = reason not in listed
        return reason in ex.approval_required or (typed and ex.typed_reasons_need_approval)

    # -- the checks

    def check(self, snap: Snapshot) -> list[Violation]:
        """Every rule over the whole database; an empty list when all hold."""
        self.justifications = {}
        found: list[Violation] = []
        found += self.check_trade_numbers(snap)
        found += self.check_lifts(snap)
        found += self.check_exits(snap)
        return found

    def check_trade_numbers(self, snap: Snapshot) -> list[Violation]:
        seen: dict[str, PaymentRow] = {}
        found = []
        for p in snap.payments:
            if p.trade_no is None:
                continue
            if p.trade_no in seen:
                found.append(
                    Violation("trade_no booked twice", f"{p.trade_no}: rows {seen[p.trade_no]} and {p}")
                )
            seen[p.trade_no] = p
        return found

    def check_lifts(self, snap: Snapshot) -> list[Violation]:
        found: list[Violation] = []
        unused = list(snap.exceptions)
        for lift in snap.lifts:
            if lift.reason in MONEY_REASONS:
                problem = self._money_lift_problem(lift, snap)
                if problem is not None:
                    found.append(problem)
            elif lift.reason in EXCEPTION_REASONS:
                problem = self._exception_lift_problem(lift, unused)
                if problem is not None:
                    found.append(problem)
            elif lift.reason == "entry":
                if lift.lane_id not in self.entry_lanes:
                    found.append(Violation("entry lift on a lane that is not an entry", str(lift)))
            else:
                found.append(Violation("lift without a known reason", str(lift)))
        return found

    def _money_lift_problem(self, lift: LiftRow, snap: Snapshot) -> Violation | None:
        if lift.lane_id not in self.exit_lanes:
            return Violation("money lift on a lane that is not an exit", str(lift))
        stay = snap.stays.get(lift.stay_id) if lift.stay_id is not None else None
        if stay is None:
            return Violation("money lift without a stay", str(lift))
        at = lift.at
        counted = sorted(
            (p for p in snap.payments if p.stay_id == stay.id and p.flag is None and p.paid_at <= at),
            key=lambda p: (p.paid_at, p.id),
        )
        paid = sum(p.amount_fen for p in counted)
        gross = self.gross_fen(stay, at)
        if gross == 0:
            self.justifications[lift.id] = "free"
            return None
        if paid >= gross:
            self.justifications[lift.id] = "paid"
            return None
        grace = timedelta(minutes=self.tariff.grace_minutes)
        for moment in sorted({p.paid_at for p in counted}, reverse=True):
            if at - moment > grace:
                break
            paid_then = sum(p.amount_fen for p in counted if p.paid_at <= moment)
            if paid_then >= self.gross_fen(stay, moment):
                self.justifications[lift.id] = "grace"
                return None
        quoted = [
            order.opened_at
            for order in snap.exit_orders
            if order.stay_id == stay.id and order.lane_id == lift.lane_id and order.opened_at <= at
        ]
        if quoted and paid >= self.gross_fen(stay, max(quoted)):
            self.justifications[lift.id] = "quote honoured"
            return None
        payments = "\n    ".join(str(p) for p in counted) or "(none)"
        return Violation(
            "money lift not covered (grace only after a payment that settled the whole fee)",
            f"{lift}\n  stay {stay}\n  gross entry->lift {gross} fen,"
            f" counted payments by the lift {paid} fen:\n    {payments}",
        )

    def _exception_lift_problem(self, lift: LiftRow, unused: list[ExceptionRow]) -> Violation | None:
        """The lift's record: same kind, lane and operator, made before it, each record used once. One naming
        the same stay is preferred; the stay is not required to match (an entry lane's lift after its gate
        opened names the last car in the gate event while its record rightly names none)."""
        candidates = [
            r
            for r in unused
            if r.kind == lift.reason
            and r.lane_id == lift.lane_id
            and r.operator == lift.operator
            and r.at <= lift.at
        ]
        if not candidates:
            return Violation("attendant lift without its lane_exceptions record", str(lift))
        record = min(candidates, key=lambda r: (r.stay_id != lift.stay_id, r.id))
        unused.remove(record)
        if not record.reason.strip() or not record.operator.strip():
            return Violation("exception without a reason or operator", f"{lift}\n  record {record}")
        if self.needs_approval(record.kind, record.reason) and (
            not record.approved_by or record.approved_by == record.operator
        ):
            return Violation("exception needing approval lifted without one", f"{lift}\n  record {record}")
        return None

    def check_exits(self, snap: Snapshot) -> list[Violation]:
        found: list[Violation] = []
        by_stay: dict[int, list[LiftRow]] = {}
        for lift in snap.lifts:
            if lift.stay_id is not None and lift.lane_id in self.exit_lanes:
                by_stay.setdefault(lift.stay_id, []).append(lift)
        for stay_id, lifts in by_stay.items():
            if len(lifts) > 1:
                rows = "\n  ".join(str(lift) for lift in lifts)
                found.append(Violation("one stay lifted out twice", f"stay {stay_id}:\n  {rows}"))
        for stay in snap.stays.values():
            if stay.state == "exited" and stay.id not in by_stay:
                found.append(Violation("stay closed without an exit lift", str(stay)))
        return found


# -- prepayments: what was answered to Bolink against what was booked


@dataclass
class PrepayRecord:
    """One prepay_order message the test sent, and every answer the booth gave to it."""

    trade_no: str
    order_id: str
    prepay_fen: int
    answers: list[dict[str, Any]] = field(default_factory=list)


def check_prepayments(records: Iterable[PrepayRecord], snap: Snapshot) -> list[Violation]:
    """A prepayment answered state 1 is booked exactly once, counted for its stay; one answered 0 is never
    booked; the same message always gets the same answer."""
    found: list[Violation] = []
    for record in records:
        states = [a.get("state") for a in record.answers]
        rows = [p for p in snap.payments if p.trade_no == record.trade_no]
        if len(set(states)) > 1:
            found.append(
                Violation(
                    "prepay_order answered differently to the same message",
                    f"{record.trade_no} (order {record.order_id}, {record.prepay_fen} fen): answers "
                    f"{record.answers}; rows {rows}",
                )
            )
        if 1 in states:
            counted = [p for p in rows if p.flag is None and p.amount_fen == record.prepay_fen]
            if len(rows) != 1 or len(counted) != 1:
                found.append(
                    Violation(
                        "prepayment answered 1 is not booked exactly once for its stay",
                        f"{record.trade_no} (order {record.order_id}): answers {states}; rows {rows}",
                    )
                )
        elif rows:
            found.append(
                Violation(
                    "prepayment answered 0 was booked",
                    f"{record.trade_no} (order {record.order_id}): answers {record.answers}; rows {rows}",
                )
            )
    return found


def check_results_booked(pushed: dict[str, int], refused: Sequence[str], snap: Snapshot) -> list[Violation]:
    """Nothing is lost: every state-1 result the booth acknowledged is a payment row of its amount; a result
    with another state is never booked."""
    found: list[Violation] = []
    by_trade = {p.trade_no: p for p in snap.payments if p.trade_no is not None}
    for trade_no, amount in pushed.items():
        row = by_trade.get(trade_no)
        if row is None:
            found.append(Violation("paid result lost (no payment row)", f"{trade_no} of {amount} fen"))
        elif row.amount_fen != amount:
            found.append(
                Violation("paid result booked with another amount", f"{trade_no}: {amount} fen, {row}")
            )
    for trade_no in refused:
        if trade_no in by_trade:
            found.append(Violation("a result with state 0 or 2 was booked", str(by_trade[trade_no])))
    return found
