"""A lot query whose answer never comes (issue #18, the lot test's "left undone"): a path to the server that
acknowledges every byte and answers none (tests/lot_rig.TcpProxy.black_hole) hung the pusher, the puller and
the lookup's worker for good. Each round now has a client-side deadline (booth.lot.server.RoundDeadline):
past it the round's connection is shut down under libpq, the round fails like any server error, and the
next one connects afresh."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from booth.lot.lookup import LotStays, LotUnreachable
from booth.lot.service import LotService
from booth.store import Store
from tests.conftest import engine_settings, wait_until
from tests.lot_rig import Clock, TcpProxy, assert_mirrored, booth_database, journal, lot_server
from tests.test_lot_lookup import LotRows
from tests.test_lot_push import applies, count_applies

pytestmark = pytest.mark.postgresql

PLATE = "苏E12345"


@pytest.fixture
def lot(pg_url: str) -> Iterator[Engine]:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy()
    proxy.start()
    yield proxy
    proxy.restore()
    proxy.cut()


def lot_threads(booth_id: str) -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name in (f"lot-push-{booth_id}", f"lot-pull-{booth_id}")
    ]


def test_the_pusher_the_puller_and_the_lookup_abandon_a_black_holed_round_and_recover(
    tmp_path: Path, lot: Engine, pg_url: str, proxy: TcpProxy
) -> None:
    count_applies(lot)
    rows = LotRows(pg_url)
    rows.stay("booth-b", PLATE, "b_order_1", entry_at=datetime(2026, 12, 3, 7, 0, tzinfo=UTC))
    rows.close()
    settings = engine_settings(
        tmp_path,
        lot={"server": proxy.url(pg_url), "booth_id": "booth-a", "heartbeat_s": 1, "push_interval_s": 0.05},
    )
    db = booth_database(tmp_path, "a")
    clock = Clock()
    store = Store(db, clock=clock)
    deadline_s = 2.0
    service = LotService(settings, db, clock=clock, round_deadline_s=deadline_s)
    lookup = LotStays(proxy.url(pg_url), "booth-a", query_timeout_ms=300, connect_timeout_s=2)
    service.start()
    try:
        store.audit(actor="x", action="before", detail={}, at=clock.now)
        wait_until(lambda: service.status.online and not journal(db), what="the first push")
        wait_until(lambda: service.puller.recent.refreshed_at is not None, what="the first pull")
        found = lookup.ask_server(PLATE)
        assert found is not None and found.order_id == "b_order_1"

        proxy.black_hole()
        holed = time.monotonic()
        for n in range(5):
            store.audit(actor="x", action="in_the_hole", detail={"n": n}, at=clock.tick(1))
        service.wake()
        with pytest.raises(LotUnreachable, match="did not answer within 300 ms"):
            lookup.ask_server(PLATE)
        stuck = lookup._stuck
        assert stuck is not None and not stuck.done()
        # each stuck thread is freed by its deadline: the lookup's (query_timeout_ms + 1 s), the rounds'
        wait_until(stuck.done, timeout=3, what="the lookup's worker freed")
        lookup_freed = time.monotonic() - holed
        wait_until(
            lambda: not service.status.online and "abandoned" in service.status.last_error,
            timeout=deadline_s + 3,
            what="the push round abandoned",
        )
        push_abandoned = time.monotonic() - holed
        wait_until(
            lambda: "abandoned" in service.puller.last_error, timeout=deadline_s + 3, what="the pull's"
        )
        pull_abandoned = time.monotonic() - holed
        assert len(journal(db)) == 5  # nothing of the abandoned round was taken as pushed
        time.sleep(2)  # (a while in the hole: rounds abandoned again, connections made into it)

        proxy.restore()
        back = time.monotonic()
        wait_until(lambda: service.status.online and not journal(db), timeout=10, what="the push back")
        push_back = time.monotonic() - back
        wait_until(lambda: service.puller.last_error == "", timeout=10, what="the pull back")
        pull_back = time.monotonic() - back

        def answered() -> bool:
            try:
                return lookup.ask_server(PLATE) is not None
            except LotUnreachable:
                return False

        wait_until(answered, timeout=10, what="the lookup back")
        lookup_back = time.monotonic() - back
        print(
            f"abandoned after {lookup_freed:.2f} / {push_abandoned:.2f} / {pull_abandoned:.2f} s "
            f"(lookup / push / pull); back after {push_back:.2f} / {pull_back:.2f} / {lookup_back:.2f} s "
            f"(push / pull / lookup)"
        )
        assert max(push_back, pull_back, lookup_back) < 6
    finally:
        service.stop()
        lookup.close()
    assert_mirrored(db, lot, "booth-a")
    assert set(applies(lot).values()) == {1}  # every row written once on the server: nothing pushed twice


def test_a_stop_is_not_held_by_a_black_holed_round(
    tmp_path: Path, lot: Engine, pg_url: str, proxy: TcpProxy
) -> None:
    """The server's answers stop coming mid-round (the default deadline, 8 s, is still far). The pusher's
    round gets its 5 s and is then abandoned, the puller's at once: the service stops in about 5 s and
    neither thread is left waiting."""
    settings = engine_settings(
        tmp_path,
        lot={"server": proxy.url(pg_url), "booth_id": "booth-a", "heartbeat_s": 1, "push_interval_s": 0.05},
    )
    db = booth_database(tmp_path, "a")
    clock = Clock()
    service = LotService(settings, db, clock=clock)
    service.start()
    store = Store(db, clock=clock)
    store.audit(actor="x", action="a", detail={}, at=clock.now)
    wait_until(lambda: service.status.online and not journal(db), what="the first push")
    proxy.black_hole()
    store.audit(actor="x", action="b", detail={}, at=clock.tick(1))
    service.wake()
    time.sleep(1.5)  # the push round and a pull round are on their way, into the hole
    started = time.monotonic()
    service.stop()
    took = time.monotonic() - started
    wait_until(lambda: not lot_threads("booth-a"), timeout=1, what="the lot threads ended")
    assert 4.5 < took < 6.5, took
    assert len(journal(db)) == 1  # kept for the next run
