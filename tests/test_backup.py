"""`booth backup` while a real booth (another process) takes traffic, `booth restore` with Booth stopped, and
the [backup] schedule on a thread of its own: nothing booked before a backup is missing from it."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from booth.cli.main import main
from booth.store import StoreError, open_database
from booth.store.backup import (
    BackupSchedule,
    backup_database,
    check_booth_database,
    exclusive_database,
    prune_scheduled,
    restore_database,
)
from booth.store.db import SCHEMA_HEAD
from tests.conftest import wait_until
from tests.test_headless import CONFIG

Rows = list[tuple[object, ...]]


def payments(path: Path) -> Rows:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT id, trade_no, amount_fen, paid_at FROM payments ORDER BY id").fetchall()
    finally:
        con.close()


def stays(path: Path) -> Rows:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(
            "SELECT id, order_id, state FROM stays WHERE state = 'exited' ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def wait_for_more_than(db: Path, count: int) -> None:
    wait_until(lambda: len(payments(db)) > count, timeout=30, what="more traffic after the backup")


@pytest.fixture
def busy_booth(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """A headless booth in its own process, its simulated camera bringing a car every 0.2 s, paid at once."""
    db = tmp_path / "booth.sqlite"
    config = tmp_path / "booth.toml"
    config.write_text(CONFIG.format(db=db), encoding="utf-8")
    booth = subprocess.Popen(
        [sys.executable, "-m", "booth", "run", "--headless", "--config", str(config), "--duration", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        yield booth, db, config
    finally:
        if booth.poll() is None:
            booth.send_signal(signal.SIGTERM)
            booth.wait(30)
        if booth.stderr is not None:
            booth.stderr.close()


def test_backups_during_traffic_hold_everything_booked_before_them_and_one_restores(
    busy_booth: tuple[subprocess.Popen[str], Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    booth, db, config = busy_booth

    def booked() -> int:
        try:
            return len(payments(db))
        except sqlite3.OperationalError:  # the file is there before its tables
            return 0

    wait_until(lambda: booked() >= 3, timeout=60, what="three payments booked")
    copies: list[tuple[Path, Rows, Rows]] = []
    for n in range(3):
        booked_before, exited_before = payments(db), stays(db)
        target = tmp_path / "copies" / f"copy{n}.sqlite"
        assert main(["backup", str(target), "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert f"backup: {target}" in out and f"schema {SCHEMA_HEAD}, integrity ok" in out
        in_copy = payments(target)
        assert in_copy[: len(booked_before)] == booked_before  # nothing booked before it is missing
        assert set(exited_before) <= set(stays(target))
        assert target.stat().st_mode & 0o077 == 0
        copies.append((target, in_copy, stays(target)))
        wait_for_more_than(db, len(payments(db)))
    assert booth.poll() is None, "the booth kept running through the backups"

    # A restore while the booth runs is refused, and nothing is touched.
    assert main(["restore", str(copies[0][0]), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"the database {db} is in use" in err and "stop Booth first" in err
    assert not list(tmp_path.glob("booth.before-restore-*"))

    booth.send_signal(signal.SIGTERM)
    assert booth.wait(30) == 0
    final = payments(db)
    assert len(final) > len(copies[-1][1])

    chosen, chosen_payments, chosen_stays = copies[1]
    assert main(["restore", str(chosen), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    (aside,) = tmp_path.glob("booth.before-restore-*Z.sqlite")
    assert f"the file it replaced is kept as {aside}" in out
    assert payments(db) == chosen_payments and stays(db) == chosen_stays
    assert payments(aside) == final  # the replaced file, with everything it had
    with open_database(f"sqlite:///{db}"):  # a booth starts on the restored file
        pass


def test_restore_refuses_what_is_not_a_booth_database_of_a_known_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'booth.sqlite'}"
    open_database(url).close()
    before = (tmp_path / "booth.sqlite").read_bytes()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    newer = tmp_path / "newer.sqlite"
    backup_database(url, newer)
    con = sqlite3.connect(newer)
    con.execute("UPDATE alembic_version SET version_num = '0042'")
    con.commit()
    con.close()
    for path, named in (
        (tmp_path / "missing.sqlite", "no such file"),
        (junk, "file is not a database (not an SQLite file, or damaged)"),
        (other, "is not a Booth database"),
        (newer, "at schema revision '0042', which this Booth"),
    ):
        with pytest.raises(StoreError, match=re.escape(named)):
            restore_database(url, path)
    assert (tmp_path / "booth.sqlite").read_bytes() == before
    assert not list(tmp_path.glob("*before-restore*"))


def test_in_use_is_found_from_an_idle_open_connection_and_released_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'booth.sqlite'}"
    database = open_database(url)
    idle = database.engine.connect()  # a pooled connection, idle, as a running booth has them
    with pytest.raises(StoreError, match="is in use"), exclusive_database(tmp_path / "booth.sqlite"):
        pass
    idle.close()
    database.close()
    with exclusive_database(tmp_path / "booth.sqlite") as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_backup_with_photos_and_refusals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'booth.sqlite'}"
    open_database(url).close()
    photos = tmp_path / "photos" / "2026-12-03"
    photos.mkdir(parents=True)
    (photos / "X1-1.jpg").write_bytes(b"\xff\xd8 jpeg")
    result = backup_database(url, tmp_path / "b" / "one.sqlite", photo_dir=tmp_path / "photos")
    assert result.photos == tmp_path / "b" / "one.sqlite.photos.tar" and result.photo_files == 1
    with tarfile.open(result.photos) as archive:
        assert archive.getnames() == ["2026-12-03/X1-1.jpg"]
    assert check_booth_database(result.path) == SCHEMA_HEAD
    with pytest.raises(StoreError, match="is the database itself"):
        backup_database(url, tmp_path / "booth.sqlite")
    with pytest.raises(StoreError, match="no database at"):
        backup_database(f"sqlite:///{tmp_path / 'none.sqlite'}", tmp_path / "x.sqlite")
    with pytest.raises(StoreError, match="pg_dump"):
        backup_database("postgresql://booth@127.0.0.1/booth", tmp_path / "x.sqlite")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StoreError, match="cannot make the backup folder"):
        backup_database(url, tmp_path / "a-file" / "x.sqlite")
    assert not list(tmp_path.glob("**/.*.partial"))


def test_the_schedule_copies_on_its_own_thread_and_keeps_the_newest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'booth.sqlite'}"
    open_database(url).close()
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "by-hand.sqlite").write_text("kept: not a scheduled name")
    done: list[Path] = []
    threads: set[str] = set()
    seen = threading.Event()

    def on_done(result: object) -> None:
        threads.add(threading.current_thread().name)
        done.append(result.path)  # type: ignore[attr-defined]
        if len(done) >= 4:
            seen.set()

    schedule = BackupSchedule(url, folder, interval_s=0.05, keep=2, on_done=on_done)
    schedule.start()
    try:
        assert seen.wait(30), "four scheduled copies"
    finally:
        schedule.stop()
    assert threads == {"booth-backup"}
    kept = sorted(p.name for p in folder.glob("booth-*.sqlite"))
    assert len(kept) == 2 and kept == sorted(p.name for p in done[-2:])
    assert (folder / "by-hand.sqlite").exists()
    for name in kept:
        assert check_booth_database(folder / name) == SCHEMA_HEAD


def test_a_failing_schedule_reports_and_keeps_going(tmp_path: Path) -> None:
    failures: list[str] = []
    schedule = BackupSchedule(
        f"sqlite:///{tmp_path / 'absent.sqlite'}",
        tmp_path,
        interval_s=0.02,
        keep=1,
        on_failure=failures.append,
    )
    schedule.start()
    try:
        wait_until(lambda: len(failures) >= 2, timeout=10, what="two reported failures")
    finally:
        schedule.stop()
    assert "no database at" in failures[0]


def test_prune_touches_only_scheduled_names(tmp_path: Path) -> None:
    for n, name in enumerate(
        ("booth-20261201T000000Z.sqlite", "booth-20261202T000000Z.sqlite", "booth-mine.sqlite")
    ):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (1_700_000_000 + n, 1_700_000_000 + n))  # made in this order
    (tmp_path / "booth-20261201T000000Z.sqlite.photos.tar").write_text("x")
    removed = prune_scheduled(tmp_path, keep=1)
    assert sorted(p.name for p in removed) == [
        "booth-20261201T000000Z.sqlite",
        "booth-20261201T000000Z.sqlite.photos.tar",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "booth-20261202T000000Z.sqlite",
        "booth-mine.sqlite",
    ]
