"""The money rules, checked on a whole running engine by a property test with an independent oracle (#13).

A hypothesis ``RuleBasedStateMachine`` drives random sequences through a REAL engine (its thread, the Bolink
sandbox over loopback HTTP, simulated gates) on a REAL SQLite file, with the clock moved by hand: cars parked
and entering, cars at the exit lanes, Bolink results for the waiting order (full, partial down to 1 fen, over,
repeated, state 0 and 2), results for other, departed and unknown orders, prepayments in the lot and at an
exit (each sent twice when asked: the answer must not change), cash (exact, with change, short), free
releases and manual lifts (listed, approval-needing and typed reasons, with and without a supervisor),
plate corrections, cancels, cars backing away and passing, retries, gate faults, time passing, restarts on
the same file, Bolink going offline, failing requests and stale tokens.

After every step the engine is let settle and ``tests/money_oracle.py`` judges the whole database from the
rules (not from the code): money lifts covered (grace only after a full settlement), every other lift
recorded with its reason, no trade_no twice, prepayments answered and booked consistently, every paid result
kept; the shift's expected cash is the float plus the cash the test handed over; no error is logged, no
"unexpected"/"store_failed" alert is raised, the engine thread is alive.

Budget (CI: a fixed seed, well under a minute): environment variables
  BOOTH_PROPERTY_EXAMPLES  sequences to run (default 12)
  BOOTH_PROPERTY_STEPS     steps per sequence (default 40)
  BOOTH_PROPERTY_SEED      the seed (default 20260301; printed, and named in a failure's notes)
  BOOTH_PROPERTY_SHRINK=1  shrink a failure to a minimal sequence (can take minutes: run it locally with
                           ``--timeout=900``); without it the failing sequence is printed as found, so a CI
                           failure always reports within the time limit.
Run with ``-s`` to see what the sequences reached (cars paying, partial payments, prepayments, lifts and how
the oracle justified them).
"""

from __future__ import annotations

import logging
import operator
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, seed, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from booth.config import Settings
from booth.devices.gates import SimulatedGate
from booth.domain import lane as L
from booth.domain.money import format_yuan
from booth.engine import AlertRaised, Engine, EngineEvent
from tests.conftest import Clock, engine_settings, wait_until
from tests.money_oracle import (
    MoneyOracle,
    PrepayRecord,
    Snapshot,
    Violation,
    check_prepayments,
    check_results_booked,
    read_snapshot,
)

EXAMPLES = int(os.environ.get("BOOTH_PROPERTY_EXAMPLES", "12"))
STEPS = int(os.environ.get("BOOTH_PROPERTY_STEPS", "40"))
SEED = int(os.environ.get("BOOTH_PROPERTY_SEED", "20260301"))
SHRINK = os.environ.get("BOOTH_PROPERTY_SHRINK", "") == "1"

ENTRY_LANE = "E1"
EXIT_LANES = ("X1", "X2")
WHITELISTED = "苏W00001"
PASS_HOLDER = "苏M00001"  # a monthly pass that ends with 2026-03-01 (lot time), mid-way through many stays
PLATES = ("苏A00001", "苏A00002", "苏A00003", "苏A00004", WHITELISTED, PASS_HOLDER)
NEVER_ENTERED = "苏B99999"
ATTENDANT = ("clerk", "1234")
SUPERVISOR = ("boss", "4321")
OPENING_FLOAT_FEN = 50_000
PAYABLE = frozenset({L.LaneState.AWAITING_PAYMENT, L.LaneState.PAYMENT_FAILED, L.LaneState.TIMED_OUT})
UNSETTLED = PAYABLE | {L.LaneState.NO_STAY}
#: lane states that are still on their way somewhere (the engine has work in flight for them)
IN_FLIGHT = frozenset({L.LaneState.QUOTING, L.LaneState.SETTLING, L.LaneState.OPENING})
#: engine tasks that belong to one step (long-lived loops and the passage watcher are not among them)
STEP_TASKS = (
    "outpark-",
    "query-",
    "gate-",
    "payment-failed-",
    "bolink-status-",
    "exception-limit-",
    "alert-",
)
#: alerts that mean the engine hit something it was not written for
ALARMING_ALERTS = frozenset({"unexpected", "store_failed"})
#: what the sequences of this run did and saw (printed at the end: does the run reach the cases that matter?)
TALLY: Counter[str] = Counter()


def property_settings(workdir: Path) -> Settings:
    """The test booth: E1, X1, X2 on the Bolink sandbox; a tariff with 15 free minutes, 15 minutes of grace,
    5 yuan for the first hour then 2 yuan per half hour (cap 40 a day), a whitelisted plate and a pass."""
    return engine_settings(
        workdir,
        tariff={
            "free_minutes": 15,
            "grace_minutes": 15,
            "whitelist": [WHITELISTED],
            "monthly": [{"plate": PASS_HOLDER, "valid_from": "2026-02-01", "valid_to": "2026-03-01"}],
        },
    )


def yuan_number(fen: int) -> float:
    """Bolink's JSON amounts are yuan numbers (as the real cloud sends them)."""
    return float(format_yuan(fen))


class _ErrorLog(logging.Handler):
    """Keeps every ERROR the booth logs: an exception that escaped to a log is a finding."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Booth:
    """One booth under test on one SQLite file: the engine (restartable), the hand-moved clock, what the
    test sent and what it expects the store to show."""

    workdir: Path
    clock: Clock = field(default_factory=Clock)
    engine: Engine | None = None
    events: list[EngineEvent] = field(default_factory=list)
    cloud_up: bool = True
    #: downstream messages pushed since the last one known handled (re-sent to a new sandbox on restart)
    undelivered: list[Mapping[str, Any]] = field(default_factory=list)
    paid_results: list[Mapping[str, Any]] = field(default_factory=list)
    paid_amounts: dict[str, int] = field(default_factory=dict)
    unpaid_trades: list[str] = field(default_factory=list)
    prepays: list[PrepayRecord] = field(default_factory=list)
    cash_taken_fen: int = 0
    shift_id: int | None = None
    serial: int = 0
    errors: _ErrorLog = field(default_factory=_ErrorLog)
    lifts_seen: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.settings = property_settings(self.workdir)
        self.db_path = self.workdir / "booth.sqlite"
        self.oracle = MoneyOracle(
            tariff=self.settings.tariff,
            zone=self.settings.park.zone,
            entry_lanes=frozenset(la.id for la in self.settings.lanes if la.direction == "entry"),
            exit_lanes=frozenset(la.id for la in self.settings.lanes if la.direction == "exit"),
            exceptions=self.settings.exceptions,
        )
        logging.getLogger("booth").addHandler(self.errors)

    # -- life cycle

    @property
    def eng(self) -> Engine:
        assert self.engine is not None, "the engine is not running"
        return self.engine

    def start(self) -> None:
        engine = Engine(self.settings, clock=self.clock, tick_s=0.05)
        engine.subscribe(self.events.append)
        engine.start()
        self.engine = engine
        wait_until(lambda: engine.bolink_online, what="Bolink sandbox login")
        wait_until(engine.sync_started.is_set, what="the sync to start")
        assert engine.bolink is not None
        engine.bolink.backoff_min_s, engine.bolink.backoff_max_s = 0.02, 0.2  # reconnect fast after faults
        self.cloud_up = True
        if self.shift_id is None:
            staff = engine.staff
            engine.office(
                staff.add_person, SUPERVISOR[0], "王经理", "supervisor", SUPERVISOR[1], by="system"
            ).result(30)
            engine.office(
                staff.add_person, ATTENDANT[0], "张三", "attendant", ATTENDANT[1], by="boss"
            ).result(30)
            shift = engine.office(engine.shifts.open, ATTENDANT[0], opening_float_fen=OPENING_FLOAT_FEN)
            self.shift_id = shift.result(30).id
        for message in self.undelivered:  # Bolink re-sends what the booth never handled
            engine.sandbox.push(message)
        self.settle()

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            self.engine = None

    def close(self) -> None:
        self.stop()
        logging.getLogger("booth").removeHandler(self.errors)

    # -- driving

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def push(self, message: Mapping[str, Any]) -> None:
        self.undelivered.append(message)
        self.eng.sandbox.push(message)

    def view(self, lane_id: str) -> L.LaneView:
        return next(v for v in self.eng.snapshot() if v.lane_id == lane_id)

    def waiting(self, lane_id: str) -> L.LaneView | None:
        """The lane's view when an order is waiting there for payment, else None."""
        view = self.view(lane_id)
        if view.state in PAYABLE and view.order_id and view.due_fen:
            return view
        return None

    def result(
        self, order_id: str, state: int, fen: int, lane_id: str, plate: str, trade_no: str | None = None
    ) -> dict[str, Any]:
        """A Bolink outpark result as the cloud pushes it."""
        channel = next(la.channel_id for la in self.settings.lanes if la.id == lane_id)
        return {
            "service_name": "outpark",
            "state": state,
            "order_id": order_id,
            "trade_no": trade_no or f"T{self.next_serial():010d}",
            "pay_type": "scancode",
            "pay_channel": 1,
            "out_channel_id": channel,
            "errmsg": {0: "支付失败", 1: "支付成功", 2: "支付中"}[state],
            "pay_time": int(self.clock.now.timestamp()),
            "total": yuan_number(fen),
            "car_number": plate,
            "arrive_money": yuan_number(fen),
            "fee": 0,
            "account_type": 1,
            "park_id": self.settings.bolink.park_id,
            "pay_company": 1,
            "pay_user_id": "2088000000000001",
        }

    def push_result(self, message: Mapping[str, Any]) -> None:
        if message["state"] == 1:
            self.paid_results.append(message)
            self.paid_amounts[str(message["trade_no"])] = round(float(message["total"]) * 100)
        else:
            self.unpaid_trades.append(str(message["trade_no"]))
        self.push(message)

    def prepay(self, order_id: str, plate: str, fen: int, times: int) -> PrepayRecord:
        """Bolink's prepay_order, sent ``times`` times as the very same message; keeps every answer."""
        record = PrepayRecord(trade_no=f"P{self.next_serial():010d}", order_id=order_id, prepay_fen=fen)
        message = {
            "service_name": "prepay_order",
            "car_number": plate,
            "prepay": yuan_number(fen),
            "order_id": order_id,
            "query_order_no": f"Q{self.serial:010d}",
            "park_id": self.settings.bolink.park_id,
            "trade_no": record.trade_no,
            "query_time": int(self.clock.now.timestamp()),
            "prepay_type": "1",
        }
        self.prepays.append(record)
        sandbox = self.eng.sandbox
        for _ in range(times):
            # the sandbox's own wait for the answer: a repeated identical answer is not in sandbox.answers
            answer = self.eng.call(sandbox.push_and_wait(message, ("prepay_order", order_id), 5.0)).result(10)
            record.answers.append(answer)
        return record

    def move_clock(self, by: timedelta) -> None:
        """Time passes; every lane sees it at once (the engine's own ticks see it too, a little later)."""
        self.clock.now += by
        engine = self.eng
        for lane_id in engine.lanes:
            engine.call(engine.dispatch(lane_id, L.Tick(self.clock.now))).result(5)
        self.settle()

    # -- waiting for the engine to finish what a step started

    async def _in_flight(self) -> list[str]:
        engine = self.eng
        busy = [
            f"{lane_id} {lane.state}" for lane_id, lane in engine.lanes.items() if lane.state in IN_FLIGHT
        ]
        tasks = engine._rt.tasks
        busy += [t.get_name() for t in tasks if not t.done() and t.get_name().startswith(STEP_TASKS)]
        return busy

    def settle(self) -> None:
        """Every message pushed so far is handled (when Bolink is up) and no lane has work in flight."""
        engine = self.eng
        while self.cloud_up:
            # Bolink delivers in order: once a marker pushed now is handled, so is everything before it. A
            # queued fault hits the request after the held poll the marker wakes: go round until none is left.
            no_faults_left = not engine.sandbox._faults
            marker = f"苏Z{self.next_serial() % 100_000:05d}"
            engine.sandbox.push(
                {"service_name": "update_balance", "car_number": marker, "balance": 1, "autopay": 1}
            )
            wait_until(
                partial(operator.contains, engine.balances, marker),
                timeout=20,
                what="the downstream marker (every message pushed before it handled)",
            )
            self.undelivered.clear()
            if no_faults_left and engine.bolink_online:
                break
        busy: list[str] = []

        def quiet() -> bool:
            busy[:] = engine.call(self._in_flight()).result(5)
            return not busy

        try:
            wait_until(quiet, what="the engine to settle")
        except AssertionError as exc:
            raise AssertionError(f"the engine did not settle: still {busy}") from exc

    # -- the oracle

    def violations(self) -> list[Violation]:
        engine = self.eng
        found: list[Violation] = []
        thread = engine._thread
        if thread is None or not thread.is_alive():
            found.append(Violation("engine thread died", repr(thread)))
        for record in self.errors.records:
            found.append(Violation("error logged", f"{record.name}: {record.getMessage()}"))
        for ev in self.events:
            if isinstance(ev, AlertRaised) and ev.kind in ALARMING_ALERTS:
                found.append(Violation(f"{ev.kind} alert", f"{ev.lane_id}: {ev.message}"))
        snap: Snapshot = read_snapshot(self.db_path)
        found += self.oracle.check(snap)
        for lift_id, how in self.oracle.justifications.items():
            if lift_id not in self.lifts_seen:
                self.lifts_seen.add(lift_id)
                tally(f"money lift justified: {how}")
        found += check_prepayments(self.prepays, snap)
        pending = {str(m.get("trade_no")) for m in self.undelivered}
        delivered = {t: fen for t, fen in self.paid_amounts.items() if t not in pending}
        found += check_results_booked(delivered, [t for t in self.unpaid_trades if t not in pending], snap)
        if self.shift_id is not None:
            expected = engine.office(engine.shifts.expected_cash_fen, self.shift_id).result(10)
            if expected != OPENING_FLOAT_FEN + self.cash_taken_fen:
                found.append(
                    Violation(
                        "shift expected cash is not the float plus the cash taken",
                        f"expected_cash_fen {expected}, float {OPENING_FLOAT_FEN} + cash handed over "
                        f"{self.cash_taken_fen} = {OPENING_FLOAT_FEN + self.cash_taken_fen}",
                    )
                )
        return found

    def assert_rules_hold(self) -> None:
        found = self.violations()
        if found:
            raise AssertionError(
                f"{len(found)} money rule violation(s):\n" + "\n".join(f"- {v}" for v in found)
            )

    # -- facts the rules need from the database

    def stays(self, state: str) -> list[tuple[int, str, str]]:
        snap = read_snapshot(self.db_path)
        return [(s.id, s.order_id, s.plate) for s in snap.stays.values() if s.state == state]

    def remaining_fen(self, stay_id: int) -> int:
        """Gross now less what is counted for the stay (the oracle's view of "the rest")."""
        snap = read_snapshot(self.db_path)
        stay = snap.stays[stay_id]
        paid = sum(p.amount_fen for p in snap.payments if p.stay_id == stay_id and p.flag is None)
        return max(self.oracle.gross_fen(stay, self.clock.now) - paid, 0)


def tally(what: str) -> None:
    """Count a case this run reached (hypothesis's event() too, for --hypothesis-show-statistics)."""
    TALLY[what] += 1
    if currently_in_test_context():  # the fixed sequences below run outside hypothesis
        event(what)


def quietly(what: str, action: Callable[[], Any]) -> bool:
    """Run an attendant's command; a refusal (the lane cannot do it now, or a reason/approval is missing)
    is an expected answer, and says so by returning False."""
    try:
        action()
    except L.LaneRuleError as refused:
        tally(f"{what} refused ({type(refused).__name__})")
        return False
    tally(f"{what} done")
    return True


# ------------------------------------------------------------------------------------- the state machine

PICK = st.integers(min_value=0, max_value=999)  # which of the cars/lanes/orders there are now (modulo)
PARKED_MINUTES = st.sampled_from((0, 10, 16, 59, 61, 119, 121, 300, 1439, 1500))
CLOCK_STEPS = st.sampled_from((1, 20, 61, 5 * 60, 14 * 60, 15 * 60, 16 * 60, 45 * 60, 3 * 3600, 20 * 3600))
FREE_RELEASE_REASONS = st.sampled_from(("员工车辆", "经理批准", "老客户"))  # listed, needs approval, typed
MANUAL_LIFT_REASONS = st.sampled_from(("道闸故障", "经理批准", "临时通行"))
APPROVERS = st.sampled_from((None, SUPERVISOR, (SUPERVISOR[0], "0000"), ATTENDANT))
EXIT_LANE = st.sampled_from(EXIT_LANES)
MAX_DISRUPTIONS = 4
ANY_LANE = st.sampled_from((ENTRY_LANE, *EXIT_LANES))


def _pick(options: list[Any], pick: int) -> Any:
    return options[pick % len(options)] if options else None


def _someone_waiting(machine: MoneyMachine) -> bool:
    """Money rules are enabled only while an order waits at an exit: the steps go where the money is."""
    return any(machine.booth.waiting(lane) is not None for lane in EXIT_LANES)


def _exit_unsettled(machine: MoneyMachine) -> bool:
    return any(machine.booth.view(lane).state in UNSETTLED for lane in EXIT_LANES)


class MoneyMachine(RuleBasedStateMachine):
    """Random sequences of lot life through one booth; the oracle judges the database after every step.

    Rules pick among what exists now (the cars in the lot, the lanes with an order waiting) so that most
    steps do something; a step with nothing to act on is a no-op."""

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.booth = Booth(workdir)
        self.disruptions = 0  # restarts, gate faults and cloud trouble so far: bounded, so cars get through

    @initialize()
    def open_the_booth(self) -> None:
        self.booth.start()

    def teardown(self) -> None:
        self.booth.close()

    @invariant()
    def money_rules_hold(self) -> None:
        if self.booth.engine is not None:
            self.booth.assert_rules_hold()

    def _waiting_lane(self, pick: int) -> L.LaneView | None:
        return _pick([v for lane in EXIT_LANES if (v := self.booth.waiting(lane)) is not None], pick)

    # -- cars

    @rule(pick=PICK, minutes=PARKED_MINUTES)
    def car_parked_earlier(self, pick: int, minutes: int) -> None:
        b = self.booth
        in_lot = {plate for _, _, plate in b.stays("in_lot")}
        plate = _pick([p for p in PLATES if p not in in_lot], pick)
        if plate is None:
            return
        b.eng.seed_stay(plate, b.clock.now - timedelta(minutes=minutes)).result(5)
        tally("car parked earlier")
        b.settle()

    @rule(pick=PICK)
    def car_enters(self, pick: int) -> None:
        b = self.booth
        b.eng.vehicle_at(ENTRY_LANE, PLATES[pick % len(PLATES)]).result(5)
        tally("car at the entry")
        b.settle()

    @rule(lane=EXIT_LANE, pick=PICK)
    def car_at_exit(self, lane: str, pick: int) -> None:
        """Mostly a car from the lot; one pick in ten a plate the lot never saw."""
        b = self.booth
        in_lot = [plate for _, _, plate in b.stays("in_lot")]
        plate = NEVER_ENTERED if pick % 10 == 9 or not in_lot else _pick(in_lot, pick // 10)
        b.eng.vehicle_at(lane, plate).result(5)
        b.settle()
        tally(f"car at an exit -> {b.view(lane).state}")

    @rule(lane=EXIT_LANE, pick=PICK, minutes=PARKED_MINUTES)
    def car_parked_earlier_comes_to_exit(self, lane: str, pick: int, minutes: int) -> None:
        """The common case, in one step (so that sequences reach the money sooner)."""
        self.car_parked_earlier(pick, minutes)
        in_lot = [plate for _, _, plate in self.booth.stays("in_lot")]
        plate = _pick(in_lot, pick)
        if plate is not None:
            self.booth.eng.vehicle_at(lane, plate).result(5)
            self.booth.settle()
            tally(f"car at an exit -> {self.booth.view(lane).state}")

    @rule(lane=ANY_LANE, what=st.sampled_from(("passed", "backed_away", "cancel")))
    def car_moves(self, lane: str, what: str) -> None:
        b = self.booth
        if what == "passed":
            b.eng.vehicle_passed(lane).result(5)
        elif what == "backed_away":
            b.eng.vehicle_left(lane).result(5)
        else:
            b.eng.cancel(lane, ATTENDANT[0]).result(5)
        tally(f"car {what}")
        b.settle()

    @precondition(_exit_unsettled)
    @rule(lane=EXIT_LANE, pick=PICK)
    def plate_corrected(self, lane: str, pick: int) -> None:
        b = self.booth
        plate = _pick([*PLATES, NEVER_ENTERED], pick)
        quietly("plate correction", lambda: b.eng.correct_plate(lane, plate, ATTENDANT[0]).result(5))
        b.settle()

    # -- Bolink money

    @precondition(_someone_waiting)
    @rule(pick=PICK, how=st.sampled_from(("full", "full", "over", "less_1", "half", "1_fen")))
    def driver_pays(self, pick: int, how: str) -> None:
        b = self.booth
        view = self._waiting_lane(pick)
        if view is None or view.order_id is None or view.plate is None or view.due_fen is None:
            return
        due = view.due_fen
        fen = max({"full": due, "over": due + 100, "less_1": due - 1, "half": due // 2, "1_fen": 1}[how], 1)
        b.push_result(b.result(view.order_id, 1, fen, view.lane_id, view.plate))
        b.settle()
        tally(f"driver pays {how} -> {b.view(view.lane_id).state}")

    @precondition(_someone_waiting)
    @rule(pick=PICK, state=st.sampled_from((0, 2)))
    def driver_payment_fails_or_hangs(self, pick: int, state: int) -> None:
        b = self.booth
        view = self._waiting_lane(pick)
        if view is None or view.order_id is None or view.plate is None or view.due_fen is None:
            return
        b.push_result(b.result(view.order_id, state, view.due_fen, view.lane_id, view.plate))
        tally(f"result state {state}")
        b.settle()

    @precondition(lambda self: bool(self.booth.paid_results))
    @rule(pick=PICK)
    def bolink_repeats_a_result(self, pick: int) -> None:
        b = self.booth
        b.push(_pick(b.paid_results, pick))
        tally("result repeated")
        b.settle()

    @rule(
        lane=EXIT_LANE,
        whose=st.sampled_from(("in_lot", "exited", "cancelled", "unknown")),
        pick=PICK,
        fen=st.sampled_from((1, 500, 2300)),
    )
    def result_for_another_order(self, lane: str, whose: str, pick: int, fen: int) -> None:
        b = self.booth
        here = b.view(lane).order_id
        if whose == "unknown":
            order_id, plate = f"NOBODY_{b.next_serial()}", NEVER_ENTERED
        else:
            chosen = _pick([(o, p) for _, o, p in b.stays(whose) if o != here], pick)
            if chosen is None:
                return
            order_id, plate = chosen
        b.push_result(b.result(order_id, 1, fen, lane, plate))
        tally(f"result for an order {whose}")
        b.settle()

    @precondition(lambda self: self.booth.cloud_up)
    @rule(
        pick=PICK,
        how=st.sampled_from(("rest", "1_fen", "half", "over")),
        times=st.sampled_from((1, 2)),
        where=st.sampled_from(("at_exit", "in_lot", "left")),
    )
    def driver_prepays(self, pick: int, how: str, times: int, where: str) -> None:
        """A prepayment for a car waiting at an exit, parked in the lot, or gone already."""
        b = self.booth
        at_exit = {v.order_id for lane in EXIT_LANES if (v := b.view(lane)).order_id}
        state = "exited" if where == "left" else "in_lot"
        chosen = _pick(
            [s for s in b.stays(state) if (s[1] in at_exit) == (where == "at_exit") or where == "left"], pick
        )
        if chosen is None:
            return
        stay_id, order_id, plate = chosen
        rest = b.remaining_fen(stay_id)
        fen = max({"rest": rest, "1_fen": 1, "half": rest // 2, "over": rest + 100}[how], 1)
        record = b.prepay(order_id, plate, fen, times)
        b.settle()
        tally(f"prepay {how} {where} x{times} answered {[a.get('state') for a in record.answers]}")

    # -- the attendant

    @precondition(_someone_waiting)
    @rule(pick=PICK, extra=st.sampled_from((-1, 0, 0, 1, 5_000)))
    def cash(self, pick: int, extra: int) -> None:
        b = self.booth
        view = self._waiting_lane(pick)
        if view is None or view.due_fen is None:
            return
        due = view.due_fen
        took = quietly(
            f"cash {'short' if extra < 0 else 'with change' if extra else 'exact'}",
            lambda: b.eng.cash(view.lane_id, due + extra, ATTENDANT[0]).result(5),
        )
        if extra < 0:
            assert not took, f"cash of {due + extra} fen for {due} fen due was accepted at {view.lane_id}"
        elif took:
            b.cash_taken_fen += due
        b.settle()

    @precondition(_exit_unsettled)
    @rule(lane=EXIT_LANE, reason=FREE_RELEASE_REASONS, approver=APPROVERS)
    def free_release(self, lane: str, reason: str, approver: tuple[str, str] | None) -> None:
        b = self.booth
        quietly(
            "free release",
            lambda: b.eng.free_release(lane, reason, ATTENDANT[0], note="测试", approver=approver).result(10),
        )
        b.settle()

    @rule(lane=ANY_LANE, reason=MANUAL_LIFT_REASONS, approver=APPROVERS)
    def manual_lift(self, lane: str, reason: str, approver: tuple[str, str] | None) -> None:
        b = self.booth
        quietly(
            "manual lift", lambda: b.eng.manual_lift(lane, reason, ATTENDANT[0], approver=approver).result(10)
        )
        b.settle()

    @precondition(_someone_waiting)
    @rule(lane=EXIT_LANE)
    def retry_payment(self, lane: str) -> None:
        b = self.booth
        quietly("retry payment", lambda: b.eng.retry_payment(lane, ATTENDANT[0]).result(5))
        b.settle()

    @precondition(lambda self: self.disruptions < MAX_DISRUPTIONS)
    @rule(lane=ANY_LANE)
    def gate_fails_next_lift(self, lane: str) -> None:
        gate = self.booth.eng.gates[lane]
        assert isinstance(gate, SimulatedGate)
        gate._fail_next = 2  # both attempts of the next lift fail: a gate fault
        self.disruptions += 1
        tally("gate will fail")

    # -- time, restarts and the cloud

    @rule(seconds=CLOCK_STEPS)
    def time_passes(self, seconds: int) -> None:
        self.booth.move_clock(timedelta(seconds=seconds))
        tally("time passes")

    @precondition(lambda self: self.disruptions < MAX_DISRUPTIONS)
    @rule()
    def restart(self) -> None:
        self.booth.stop()
        self.booth.start()
        self.disruptions += 1
        tally("restart")

    @precondition(lambda self: self.booth.cloud_up and self.disruptions < MAX_DISRUPTIONS)
    @rule()
    def bolink_goes_offline(self) -> None:
        b = self.booth
        self.disruptions += 1
        engine = b.eng
        engine.call(engine.sandbox.stop()).result(10)
        b.cloud_up = False
        wait_until(lambda: not engine.bolink_online, what="the booth to see Bolink offline")
        tally("Bolink offline")
        b.settle()

    @precondition(lambda self: not self.booth.cloud_up)
    @rule()
    def bolink_comes_back(self) -> None:
        b = self.booth
        engine = b.eng
        engine.call(engine.sandbox.start()).result(10)
        b.cloud_up = True
        b.settle()

    @precondition(lambda self: self.booth.cloud_up and self.disruptions < MAX_DISRUPTIONS)
    @rule(how=st.sampled_from(("http500", "html", "drop", "stale_token")), count=st.integers(1, 3))
    def bolink_misbehaves(self, how: str, count: int) -> None:
        b = self.booth
        self.disruptions += 1
        sandbox = b.eng.sandbox
        if how == "stale_token":
            sandbox.expire_tokens()
        else:
            sandbox.fail_next(count, how)
        tally(f"Bolink fault {how}")
        b.settle()


def _machine_factory(workroot: Path) -> Callable[[], MoneyMachine]:
    def make() -> MoneyMachine:
        return MoneyMachine(Path(tempfile.mkdtemp(prefix="example_", dir=workroot)))

    return make


def test_money_rules_hold_through_random_lot_life(tmp_path: Path) -> None:
    """The whole engine under random sequences; a failure prints the sequence and names the broken rule."""
    print(f"money property: seed {SEED}, {EXAMPLES} sequences of up to {STEPS} steps (shrink: {SHRINK})")
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    factory = seed(SEED)(_machine_factory(tmp_path))
    try:
        run_state_machine_as_test(
            factory,  # type: ignore[arg-type]  # any factory of machines will do, as its docstring says
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                phases=phases,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    except BaseException as exc:
        exc.add_note(f"money property seed {SEED}: rerun with BOOTH_PROPERTY_SEED={SEED} (and SHRINK=1)")
        raise
    finally:
        print("what the sequences reached:")
        for what, count in sorted(TALLY.items()):
            print(f"  {count:5d}  {what}")


# ------------------------------------------------------------------ the findings, as short fixed sequences


@pytest.fixture
def booth(tmp_path: Path) -> Iterator[Booth]:
    b = Booth(tmp_path)
    b.start()
    yield b
    b.close()


def car_waiting_at(b: Booth, lane_id: str, plate: str, parked: timedelta) -> L.LaneView:
    """A car that entered ``parked`` ago waits at an exit lane with its QR; returns the lane's view."""
    b.eng.seed_stay(plate, b.clock.now - parked).result(5)
    b.eng.vehicle_at(lane_id, plate).result(5)
    b.settle()
    view = b.waiting(lane_id)
    assert view is not None and view.code_url, f"{plate} is not waiting at {lane_id}: {b.view(lane_id)}"
    return view


def test_a_partial_payment_at_the_lane_earns_no_grace(booth: Booth) -> None:
    """Known defect 1: 1 fen of the fee was booked as partial, the re-quote applied the grace rule and the
    gate opened as free_tariff/grace. The rest must be asked for."""
    view = car_waiting_at(booth, "X1", "苏A00001", timedelta(hours=2))
    assert view.order_id and view.plate and view.due_fen
    booth.push_result(booth.result(view.order_id, 1, 1, "X1", view.plate))
    booth.settle()
    booth.assert_rules_hold()
    after = booth.waiting("X1")
    assert after is not None and after.due_fen == view.due_fen - 1, booth.view("X1")


def test_a_one_fen_prepayment_earns_no_grace_at_the_exit(booth: Booth) -> None:
    """Known defect 1, by prepay_order: 1 fen prepaid in the lot, then the exit within grace opened free."""
    booth.eng.seed_stay("苏A00002", booth.clock.now - timedelta(hours=2)).result(5)
    [(stay_id, order_id, plate)] = booth.stays("in_lot")
    record = booth.prepay(order_id, plate, 1, times=1)
    assert [a["state"] for a in record.answers] == [1]
    booth.move_clock(timedelta(minutes=5))
    booth.eng.vehicle_at("X1", plate).result(5)
    booth.settle()
    booth.assert_rules_hold()
    view = booth.waiting("X1")
    assert view is not None and view.due_fen == booth.remaining_fen(stay_id), booth.view("X1")


def test_a_prepayment_for_a_car_at_the_exit_gets_one_answer(booth: Booth) -> None:
    """Known defect 2: a prepay_order for a car waiting at an exit was answered 0 (and booked, flagged
    exit_in_progress); Bolink's repeat of the same message was then answered 1. Whichever the answer, it
    must be the same both times, and the booking must match it."""
    view = car_waiting_at(booth, "X1", "苏A00003", timedelta(hours=2))
    assert view.order_id and view.plate
    booth.prepay(view.order_id, view.plate, 500, times=2)
    booth.settle()
    booth.assert_rules_hold()


def test_a_restart_takes_up_the_waiting_exit_so_a_prepayment_gets_one_answer(booth: Booth) -> None:
    """Found by the property test: the booth restarted while a car waited at an exit; its exit order stayed
    "awaiting" with no lane handling it, so every later prepayment for the car was refused for an exit nobody
    was handling. Now the lane takes the exit up again at start (issue 14), so a prepayment meanwhile is
    refused as for any car at an exit: answered 0, not booked, the same to a repeat."""
    view = car_waiting_at(booth, "X1", "苏A00001", timedelta(hours=2))
    assert view.order_id and view.plate
    booth.stop()
    booth.start()
    wait_until(lambda: booth.view("X1").order_id == view.order_id, what="the exit taken up again")
    record = booth.prepay(view.order_id, view.plate, 100, times=2)
    booth.settle()
    booth.assert_rules_hold()
    assert [a["state"] for a in record.answers] == [0, 0], record.answers

def test_a_payment_for_the_order_a_restart_dropped_counts_for_the_stay(booth: Booth) -> None:
    """Found by the property test: the driver paid the QR shown before a restart; the result found no lane
    waiting for it and the orphaned "awaiting" exit order made the store flag it exit_in_progress (to be
    refunded), so at the exit the driver was asked to pay the whole fee again."""
    view = car_waiting_at(booth, "X1", "苏A00001", timedelta(hours=2))
    assert view.order_id and view.plate and view.due_fen
    booth.stop()
    booth.start()
    booth.push_result(booth.result(view.order_id, 1, view.due_fen, "X1", view.plate))
    booth.settle()
    booth.eng.vehicle_at("X1", view.plate).result(5)
    booth.settle()
    booth.assert_rules_hold()
    assert booth.view("X1").state is L.LaneState.GATE_OPEN, booth.view("X1")
