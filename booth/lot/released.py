"""A car let out with no stay at one booth, matched to its open stay at another (issue #18, lot rule
``released_without_stay``).

While the lot server is away, an exit booth does not know the stays entered at other booths after its last
refresh of the recent entries. Such a car goes to the attendant as ``no_stay`` and is let out by a free
release (or a manual lift at an exit lane), recorded as a lane exception with the plate and no stay. Its stay
stays open at the entry booth. Once both sides are on the server, the entry booth's pull matches them:

- a **release** is a ``lot_lane_exceptions`` row of another booth with a plate and no ``stay_id``: a
  ``free_release`` (only exit lanes record one), or a ``manual_lift`` at a lane where its booth never
  entered a stay (a lift at an entry lane lets a car *in*);
- its **stay** is the newest open stay of that plate in the lot (the entry booth's own row, its order id
  closed at no booth, not named by an earlier match) entered strictly **before** the release. A stay
  entered after the release is never touched;
- when that stay is this booth's and still open here, this booth **claims** the release on the server: one
  ``lot_conflicts`` row (rule ``released_without_stay``, subject ``<release booth>:<exception id>``), with
  both sides and the fee the stay would have owed at the release, priced here with this booth's tariff, for
  the supervisor to decide. The fee is never charged: no exit order, no payment;
- then the stay is closed here (``Store.close_stay_released_elsewhere``: exited at the release's lane and
  time, audited ``lot_released_without_stay``). The close journals itself and is pushed back;
- with ``exit_items`` (the engine's), the close also queues, in its own transaction, what this booth owes
  the clouds for that exit: it sent the stay's Bolink ``inpark`` (and Tmall ``arrive``), and the release
  booth had no order to report. Bolink's ``outpark`` is queued as a free release queues it (``pay_type``
  "free", total 0: never charged; ``out_time`` the release's time), so that Bolink does not keep the car in
  the park for ever. Its ``out_channel_id`` is the release lane's id: the car left by that lane, whose
  Bolink channel is set only at the release booth (the lot server holds lane ids, not channels) and which
  Booth's configurations name as the lane's id; an empty channel is refused and a channel of this booth
  would tell Bolink the car left by a lane it never used (booth.engine.payments.released_elsewhere_outpark
  says more). Tmall's ``leave`` backflow is queued when Tmall wants it (``CloudSync.exit_items``). A close
  that finds the stay closed queues nothing, so each is queued once.

Exactly once: one claim per release (``ON CONFLICT (rule, subject) DO NOTHING``), a stay named by a claim is
never matched again, and every booth's matches of one plate run under a transaction advisory lock of that
plate. The close is idempotent, and runs for every claim naming a stay of this booth still open here, so a
crash between the claim and the close is finished by the next pull.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, cast, exists, func, literal, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from booth.domain.tariff import TariffError, TariffSettings, quote_fee
from booth.lot.schema import MIRRORS, lot_conflicts
from booth.store import Database, Store
from booth.store.models import Stay
from booth.store.records import OutboxItem, StayRecord

log = logging.getLogger("booth.lot.released")

RELEASED_WITHOUT_STAY = "released_without_stay"
#: the first key of the matches' advisory locks ("LOTR"); the second is the plate's hash
RELEASE_LOCK_CLASS = 0x4C4F5452
#: how many plates one question to the server carries
CHUNK = 500

#: what a stay would have owed had it left at a moment (None: it cannot be priced here)
Pricing = Callable[[StayRecord, datetime], "int | None"]
LocalWrite = Callable[[Callable[[], Any]], Any]
#: what this booth queues for the clouds when a stay leaves at another booth's lane at a moment, called as
#: ``exit_items(stay, at, lane_id)`` on the database thread (the engine's: Tmall's ``leave`` from
#: CloudSync.exit_items, Bolink's ``outpark`` from booth.engine.payments.released_elsewhere_outpark)
ExitItems = Callable[[StayRecord, datetime, str], Sequence[OutboxItem]]


@dataclass(frozen=True, slots=True)
class Release:
    """A lane exception of another booth that let a car with this plate out without a stay."""

    booth_id: str
    id: int
    kind: str
    lane_id: str
    plate: str
    at: datetime
    reason: str
    operator: str

    @property
    def subject(self) -> str:
        return f"{self.booth_id}:{self.id}"


def tariff_pricing(store: Store, tariff: TariffSettings, zone: ZoneInfo) -> Pricing:
    """The fee a stay would have owed at ``at``, as this booth's exit would have quoted it: its tariff from
    entry to ``at``, less the money counted for it (the store's read; any thread)."""

    def price(stay: StayRecord, at: datetime) -> int | None:
        payments = store.counted_payments(stay.id)
        try:
            quote = quote_fee(
                tariff,
                plate=stay.plate,
                colour=stay.plate_colour,
                entry=stay.entry_at,
                exit=max(at, stay.entry_at),
                tz=zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
        except TariffError as exc:
            log.warning("stay %s cannot be priced for the supervisor: %s", stay.order_id, exc)
            return None
        return quote.due_fen

    return price


def close_stays_released_elsewhere(
    database: Database,
    store: Store,
    lot: Engine,
    booth_id: str,
    *,
    now: datetime,
    local_write: LocalWrite,
    price: Pricing | None = None,
    exit_items: ExitItems | None = None,
) -> list[str]:
    """Match the releases of other booths to this booth's open stays (claims on the server), then close
    every claimed stay still open here, with ``exit_items``'s outbox rows; the order ids closed."""
    open_here = _open_stays_entered_here(database)
    if not open_here:
        return []
    by_plate: dict[str, list[tuple[int, str]]] = {}
    for stay_id, (order_id, plate) in open_here.items():
        by_plate.setdefault(plate, []).append((stay_id, order_id))
    for release in _unclaimed_releases(lot, booth_id, sorted(by_plate)):
        _claim(lot, booth_id, release, open_here, store, now, price)
    closed: list[str] = []
    for release, stay_id, order_id in _claims_of(lot, booth_id):
        if open_here.get(stay_id, ("", ""))[0] != order_id:
            continue  # closed here already (this rule, or a lane since), or not this stay any more
        detail = {
            "booth": release.booth_id,
            "lane_exception_id": release.id,
            "kind": release.kind,
            "lane_id": release.lane_id,
            "at": release.at.isoformat(),
        }
        done = local_write(partial(_close, store, stay_id, release, detail, exit_items))
        if done:
            closed.append(order_id)
            log.info(
                "stay %s (%s) released without its stay at booth %s lane %s at %s: closed here",
                stay_id,
                order_id,
                release.booth_id,
                release.lane_id,
                release.at.isoformat(),
            )
    return closed


def _close(
    store: Store, stay_id: int, release: Release, detail: dict[str, Any], exit_items: ExitItems | None
) -> bool:
    """On the database thread: the stay closed with the release's lane and time, and the clouds' rows of its
    exit (Bolink's outpark, Tmall's leave) queued in the same transaction, built from the stay as it is now
    (none once it has left; the store queues them only when it closes the stay)."""
    items: Sequence[OutboxItem] = ()
    if exit_items is not None:
        stay = store.stay_by_id(stay_id)
        if stay is not None:
            items = exit_items(stay, release.at, release.lane_id)
    return store.close_stay_released_elsewhere(
        stay_id, lane_id=release.lane_id, exit_at=release.at, detail=detail, outbox=items
    )


def _open_stays_entered_here(database: Database) -> dict[int, tuple[str, str]]:
    """stay id -> (order id, plate), of the stays entered here and still in the lot (an imported copy is
    closed by the pull's "closed elsewhere" once its entry booth closes it)."""
    with database.read_engine.connect() as local:
        rows = local.execute(
            select(Stay.id, Stay.order_id, Stay.plate).where(
                Stay.state == "in_lot", Stay.origin_booth.is_(None)
            )
        )
        return {int(stay_id): (order_id, plate) for stay_id, order_id, plate in rows}


def _release_filter(booth_id: str) -> Any:
    exceptions, stays = MIRRORS["lane_exceptions"], MIRRORS["stays"]
    entered_at_lane = exists().where(
        and_(
            stays.c.booth_id == exceptions.c.booth_id,
            stays.c.entry_lane == exceptions.c.lane_id,
            stays.c.origin_booth.is_(None),
        )
    )
    return and_(
        exceptions.c.booth_id != booth_id,
        exceptions.c.stay_id.is_(None),
        exceptions.c.plate.is_not(None),
        (exceptions.c.kind == "free_release") | and_(exceptions.c.kind == "manual_lift", ~entered_at_lane),
    )


def _subject_of(exceptions: Any) -> Any:
    return func.concat(exceptions.c.booth_id, literal(":"), exceptions.c.id)


def _unclaimed_releases(lot: Engine, booth_id: str, plates: list[str]) -> list[Release]:
    exceptions = MIRRORS["lane_exceptions"]
    claimed = exists().where(
        and_(
            lot_conflicts.c.rule == RELEASED_WITHOUT_STAY, lot_conflicts.c.subject == _subject_of(exceptions)
        )
    )
    found: list[Release] = []
    with lot.connect() as connection:
        for start in range(0, len(plates), CHUNK):
            rows = connection.execute(
                select(*_release_columns(exceptions))
                .where(
                    _release_filter(booth_id), exceptions.c.plate.in_(plates[start : start + CHUNK]), ~claimed
                )
                .order_by(exceptions.c.at, exceptions.c.booth_id, exceptions.c.id)
            ).all()
            found += [Release(*row) for row in rows]
    found.sort(key=lambda r: (r.at, r.booth_id, r.id))
    return found


def _release_columns(exceptions: Any) -> tuple[Any, ...]:
    c = exceptions.c
    return (c.booth_id, c.id, c.kind, c.lane_id, c.plate, c.at, c.reason, c.operator)


def _claim(
    lot: Engine,
    booth_id: str,
    release: Release,
    open_here: dict[int, tuple[str, str]],
    store: Store,
    now: datetime,
    price: Pricing | None,
) -> bool:
    """Claim ``release`` for this booth's stay it matches, if it matches one that is open here."""
    stays = MIRRORS["stays"]
    closed = stays.alias("closed")
    with lot.begin() as connection:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :key)"),
            {"cls": RELEASE_LOCK_CLASS, "key": _plate_key(release.plate)},
        )
        if _is_claimed(connection, release.subject):
            return False
        named = _claimed_order_ids(connection, release.plate)
        query = (
            select(stays.c.booth_id, stays.c.id, stays.c.order_id, stays.c.entry_lane, stays.c.entry_at)
            .where(
                stays.c.plate == release.plate,
                stays.c.state == "in_lot",
                stays.c.origin_booth.is_(None),
                stays.c.entry_at < release.at,
                ~exists().where(and_(closed.c.order_id == stays.c.order_id, closed.c.state != "in_lot")),
            )
            .order_by(stays.c.entry_at.desc(), stays.c.booth_id, stays.c.id.desc())
        )
        if named:
            query = query.where(stays.c.order_id.not_in(named))
        match = connection.execute(query.limit(1)).first()
        if match is None:
            return False
        stay_booth, stay_id, order_id, entry_lane, entry_at = match
        if stay_booth != booth_id or open_here.get(int(stay_id), ("", ""))[0] != order_id:
            return False  # another booth's stay, or this one's mirror is behind: its next pull decides
        stay = store.stay_by_id(int(stay_id))
        fee = None if stay is None or price is None else price(stay, release.at)
        detail = [
            {
                "side": "release",
                "booth_id": release.booth_id,
                "id": release.id,
                "kind": release.kind,
                "lane_id": release.lane_id,
                "plate": release.plate,
                "at": release.at.isoformat(),
                "reason": release.reason,
                "operator": release.operator,
            },
            {
                "side": "stay",
                "booth_id": booth_id,
                "id": int(stay_id),
                "order_id": order_id,
                "plate": release.plate,
                "entry_lane": entry_lane,
                "entry_at": entry_at.isoformat(),
                "fee_fen": fee,
            },
        ]
        result = connection.execute(
            pg_insert(lot_conflicts)
            .values(
                rule=RELEASED_WITHOUT_STAY,
                subject=release.subject,
                detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                found_at=now,
            )
            .on_conflict_do_nothing(index_elements=["rule", "subject"])
        )
        return bool(result.rowcount)


def _is_claimed(connection: Connection, subject: str) -> bool:
    found = connection.execute(
        select(lot_conflicts.c.id).where(
            lot_conflicts.c.rule == RELEASED_WITHOUT_STAY, lot_conflicts.c.subject == subject
        )
    ).first()
    return found is not None


def _claimed_order_ids(connection: Connection, plate: str) -> list[str]:
    """The order ids of this plate's stays already named by a claim (each stay is matched once)."""
    return [order_id for _, _, order_id in _claims(connection, {"side": "stay", "plate": plate})]


def _claims_of(lot: Engine, booth_id: str) -> list[tuple[Release, int, str]]:
    """Every claim naming a stay of this booth: (the release, the stay's id, its order id)."""
    with lot.connect() as connection:
        return _claims(connection, {"side": "stay", "booth_id": booth_id})


def _claims(connection: Connection, stay_side: dict[str, str]) -> list[tuple[Release, int, str]]:
    """The claims whose stay side has these values, oldest first."""
    detail = cast(lot_conflicts.c.detail_json, JSONB)
    pattern = json.dumps([stay_side], ensure_ascii=False)
    rows = connection.execute(
        select(lot_conflicts.c.detail_json)
        .where(lot_conflicts.c.rule == RELEASED_WITHOUT_STAY, detail.contains(cast(literal(pattern), JSONB)))
        .order_by(lot_conflicts.c.id)
    ).all()
    claims: list[tuple[Release, int, str]] = []
    for (detail_json,) in rows:
        sides = {side.get("side"): side for side in json.loads(detail_json) if isinstance(side, dict)}
        r, s = sides.get("release"), sides.get("stay")
        if r is None or s is None:
            continue
        release = Release(
            r["booth_id"],
            int(r["id"]),
            r["kind"],
            r["lane_id"],
            r["plate"],
            datetime.fromisoformat(r["at"]),
            r.get("reason", ""),
            r.get("operator", ""),
        )
        claims.append((release, int(s["id"]), str(s["order_id"])))
    return claims


def _plate_key(plate: str) -> int:
    digest = hashlib.blake2b(f"released:{plate}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


__all__ = [
    "RELEASED_WITHOUT_STAY",
    "ExitItems",
    "Pricing",
    "Release",
    "close_stays_released_elsewhere",
    "tariff_pricing",
]
