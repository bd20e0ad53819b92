"""The lanes' sections: each ``[[lanes]]`` table with its gate (the barrier's driver) and plate camera,
``[cameras]`` (the listener the cameras push to) and ``[simulator]`` (the simulated camera).

A lane's ``gate.driver`` picks one of the gate sections below (:data:`GateSettings` is their union); the
drivers in :mod:`booth.devices` take them.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from booth.config.paths import default_photo_dir
from booth.config.section import Section

_ORDER_ID_SAFE = re.compile(r"^[A-Za-z0-9_]+$")


class SimulatedGateSettings(Section):
    driver: Literal["simulated"] = "simulated"
    open_ms: int = Field(20, ge=0, le=10_000, description="How long the simulated gate takes to open.")
    fail_next: int = Field(0, ge=0, le=1000, description="Training: fail this many open commands first.")


class ModbusTcpGateSettings(Section):
    driver: Literal["modbus_tcp"]
    host: str = Field(min_length=1, description="Relay board address.")
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247, description="Modbus unit (slave/device) id.")
    coil: int = Field(0, ge=0, le=0xFFFF, description="Coil wired to the barrier's OPEN contact.")
    pulse_ms: int = Field(500, ge=100, le=5000, description="Length of the OPEN pulse.")
    board_pulse: Literal["none", "waveshare"] = Field(
        "none",
        description='"waveshare": the board times the pulse itself (flash-on at 0x0200+coil, 100 ms units).',
    )
    passed_input: int | None = Field(
        None, ge=0, le=0xFFFF, description="Discrete input that reads 1 while a vehicle passes (loop)."
    )
    timeout_s: float = Field(2.0, gt=0, le=30, description="Timeout of each Modbus request.")

    @model_validator(mode="after")
    def _flash_address_fits(self) -> ModbusTcpGateSettings:
        if self.board_pulse == "waveshare" and self.coil > 511:
            raise ValueError(f'coil: with board_pulse = "waveshare" the coil must be 0-511, got {self.coil}')
        return self


class ModbusRtuGateSettings(Section):
    """A Modbus RTU relay board on a serial port (RS485 adapter), 8 data bits, 1 stop bit."""

    driver: Literal["modbus_rtu"]
    device: str = Field(min_length=1, description='Serial port, e.g. "/dev/ttyUSB0" or "COM3".')
    baudrate: int = Field(9600, ge=1200, le=115_200)
    parity: Literal["N", "E", "O"] = Field("N", description="N (none, most boards), E (even) or O (odd).")
    unit: int = Field(1, ge=1, le=247, description="Modbus unit (slave/device) id.")
    coil: int = Field(0, ge=0, le=0xFFFF, description="Coil wired to the barrier's OPEN contact.")
    pulse_ms: int = Field(500, ge=100, le=5000, description="Length of the OPEN pulse.")
    board_pulse: Literal["none", "waveshare"] = Field(
        "none", description='"waveshare": the board times the pulse itself (flash-on, 100 ms units).'
    )
    passed_input: int | None = Field(
        None, ge=0, le=0xFFFF, description="Discrete input that reads 1 while a vehicle passes (loop)."
    )
    timeout_s: float = Field(1.0, gt=0, le=30, description="Timeout of each Modbus request.")

    @model_validator(mode="after")
    def _flash_address_fits(self) -> ModbusRtuGateSettings:
        if self.board_pulse == "waveshare" and self.coil > 511:
            raise ValueError(f'coil: with board_pulse = "waveshare" the coil must be 0-511, got {self.coil}')
        return self


class LcusRelayGateSettings(Section):
    """An LCUS-type USB serial relay (CH340): frames ``A0 <channel> <0|1> <sum>``, no pulse mode."""

    driver: Literal["lcus"]
    device: str = Field(min_length=1, description='Serial port, e.g. "/dev/ttyUSB0" or "COM3".')
    baudrate: int = Field(9600, ge=1200, le=115_200)
    channel: int = Field(1, ge=1, le=8, description="Relay channel wired to the barrier's OPEN contact.")
    pulse_ms: int = Field(500, ge=100, le=5000, description="Length of the OPEN pulse (timed by Booth).")
    timeout_s: float = Field(1.0, gt=0, le=30, description="Timeout of opening the port and each write.")


class CameraRelayGateSettings(Section):
    """The barrier wired to a Vzenith camera's own IO output, opened through the camera's push answers."""

    driver: Literal["camera_relay"]
    command: Literal["info", "ivs_ioctrl"] = Field(
        "info", description='"info": the camera pulses its default IO; "ivs_ioctrl": pulse output `io`.'
    )
    io: int = Field(0, ge=0, le=3, description="ivs_ioctrl only: the camera's IO output wired to OPEN.")
    pulse_ms: int = Field(500, ge=100, le=5000, description="ivs_ioctrl only: length of the OPEN pulse.")
    timeout_s: float = Field(
        30.0, gt=0, le=300, description="The camera must poll (take the command) within this, else a fault."
    )
    open_voice: str = Field(
        "", max_length=40, description="Optional text the LED/voice board speaks as the gate opens."
    )
    serial_channel: int = Field(0, ge=0, le=1, description="The camera's RS485 channel of the LED board.")


class HikvisionGateSettings(Section):
    """A Hikvision ANPR camera (or barrier controller) that drives the barrier over ISAPI."""

    driver: Literal["hikvision"]
    host: str = Field(min_length=1, description="The camera's address.")
    port: int = Field(80, ge=1, le=65535)
    scheme: Literal["http", "https"] = "http"
    username: str = Field(min_length=1, description="ISAPI user (HTTP Digest auth).")
    password: str = Field(description="ISAPI password. Keep real passwords out of git.")
    channel: int = Field(1, ge=1, le=64, description="ISAPI parking channel of the barrier.")
    confirm_status: bool = Field(
        True, description="Poll barrierGateStatus until it reads open (a 200 alone proves nothing)."
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="Deadline of one open (command and confirmation).")


GateSettings = Annotated[
    SimulatedGateSettings
    | ModbusTcpGateSettings
    | ModbusRtuGateSettings
    | LcusRelayGateSettings
    | CameraRelayGateSettings
    | HikvisionGateSettings,
    Field(discriminator="driver"),
]

#: Every ``gate.driver`` value, one per section of :data:`GateSettings`.
GATE_DRIVERS = ("simulated", "modbus_tcp", "modbus_rtu", "lcus", "camera_relay", "hikvision")


class LaneCameraSettings(Section):
    """The plate camera of one lane; its pushes reach the [cameras] listener."""

    vendor: Literal["vzenith", "hikvision"] = Field(description='"vzenith" (臻识) or "hikvision" (ISAPI).')
    ip: tuple[str, ...] = Field(
        min_length=1, description="Addresses the camera pushes from; pushes from any other are refused."
    )
    channel: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="The lane's sub-id in the camera's pushes (Vzenith: the push's channel; Hikvision: "
        "channelID): with it, a read is this lane's only when it names this channel, so lanes can share "
        "a camera; without it, every read from the address is this lane's.",
    )

    @field_validator("ip")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_address(item)
            except ValueError:
                raise ValueError(f"not an IP address: {item!r}") from None
        return value


class LaneSettings(Section):
    id: str = Field(min_length=1, max_length=16, description="Lane id, also used in Bolink order ids.")
    name: str = Field(min_length=1, description="Name shown on screen.")
    direction: Literal["entry", "exit"]
    channel_id: str = Field(min_length=1, max_length=16, description="The lane's channel id at Bolink.")
    gate: GateSettings = Field(default_factory=SimulatedGateSettings)
    camera: LaneCameraSettings | None = Field(None, description="The lane's plate camera, if any.")
    payment_timeout_s: float = Field(
        300.0,
        ge=1,
        le=86_400,
        description="An exit waiting this long for payment times out (the attendant decides).",
    )
    pass_timeout_s: float = Field(
        15.0,
        ge=0.1,
        le=3600,
        description="After the gate opens, the lane resets when the car passes or after this.",
    )

    @field_validator("id")
    @classmethod
    def _order_id_safe(cls, value: str) -> str:
        if not _ORDER_ID_SAFE.match(value):
            raise ValueError(
                f"only letters, digits and _ are allowed (it is part of order ids), got {value!r}"
            )
        return value


def shared_camera_problem(ip: str, first: LaneSettings, second: LaneSettings) -> str | None:
    """Why two lanes cannot share the camera at ``ip`` (None: they can, each by its own channel)."""
    a, b = first.camera, second.camera
    assert a is not None and b is not None
    lanes = f"lanes {first.id!r} and {second.id!r}"
    if a.channel is None or b.channel is None:
        return (
            f"is given to {lanes}: lanes share a camera only by the channel its pushes name; give each "
            "of them [lanes.camera] channel = N (vzenith: the push's channel; hikvision: channelID)"
        )
    if a.vendor != b.vendor:
        return f"is {a.vendor} on lane {first.id!r} but {b.vendor} on {second.id!r}: one address, one camera"
    if a.channel == b.channel:
        return f"channel {a.channel} is given to {lanes}: give each lane its own channel"
    for lane, other in ((first, second), (second, first)):
        if lane.gate.driver == "camera_relay":
            return (
                f"is shared by {lanes}, but lane {lane.id!r} has a camera_relay gate, which needs a camera "
                "of its own (its commands ride on the camera's answers, which Booth does not share with "
                f"lane {other.id!r}'s reads and polls)"
            )
    return None


class SimulatorSettings(Section):
    """The simulated camera (demo, training, tests): brings vehicles to the lanes."""

    enabled: bool = False
    every_s: float = Field(8.0, ge=0.05, le=3600, description="A vehicle arrives at some lane this often.")
    stay_minutes_max: int = Field(
        600, ge=5, le=43_200, description="Simulated stays last 5 minutes up to this long (at most 30 days)."
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Random seed, for repeatable runs.")

class CameraListenerSettings(Section):
    """[cameras]: the HTTP listener plate cameras push to, and what happens with their reads."""

    enabled: bool = Field(False, description="Run the camera listener.")
    host: str = Field("0.0.0.0", min_length=1, description="Address the listener binds.")
    port: int = Field(8088, ge=0, le=65535, description="Its port (0 = any free port).")
    max_body_bytes: int = Field(
        4_000_000, ge=1024, le=64_000_000, description="Larger pushes are refused with 413."
    )
    offline_after_s: float = Field(
        60.0, gt=0, le=3600, description="A camera silent this long is reported offline on its lane."
    )
    comet_hold_s: float = Field(
        10.0, ge=0, le=60, description="A Vzenith poll is held this long waiting for a gate command."
    )
    offline_read_max_age_s: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description="A read (live or re-sent) whose camera time is older than this is recorded, never acted"
        " on: the car has gone (a Hikvision naive dateTime is read in park.timezone).",
    )
    max_clock_skew_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="A read stamped more than this ahead of the booth's clock is recorded, never acted on"
        " (two NTP-synced clocks differ by well under a second; a camera far ahead has a wrong clock).",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="A connection must send a request's headers within this of opening (or of its last"
        " answer), or it is closed.",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, le=600, description="A push's body must arrive within this, or it is refused with 408."
    )
    max_connections: int = Field(
        64, ge=1, le=4096, description="Open camera connections beyond this are closed at once."
    )
    max_connections_per_source: int = Field(
        8, ge=1, le=1024, description="Open connections from one camera address beyond this are closed."
    )
    max_pending_reads: int = Field(
        4,
        ge=1,
        le=100,
        description="Reads waiting for their lane beyond this are refused with 429 (the camera re-sends).",
    )
    log_interval_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Refusals of one cause are logged once per this interval, with a count of the rest.",
    )
    low_confidence: int = Field(
        80, ge=0, le=100, description="Reads below this confidence are flagged with the likeliest plates."
    )
    photo_dir: str | None = Field(None, description="Where photos are kept (default: data folder/photos).")
    photo_keep: int = Field(5000, ge=1, le=10_000_000, description="Keep at most this many photos...")
    photo_keep_days: int = Field(30, ge=1, le=3660, description="...and none older than this many days.")
    upload_photos: bool = Field(True, description="Send each read's photo to Bolink (upload_carpic).")
    upload_max_bytes: int = Field(
        45_000,
        ge=1000,
        le=10_000_000,
        description="Largest photo sent to Bolink (base64 adds a third); a larger scene sends its crop.",
    )

    @property
    def photo_path(self) -> Path:
        if self.photo_dir:
            return Path(self.photo_dir)
        return default_photo_dir()
