"""The lot checks (issue #18): what must hold lot-wide, checked on the server inside each push.

The mirrors have no lot-wide unique keys (a booth's rows never fail to apply because of another booth's),
so a breach is found after the fact and kept in ``lot_conflicts`` for the supervisor; a push is never
refused. The rules:

- ``trade_no_twice``: one payment provider's transaction number (non-null ``trade_no``) booked at two
  booths: the same money counted twice lot-wide.
- ``stay_closed_twice``: one stay (its Bolink ``order_id``) closed (``exited``) at two booths with a different
  exit lane or time: the car was let out twice, or two cars share the stay. A copy closed by the pull
  ("closed elsewhere") takes the other booth's exit lane and time, so it is not a breach.

Each subject is checked under a transaction advisory lock of its own (taken in one order), so two booths
pushing the two halves of a breach at the same moment cannot both miss it: the second to take the lock
reads the first's committed rows. ``ON CONFLICT (rule, subject) DO NOTHING`` keeps one row per breach.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from booth.lot.schema import MIRRORS, lot_conflicts

TRADE_NO_TWICE = "trade_no_twice"
STAY_CLOSED_TWICE = "stay_closed_twice"
RULES = (TRADE_NO_TWICE, STAY_CLOSED_TWICE)
#: the first key of the checks' advisory locks ("LOTC"); the second is the subject's hash
CHECK_LOCK_CLASS = 0x4C4F5443


def run_checks(
    connection: Connection, booth_id: str, rows: Mapping[str, Sequence[Mapping[str, Any]]], now: datetime
) -> int:
    """Check what one push upserted (``rows``: table -> snapshots); how many conflicts were added."""
    trade_nos = sorted({r["trade_no"] for r in rows.get("payments", ()) if r.get("trade_no")})
    order_ids = sorted({r["order_id"] for r in rows.get("stays", ()) if r.get("state") == "exited"})
    subjects = [(TRADE_NO_TWICE, t) for t in trade_nos] + [(STAY_CLOSED_TWICE, o) for o in order_ids]
    if not subjects:
        return 0
    _lock_subjects(connection, subjects)
    added = 0
    if trade_nos:
        added += _trade_no_twice(connection, trade_nos, now)
    if order_ids:
        added += _stay_closed_twice(connection, order_ids, now)
    return added


def _lock_subjects(connection: Connection, subjects: list[tuple[str, str]]) -> None:
    """One transaction lock per subject, taken in one statement and in one order (every pusher sorts the
    same way, so two never wait on each other in a cycle)."""
    keys = sorted({_subject_key(rule, subject) for rule, subject in subjects})
    connection.execute(
        text("SELECT count(pg_advisory_xact_lock(:cls, k)) FROM unnest(CAST(:keys AS integer[])) AS k"),
        {"cls": CHECK_LOCK_CLASS, "keys": keys},
    )


def _subject_key(rule: str, subject: str) -> int:
    """A subject's lock key: a signed 32-bit hash (a collision only makes two subjects wait on each other)."""
    digest = hashlib.blake2b(f"{rule}:{subject}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _trade_no_twice(connection: Connection, trade_nos: list[str], now: datetime) -> int:
    payments = MIRRORS["payments"]
    found = connection.execute(
        select(
            payments.c.trade_no,
            payments.c.booth_id,
            payments.c.id,
            payments.c.amount_fen,
            payments.c.paid_at,
            payments.c.lane_id,
        )
        .where(payments.c.trade_no.in_(trade_nos))
        .order_by(payments.c.trade_no, payments.c.booth_id, payments.c.id)
    ).all()
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for trade_no, booth, row_id, amount, paid_at, lane in found:
        by_subject.setdefault(trade_no, []).append(
            {"booth_id": booth, "id": row_id, "amount_fen": amount, "paid_at": _iso(paid_at), "lane_id": lane}
        )
    return _record(connection, TRADE_NO_TWICE, by_subject, now)


def _stay_closed_twice(connection: Connection, order_ids: list[str], now: datetime) -> int:
    stays = MIRRORS["stays"]
    found = connection.execute(
        select(
            stays.c.order_id, stays.c.booth_id, stays.c.id, stays.c.plate, stays.c.exit_lane, stays.c.exit_at
        )
        .where(stays.c.order_id.in_(order_ids), stays.c.state == "exited")
        .order_by(stays.c.order_id, stays.c.booth_id, stays.c.id)
    ).all()
    by_subject: dict[str, list[dict[str, Any]]] = {}
    exits: dict[str, set[tuple[Any, Any]]] = {}
    for order_id, booth, row_id, plate, exit_lane, exit_at in found:
        by_subject.setdefault(order_id, []).append(
            {
                "booth_id": booth,
                "id": row_id,
                "plate": plate,
                "exit_lane": exit_lane,
                "exit_at": _iso(exit_at),
            }
        )
        exits.setdefault(order_id, set()).add((exit_lane, exit_at))
    breaches = {k: v for k, v in by_subject.items() if len(exits[k]) > 1}
    return _record(connection, STAY_CLOSED_TWICE, breaches, now)


def _record(
    connection: Connection, rule: str, by_subject: dict[str, list[dict[str, Any]]], now: datetime
) -> int:
    added = 0
    for subject, involved in by_subject.items():
        if len({row["booth_id"] for row in involved}) < 2:
            continue
        result = connection.execute(
            pg_insert(lot_conflicts)
            .values(
                rule=rule,
                subject=subject,
                detail_json=json.dumps(involved, ensure_ascii=False, sort_keys=True),
                found_at=now,
            )
            .on_conflict_do_nothing(index_elements=["rule", "subject"])
        )
        added += int(result.rowcount or 0)
    return added


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
