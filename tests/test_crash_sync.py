"""Crash test: the engine process is killed with SIGKILL at random moments while a backlog of Alipay orders
and Tmall backflows drains, and started again, at least 50 times. The emulators run in a process of their
own (a real cloud outlives the booth) and count what they accepted.

At the end every order reached Alipay exactly once (a repeat after a kill between the answer and the mark
is answered "already synced" and counted as done), every backflow reached Tmall at least once (TOP has no
idempotency key: a repeat is possible, at most one per row in flight at a kill), every row is marked sent,
and nothing is dead or lost.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from booth.clouds.alipay import out_order_no_for
from booth.config import public_key_pem
from booth.store import Store, open_database
from booth.sync.rows import backflow_item, order_sync_item

REPO = Path(__file__).resolve().parent.parent
KILLS = 50
CONCURRENCY = 4
MALL = 88
APP_ID = "2021000000000099"
TOP_KEY, TOP_SECRET = "23456789", "crash-secret"
LOW_WATER = 240  # rows: below this, more orders are queued before the next start (the kills hit a backlog)
TOP_UP = 80  # orders (4 rows each)


@dataclass
class Clouds:
    process: subprocess.Popen[str]
    urls: dict[str, str]

    def stats(self, cloud: str) -> dict[str, Any]:
        answer = httpx.get(self.urls[f"{cloud}_stats"], timeout=10)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data


@pytest.fixture
def clouds(tmp_path: Path) -> Iterator[Clouds]:
    """The Alipay gateway and TOP router emulators in their own process (20 ms answers, like a far cloud)."""
    app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "app_private.pem").write_bytes(
        app.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "app_public.pem").write_text(public_key_pem(app), encoding="ascii")
    (tmp_path / "alipay_private.pem").write_bytes(
        alipay.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "alipay_public.pem").write_text(public_key_pem(alipay), encoding="ascii")
    log = (tmp_path / "clouds.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "booth.sandbox.serve",
            "--alipay-app-public-key",
            str(tmp_path / "app_public.pem"),
            "--alipay-private-key",
            str(tmp_path / "alipay_private.pem"),
            "--alipay-app-id",
            APP_ID,
            "--top-app-key",
            TOP_KEY,
            "--top-secret",
            TOP_SECRET,
            "--latency-ms",
            "20",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        urls = json.loads(process.stdout.readline())
        yield Clouds(process, urls)
    finally:
        process.stdin.close()  # the server stops when its stdin closes
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        process.stdout.close()
        log.close()


CONFIG = """
[park]
name = "崩溃测试停车场"

[bolink]
base_url = "sandbox"
union_id = "200208"
park_id = "21835"
ukey = "8403A41ED5EF20BC"
local_id = "booth_crash"

[[lanes]]
id = "X1"
name = "出口"
direction = "exit"
channel_id = "X1"

[database]
url = "sqlite:///{db}"

[logging]
level = "WARNING"

[alipay]
gateway_url = "{alipay}"
app_id = "{app_id}"
app_private_key_file = "{folder}/app_private.pem"
alipay_public_key_file = "{folder}/alipay_public.pem"
out_parking_id = "LOT-CRASH"
parking_name = "崩溃测试停车场"
parking_id = "PI-CRASH-1"
request_timeout_s = 5

[tmall]
gateway_url = "{tmall}"
app_key = "{top_key}"
app_secret = "{top_secret}"
mall_id = {mall}
request_timeout_s = 5

[sync]
retry_base_s = 0.05
retry_cap_s = 0.2
concurrency = {concurrency}
status_every_s = 0.1
"""


@dataclass
class Backlog:
    """Orders queued the way the engine queues them: the stay with its arrive, the payment with its
    order.sync and pay, the exit with its leave, each in the business row's transaction."""

    store: Store
    orders: dict[str, str] = field(default_factory=dict)  # out_order_no -> plate
    backflows: set[tuple[str, str]] = field(default_factory=set)  # (plate, action)

    def add(self, count: int) -> None:
        entry = datetime.now(UTC) - timedelta(hours=2)
        for _ in range(count):
            n = len(self.orders)
            plate, order_id, trade_no = f"苏K{n:05d}", f"X1_crash_{n:06d}", f"20261123220014{n:014d}"
            paid, left = entry + timedelta(minutes=90), entry + timedelta(minutes=95)
            stay = self.store.create_stay(
                order_id=order_id,
                plate=plate,
                plate_colour="blue",
                vehicle_class="small",
                lane_id="X1",
                entry_at=entry,
                outbox=[backflow_item("arrive", order_id=order_id, plate=plate, at=entry)],
            )
            outcome = self.store.record_payment(
                order_ref=order_id,
                exit_order_id=None,
                channel="prepay",
                pay_channel=1,
                trade_no=trade_no,
                amount_fen=1200 + n % 500,
                paid_at=paid,
                lane_id=None,
                operator="bolink",
                payer_id="2088000000000001",
                raw=None,
                settles=False,
                outbox=[
                    order_sync_item(
                        order_id=order_id,
                        trade_no=trade_no,
                        user_id="2088000000000001",
                        plate=plate,
                        entry_at=entry,
                        order_time=paid,
                        paid_at=paid,
                        amount_fen=1200 + n % 500,
                    ),
                    backflow_item(
                        "pay", order_id=order_id, plate=plate, at=paid, entry_at=entry, ref=trade_no
                    ),
                ],
            )
            assert outcome.status == "partial"
            self.store.close_stay(
                stay.id,
                lane_id="X1",
                exit_at=left,
                outbox=[backflow_item("leave", order_id=order_id, plate=plate, at=left)],
            )
            self.orders[out_order_no_for(order_id, trade_no)] = plate
            self.backflows |= {(plate, action) for action in ("arrive", "pay", "leave")}


def pending_rows(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0])
    finally:
        con.close()


def expect(stream: IO[str], prefix: str) -> list[str]:
    line = stream.readline()
    if not line.startswith(prefix):
        raise AssertionError(f"expected {prefix!r} from the engine runner, got {line!r}")
    return line.split()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_while_draining_loses_nothing_and_syncs_every_order_once(
    tmp_path: Path, clouds: Clouds
) -> None:
    db = tmp_path / "crash.sqlite"
    config = tmp_path / "booth.toml"
    config.write_text(
        CONFIG.format(
            db=db,
            folder=tmp_path,
            alipay=clouds.urls["alipay"],
            tmall=clouds.urls["tmall"],
            app_id=APP_ID,
            top_key=TOP_KEY,
            top_secret=TOP_SECRET,
            mall=MALL,
            concurrency=CONCURRENCY,
        ),
        encoding="utf-8",
    )
    database = open_database(f"sqlite:///{db}")
    backlog = Backlog(Store(database))
    backlog.add(TOP_UP * 3)
    rng = random.Random(20261123)
    log = (tmp_path / "engine.log").open("w")
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_engine", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert runner.stdin is not None and runner.stdout is not None
    killed_with_backlog = 0

    def command(text: str) -> None:
        assert runner.stdin is not None
        runner.stdin.write(text + "\n")
        runner.stdin.flush()

    try:
        for _ in range(KILLS):
            if pending_rows(db) < LOW_WATER:
                backlog.add(TOP_UP)  # no engine runs now: the test has the database to itself
            command("start")
            pid = int(expect(runner.stdout, "started")[1])
            expect(runner.stdout, "ready")
            time.sleep(rng.uniform(0.05, 0.4))  # the kill's random moment, not a wait for anything
            os.kill(pid, signal.SIGKILL)
            command("reap")
            reaped = expect(runner.stdout, "reaped")
            assert int(reaped[1]) == pid and os.WIFSIGNALED(int(reaped[2]))
            killed_with_backlog += pending_rows(db) > 0
        command("drain")
        expect(runner.stdout, "started")
        expect(runner.stdout, "ready")
        drained = expect(runner.stdout, "drained")
        assert drained[2] == "0", "the last run did not drain the backlog"
        command("reap")
        expect(runner.stdout, "reaped")
        command("quit")
        runner.wait(30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
        runner.stdin.close()
        runner.stdout.close()
        log.close()
        database.close()

    assert killed_with_backlog == KILLS  # every kill hit the engine with rows still to send
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        states = dict(con.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    finally:
        con.close()
    assert states == {"sent": len(backlog.orders) * 4}  # nothing pending, nothing dead, nothing deleted

    alipay = clouds.stats("alipay")
    assert alipay["accepted"] == {out_order_no: 1 for out_order_no in backlog.orders}  # exactly once each
    repeats = sum(alipay["duplicates"].values())
    assert repeats <= KILLS * CONCURRENCY  # a repeat needs a kill between Alipay's answer and the mark

    tmall = clouds.stats("tmall")
    accepted = {(car, action): count for car, action, mall, count in tmall["accepted"] if mall == str(MALL)}
    assert set(accepted) == backlog.backflows  # every one arrived, none for anything else
    extra = sum(accepted.values()) - len(backlog.backflows)
    assert 0 <= extra <= KILLS * CONCURRENCY  # at least once; a repeat only where a kill cut the mark
    print(
        f"\n{KILLS} kills, {len(backlog.orders)} orders: Alipay accepted each once "
        f"({repeats} repeats answered 'already synced'); Tmall {extra} repeated backflow(s)"
    )
