"""Playing the world around the booth in UI tests: the camera brings cars, Bolink's cloud speaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QWidget

from booth.cli.demo import demo_settings
from booth.config import Settings, settings_from_mapping
from booth.engine import Engine


def lane_settings(tmp_path: Path, *, lanes: int = 2, pass_timeout_s: float = 60.0) -> Settings:
    """Demo-like settings in tmp_path: the Bolink sandbox, simulated gates, no simulated camera, no autopay.

    pass_timeout_s is long so a test sees "gate open" until it says the car passed.
    """
    base = demo_settings(tmp_path, autopay_s=None).model_dump(mode="json")
    base["simulator"]["enabled"] = False
    names = ["东出口", "西出口", "南出口", "北出口"]
    base["lanes"] = [
        {"id": f"X{i + 1}", "name": names[i], "direction": "exit", "channel_id": f"X{i + 1}",
         "pass_timeout_s": pass_timeout_s}
        for i in range(lanes)
    ]
    return settings_from_mapping(base, "<ui test>")


def bring_car(
    engine: Engine, lane_id: str, plate: str, *, parked: timedelta = timedelta(hours=2, minutes=5)
) -> None:
    """A car that entered ``parked`` ago arrives at the lane (the camera read ``plate``)."""
    engine.seed_stay(plate, datetime.now(UTC) - parked).result(10)
    engine.vehicle_at(lane_id, plate).result(10)


def push_bolink_heartbeat(engine: Engine) -> None:
    """Make the held long poll return now (the client reports 'online' when a poll returns)."""

    async def push() -> None:
        engine.sandbox.push({"service_name": "update_balance", "car_number": "苏A00000", "balance": "0.00",
                             "autopay": 0})

    engine.call(push()).result(10)


def driver_pays(engine: Engine, channel_id: str) -> None:
    """The driver scans the lane's QR and pays (the sandbox pushes the outpark result)."""
    engine.call(engine.sandbox.driver_pays(channel_id=channel_id)).result(10)


def stop_cloud(engine: Engine) -> None:
    engine.call(engine.sandbox.stop()).result(10)


def start_cloud(engine: Engine) -> None:
    engine.call(engine.sandbox.start()).result(10)


def type_chinese(widget: QWidget, text: str) -> None:
    """Type ``text`` the way a Chinese input method does: one committed string (QTest can only type ASCII)."""
    event = QInputMethodEvent("", [])
    event.setCommitString(text)
    QCoreApplication.sendEvent(widget, event)
