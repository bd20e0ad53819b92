"""The pull (issue #18): what a booth takes from the lot server into its own store, and what it keeps in
memory for the lookup at its exits.

- **Closed elsewhere**: a stay open here whose Bolink order id is closed (``exited``) at another booth (the
  car entered here and left there) is closed here too, through the store, with the other booth's exit lane
  and time. The close journals itself and is pushed back, and the lot check ``stay_closed_twice`` sees the
  same exit at both booths: not a breach.
- **People lot-wide**: a person known at another booth but not here is added here with the same username,
  name, role and PIN hash (a supervisor added once signs in at every booth). A disable or an enable is
  carried over by "latest wins": the newest ``person_disabled`` / ``person_enabled`` audit entry for that
  username, at any booth, decides. Copies are audited here as ``lot_person_added``,
  ``lot_person_disabled``, ``lot_person_enabled`` (actions the rule does not count, so two booths never
  undo each other). A new PIN likewise: the newest ``pin_changed`` at any booth wins, and its booth's PIN
  hash is copied here (``lot_pin_changed``). A new display name too: the newest ``person_renamed`` at any
  booth wins, with the name its audit entry gives (``lot_person_renamed``; nothing when the name already
  matches). Shifts stay per booth.
- **Recent entries** (:class:`RecentEntries`): the open stays of other booths entered in the last days,
  kept in memory and refreshed every ``recent_every_s``, for the exit's lookup when the server does not
  answer in time.

:class:`LotPuller` runs these on a thread of its own; the local writes go through ``local_write`` (the
engine's database thread) so they queue with the lanes' writes like any background work.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from booth.lot.push import LocalWrite, one_line, utc_now
from booth.lot.released import ExitItems, Pricing, close_stays_released_elsewhere
from booth.lot.schema import MIRRORS
from booth.lot.server import Rounds
from booth.store import Database, Store
from booth.store.models import AuditEntry, Person, Stay

log = logging.getLogger("booth.lot.pull")

#: how far back the recent-entries cache reaches, and how often it is refreshed
RECENT_DAYS = 7
RECENT_EVERY_S = 30.0
#: the people's changes the "latest wins" rules read from the audit (at any booth): disabled or enabled, a new
#: PIN, and a new display name
PERSON_EVENTS = ("person_disabled", "person_enabled")
PIN_EVENTS = ("pin_changed",)
RENAME_EVENTS = ("person_renamed",)
ALL_PERSON_EVENTS = PERSON_EVENTS + PIN_EVENTS + RENAME_EVENTS
#: how many order ids one question to the server carries
CHUNK = 500


@dataclass(frozen=True, slots=True)
class RecentEntry:
    """An open stay of another booth, as the exit's lookup needs it to import the stay here."""

    plate: str
    order_id: str
    entry_at: datetime
    entry_lane: str
    plate_colour: str
    vehicle_class: str
    booth_id: str  # the booth whose row this is
    origin_booth: str  # the booth the car entered at (booth_id, unless the row is an imported copy)


class RecentEntries:
    """The lot's recent entries at other booths, in memory: ``find(plate)`` from any thread, never waits on
    the server (``refresh`` does, on the puller's thread). Replaced whole at each refresh."""

    def __init__(
        self,
        lot: Engine,
        booth_id: str,
        *,
        days: int = RECENT_DAYS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._lot = lot
        self._booth_id = booth_id
        self._days = days
        self._clock = clock
        self._by_plate: dict[str, tuple[RecentEntry, ...]] = {}
        self._forgotten: set[str] = set()
        self._lock = threading.Lock()
        self.refreshed_at: datetime | None = None

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_plate.values())

    def find(self, plate: str) -> RecentEntry | None:
        """The newest open stay of this plate at another booth, as of the last refresh; None if none."""
        with self._lock:
            for entry in self._by_plate.get(plate, ()):
                if entry.order_id not in self._forgotten:
                    return entry
        return None

    def forget(self, order_id: str) -> None:
        """This stay is settled here (imported, closed): not offered again until the server says otherwise."""
        with self._lock:
            self._forgotten.add(order_id)

    def refresh(self) -> int:
        """Read the lot's recent open entries of other booths whose order id is closed nowhere; how many."""
        stays = MIRRORS["stays"]
        closed = aliased(stays)
        origin = func.coalesce(stays.c.origin_booth, stays.c.booth_id)
        since = self._clock() - timedelta(days=self._days)
        query = (
            select(
                stays.c.plate,
                stays.c.order_id,
                stays.c.entry_at,
                stays.c.entry_lane,
                stays.c.plate_colour,
                stays.c.vehicle_class,
                stays.c.booth_id,
                origin,
            )
            .where(
                stays.c.booth_id != self._booth_id,
                origin != self._booth_id,  # (a copy of a stay entered here is not another booth's entry)
                stays.c.state == "in_lot",
                stays.c.entry_at >= since,
                ~exists().where(and_(closed.c.order_id == stays.c.order_id, closed.c.state != "in_lot")),
            )
            # newest first; of one stay's rows, the entry booth's own before an imported copy
            .order_by(
                stays.c.entry_at.desc(), stays.c.origin_booth.is_not(None), stays.c.booth_id, stays.c.id
            )
        )
        with self._lot.connect() as connection:
            rows = connection.execute(query).all()
        by_plate: dict[str, list[RecentEntry]] = {}
        seen: set[str] = set()
        for row in rows:
            if row.order_id in seen:  # the entry booth's stay and imported copies of it: one stay
                continue
            seen.add(row.order_id)
            by_plate.setdefault(row.plate, []).append(RecentEntry(*row))
        with self._lock:
            self._by_plate = {plate: tuple(entries) for plate, entries in by_plate.items()}
            self._forgotten &= seen
            self.refreshed_at = self._clock()
        return len(seen)


@dataclass(frozen=True, slots=True)
class PullResult:
    closed: int  # local stays closed because they left at another booth
    people_added: int
    people_changed: int  # disabled, enabled, given a new PIN or renamed after another booth
    released: int = 0  # local stays closed because another booth let their car out as no_stay


class LotPuller:
    """Takes the lot's closes and people into this booth's store (``pull_once``) and keeps ``recent``
    fresh; ``start`` runs both on a thread until ``stop``."""

    def __init__(
        self,
        database: Database,
        lot: Engine,
        booth_id: str,
        *,
        interval_s: float = 5.0,
        round_deadline_s: float | None = None,  # None: booth.lot.server.ROUND_DEADLINE_S
        recent_every_s: float = RECENT_EVERY_S,
        clock: Callable[[], datetime] = utc_now,
        local_write: LocalWrite | None = None,
        price: Pricing | None = None,
        exit_items: ExitItems | None = None,
    ) -> None:
        self._db = database
        self._store = Store(database, clock=clock)
        self._price = price  # the fee a stay released elsewhere would have owed, for the supervisor
        self._exit_items = exit_items  # what its close queues for the clouds (Bolink outpark, Tmall leave)
        self._lot = lot
        self.booth_id = booth_id
        self._interval = interval_s
        self._recent_every = recent_every_s
        self._clock = clock
        self._local_write: LocalWrite = local_write or (lambda fn: fn())
        self.recent = RecentEntries(lot, booth_id, clock=clock)
        #: the thread's round on the server is abandoned after round_deadline_s (booth.lot.server.Rounds)
        self._rounds = Rounds(round_deadline_s)
        self.last_error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ rounds
    def pull_once(self) -> PullResult:
        closed = self.close_stays_closed_elsewhere()
        released = self.close_stays_released_elsewhere()
        added, changed = self.take_people()
        return PullResult(closed, added, changed, released)

    def close_stays_released_elsewhere(self) -> int:
        """Stays open here whose car another booth let out as no_stay (booth.lot.released): claimed for the
        supervisor on the server, closed here with that booth's lane and release time."""
        order_ids = close_stays_released_elsewhere(
            self._db,
            self._store,
            self._lot,
            self.booth_id,
            now=self._clock(),
            local_write=self._local_write,
            price=self._price,
            exit_items=self._exit_items,
        )
        for order_id in order_ids:
            self.recent.forget(order_id)
        return len(order_ids)

    def close_stays_closed_elsewhere(self) -> int:
        with self._db.read_engine.connect() as local:
            open_here = {
                order_id: stay_id
                for stay_id, order_id in local.execute(
                    select(Stay.id, Stay.order_id).where(Stay.state == "in_lot")
                )
            }
        if not open_here:
            return 0
        stays = MIRRORS["stays"]
        exits: dict[str, tuple[str, datetime, str]] = {}
        order_ids = sorted(open_here)
        with self._lot.connect() as connection:
            for start in range(0, len(order_ids), CHUNK):
                rows = connection.execute(
                    select(stays.c.order_id, stays.c.exit_lane, stays.c.exit_at, stays.c.booth_id)
                    .where(
                        stays.c.order_id.in_(order_ids[start : start + CHUNK]),
                        stays.c.state == "exited",
                        stays.c.booth_id != self.booth_id,
                        stays.c.exit_at.is_not(None),
                        stays.c.exit_lane.is_not(None),
                    )
                    .order_by(stays.c.exit_at, stays.c.booth_id)
                )
                for order_id, lane, at, booth in rows:
                    exits.setdefault(order_id, (lane, at, booth))  # the first exit, if two booths closed it
        for order_id, (lane, at, booth) in sorted(exits.items(), key=lambda item: item[1][1]):
            stay_id = open_here[order_id]
            self._local_write(partial(self._store.close_stay, stay_id, lane_id=lane, exit_at=at))
            self.recent.forget(order_id)
            log.info("stay %s (%s) left at booth %s lane %s: closed here", stay_id, order_id, booth, lane)
        return len(exits)

    def take_people(self) -> tuple[int, int]:
        people, audit = MIRRORS["people"], MIRRORS["audit_log"]
        with self._lot.connect() as connection:
            theirs = connection.execute(
                select(people)
                .where(people.c.booth_id != self.booth_id)
                .order_by(people.c.created_at, people.c.booth_id, people.c.id)
            ).all()
            events = connection.execute(
                select(
                    audit.c.at, audit.c.action, audit.c.actor, audit.c.detail_json, audit.c.booth_id
                ).where(audit.c.action.in_(ALL_PERSON_EVENTS), audit.c.booth_id != self.booth_id)
            ).all()
        latest = _Latest()
        for at, action, actor, detail, booth in events:
            latest.note(at, action, actor, detail, booth)
        return self._local_write(lambda: self._apply_people(theirs, latest))

    def _apply_people(self, theirs: Sequence[Any], latest: _Latest) -> tuple[int, int]:
        now = self._clock()
        added = changed = 0
        with self._db.sessionmaker.begin() as session:
            here = {p.username: p for p in session.scalars(select(Person))}
            for at, action, actor, detail in session.execute(
                select(AuditEntry.at, AuditEntry.action, AuditEntry.actor, AuditEntry.detail_json).where(
                    AuditEntry.action.in_(ALL_PERSON_EVENTS)
                )
            ):
                latest.note(at, action, actor, detail, self.booth_id)
            for row in theirs:
                if row.username in here:
                    continue
                person = Person(
                    username=row.username,
                    display_name=row.display_name,
                    role=row.role,
                    pin_hash=row.pin_hash,
                    failed_pins=0,
                    locked_until=None,
                    disabled_at=row.disabled_at,
                    disabled_by=row.disabled_by,
                    created_at=row.created_at,
                    created_by=row.created_by,
                )
                session.add(person)
                here[row.username] = person
                _audit(session, now, "lot_person_added", row.username, row.booth_id)
                added += 1
            for username, (at, action, actor, booth) in latest.state.items():
                known = here.get(username)
                if known is None or booth == self.booth_id:
                    continue
                person = known
                if action == "person_disabled" and person.disabled_at is None:
                    person.disabled_at, person.disabled_by = at, actor
                    _audit(session, now, "lot_person_disabled", username, booth)
                    changed += 1
                elif (
                    action == "person_enabled" and person.disabled_at is not None and person.disabled_at < at
                ):
                    person.disabled_at = person.disabled_by = None
                    person.failed_pins, person.locked_until = 0, None
                    _audit(session, now, "lot_person_enabled", username, booth)
                    changed += 1
            # a new PIN: the newest pin_changed at any booth wins; its booth's row has the hash
            hashes = {(row.booth_id, row.username): row.pin_hash for row in theirs}
            for username, (_, _, _, booth) in latest.pin.items():
                known = here.get(username)
                pin_hash = hashes.get((booth, username))
                if known is None or booth == self.booth_id or pin_hash is None or known.pin_hash == pin_hash:
                    continue
                known.pin_hash, known.failed_pins, known.locked_until = pin_hash, 0, None
                _audit(session, now, "lot_pin_changed", username, booth)
                changed += 1
            # a new display name: the newest person_renamed at any booth wins, with the name its entry gives
            for username, (_, _, name, booth) in latest.name.items():
                known = here.get(username)
                if known is None or booth == self.booth_id or not name or known.display_name == name:
                    continue
                known.display_name = name
                _audit(session, now, "lot_person_renamed", username, booth)
                changed += 1
        return added, changed

    def refresh_recent(self) -> int:
        return self.recent.refresh()

    # -------------------------------------------------------------------------------------- the thread
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lot-pull-{self.booth_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread; its round's reads from the server are abandoned at once (a stop never waits on
        them), a write into the store under way finishes."""
        self._stop.set()
        self._rounds.abandon("the booth stops")
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the lot puller did not stop within %.1f s", timeout)
            self._thread = None

    def _run(self) -> None:
        next_recent = 0.0
        while not self._stop.is_set():
            try:
                with self._rounds("the pull"):  # (what it reads from the server, under one deadline)
                    if time.monotonic() >= next_recent:
                        self.recent.refresh()
                        next_recent = time.monotonic() + self._recent_every
                    self.pull_once()
                self.last_error = ""
            except Exception as exc:  # the server down: the next round tries again
                if not self.last_error:
                    log.warning("lot pull failed: %s", one_line(exc))
                self.last_error = one_line(exc)
            self._stop.wait(self._interval)


#: one audit entry a "latest wins" rule reads: (at, action, actor, or for a rename the new name, booth)
_Event = tuple[datetime, str, str, str]


class _Latest:
    """The newest person event of each kind per username, at any booth: ``state`` (disabled / enabled),
    ``pin`` (a new PIN), ``name`` (renamed; the event's third field is the new display name)."""

    def __init__(self) -> None:
        self.state: dict[str, _Event] = {}
        self.pin: dict[str, _Event] = {}
        self.name: dict[str, _Event] = {}

    def note(self, at: datetime, action: str, actor: str, detail_json: str, booth: str) -> None:
        detail = _detail(detail_json)
        if action in RENAME_EVENTS:
            _newer(self.name, _text(detail, "username"), (at, action, _text(detail, "display_name"), booth))
        elif action in PIN_EVENTS:
            _newer(self.pin, _text(detail, "username"), (at, action, actor, booth))
        else:
            _newer(self.state, _text(detail, "username"), (at, action, actor, booth))


def _detail(detail_json: str) -> dict[str, Any]:
    try:
        detail = json.loads(detail_json)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _text(detail: dict[str, Any], key: str) -> str:
    value = detail.get(key)
    return value if isinstance(value, str) else ""


def _newer(latest: dict[str, _Event], username: str, event: _Event) -> None:
    """Keep the newer of two events; at the same instant the greater booth id, so that every booth picks the
    same one (otherwise two booths could each take the other's)."""
    kept = latest.get(username)
    if username and (kept is None or (event[0], event[3]) > (kept[0], kept[3])):
        latest[username] = event


def _audit(session: Session, at: datetime, action: str, username: str, booth: str) -> None:
    detail = json.dumps({"username": username, "booth": booth}, ensure_ascii=False, sort_keys=True)
    session.add(AuditEntry(at=at, actor="lot", action=action, detail_json=detail))
