"""The root of the settings: :class:`Settings` (one field per table of the file), the lot (``[park]``),
``[database]`` and ``[logging]``, and :func:`config_warnings` (valid but unsafe settings).

Reading a file into them is :mod:`booth.config.loading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from booth.config.clouds import AlipaySettings, BolinkSettings, SyncSettings, TmallSettings
from booth.config.lanes import CameraListenerSettings, LaneSettings, SimulatorSettings, shared_camera_problem
from booth.config.lot import LotSettings
from booth.config.office import ExceptionSettings, ShiftSettings, StaffSettings
from booth.config.paths import default_backup_dir, default_database_url
from booth.config.screen import DisplaySettings, KioskSettings, moved_idle_lock
from booth.config.section import Section
from booth.domain.tariff import TariffSettings

SCHEMA_VERSION = 1


class ParkSettings(Section):
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


class DatabaseSettings(Section):
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


class BackupSettings(Section):
    """``[backup]``: copies of the database made in the background while the lanes work."""

    folder: str | None = Field(None, description="Where the copies go (default: data folder/backups).")
    interval_h: float = Field(
        0, ge=0, le=24 * 366, description="Hours between scheduled copies; 0 = none (booth backup works)."
    )
    keep: int = Field(14, ge=1, le=100_000, description="Keep this many scheduled copies; older ones go.")
    photos: bool = Field(False, description="Also copy the photos folder (a .tar beside each copy).")

    @property
    def folder_path(self) -> Path:
        return Path(self.folder).expanduser() if self.folder else default_backup_dir()


class RetentionSettings(Section):
    """``[retention]``: keep the newest months in the database and move older closed records to yearly
    archive files beside it (booth.store.archive), which reports still read."""

    months_online: int = Field(
        0, ge=0, le=1200, description="Calendar months kept in the database (0 = keep everything; else >= 2)."
    )
    archive_folder: str | None = Field(
        None, description="Where the yearly archive files go (default: the database's folder/archive)."
    )

    @field_validator("months_online")
    @classmethod
    def _two_or_more(cls, value: int) -> int:
        if value == 1:
            raise ValueError("months_online is 0 (keep everything) or at least 2 (this month and the last)")
        return value

    def folder_for(self, database_url: str) -> Path | None:
        """The archive folder of the database at `database_url`; None when it is not an SQLite file."""
        if self.archive_folder:
            return Path(self.archive_folder).expanduser()
        from booth.store.db import sqlite_file

        database = sqlite_file(database_url)
        return None if database is None else database.parent / "archive"


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(Section):
    schema_version: int = Field(SCHEMA_VERSION, description="Version of this file's schema.")
    park: ParkSettings
    bolink: BolinkSettings
    lanes: tuple[LaneSettings, ...]
    tariff: TariffSettings = Field(default_factory=TariffSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
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
    lot: LotSettings | None = Field(None, description="[lot]: one of a lot's booths on a shared server.")

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        return moved_idle_lock(data)

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
                    if problem := shared_camera_problem(ip, other, lane):
                        raise ValueError(f"lanes: camera ip {ip} {problem}")
                sharing.setdefault(ip, []).append(lane)
            if lane.gate.driver == "camera_relay" and (
                lane.camera is None or lane.camera.vendor != "vzenith"
            ):
                raise ValueError(f"lanes: lane {lane.id!r} has a camera_relay gate but no vzenith camera")
        return self

    @model_validator(mode="after")
    def _lot_journal_is_sqlite(self) -> Settings:
        """A lot booth's own database is its journal: SQLite, with the triggers that journal each write."""
        if self.lot is not None:
            from sqlalchemy.engine import make_url

            backend = make_url(self.database.url).get_backend_name()
            if backend != "sqlite":
                raise ValueError(
                    f"database.url: with [lot], this booth's own database is its local journal and must be "
                    f'SQLite (e.g. "sqlite:////var/lib/booth/booth.sqlite"), not {backend}; the lot\'s '
                    "PostgreSQL is [lot] server"
                )
        return self

    def lane(self, lane_id: str) -> LaneSettings:
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(lane_id)


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
    if settings.lot is not None and (missing := _channels_not_named(settings)):
        local_id = settings.bolink.local_id
        channels = "_".join(lane.channel_id for lane in exits(settings))
        wanted = f"{local_id.split('_channels_')[0]}_channels_{channels}"
        warnings.append(
            f"bolink.local_id: in a lot, each booth's local_id names its exit lanes' channels "
            f'(e.g. "{wanted}") so that Bolink sends the payment results of those lanes to this booth only; '
            f"{local_id!r} does not name {', '.join(missing)}: a driver's payment there may reach another "
            "booth of the lot, and the car wait at the barrier"
        )
    return warnings


def exits(settings: Settings) -> list[LaneSettings]:
    return [lane for lane in settings.lanes if lane.direction == "exit"]


def _channels_not_named(settings: Settings) -> list[str]:
    """The exit lanes' channel ids missing from ``<id>_channels_A1_A2`` (Bolink's way for one charging system
    of a park to name the lanes whose scan-to-pay messages it alone receives)."""
    _, found, named = settings.bolink.local_id.partition("_channels_")
    channels = set(named.split("_")) if found else set()
    return [lane.channel_id for lane in exits(settings) if lane.channel_id not in channels]
