"""The push (issue #18) on PostgreSQL: a booth's journal caught up on the lot server, in order, exactly once,
through a crash between the server's commit and the local delete, a server that is down, and two booths
pushing at the same time."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from booth.lot.push import LotPusher, PushStatus
from booth.lot.schema import MIRRORED, lot_booths
from booth.store import Store
from tests.conftest import wait_until
from tests.lot_rig import (
    Clock,
    TcpProxy,
    assert_mirrored,
    booth_database,
    booth_day,
    journal,
    lot_server,
    push_all,
)

pytestmark = pytest.mark.postgresql


@pytest.fixture
def lot(pg_url: str) -> Iterator[Engine]:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


def count_applies(lot: Engine) -> None:
    """Count every row the server writes into a mirror (insert or update), per table."""
    with lot.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE applies (tbl text, id int, n int, PRIMARY KEY (tbl, id))")
        connection.exec_driver_sql(
            "CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO applies VALUES (TG_TABLE_NAME, NEW.id, 1) "
            "ON CONFLICT (tbl, id) DO UPDATE SET n = applies.n + 1; RETURN NEW; END $$"
        )
        for table in MIRRORED:
            connection.exec_driver_sql(
                f"CREATE TRIGGER count_apply AFTER INSERT OR UPDATE ON lot_{table} "
                "FOR EACH ROW EXECUTE FUNCTION count_apply()"
            )


def applies(lot: Engine) -> dict[tuple[str, int], int]:
    with lot.connect() as connection:
        return {(t, i): n for t, i, n in connection.exec_driver_sql("SELECT tbl, id, n FROM applies")}


def booth_row(lot: Engine, booth_id: str) -> dict[str, object]:
    with lot.connect() as connection:
        row = connection.execute(select(lot_booths).where(lot_booths.c.booth_id == booth_id)).one()
        return dict(row._mapping)


def test_a_booths_day_is_mirrored_row_for_row(tmp_path: Path, lot: Engine) -> None:
    db = booth_database(tmp_path, "a")
    clock = Clock()
    booth_day(db, "aa", clock)
    written = len(journal(db))
    pusher = LotPusher(db, lot, "booth-a", name="A", lanes=["aa-E1", "aa-X1"], batch=7, clock=clock)
    result = pusher.push_once()
    assert result.contacted and result.applied == 7 and result.behind == written - 7
    push_all(pusher)
    assert journal(db) == []
    compared = assert_mirrored(db, lot, "booth-a")
    assert compared > 20
    row = booth_row(lot, "booth-a")
    assert row["pushed_seq"] == written and row["backlog"] == 0
    assert row["lanes"] == "aa-E1,aa-X1" and row["name"] == "A"
    assert row["open_shift_id"] is None  # the day's shift was closed
    assert pusher.status.online and pusher.status.behind == 0
    assert pusher.status.describe() == "lot: online"


def server_now(lot: Engine) -> datetime:
    with lot.connect() as connection:
        return connection.execute(text("SELECT now()")).scalar_one()


def test_the_contact_on_the_server_is_its_clock_and_the_lease_counts_from_the_rounds_start(
    tmp_path: Path, lot: Engine
) -> None:
    """The booth's clock (here a fixed morning, hours from the server's) is never written as its contact: the
    server writes its own now(), which its silence checks compare with. The status's last contact (the
    relays' lease, booth clock against booth clock) is the booth's clock as the round began, before its
    transaction: a round that takes long (here: the clock moved on an hour before the status was set) does
    not stretch the lease past the contact the server holds. The lease's own contact is the same moment on
    the booth's elapsed clock (here a fake one, moved on with the wall clock), which no step of the wall
    clock moves."""
    db = booth_database(tmp_path, "a")
    clock = Clock()
    elapsed = [100.0]

    def later(seq: int) -> None:
        clock.tick(3600)
        elapsed[0] += 3600

    Store(db, clock=clock).audit(actor="x", action="a", detail={}, at=clock.now)
    began, began_elapsed = clock.now, elapsed[0]
    pusher = LotPusher(db, lot, "booth-a", clock=clock, after_commit=later, elapsed=lambda: elapsed[0])
    for _ in range(2):
        before = server_now(lot)
        assert pusher.push_once().contacted
        row = booth_row(lot, "booth-a")
        assert before <= row["last_contact_at"] <= server_now(lot)  # the server's clock
        assert pusher.status.last_contact_at == began  # the booth's, as the round began
        assert pusher.status.last_contact_mono == began_elapsed  # the lease's, as the round began
        began, began_elapsed = clock.now, elapsed[0]
    assert row["first_contact_at"] < row["last_contact_at"]


def test_a_row_changed_twice_in_one_batch_is_sent_once_in_its_latest_state(
    tmp_path: Path, lot: Engine
) -> None:
    db = booth_database(tmp_path, "a")
    clock = Clock()
    count_applies(lot)
    store = Store(db, clock=clock)
    stay = store.create_stay(
        order_id="o_1",
        plate="苏A12345",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="E1",
        entry_at=clock.now,
    )
    store.close_stay(stay.id, lane_id="X1", exit_at=clock.tick(60))
    pusher = LotPusher(db, lot, "booth-a", clock=clock)
    assert pusher.push_once().rows == 1
    assert applies(lot) == {("lot_stays", stay.id): 1}
    assert_mirrored(db, lot, "booth-a")


def test_a_crash_between_the_servers_commit_and_the_local_delete_applies_nothing_twice(
    tmp_path: Path, lot: Engine
) -> None:
    db = booth_database(tmp_path, "a")
    clock = Clock()
    booth_day(db, "aa", clock)
    count_applies(lot)
    before = journal(db)
    crashes = [True]

    def crash_once(seq: int) -> None:
        if crashes and crashes.pop():
            raise RuntimeError(f"killed after the server applied {seq}")

    pusher = LotPusher(db, lot, "booth-a", clock=clock, batch=10, after_commit=crash_once)
    with pytest.raises(RuntimeError, match="killed"):
        pusher.push_once()
    assert journal(db) == before  # the local delete never ran
    assert booth_row(lot, "booth-a")["pushed_seq"] == before[9][0]
    first = applies(lot)
    first_keys = {(f"lot_{t}", r) for _, t, r in before[:10]}
    assert first == dict.fromkeys(first_keys, 1)
    # the same batch offered again: the server has it (pushed_seq), so nothing of it is applied again, and
    # the local journal forgets it now
    replay = pusher.push_once(heartbeat=True)
    assert (replay.applied, replay.rows, replay.pushed_seq) == (0, 0, before[9][0])
    assert applies(lot) == first
    assert journal(db) == before[10:]
    # the crash again, then a new run of the booth (a new pusher knows only what the server says)
    crashes.append(True)
    with pytest.raises(RuntimeError, match="killed"):
        pusher.push_once()
    second = applies(lot)
    Store(db, clock=clock).audit(actor="x", action="after_crash", detail={}, at=clock.tick(1))
    again = LotPusher(db, lot, "booth-a", clock=clock, batch=10)
    result = again.push_once()
    assert result.applied == min(10, len(before) - 20 + 1)  # the next entries, none of the second batch
    push_all(again)
    assert journal(db) == []
    after = applies(lot)
    for key in second:  # nothing the server had was applied again, unless the booth changed it since
        changed_later = any((f"lot_{t}", r) == key for seq, t, r in before if seq > before[19][0])
        assert after[key] == second[key] + (1 if changed_later else 0), key
    assert_mirrored(db, lot, "booth-a")


def test_a_server_down_lets_the_journal_grow_and_it_catches_up_in_order(
    tmp_path: Path, lot: Engine, pg_url: str
) -> None:
    with lot.begin() as connection:  # every pushed_seq the server ever takes, in order
        connection.exec_driver_sql("CREATE TABLE seqs (n serial, seq bigint)")
        connection.exec_driver_sql(
            "CREATE FUNCTION note_seq() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO seqs (seq) VALUES (NEW.pushed_seq); RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER note_seq AFTER UPDATE ON lot_booths FOR EACH ROW EXECUTE FUNCTION note_seq()"
        )
    proxy = TcpProxy()
    proxy.start()
    through = lot_server(proxy.url(pg_url), create=False)
    db = booth_database(tmp_path, "a")
    clock = Clock()
    store = Store(db, clock=clock)
    heard: list[PushStatus] = []
    pusher = LotPusher(
        db,
        through,
        "booth-a",
        clock=clock,
        push_interval_s=0.05,
        heartbeat_s=0.2,
        backoff_max_s=0.3,
        batch=5,
        on_status=heard.append,
    )
    pusher.start()
    try:
        store.audit(actor="x", action="first", detail={}, at=clock.now)
        wait_until(lambda: pusher.status.online and not journal(db), what="the first push")
        proxy.cut()
        for n in range(12):
            store.audit(actor="x", action=f"offline_{n}", detail={}, at=clock.tick(1))
        wait_until(lambda: not pusher.status.online, what="the pusher to see the server gone")
        assert pusher.status.last_error
        assert len(journal(db)) == 12
        wait_until(lambda: pusher.status.behind == 12, what="the status to count the backlog")
        assert "offline, 12 behind" in pusher.status.describe()
        proxy.start()
        wait_until(lambda: pusher.status.online and not journal(db), timeout=15, what="the catch-up")
    finally:
        pusher.stop()
        proxy.cut()
        through.dispose()
    assert_mirrored(db, lot, "booth-a")
    # the listener heard the changes of reachability (and of the error while away), not every round
    assert [k for k, _ in itertools.groupby(h.online for h in heard)] == [True, False, True]
    assert len(heard) < 10
    with lot.connect() as connection:
        seqs = [s for (s,) in connection.exec_driver_sql("SELECT seq FROM seqs ORDER BY n")]
    assert seqs == sorted(seqs) and seqs[-1] == 13
    assert {1, 6, 11, 13} <= set(seqs)  # the backlog went in batches of 5, in order


def test_a_server_that_never_answered_is_offline_with_the_reason(tmp_path: Path) -> None:
    db = booth_database(tmp_path, "a")
    store = Store(db, clock=Clock())
    store.audit(actor="x", action="a", detail={}, at=Clock().now)
    nowhere = lot_server("postgresql://postgres@127.0.0.1:1/none", create=False)
    pusher = LotPusher(db, nowhere, "booth-a")
    with pytest.raises(OperationalError):
        pusher.push_once()
    assert not pusher.status.online and pusher.status.behind == 1
    assert "OperationalError" in pusher.status.last_error
    assert len(journal(db)) == 1


def test_a_terminated_backend_mid_run_costs_a_round_not_a_row(tmp_path: Path, lot: Engine) -> None:
    db = booth_database(tmp_path, "a")
    clock = Clock()
    store = Store(db, clock=clock)
    pusher = LotPusher(
        db, lot, "booth-a", clock=clock, push_interval_s=0.02, heartbeat_s=0.1, backoff_max_s=0.2
    )
    pusher.start()
    try:
        for n in range(30):
            store.audit(actor="x", action=f"a{n}", detail={}, at=clock.tick(1))
            if n % 10 == 5:
                with lot.connect() as connection:
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
        wait_until(lambda: pusher.status.online and not journal(db), timeout=15, what="the catch-up")
    finally:
        pusher.stop()
    assert_mirrored(db, lot, "booth-a")


def test_two_booths_pushing_at_once(tmp_path: Path, lot: Engine) -> None:
    dbs = {name: booth_database(tmp_path, name) for name in ("a", "b")}
    clocks = {name: Clock() for name in dbs}
    pushers = {
        name: LotPusher(db, lot, f"booth-{name}", clock=clocks[name], push_interval_s=0.01, batch=3)
        for name, db in dbs.items()
    }
    for pusher in pushers.values():
        pusher.start()
    try:
        workers = [
            threading.Thread(target=booth_day, args=(db, f"{name}{name}", clocks[name]), kwargs={"cars": 6})
            for name, db in dbs.items()
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wait_until(
            lambda: (
                all(p.status.online for p in pushers.values()) and not any(journal(d) for d in dbs.values())
            ),
            timeout=20,
            what="both booths caught up",
        )
    finally:
        for pusher in pushers.values():
            pusher.stop()
    for name, db in dbs.items():
        assert_mirrored(db, lot, f"booth-{name}")
    with lot.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM lot_booths")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM lot_conflicts")).scalar() == 0


def test_two_booths_pushing_the_same_trade_number_at_the_same_moment_find_it(
    tmp_path: Path, lot: Engine
) -> None:
    """Each push's check runs before the other's commit: without the checks' lock both would miss it. The
    server holds each push 0.3 s between its checks and its commit (a trigger on the booth's row) so that
    both are mid-way at once."""
    with lot.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); "
            "RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER slow AFTER UPDATE ON lot_booths FOR EACH ROW EXECUTE FUNCTION slow()"
        )
    clock = Clock()
    pushers, stores = [], []
    for name in ("a", "b"):
        db = booth_database(tmp_path, name)
        stores.append(Store(db, clock=clock))
        pushers.append(LotPusher(db, lot, name, clock=clock))
    rounds = 3
    for n in range(rounds):
        for store in stores:
            stay = store.create_stay(
                order_id=f"o_{n}",
                plate="苏A11111",
                plate_colour="blue",
                vehicle_class="small",
                lane_id="E1",
                entry_at=clock.tick(1),
            )
            store.record_payment(
                order_ref=stay.order_id,
                exit_order_id=None,
                channel="alipay",
                pay_channel=None,
                trade_no=f"T-{n}",
                amount_fen=100,
                paid_at=clock.tick(1),
                lane_id="X1",
                operator="a",
                payer_id=None,
                raw={},
                settles=False,
            )
        barrier = threading.Barrier(2)

        def push(pusher: LotPusher, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            pusher.push_once()

        threads = [threading.Thread(target=push, args=(p,)) for p in pushers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with lot.connect() as connection:
        found = connection.execute(text("SELECT rule, subject FROM lot_conflicts ORDER BY subject")).all()
    assert [tuple(r) for r in found] == [("trade_no_twice", f"T-{n}") for n in range(rounds)]


KILLED_PUSHER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from booth.lot.push import LotPusher
from booth.store import open_database
from tests.lot_rig import lot_server

db = open_database({db_url!r})
lot = lot_server({lot_url!r}, create=False)
def die(seq):
    print(seq, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # between the server's commit and the local delete
LotPusher(db, lot, "booth-a", batch=10, after_commit=die).push_once()
"""


def test_a_pusher_killed_between_the_commit_and_the_local_delete(
    tmp_path: Path, lot: Engine, pg_url: str
) -> None:
    """The same crash as above, by SIGKILL of a process of its own: its connections die with it."""
    import subprocess
    import sys

    db = booth_database(tmp_path, "a")
    clock = Clock()
    booth_day(db, "aa", clock)
    count_applies(lot)
    before = journal(db)
    script = KILLED_PUSHER.format(
        root=str(Path(__file__).resolve().parent.parent),
        db_url=f"sqlite:///{tmp_path / 'a.sqlite'}",
        lot_url=pg_url,
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    assert int(done.stdout.strip()) == before[9][0]
    assert journal(db) == before  # killed before the local delete
    assert booth_row(lot, "booth-a")["pushed_seq"] == before[9][0]
    first = applies(lot)
    assert sum(first.values()) == len({(t, r) for _, t, r in before[:10]})
    pusher = LotPusher(db, lot, "booth-a", clock=clock, batch=10)
    push_all(pusher)
    assert journal(db) == []
    after = applies(lot)
    # every row written once per batch that names it: the killed round's batch once, never again
    expected: dict[tuple[str, int], int] = {}
    for start in range(0, len(before), 10):
        for key in {(f"lot_{t}", r) for _, t, r in before[start : start + 10]}:
            expected[key] = expected.get(key, 0) + 1
    assert after == expected
    assert_mirrored(db, lot, "booth-a")


def test_a_lot_booth_tries_a_server_that_was_down_again_within_a_heartbeat(
    tmp_path: Path, lot: Engine, pg_url: str
) -> None:
    """The lot test (tests/test_lot_crash.py) found entries made during a cut unknown at the other exits for
    up to 30 s after the server was back (the pusher's own back-off cap): their lookups were told "none" by
    a server that was up, and the cars went to the attendant as no_stay. A lot booth's pusher now tries
    again at least every heartbeat_s."""
    import time

    from booth.lot.service import LotService
    from tests.conftest import engine_settings

    proxy = TcpProxy()
    proxy.start()
    settings = engine_settings(
        tmp_path, lot={"server": proxy.url(pg_url), "booth_id": "booth-a", "heartbeat_s": 1}
    )
    db = booth_database(tmp_path, "a")
    service = LotService(settings, db)
    service.pusher.start()
    try:
        wait_until(lambda: service.status.online, what="the first contact")
        proxy.cut()
        Store(db).audit(actor="x", action="during_the_cut", detail={}, at=Clock().now)
        time.sleep(8)  # failures back off 0.5, 1, 2, 4 s...: the next try would be 8 s away without the cap
        assert not service.status.online
        proxy.start()
        back = time.monotonic()
        wait_until(lambda: service.status.online and not journal(db), timeout=10, what="the catch-up")
        assert time.monotonic() - back < 2.5  # (a heartbeat, and room for a busy machine; 7.7 s before)
    finally:
        service.stop()
        proxy.cut()
    assert_mirrored(db, lot, "booth-a")


def test_a_stop_waits_on_a_silent_server_once_and_briefly(tmp_path: Path, lot: Engine, pg_url: str) -> None:
    """The server goes silent mid-round (no RST: a LAN cut). The service's stop gives the pusher's round 5 s,
    then does not try a last push: the engine's stop is not held by the lot."""
    from booth.lot.service import LotService
    from tests.conftest import engine_settings

    proxy = TcpProxy()
    proxy.start()
    settings = engine_settings(
        tmp_path, lot={"server": proxy.url(pg_url), "booth_id": "booth-a", "push_interval_s": 0.05}
    )
    db = booth_database(tmp_path, "a")
    clock = Clock()
    service = LotService(settings, db, clock=clock)
    service.start()
    try:
        store = Store(db, clock=clock)
        store.audit(actor="x", action="a", detail={}, at=clock.now)
        wait_until(lambda: service.status.online and not journal(db), what="the first push")
        proxy.freeze()
        store.audit(actor="x", action="b", detail={}, at=clock.tick(1))
        service.wake()
        time.sleep(0.5)  # the round is on its way, waiting on the server
        started = time.monotonic()
        service.stop()
        took = time.monotonic() - started
    finally:
        proxy.thaw()
        proxy.cut()
    assert 4.5 < took < 9, took  # (the round's 5 s, then the stop; room for a busy machine)
    assert len(journal(db)) == 1  # kept for the next run
