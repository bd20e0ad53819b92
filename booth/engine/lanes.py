"""The lanes' runner: feeds each lane machine its events and carries out the commands it answers with, in
order (quote, admit, request payment, book, release, open the gate, close the stay), feeding the outcome of
each back to the lane. The money rules live in the lane machines (booth.domain.lane); this runs them.

A store write that fails stops the commands after it: a gate never opens for a payment that was not booked.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from booth.config import LaneSettings, Settings
from booth.domain import lane as L
from booth.domain.phrases import say
from booth.engine.events import EngineError, LaneChanged
from booth.engine.gate_control import GateControl
from booth.engine.payments import Payments
from booth.engine.runtime import Runtime
from booth.engine.stays import Stays
from booth.engine.stored import exception_item, quote_from_json, stored_plate
from booth.store.records import ExitInFlight

log = logging.getLogger("booth.engine")

#: alerts whose audit row the engine writes itself, with more detail than the lane's message
AUDITED_WHERE_RAISED = frozenset({"payment_failed"})
#: a difference this large between the wall clock's advance and elapsed time is a step of the wall clock
CLOCK_STEP = timedelta(seconds=2)
#: at a stop, a lane in these states finishes (up to a grace) before the engine's tasks are cancelled
FINISH_BEFORE_STOP = frozenset({L.LaneState.SETTLING, L.LaneState.OPENING})


def lane_timings(settings: Settings, lane: LaneSettings) -> L.LaneTimings:
    return L.LaneTimings(
        payment_timeout=timedelta(seconds=lane.payment_timeout_s),
        pass_timeout=timedelta(seconds=lane.pass_timeout_s),
        query_start=timedelta(seconds=settings.bolink.query_start_s),
        query_every=timedelta(seconds=settings.bolink.query_every_s),
        query_stop=timedelta(seconds=settings.bolink.query_stop_s),
    )


class LaneRunner:
    """Owns the lane machines (``lanes``) and what the window sees of them (``snapshot``)."""

    def __init__(
        self,
        rt: Runtime,
        settings: Settings,
        stays: Stays,
        payments: Payments,
        gates: GateControl,
        after_exception: Callable[[L.RecordException], None],
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._stays = stays
        self._payments = payments
        self._gates = gates
        self._after_exception = after_exception
        self.lane_settings: dict[str, LaneSettings] = {lane.id: lane for lane in settings.lanes}
        self.lane_by_channel: dict[str, str] = {lane.channel_id: lane.id for lane in settings.lanes}
        self.lanes: dict[str, L.ExitLane | L.EntryLane] = {}
        for lane in settings.lanes:
            cls = L.ExitLane if lane.direction == "exit" else L.EntryLane
            self.lanes[lane.id] = cls(lane.id, lane.name, lane.channel_id, lane_timings(settings, lane))
        self._views: dict[str, L.LaneView] = {}
        self._views_lock = threading.Lock()
        self.exits_completed = 0
        self._closing = 0  # stays of cars let out being closed now (see close_stay)
        #: told of every changed view after the window (the lane timings' camera → quote)
        self.on_view: Callable[[L.LaneView], None] | None = None

    # ------------------------------------------------------------------------------------ the views
    def publish_all(self) -> None:
        for lane_id in self.lanes:
            self._publish_view(lane_id)

    def snapshot(self) -> list[L.LaneView]:
        """What each lane shows now, in the settings' order (any thread)."""
        with self._views_lock:
            return [self._views[lane.id] for lane in self._settings.lanes if lane.id in self._views]

    def _publish_view(self, lane_id: str) -> None:
        view = self.lanes[lane_id].view()
        with self._views_lock:
            if self._views.get(lane_id) == view:
                return
            self._views[lane_id] = view
        self._rt.emit(LaneChanged(view))
        if self.on_view is not None:
            self.on_view(view)

    # ------------------------------------------------------------------------------------ questions
    def awaiting(self, order_id: str) -> str | None:
        """The lane whose exit waits for (or, settling, holds) this Bolink order, if any."""
        for lane_id, lane in self.lanes.items():
            if lane.awaiting_order_id == order_id:
                return lane_id
        for lane_id, lane in self.lanes.items():
            current = lane.current if isinstance(lane, L.ExitLane) else None
            if current is not None and current.order_id == order_id:
                return lane_id
        return None

    def stays_at_exits(self) -> set[int]:
        return {
            lane.current.stay_id
            for lane in self.lanes.values()
            if isinstance(lane, L.ExitLane) and lane.current is not None and lane.current.stay_id is not None
        }

    def finishing(self) -> bool:
        """A lane is booking a payment, moving its gate or closing the stay of the car it let out (a stop
        lets it finish first)."""
        return bool(self._closing) or any(lane.state in FINISH_BEFORE_STOP for lane in self.lanes.values())

    # ---------------------------------------------------------------------------------- dispatching
    async def dispatch(self, lane_id: str, event: L.LaneEvent) -> None:
        """Feed one event to a lane and execute its commands in order (engine thread only).

        LaneRuleError (an attendant command that is not allowed now) propagates to the caller's future.
        """
        lane = self.lanes[lane_id]
        commands = lane.handle(event)
        self._publish_view(lane_id)
        if isinstance(event, L.VehicleDetected) and not commands:
            log.info(
                "%s: read of %s ignored: %s (lane %s)",
                lane_id,
                event.plate.text,
                "the car being handled" if lane.view().plate == event.plate.text else "it has just passed",
                lane.state,
            )
        if not isinstance(event, L.Tick) and log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s -> %s", lane_id, type(event).__name__, [type(c).__name__ for c in commands])
        for command in commands:
            if not await self._execute(lane_id, command):
                break  # a store write failed: nothing after it (e.g. a gate) may run

    def broadcast(self, make: Callable[[datetime], L.LaneEvent], name: str) -> None:
        """The same event to every lane, each in a task of its own (Bolink's status)."""
        at = self._rt.now()
        for lane_id in self.lanes:
            self._rt.spawn(self.dispatch(lane_id, make(at)), f"{name}-{lane_id}")

    async def _feed(self, lane_id: str, outcome: Callable[[], Awaitable[L.LaneEvent | None]]) -> None:
        """Await a command's outcome in the background, then feed it to the lane. (The outcome's coroutine is
        made here, inside the task: one made before a spawn the stopping engine refuses is never awaited.)"""
        event = await outcome()
        if event is not None:
            await self.dispatch(lane_id, event)

    async def _execute(self, lane_id: str, cmd: L.LaneCommand) -> bool:
        """Run one command. Returns False when a store write failed (the lane was told)."""
        rt = self._rt
        try:
            match cmd:
                case L.QuoteStay():
                    await self._quote(lane_id, cmd)
                case L.AdmitVehicle():
                    decision = await self._stays.admit(lane_id, cmd, self.stays_at_exits())
                    await self.dispatch(lane_id, decision)
                case L.RequestPayment():
                    request = partial(self._payments.request, lane_id, cmd)
                    rt.spawn(self._feed(lane_id, request), f"outpark-{lane_id}")
                case L.QueryPayment():
                    rt.spawn(self._payments.query(cmd, lane_id), f"query-{lane_id}")
                case L.BookPayment():
                    await self.dispatch(lane_id, await self._payments.book(lane_id, cmd))
                case L.ReleaseExitOrder():
                    await self._release(lane_id, cmd)
                    if cmd.exception is not None:
                        self._after_exception(cmd.exception)
                case L.RecordException():
                    item = exception_item(cmd)
                    store = rt.store
                    await rt.db(lambda: store.record_lane_exception(item))
                    self._after_exception(cmd)
                case L.CancelExitOrder():
                    await self._stays.cancel_order(cmd.exit_order_id, cmd.at)
                case L.OpenGate():
                    rt.spawn(self._open_gate(lane_id, cmd), f"gate-{lane_id}")
                    # Let the gate's task run now, up to its first wait (the relay's frame is on the wire
                    # then), before what this event's caller does next: a payment result's caller
                    # acknowledges it to Bolink, whose HTTP request took ~0.6 ms before the gate began (#14).
                    await asyncio.sleep(0)
                case L.CloseStay():
                    await self.close_stay(lane_id, cmd)
                case L.Alert():
                    audit = cmd.kind not in AUDITED_WHERE_RAISED
                    await rt.alert(lane_id, cmd.kind, cmd.message, cmd.at, audit=audit, detail=cmd.detail)
        except Exception as exc:
            log.exception("%s: %s failed", lane_id, type(cmd).__name__)
            if isinstance(cmd, L.Alert):
                return True  # an audit row that could not be written must not stop the lane
            await self.dispatch(lane_id, L.StoreFailed(type(cmd).__name__, str(exc) or repr(exc), rt.now()))
            return False
        return True

    async def _quote(self, lane_id: str, cmd: L.QuoteStay) -> None:
        result = await self._stays.quote(lane_id, cmd)
        if isinstance(result, L.StayQuoted):
            # the same stay waiting at another lane: the car drove there; that lane lets go of it
            for other_id, other in self.lanes.items():
                if other_id != lane_id and other.awaiting_order_id == result.order_id:
                    await self.dispatch(other_id, L.Superseded(lane_id, cmd.at))
        await self.dispatch(lane_id, result)

    async def _release(self, lane_id: str, cmd: L.ReleaseExitOrder) -> None:
        lane = self.lanes[lane_id]
        cur = lane.current if isinstance(lane, L.ExitLane) else None
        bolink_order = (cur.order_id, cur.stay_id) if cur is not None and cur.order_id is not None else None
        await self._payments.release(lane_id, cmd, bolink_order)

    async def _open_gate(self, lane_id: str, cmd: L.OpenGate) -> None:
        outcome = await self._gates.open(lane_id, cmd)
        await self.dispatch(lane_id, outcome)
        if isinstance(outcome, L.GateOpened):
            lane = self.lanes[lane_id]
            passage = partial(self._gates.watch_passage, lane_id, lambda: lane.state is L.LaneState.GATE_OPEN)
            self._rt.spawn(self._feed(lane_id, passage), f"passage-{lane_id}")

    async def close_stay(self, lane_id: str, cmd: L.CloseStay) -> None:
        # (the lane is GATE_OPEN already, no longer "finishing": counted here, or a stop that came meanwhile
        # cancelled the close and left the stay of a car that was let out open)
        self._closing += 1
        try:
            await self._stays.close(lane_id, cmd)
        finally:
            self._closing -= 1
        self.exits_completed += 1

    # ------------------------------------------------------------------------------------------- ticks
    async def tick_loop(self, tick_s: float, monotonic: Callable[[], float] | None) -> None:
        """Lane timers run on elapsed time: every tick compares the wall clock's advance with the monotonic
        clock's, and a difference beyond CLOCK_STEP is a step of the wall clock (NTP setting it right). The
        lanes move their timers by it (a waiting car is not timed out, an open gate not held), records keep
        wall time, and the supervisor is told."""
        last = (self._rt.now(), monotonic()) if monotonic is not None else None
        while True:
            await asyncio.sleep(tick_s)
            at = self._rt.now()
            if monotonic is not None and last is not None:
                now_mono = monotonic()
                step = (at - last[0]) - timedelta(seconds=now_mono - last[1])
                last = (at, now_mono)
                if abs(step) >= CLOCK_STEP:
                    await self._clock_stepped(step, at)
            for lane_id in self.lanes:
                try:
                    await self.dispatch(lane_id, L.Tick(at))
                except Exception:
                    log.exception("%s: tick failed", lane_id)

    async def _clock_stepped(self, step: timedelta, at: datetime) -> None:
        seconds = round(step.total_seconds(), 1)
        for lane_id in self.lanes:
            await self.dispatch(lane_id, L.ClockStepped(step, at))
        await self._rt.said(None, "clock_step", say("alert.clock_step", seconds=f"{seconds:+}"), at)

    # ------------------------------------------------------------------------------ after a restart
    def resume_exits(self, in_flight: list[ExitInFlight]) -> None:
        """Take up what the last run left unfinished, with nobody at the screen (see ExitInFlight):

        - an exit still awaiting payment is resumed at its lane (the latest per lane; older ones, and those of
          lanes this booth no longer has, are cancelled, so money for them counts for the stay): the QR again,
          and query_order at once, so a car paid during the crash leaves within a second or two;
        - a paid (or released) exit whose gate opened: the car has gone (or passes now): its stay is closed;
        - a paid exit whose gate never opened: the gate opens when the car is read at that lane again, and
          the attendant is told of it meanwhile ("paid, not yet out"); a released one is only told.
        """
        rt = self._rt
        at = rt.now()
        resumed: dict[str, ExitInFlight] = {}
        for item in in_flight:
            lane = self.lanes.get(item.order.lane_id)
            if item.order.state == "awaiting":
                if isinstance(lane, L.ExitLane):
                    earlier = resumed.get(item.order.lane_id)
                    if earlier is not None:
                        rt.spawn(self._stays.cancel_order(earlier.order.id, at), "recover-cancel")
                    resumed[item.order.lane_id] = item
                else:
                    rt.spawn(self._stays.cancel_order(item.order.id, at), "recover-cancel")
            elif item.lifted_at is not None:
                lift_lane = item.lifted_lane or item.order.lane_id
                log.info("stay %s was let out before a restart: closed now", item.stay.order_id)
                close = L.CloseStay(item.stay.id, item.lifted_at)
                rt.spawn(self.close_stay(lift_lane, close), "recover-close")
            else:
                code = "alert.paid_not_out"
                if item.order.state == "paid" and isinstance(lane, L.ExitLane):
                    lane.handle(L.PaidAwaitingCar(item.stay.plate, item.stay.id, at))
                elif item.order.state == "released":
                    code = "alert.released_not_out"  # the attendant's decision: theirs to make again
                said = say(code, plate=item.stay.plate, lane_id=item.order.lane_id)
                rt.spawn(rt.said(item.order.lane_id, "paid_not_out", said, at), "recover-alert")
        for lane_id, item in resumed.items():
            try:
                quote = quote_from_json(item.order.quote_json, item.order.due_fen)
            except EngineError as exc:
                log.warning("%s: exit order %s cannot be resumed: %s", lane_id, item.order.id, exc)
                rt.spawn(self._stays.cancel_order(item.order.id, at), "recover-cancel")
                continue
            event = L.ExitResumed(
                stored_plate(item.stay.plate),
                item.stay.id,
                item.stay.order_id,
                item.order.id,
                item.stay.entry_at,
                quote,
                at,
                item.stay.entry_lane,
            )
            log.info("%s: resuming the exit of %s left by the last run", lane_id, item.stay.plate)
            rt.spawn(self.dispatch(lane_id, event), f"resume-{lane_id}")
