"""The one settings schema: a TOML file, typed and validated at start.

Every error names the key (``lanes[1].gate.port``) and the problem. Unknown keys are refused, so a typo in
the file is reported instead of silently ignored. ``booth config check FILE`` runs the same validation.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from booth.clouds.alipay import AlipaySettings
from booth.clouds.top import TmallSettings
from booth.domain.tariff import TariffSettings, YuanFen

SCHEMA_VERSION = 1
APP_NAME = "booth"
BOLINK_SANDBOX = "sandbox"
BOLINK_REQUESTS_PER_10S = 100  # Bolink answers request_over_times above this, per token
#: A settings file larger than this is refused unread (``/dev/zero`` or a runaway file must not fill memory).
MAX_CONFIG_BYTES = 8 * 1024 * 1024
_ORDER_ID_SAFE = re.compile(r"^[A-Za-z0-9_]+$")


class ConfigError(Exception):
    """The configuration cannot be used. ``problems`` lists one ``key: reason`` line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        if len(problems) == 1:  # one line, as a command's refusal should be
            super().__init__(f"{source}: invalid configuration: {problems[0]}")
        else:
            super().__init__(f"{source}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))


class _Section(BaseModel):
    # inf and nan are never a setting: a timeout of inf passed the range checks and crashed the start
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParkSettings(_Section):
    name: str = Field(min_length=1, description="The lot's name, shown on screen and in reports.")
    timezone: str = Field("Asia/Shanghai", description="IANA time zone of the lot.")
    capacity: int = Field(
        0, ge=0, le=1_000_000, description="Number of spaces; 0 = unlimited (entry never refused as full)."
    )
    province: str = Field("京", min_length=1, max_length=1, description="The lot's own province character.")
    blacklist: tuple[str, ...] = Field((), description="Plates refused at entry lanes.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class BolinkSettings(_Section):
    base_url: str = Field(description='Bolink HTTP-mode base URL, or "sandbox" for the built-in emulator.')
    union_id: str = Field(min_length=1, description="Vendor (union) id issued by Bolink.")
    park_id: str = Field(min_length=1, description="The park's id at Bolink.")
    ukey: SecretStr = Field(description="Vendor signing key; never sent, only used to sign; masked.")
    local_id: str = Field(min_length=1, description="This charging system's id; may name its lanes.")
    request_timeout_s: float = Field(10.0, gt=0, le=60, description="Timeout of each upload.do call.")
    poll_timeout_s: float = Field(40.0, gt=0, le=120, description="Timeout of one download.do long poll.")
    request_budget_per_10s: int = Field(
        90,
        ge=1,
        le=100_000,
        description="Most requests sent per 10 s (Bolink refuses more than 100 per token); a third is kept "
        "for the lanes while the outbox catches up.",
    )
    query_start_s: float = Field(
        10.0, ge=0, le=3600, description="Start query_order this long after the QR shows."
    )
    query_every_s: float = Field(2.0, ge=0.1, le=600, description="Then query every this many seconds...")
    query_stop_s: float = Field(
        120.0, gt=0, le=3600, description="...and stop this long after the QR showed."
    )
    sandbox_port: int = Field(0, ge=0, le=65535, description="Port of the embedded sandbox (0 = any free).")
    sandbox_autopay_s: float | None = Field(
        None,
        ge=0,
        le=3600,
        description="Sandbox only: the emulated driver pays this many seconds after the QR shows.",
    )
    downstream_sign: Literal["warn", "refuse"] = Field(
        "warn",
        description='What a downstream message whose sign does not match (ukey rule) does: "warn" alerts '
        "and still handles it (Bolink documents no downstream signature, a mismatch may be its own wording); "
        '"refuse" answers it as refused and never acts on it (for lots that confirmed the rule).',
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value != BOLINK_SANDBOX and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f'must be an http(s) URL or "sandbox", got {value!r}')
        return value.rstrip("/")

    @model_validator(mode="after")
    def _budget_within_bolinks_limit(self) -> BolinkSettings:
        if self.request_budget_per_10s > BOLINK_REQUESTS_PER_10S and not self.is_emulator:
            raise ValueError(
                f"request_budget_per_10s: Bolink refuses more than {BOLINK_REQUESTS_PER_10S} requests per"
                f' 10 s, got {self.request_budget_per_10s} (only an emulator, "sandbox" or a loopback URL,'
                " may be given more)"
            )
        return self

    @property
    def is_emulator(self) -> bool:
        """The built-in sandbox or an emulator on this machine (load tests): never the real Bolink."""
        host = urlsplit(self.base_url).hostname or ""
        return self.is_sandbox or host == "localhost" or _is_loopback(host)

    @field_validator("ukey")
    @classmethod
    def _ukey(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @property
    def is_sandbox(self) -> bool:
        return self.base_url == BOLINK_SANDBOX


class SimulatedGateSettings(_Section):
    driver: Literal["simulated"] = "simulated"
    open_ms: int = Field(20, ge=0, le=10_000, description="How long the simulated gate takes to open.")
    fail_next: int = Field(0, ge=0, le=1000, description="Training: fail this many open commands first.")


class ModbusTcpGateSettings(_Section):
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


class ModbusRtuGateSettings(_Section):
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


class LcusRelayGateSettings(_Section):
    """An LCUS-type USB serial relay (CH340): frames ``A0 <channel> <0|1> <sum>``, no pulse mode."""

    driver: Literal["lcus"]
    device: str = Field(min_length=1, description='Serial port, e.g. "/dev/ttyUSB0" or "COM3".')
    baudrate: int = Field(9600, ge=1200, le=115_200)
    channel: int = Field(1, ge=1, le=8, description="Relay channel wired to the barrier's OPEN contact.")
    pulse_ms: int = Field(500, ge=100, le=5000, description="Length of the OPEN pulse (timed by Booth).")
    timeout_s: float = Field(1.0, gt=0, le=30, description="Timeout of opening the port and each write.")


class CameraRelayGateSettings(_Section):
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


class HikvisionGateSettings(_Section):
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


class LaneCameraSettings(_Section):
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


class LaneSettings(_Section):
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


class DatabaseSettings(_Section):
    url: str = Field(default_factory=lambda: default_database_url(), description="SQLAlchemy database URL.")

    @field_validator("url")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        """Refuse here what would only fail at start: text that is no URL, a NUL, an unknown database
        kind. (A known kind whose driver is not installed is named when the database is opened.)"""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        if "\x00" in value:
            raise ValueError("a database URL cannot contain a NUL character")
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                f'not a database URL, expected e.g. "sqlite:///path/booth.sqlite": {value!r}'
            ) from None
        try:
            url.get_dialect()
        except (NoSuchModuleError, ImportError):
            raise ValueError(f"unknown database kind {url.drivername!r} in {value!r}") from None
        return value


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SimulatorSettings(_Section):
    """The simulated camera (demo, training, tests): brings vehicles to the lanes."""

    enabled: bool = False
    every_s: float = Field(8.0, ge=0.05, le=3600, description="A vehicle arrives at some lane this often.")
    stay_minutes_max: int = Field(
        600, ge=5, le=43_200, description="Simulated stays last 5 minutes up to this long (at most 30 days)."
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Random seed, for repeatable runs.")


class SyncSettings(_Section):
    """How the outbox relays send to Alipay and Tmall (retries, circuit breaker, alerts)."""

    retry_base_s: float = Field(
        1.0, ge=0.01, le=3600, description="First retry delay (full jitter above it)."
    )
    retry_cap_s: float = Field(300.0, ge=0.01, le=86_400, description="Longest delay between two retries.")
    breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive retryable failures that open a cloud's circuit breaker."
    )
    breaker_cooldown_s: float = Field(
        30.0, ge=0.01, le=3600, description="An open breaker sends nothing this long, then lets one probe go."
    )
    unverified_alert_after: int = Field(
        3, ge=1, le=1000, description="Alert the supervisor after this many unverifiable answers in a row."
    )
    concurrency: int = Field(8, ge=1, le=64, description="Requests in flight per cloud (each another stay).")
    status_every_s: float = Field(2.0, ge=0.01, le=60, description="How often the sync status is refreshed.")

    @model_validator(mode="after")
    def _cap_above_base(self) -> SyncSettings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError(
                f"retry_cap_s ({self.retry_cap_s:g}) must not be below retry_base_s ({self.retry_base_s:g})"
            )
        return self


class CameraListenerSettings(_Section):
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
        return Path(platformdirs.user_data_dir(APP_NAME)) / "photos"


#: Chinese yuan notes and coins in fen, largest first: the blind count's rows.
DEFAULT_DENOMINATIONS = (10_000, 5_000, 2_000, 1_000, 500, 100, 50, 10)
#: Largest float or variance threshold (1,000,000 yuan) and note (10,000 yuan): sums of counts stay far
#: inside SQLite's 64-bit integers.
MAX_CASH_FEN = 100_000_000
MAX_DENOMINATION_FEN = 1_000_000


class StaffSettings(_Section):
    """[staff]: attendants' and supervisors' PINs (kept as salted scrypt hashes) and the lock-out."""

    pin_min_length: int = Field(4, ge=4, le=12, description="Shortest PIN accepted when one is set.")
    lockout_after: int = Field(5, ge=1, le=20, description="Wrong PINs in a row before a lock-out.")
    lockout_minutes: int = Field(15, ge=1, le=1440, description="How long a lock-out lasts.")


class ShiftSettings(_Section):
    """[shifts]: the opening float, the blind count and when a variance needs a supervisor's co-signature."""

    default_float: YuanFen = Field(
        50_000, le=MAX_CASH_FEN, description='Opening float of a first shift, yuan ("500.00").'
    )
    cosign_variance: YuanFen = Field(
        2_000,
        le=MAX_CASH_FEN,
        description="A close whose |counted - expected| is above this, yuan text, needs a supervisor.",
    )
    denominations: tuple[int, ...] = Field(
        DEFAULT_DENOMINATIONS,
        max_length=30,
        description="Notes and coins counted at close, in fen, largest first.",
    )

    @field_validator("denominations")
    @classmethod
    def _sane_denominations(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one denomination is needed")
        if any(d <= 0 or d > MAX_DENOMINATION_FEN for d in value):
            raise ValueError(f"denominations are amounts in fen from 1 to {MAX_DENOMINATION_FEN}")
        if len(set(value)) != len(value):
            raise ValueError("a denomination is listed twice")
        return tuple(sorted(value, reverse=True))


class ExceptionSettings(_Section):
    """[exceptions]: the reasons offered for free releases and manual lifts, which need a supervisor, and
    how many of each a shift may have before the supervisor is alerted."""

    free_release_reasons: tuple[str, ...] = Field(
        ("员工车辆", "特种车辆", "设备故障", "经理批准", "投诉处理", "短时进出"),
        description="Reasons offered for a free release (the attendant may add free text).",
    )
    manual_lift_reasons: tuple[str, ...] = Field(
        ("道闸故障", "系统故障", "识别失败", "特种车辆", "经理批准", "车辆滞留"),
        description="Reasons offered for a manual lift (the attendant may add free text).",
    )
    approval_required: tuple[str, ...] = Field(
        ("经理批准", "投诉处理"), description="Reasons that need a supervisor's PIN before the gate lifts."
    )
    free_text_allowed: bool = Field(True, description="Allow a reason typed in place of a listed one.")
    arrears_waiver_needs_approval: bool = Field(
        True,
        description="A free release or manual lift that forgoes a plate's arrears (fees of earlier stays "
        "whose exit was not seen) needs a supervisor, whatever the reason.",
    )
    typed_reasons_need_approval: bool = Field(
        True, description="A typed (unlisted) reason needs a supervisor, as approval_required ones do."
    )
    max_free_releases_per_shift: int = Field(
        20,
        ge=0,
        le=10_000,
        description="Alert the supervisor when a shift exceeds this many free releases (0 = off).",
    )
    max_manual_lifts_per_shift: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Alert the supervisor when a shift exceeds this many manual lifts (0 = off).",
    )

    @model_validator(mode="after")
    def _reasons_listed(self) -> ExceptionSettings:
        for name in ("free_release_reasons", "manual_lift_reasons"):
            reasons = getattr(self, name)
            if any(not r.strip() or len(r) > 64 for r in reasons):
                raise ValueError(f"{name}: each reason is 1 to 64 characters")
        listed = set(self.free_release_reasons) | set(self.manual_lift_reasons)
        unknown = [r for r in self.approval_required if r not in listed]
        if unknown:
            raise ValueError(f"approval_required names reasons that are in neither list: {unknown}")
        return self


class KioskSettings(_Section):
    """[kiosk]: the booth screen as a locked-down kiosk (also `booth --kiosk`)."""

    enabled: bool = Field(False, description="Frameless full screen; leaving needs a supervisor PIN.")
    hide_cursor: bool = Field(False, description="Hide the mouse pointer (touchscreen booths).")
    idle_lock_s: float = Field(
        300.0, ge=0, le=86_400, description="Lock after this long untouched (0 = never); lanes keep working."
    )
    watchdog: bool = Field(True, description="Feed systemd's watchdog from the GUI thread (as a unit).")


class DisplaySettings(_Section):
    """[display]: language, theme, text size and voice of the booth window."""

    language: Literal["zh_CN", "en"] = Field("zh_CN", description='"zh_CN" or "en"; switchable at run time.')
    theme: Literal["standard", "high_contrast"] = Field("standard", description="Colour theme.")
    font_scale: float = Field(1.0, ge=0.75, le=2.0, description="Text size relative to the standard size.")
    voice: bool = Field(True, description="Spoken prompts for the driver and the attendant, where available.")


class Settings(_Section):
    schema_version: int = Field(SCHEMA_VERSION, description="Version of this file's schema.")
    park: ParkSettings
    bolink: BolinkSettings
    lanes: tuple[LaneSettings, ...]
    tariff: TariffSettings = Field(default_factory=TariffSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    alipay: AlipaySettings | None = Field(None, description="[alipay]: order.sync after Alipay payments.")
    tmall: TmallSettings | None = Field(None, description="[tmall]: parking data back to a Tmall mall.")
    sync: SyncSettings = Field(default_factory=SyncSettings)
    cameras: CameraListenerSettings = Field(default_factory=CameraListenerSettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)
    shifts: ShiftSettings = Field(default_factory=ShiftSettings)
    exceptions: ExceptionSettings = Field(default_factory=ExceptionSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)
    display: DisplaySettings = Field(default_factory=DisplaySettings)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"this Booth reads schema_version {SCHEMA_VERSION}, the file says {value}")
        return value

    @model_validator(mode="after")
    def _unique_lanes(self) -> Settings:
        if not self.lanes:
            raise ValueError("lanes: at least one [[lanes]] table is required")
        for attr in ("id", "channel_id"):
            seen: set[str] = set()
            for lane in self.lanes:
                value = getattr(lane, attr)
                if value in seen:
                    raise ValueError(f"lanes: two lanes have {attr} {value!r}")
                seen.add(value)
        sharing: dict[str, list[LaneSettings]] = {}
        for lane in self.lanes:
            for ip in lane.camera.ip if lane.camera else ():
                for other in sharing.get(ip, ()):
                    if problem := _shared_camera_problem(ip, other, lane):
                        raise ValueError(f"lanes: camera ip {ip} {problem}")
                sharing.setdefault(ip, []).append(lane)
            if lane.gate.driver == "camera_relay" and (
                lane.camera is None or lane.camera.vendor != "vzenith"
            ):
                raise ValueError(f"lanes: lane {lane.id!r} has a camera_relay gate but no vzenith camera")
        return self

    def lane(self, lane_id: str) -> LaneSettings:
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(lane_id)


def _shared_camera_problem(ip: str, first: LaneSettings, second: LaneSettings) -> str | None:
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


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "booth.toml"


def default_database_url() -> str:
    return f"sqlite:///{Path(platformdirs.user_data_dir(APP_NAME)) / 'booth.sqlite'}"


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _GATE_DRIVERS and out.endswith("gate"):
            continue  # the discriminated union adds the driver name to the location
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(error: Mapping[str, Any]) -> str:
    key = _key_path(tuple(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key (misspelt?)"
    msg = str(error["msg"]).removeprefix("Value error, ")
    named = _NAMED_KEY.match(msg)
    if kind == "value_error" and named and named.group(1) in _SECTION_KEYS.get(key, ()):
        key, msg = f"{key}.{named.group(1)}", named.group(2)  # a section's check that names its key
    if kind != "value_error" and "input" in error and not isinstance(error["input"], (dict, list)):
        msg += f" (got {error['input']!r})"
    return f"{key}: {msg}"


_GATE_DRIVERS = ("simulated", "modbus_tcp", "modbus_rtu", "lcus", "camera_relay", "hikvision")
_NAMED_KEY = re.compile(r"^([a-z_][a-z0-9_]*)(?:_file)?: (.*)$", re.S)
_SECTION_KEYS: dict[str, frozenset[str]] = {
    "bolink": frozenset(BolinkSettings.model_fields),
    "alipay": frozenset(AlipaySettings.model_fields),
    "tmall": frozenset(TmallSettings.model_fields),
}


def settings_from_mapping(data: Mapping[str, Any], source: str = "<settings>") -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(e) for e in exc.errors()]) from None
    except RecursionError:
        raise ConfigError(source, ["values are nested too deeply"]) from None
    as_numbers = sorted(set(_bools_taken_as_numbers(data, settings, "")))
    if as_numbers:
        raise ConfigError(source, [f"{key}: expected a number, got a true/false value" for key in as_numbers])
    return settings


def _bools_taken_as_numbers(raw: object, value: object, key: str) -> Iterator[str]:
    """Keys where a true/false was given and a number came out: pydantic reads ``true`` as 1 for an int
    or a float (``schema_version = true`` passed as version 1). Walks the input beside the validated
    settings, so it covers every section, also those defined outside this module."""
    if isinstance(raw, bool):
        if not isinstance(value, bool):
            yield key
        return
    if isinstance(raw, Mapping):
        for name, item in raw.items():
            if isinstance(value, BaseModel) and name in type(value).model_fields:
                inner = getattr(value, name)
            elif isinstance(value, Mapping) and name in value:
                inner = value[name]
            else:
                continue
            yield from _bools_taken_as_numbers(item, inner, f"{key}.{name}" if key else str(name))
    elif isinstance(raw, (list, tuple)) and isinstance(value, (list, tuple)) and len(raw) == len(value):
        for index, (item, inner) in enumerate(zip(raw, value, strict=True)):
            yield from _bools_taken_as_numbers(item, inner, f"{key}[{index}]")


def load_settings(path: Path) -> Settings:
    """Read and validate a TOML settings file; raise ConfigError naming each problem."""
    raw = _read_capped(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(str(path), ["not valid TOML: arrays or tables nested too deeply"]) from None
    return settings_from_mapping(data, str(path))


def _read_capped(path: Path) -> bytes:
    """The file's bytes, refused unread when it is not a regular file (a FIFO would block, /dev/zero
    never ends) or larger than MAX_CONFIG_BYTES."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
            raise ConfigError(str(path), [f"cannot read the file: it is {kind}, not a regular file"])
        with os.fdopen(fd, "rb", closefd=False) as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        size = MAX_CONFIG_BYTES // (1024 * 1024)
        raise ConfigError(str(path), [f"the file is larger than {size} MiB: not a settings file"])
    return raw


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_warnings(settings: Settings) -> list[str]:
    """Settings that are valid but unsafe, one line each: ``booth config check`` prints them and the
    engine raises them as a supervisor alert at start."""
    warnings: list[str] = []
    url = settings.bolink.base_url
    if not settings.bolink.is_sandbox and url.lower().startswith("http://"):
        warnings.append(
            f"bolink.base_url: {url} is plain http: payment results, prepayments and the login token "
            "travel unencrypted and can be forged on the way; use https if Bolink serves this park over it "
            '(and set bolink.downstream_sign = "refuse" once the lot has confirmed the sign rule)'
        )
    return warnings
