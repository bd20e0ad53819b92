"""[backup] interval_h: the running engine copies its database on a thread of its own while the lanes take
cars, keeps the newest `keep` copies, and each copy holds what was booked before it (a real SQLite file, the
Bolink sandbox, simulated gates)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from booth.store.backup import check_booth_database
from tests.conftest import RunningEngine, wait_until

INTERVAL_H = 0.4 / 3600  # a copy every 0.4 s


def _copies(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.sqlite") if p.is_file())


def test_the_engine_backs_up_on_schedule_while_cars_are_booked(
    make_engine: Callable[..., RunningEngine], tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    r = make_engine(backup={"interval_h": INTERVAL_H, "keep": 2, "folder": str(folder)})
    engine = r.engine
    entry = engine.now() - timedelta(hours=2)
    for n in range(3):
        engine.seed_stay(f"苏A{n:05d}", entry).result(5)
    seeded = {row[0] for row in r.rows("SELECT plate FROM stays")}
    assert len(seeded) == 3
    # a copy made after the stays were written holds them all. Copies are made one after another, so the
    # second to appear after the seeding began after it (the first may have been under way: a copy every
    # 0.4 s, and a slow machine took longer than that to seed the three stays; a CI rehearsal saw one)
    present = set(_copies(folder))
    first = wait_until(lambda: _copies(folder), timeout=10, what="a scheduled copy")
    wait_until(lambda: len(set(_copies(folder)) - present) >= 2, timeout=20, what="two copies after it")

    def plates(copy: Path) -> set[Any]:
        con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            return {row[0] for row in con.execute("SELECT plate FROM stays")}
        finally:
            con.close()

    newest = _copies(folder)[-1]
    check_booth_database(newest)  # a Booth database of a known schema, integrity checked
    assert plates(newest) >= seeded
    # only the newest `keep` copies stay
    wait_until(lambda: first[0] not in _copies(folder), timeout=10, what="the oldest copy pruned")
    assert len(_copies(folder)) <= 2

