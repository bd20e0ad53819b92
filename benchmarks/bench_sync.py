"""Alipay order.sync throughput: Booth's outbox relay against the official alipay-sdk-python client.

Prints:
  the relay's throughput draining N orders (default 5,000) into the Alipay gateway emulator
  the official client's throughput sending the same orders (DefaultAlipayClient.execute, one after another,
  as its API is used), and the ratio                                              (target: relay >= 3x)
  the longest stall of the GUI event loop while the relay drained (a 5 ms heartbeat, the booth window
  offscreen)                                                                     (target <= 50 ms)
  the longest stall of the engine's asyncio loop meanwhile

The emulator runs in a process of its own (booth.sandbox.serve), shared by both clients; the relay runs in
a real engine (its database thread marks every row sent in its own transaction, SQLite WAL, FULL sync).
The official SDK is never a dependency of Booth: this script makes a virtual environment of its own in the
user's cache folder and pip-installs alipay-sdk-python there (once), then runs the SDK in it.

Two things the SDK needs here, said plainly: its HTTP helper (3.7.x) ignores the port of the gateway URL
(it always connects to port 80), so the script gives it a one-line fix that keeps its own connection code;
and its timestamp is the machine's local time, so it runs with TZ=Asia/Shanghai (as in China).

Run: .venv/bin/python benchmarks/bench_sync.py [orders]
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import venv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import platformdirs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "2021000000000777"
DEADLINE_S = 900.0

SDK_SCRIPT = r"""
import json, sys, time
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipayEcoMycarParkingOrderSyncRequest import AlipayEcoMycarParkingOrderSyncRequest
import alipay.aop.api.util.WebUtils as web_utils
import http.client as httplib
import urllib.parse as urlparse

def get_http_connection(url, query_string, timeout):  # the SDK's own, with the URL's port kept
    parsed = urlparse.urlparse(url)
    connection = httplib.HTTPConnection(host=parsed.hostname, port=parsed.port or 80, timeout=timeout)
    return url + "?" + query_string, connection

web_utils.get_http_connection = get_http_connection

gateway, app_id, private_key, alipay_key, orders_file = sys.argv[1:6]
config = AlipayClientConfig()
config.server_url = gateway
config.app_id = app_id
config.app_private_key = private_key
config.alipay_public_key = alipay_key
client = DefaultAlipayClient(alipay_client_config=config)
orders = [json.loads(line) for line in open(orders_file, encoding="utf-8")]
ok = 0
started = time.perf_counter()
for biz in orders:
    request = AlipayEcoMycarParkingOrderSyncRequest()
    request.biz_content = biz
    answer = json.loads(client.execute(request))
    ok += answer.get("code") == "10000"
print(json.dumps({"orders": len(orders), "ok": ok, "seconds": time.perf_counter() - started}))
"""


def _report(**values: Any) -> None:
    print("RESULT " + json.dumps(values), flush=True)


# ----------------------------------------------------------------------------------- keys and the gateway
class Keys:
    def __init__(self, folder: Path) -> None:
        self.app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.alipay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.folder = folder
        pkcs8 = serialization.PrivateFormat.PKCS8
        pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
        none = serialization.NoEncryption()
        (folder / "app_private.pem").write_bytes(self.app.private_bytes(pem, pkcs8, none))
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        (folder / "app_public.pem").write_bytes(self.app.public_key().public_bytes(pem, spki))
        (folder / "alipay_private.pem").write_bytes(self.alipay.private_bytes(pem, pkcs8, none))
        (folder / "alipay_public.pem").write_bytes(self.alipay.public_key().public_bytes(pem, spki))
        # the SDK takes bare base64: a PKCS#1 private key and an SPKI public key
        pkcs1 = serialization.PrivateFormat.TraditionalOpenSSL
        self.sdk_private = base64.b64encode(self.app.private_bytes(der, pkcs1, none)).decode()
        self.sdk_alipay_public = base64.b64encode(self.alipay.public_key().public_bytes(der, spki)).decode()


def start_gateway(keys: Keys) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "booth.sandbox.serve",
            "--alipay-app-public-key",
            str(keys.folder / "app_public.pem"),
            "--alipay-private-key",
            str(keys.folder / "alipay_private.pem"),
            "--alipay-app-id",
            APP_ID,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def order_rows(count: int, prefix: str) -> list[dict[str, Any]]:
    """The facts of ``count`` paid orders, as the engine queues them (see booth.sync.order_sync_item)."""
    from booth.sync.rows import order_sync_item

    paid = datetime.now(UTC) - timedelta(minutes=5)
    return [
        dict(
            order_sync_item(
                order_id=f"{prefix}_{i:06d}",
                trade_no=f"20261123220014{i:014d}",
                user_id="2088000000000001",
                plate=f"苏B{i % 100000:05d}",
                entry_at=paid - timedelta(minutes=30 + i % 600),
                order_time=paid - timedelta(minutes=1),
                paid_at=paid,
                amount_fen=500 + i % 3000,
            ).payload
        )
        for i in range(count)
    ]


# -------------------------------------------------------------------------------- child: the relay drains
def child_relay(orders: int, gateway: str, folder: Path) -> int:
    """A real engine (and, if ui/ is there, the booth window offscreen) while the relay drains."""
    import logging

    from booth.config import settings_from_mapping
    from booth.engine import Engine
    from booth.store import OutboxItem, Store, open_database

    logging.basicConfig(level=logging.ERROR)
    db = folder / "relay.sqlite"
    settings = settings_from_mapping(
        {
            "park": {"name": "压测停车场"},
            "bolink": {
                "base_url": "sandbox",
                "union_id": "1",
                "park_id": "1",
                "ukey": "K",
                "local_id": "b",
                "query_start_s": 600,
            },
            "lanes": [{"id": "X1", "name": "X1", "direction": "exit", "channel_id": "X1"}],
            "database": {"url": f"sqlite:///{db}"},
            "logging": {"level": "ERROR"},
            "alipay": {
                "gateway_url": gateway,
                "app_id": APP_ID,
                "app_private_key_file": str(folder / "app_private.pem"),
                "alipay_public_key_file": str(folder / "alipay_public.pem"),
                "out_parking_id": "BENCH-LOT",
                "parking_name": "压测停车场",
                "parking_id": "PI-BENCH",
            },
        },
        "<bench>",
    )
    gui: Any = None
    gui_note = ""
    try:
        from PySide6.QtCore import Qt, QTimer

        from ui.kit.style import apply_style
        from ui.shell.app import ensure_application, freeze_startup_objects
        from ui.shell.main_window import BoothWindow

        gui = (Qt, QTimer, ensure_application, BoothWindow, apply_style, freeze_startup_objects)
    except Exception as exc:  # no window yet: the engine loop's stall is measured alone
        gui_note = f"no GUI measure ({type(exc).__name__}: {exc})"
    engine = Engine(settings, tick_s=0.25)
    engine.start()
    engine.sync_started.wait(30)
    app = window = None
    if gui is not None:
        Qt, QTimer, ensure_application, BoothWindow, apply_style, freeze_startup_objects = gui
        app = ensure_application()
        sizes = apply_style(app)
        window = BoothWindow(settings, engine, operator="压测", sizes=sizes)
        window.resize(1920, 1080)
        window.show()
        freeze_startup_objects()  # as the booth window does when it runs
        settle = time.monotonic() + 1.0  # the first show (style, fonts, full paint) is start-up, not load
        while time.monotonic() < settle:
            app.processEvents()
    assert engine.cloud_sync is not None
    relay = engine.cloud_sync.relays["alipay"]
    loop_gaps: list[float] = []
    done = threading.Event()

    async def monitor() -> None:  # the engine loop's heartbeat
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            loop_gaps.append((time.perf_counter() - before) * 1000 - 5)

    async def wake() -> None:
        relay.wake()

    watching = engine.call(monitor())
    database = open_database(f"sqlite:///{db}")
    rows = order_rows(orders, "RELAY")
    Store(database).enqueue(
        [OutboxItem("alipay", "order_sync", row, f"alipay:order_sync:{row['out_order_no']}") for row in rows]
    )
    database.close()
    started = time.perf_counter()
    engine.call(wake()).result(5)
    finished_at: list[float] = []

    def wait_drained() -> None:
        deadline = time.monotonic() + DEADLINE_S
        while relay.state.sent < orders and time.monotonic() < deadline:
            time.sleep(0.002)
        finished_at.append(time.perf_counter())
        done.set()

    gui_gaps: list[float] = []
    waiter = threading.Thread(target=wait_drained)
    waiter.start()
    if app is not None:
        last = [time.perf_counter()]

        def heartbeat() -> None:
            now = time.perf_counter()
            gui_gaps.append((now - last[0]) * 1000)
            last[0] = now
            if done.is_set():
                beat.stop()
                app.quit()

        beat = QTimer()
        beat.setTimerType(Qt.TimerType.PreciseTimer)
        beat.setInterval(5)
        beat.timeout.connect(heartbeat)
        beat.start()
        app.exec()
    waiter.join()
    watching.result(10)
    elapsed = finished_at[0] - started
    sent = relay.state.sent
    if window is not None:
        window.close()
    engine.stop()
    _report(
        orders=orders,
        sent=sent,
        seconds=elapsed,
        engine_loop_max_stall_ms=max(loop_gaps, default=0.0),
        gui_max_gap_ms=max(gui_gaps) if gui_gaps else None,
        gui_beats=len(gui_gaps),
        gui_note=gui_note,
    )
    return 0 if sent == orders else 1


# ------------------------------------------------------------------------------------ the official client
def sdk_python() -> Path:
    """A virtual environment with alipay-sdk-python, made once in the user's cache folder."""
    home = Path(platformdirs.user_cache_dir("booth")) / "bench-alipay-sdk-venv"
    python = home / "bin" / "python"
    if not (home / ".ready").exists():
        print(f"making {home} and installing alipay-sdk-python there (once)...", flush=True)
        venv.create(home, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "alipay-sdk-python"], check=True)
        (home / ".ready").touch()
    return python


def official_client(python: Path, gateway: str, keys: Keys, orders: int, folder: Path) -> dict[str, Any]:
    from booth.clouds.alipay import build_order_sync_biz

    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text)

    lines = []
    for row in order_rows(orders, "SDK"):
        biz = build_order_sync_biz(
            user_id=row["user_id"],
            out_parking_id="BENCH-LOT",
            parking_name="压测停车场",
            car_number=row["car_number"],
            out_order_no=row["out_order_no"],
            order_time=moment(row["order_time"]),
            order_no=row["trade_no"],
            pay_time=moment(row["pay_time"]),
            pay_money_fen=row["amount_fen"],
            in_time=moment(row["in_time"]),
            parking_id="PI-BENCH",
        )
        lines.append(json.dumps(biz, ensure_ascii=False))
    (folder / "sdk_orders.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "sdk_bench.py").write_text(SDK_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [
            str(python),
            str(folder / "sdk_bench.py"),
            gateway,
            APP_ID,
            keys.sdk_private,
            keys.sdk_alipay_public,
            str(folder / "sdk_orders.jsonl"),
        ],
        env={**os.environ, "TZ": "Asia/Shanghai"},
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the official client failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------------------------ parent
def main() -> int:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    python = sdk_python()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        folder = Path(tmp)
        keys = Keys(folder)
        gateway, urls = start_gateway(keys)
        try:
            env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
            child = subprocess.run(
                [sys.executable, __file__, "--child-relay", str(orders), urls["alipay"], str(folder)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=DEADLINE_S + 60,
                check=False,
            )
            results = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
            if child.returncode != 0 or not results:
                raise SystemExit(f"the relay run failed ({child.returncode}):\n{child.stderr[-3000:]}")
            relay = json.loads(results[-1].removeprefix("RESULT "))
            sdk = official_client(python, urls["alipay"], keys, orders, folder)
            accepted = httpx.get(urls["alipay_stats"], timeout=30).json()["accepted"]
        finally:
            assert gateway.stdin is not None and gateway.stdout is not None
            gateway.stdin.close()
            gateway.wait(30)
            gateway.stdout.close()
    relay_rate = relay["sent"] / relay["seconds"]
    sdk_rate = sdk["ok"] / sdk["seconds"]
    print(
        f"orders accepted by the emulator: {len(accepted)} "
        f"(relay {relay['sent']}, official client {sdk['ok']})"
    )
    print(f"Booth relay: {relay['sent']} order.sync in {relay['seconds']:.2f} s = {relay_rate:.0f} orders/s")
    print(
        f"official alipay-sdk-python (DefaultAlipayClient.execute): {sdk['ok']} in {sdk['seconds']:.2f} s "
        f"= {sdk_rate:.0f} orders/s"
    )
    print(f"ratio: {relay_rate / sdk_rate:.1f}x  (target >= 3x)")
    if relay["gui_max_gap_ms"] is not None:
        print(
            f"longest GUI event-loop gap while the relay drained: {relay['gui_max_gap_ms']:.1f} ms "
            f"(5 ms heartbeat, {relay['gui_beats']} beats; target <= 50 ms)"
        )
    else:
        print(f"GUI event loop: {relay['gui_note']}; the GUI measure comes later")
    print(
        f"longest engine-loop stall while the relay drained: {relay['engine_loop_max_stall_ms']:.1f} ms "
        "(5 ms heartbeat on the engine's asyncio loop)"
    )
    return 0 if relay["sent"] == orders and sdk["ok"] == orders else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-relay":
        raise SystemExit(child_relay(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))
    raise SystemExit(main())
