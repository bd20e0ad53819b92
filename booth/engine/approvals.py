"""Exceptions and their approvals: a free release or a manual lift is checked (reason, note, operator), its
supervisor's approval verified on the office thread (where the shift's rules or forgone arrears need one),
handed to the lane only when both are good, and counted against the shift's limit afterwards."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any, Literal

from booth.config import Settings
from booth.domain import lane as L
from booth.domain.phrases import ParamValue, say
from booth.engine.events import NOTE_MAX, REASON_MAX, AlertRaised, ApprovalError, ExceptionRefused
from booth.engine.lanes import LaneRunner
from booth.engine.runtime import Runtime
from booth.engine.stored import car_at
from booth.office.shifts import Shifts
from booth.office.staff import AuthError, Staff
from booth.store.worker import Priority

log = logging.getLogger("booth.engine")
ExceptionKind = Literal["free_release", "manual_lift"]
#: run a call on the engine's office thread (PIN checks: scrypt is slow on purpose)
OfficeCall = Callable[..., concurrent.futures.Future[Any]]


class Approvals:
    """Free releases and manual lifts, from the attendant's command to the lane's decision."""

    def __init__(
        self,
        rt: Runtime,
        settings: Settings,
        lanes: LaneRunner,
        staff: Staff,
        shifts: Shifts,
        office: OfficeCall,
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._lanes = lanes
        self._staff = staff
        self._shifts = shifts
        self._office = office

    async def decide(
        self,
        kind: ExceptionKind,
        lane_id: str,
        reason: str,
        operator: str,
        note: str,
        approver: tuple[str, str] | None,
    ) -> None:
        """Check the reason and the approval, then hand the decision to the lane. Nothing reaches the lane
        (no record, no gate) unless both are good."""
        reason, note = self._checked(kind, reason, operator, note)
        lane = self._lanes.lanes.get(lane_id)
        asked_for = car_at(lane.view()) if lane is not None else None
        forgoes_arrears = lane is not None and any(
            line.phrase is not None and line.phrase.code == "tariff.arrears" for line in lane.view().lines
        )
        approved_by = await self._approval(kind, reason, operator, approver, forgoes_arrears=forgoes_arrears)
        if lane is not None and car_at(lane.view()) != asked_for:
            # The PIN check took a while (scrypt, on the office thread): the approval was given for the car
            # that was there when the attendant asked, never for the one there now.
            raise ExceptionRefused("car_changed", say("refused.car_changed", action=say(f"action.{kind}")))
        at = self._rt.now()
        event: L.FreeRelease | L.ManualLift
        if kind == "free_release":
            event = L.FreeRelease(reason, operator, at, note=note, approved_by=approved_by)
        else:
            event = L.ManualLift(reason, operator, at, note=note, approved_by=approved_by)
        await self._lanes.dispatch(lane_id, event)

    def _checked(self, kind: ExceptionKind, reason: str, operator: str, note: str) -> tuple[str, str]:
        """The reason and note as recorded; ExceptionRefused names what is wrong with them."""
        what = say(f"action.{kind}")
        if not isinstance(reason, str) or not reason.strip():
            raise ExceptionRefused("reason_missing", say("refused.reason_missing", action=what))
        if not isinstance(operator, str) or not operator.strip():
            raise ExceptionRefused("operator_missing", say("refused.operator_missing", action=what))
        if not isinstance(note, str):
            raise ExceptionRefused("note_too_long", say("refused.note_not_text", action=what))
        reason, note = reason.strip(), note.strip()
        if len(reason) > REASON_MAX:
            raise ExceptionRefused(
                "reason_too_long",
                say("refused.reason_too_long", action=what, max=REASON_MAX, length=len(reason)),
            )
        if len(note) > NOTE_MAX:
            raise ExceptionRefused(
                "note_too_long", say("refused.note_too_long", action=what, max=NOTE_MAX, length=len(note))
            )
        listed = self._reasons(kind)
        if not self._settings.exceptions.free_text_allowed and reason not in listed:
            raise ExceptionRefused(
                "reason_not_listed",
                say("refused.reason_not_listed", reason=reason, action=what, listed=tuple(listed)),
            )
        return reason, note

    def _reasons(self, kind: ExceptionKind) -> tuple[str, ...]:
        ex = self._settings.exceptions
        return ex.free_release_reasons if kind == "free_release" else ex.manual_lift_reasons

    async def _approval(
        self,
        kind: ExceptionKind,
        reason: str,
        operator: str,
        approver: tuple[str, str] | None,
        *,
        forgoes_arrears: bool = False,
    ) -> str | None:
        """The supervisor who approved, checked on the office thread (scrypt is slow on purpose). Needed
        when the reason is in approval_required, or the lift forgoes arrears (arrears_waiver_needs_approval);
        an approver given anyway is checked too, so a recorded approval is always a real one."""
        ex = self._settings.exceptions
        # a typed reason could be any wording of a listed one ("经理批准!"): it needs a supervisor too
        typed = reason not in self._reasons(kind)
        needed = reason in ex.approval_required or (typed and ex.typed_reasons_need_approval)
        needed = needed or (forgoes_arrears and ex.arrears_waiver_needs_approval)
        what = say(f"action.{kind}")
        if approver is None:
            if needed:
                refused = say("refused.approval_required", reason=reason, action=what)
                raise ApprovalError("approval_required", refused)
            return None
        if (
            not isinstance(approver, tuple)
            or len(approver) != 2
            or not all(isinstance(part, str) for part in approver)
        ):
            raise ApprovalError("bad_pin", say("refused.approver_malformed"))
        username, pin = approver
        if username == operator:
            refused = say("refused.self_approval", username=username, action=what)
            raise ApprovalError("self_approval", refused)
        try:
            person = await asyncio.wrap_future(
                self._office(self._staff.authenticate, username, pin, role="supervisor")
            )
        except AuthError as exc:
            refused = say("refused.approval_failed", username=username, error=exc.message)
            raise ApprovalError(exc.code, refused, exc) from exc
        return person.username

    # ------------------------------------------------------------------------------ after the decision
    def after(self, record: L.RecordException) -> None:
        """Recorded: check the shift's limit in the background (the gate does not wait for it)."""
        self._rt.spawn(self._check_limit(record), f"exception-limit-{record.lane_id}")

    async def _check_limit(self, record: L.RecordException) -> None:
        """Alert the supervisor (``exception_limit``) on each exception past the shift's limit. The shift
        is the open one; with none open, the count runs from the lot's local midnight."""
        ex = self._settings.exceptions
        kind = record.kind
        limit = ex.max_free_releases_per_shift if kind == "free_release" else ex.max_manual_lifts_per_shift
        if limit == 0:
            return
        store, shifts, zone = self._rt.store, self._shifts, self._settings.park.zone

        def work() -> tuple[int | None, str | None, datetime, int]:
            shift = shifts.current()
            if shift is not None:
                since = shift.opened_at
            else:
                local = record.at.astimezone(zone)
                since = datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)
            count = store.count_lane_exceptions(kind, since=since)
            return (shift.id if shift else None), (shift.attendant if shift else None), since, count

        try:
            shift_id, attendant, since, count = await self._rt.db(work, Priority.BACKGROUND)
        except Exception:
            log.exception("%s: the %s limit could not be checked", record.lane_id, kind)
            return
        if count <= limit:
            return
        what = say(f"action.{kind}")
        facts: dict[str, ParamValue] = {
            "count": count,
            "limit": limit,
            "operator": record.operator,
            "reason": record.reason,
        }
        if shift_id is not None:
            said = say("alert.exception_limit_shift", attendant=attendant or "", action=what, **facts)
        else:
            said = say("alert.exception_limit_day", action=what, **facts)
        message = said.text
        log.warning("alert exception_limit on %s: %s", record.lane_id, message)
        self._rt.emit(AlertRaised(record.lane_id, "exception_limit", message, record.at, said))
        detail = {
            "kind": kind,
            "count": count,
            "limit": limit,
            "shift_id": shift_id,
            "attendant": attendant,
            "since": since.isoformat(),
            "lane_id": record.lane_id,
            "operator": record.operator,
            "reason": record.reason,
            "message": message,
        }
        try:
            await self._rt.db(
                lambda: store.audit(
                    actor=f"lane:{record.lane_id}", action="exception_limit", detail=detail, at=record.at
                ),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("%s: the exception_limit alert could not be audited", record.lane_id)
