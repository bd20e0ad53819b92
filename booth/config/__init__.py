"""The one settings schema: a TOML file, typed and validated at start.

Every error names the key (``lanes[1].gate.port``) and the problem. Unknown keys are refused, so a typo in
the file is reported instead of silently ignored. ``booth config check FILE`` runs the same validation.

Import the names from here (``from booth.config import Settings``). The modules split them by what they
describe; each imports only modules listed before it:

- ``section``: the base of every section (unknown keys refused, values frozen, no inf or nan).
- ``paths``: where Booth keeps its files when the settings do not say (settings file, database, photos).
- ``keys``: RSA keys read from PEM or base64 text, inline or from a file (Alipay's).
- ``clouds``: ``[bolink]``, ``[alipay]``, ``[tmall]`` and ``[sync]`` (how the outbox relays send).
- ``lanes``: ``[[lanes]]`` with their gates and cameras, ``[cameras]`` (the listener), ``[simulator]``.
- ``office``: ``[staff]``, ``[shifts]`` and ``[exceptions]``.
- ``screen``: ``[kiosk]`` and ``[display]``.
- ``lot``: ``[lot]``, this booth as one of a lot's booths on a shared PostgreSQL server (optional).
- ``settings``: the root :class:`Settings`, ``[park]``, ``[database]``, ``[backup]``, ``[logging]``, and
  :func:`config_warnings`.
- ``loading``: a TOML file or a mapping into :class:`Settings`; :class:`ConfigError` names each problem.
- ``private``: a settings or key file others may read is refused (:func:`refuse_exposed_secrets`).

The package sits below the clouds and the devices that take its sections, and imports only the domain.
"""

from booth.config.clouds import (
    ALIPAY_GATEWAY,
    ALIPAY_SANDBOX,
    BACKFLOW_ACTIONS,
    BOLINK_REQUESTS_PER_10S,
    BOLINK_SANDBOX,
    SIGN_METHODS,
    TOP_GATEWAY,
    TOP_SANDBOX,
    AlipayLotSettings,
    AlipaySettings,
    BackflowAction,
    BolinkSettings,
    SignMethod,
    SyncSettings,
    TmallSettings,
)
from booth.config.keys import (
    MIN_RSA_BITS,
    AlipayKeyError,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from booth.config.lanes import (
    GATE_DRIVERS,
    CameraListenerSettings,
    CameraRelayGateSettings,
    GateSettings,
    HikvisionGateSettings,
    LaneCameraSettings,
    LaneSettings,
    LcusRelayGateSettings,
    ModbusRtuGateSettings,
    ModbusTcpGateSettings,
    SimulatedGateSettings,
    SimulatorSettings,
)
from booth.config.loading import MAX_CONFIG_BYTES, ConfigError, load_settings, settings_from_mapping
from booth.config.lot import BOOTH_ID_MAX, LotSettings
from booth.config.office import (
    DEFAULT_DENOMINATIONS,
    MAX_CASH_FEN,
    MAX_DENOMINATION_FEN,
    ExceptionSettings,
    ShiftSettings,
    StaffSettings,
)
from booth.config.paths import (
    APP_NAME,
    data_dir,
    default_backup_dir,
    default_config_path,
    default_database_url,
    default_log_dir,
    default_photo_dir,
    demo_dir,
    is_installed,
)
from booth.config.private import SecretsExposed, exposure_problems, refuse_exposed_secrets
from booth.config.screen import DisplaySettings, KioskSettings
from booth.config.settings import (
    SCHEMA_VERSION,
    BackupSettings,
    DatabaseSettings,
    LoggingSettings,
    ParkSettings,
    RetentionSettings,
    Settings,
    config_warnings,
)

__all__ = [
    "ALIPAY_GATEWAY",
    "ALIPAY_SANDBOX",
    "APP_NAME",
    "BACKFLOW_ACTIONS",
    "BOLINK_REQUESTS_PER_10S",
    "BOLINK_SANDBOX",
    "BOOTH_ID_MAX",
    "DEFAULT_DENOMINATIONS",
    "GATE_DRIVERS",
    "MAX_CASH_FEN",
    "MAX_CONFIG_BYTES",
    "MAX_DENOMINATION_FEN",
    "MIN_RSA_BITS",
    "SCHEMA_VERSION",
    "SIGN_METHODS",
    "TOP_GATEWAY",
    "TOP_SANDBOX",
    "AlipayKeyError",
    "AlipayLotSettings",
    "AlipaySettings",
    "BackflowAction",
    "BackupSettings",
    "BolinkSettings",
    "CameraListenerSettings",
    "CameraRelayGateSettings",
    "ConfigError",
    "DatabaseSettings",
    "DisplaySettings",
    "ExceptionSettings",
    "GateSettings",
    "HikvisionGateSettings",
    "KioskSettings",
    "LaneCameraSettings",
    "LaneSettings",
    "LcusRelayGateSettings",
    "LoggingSettings",
    "LotSettings",
    "ModbusRtuGateSettings",
    "ModbusTcpGateSettings",
    "ParkSettings",
    "RetentionSettings",
    "SecretsExposed",
    "Settings",
    "ShiftSettings",
    "SignMethod",
    "SimulatedGateSettings",
    "SimulatorSettings",
    "StaffSettings",
    "SyncSettings",
    "TmallSettings",
    "config_warnings",
    "data_dir",
    "default_backup_dir",
    "default_config_path",
    "default_database_url",
    "default_log_dir",
    "default_photo_dir",
    "demo_dir",
    "exposure_problems",
    "is_installed",
    "load_private_key",
    "load_public_key",
    "load_settings",
    "private_key_pem",
    "public_key_pem",
    "refuse_exposed_secrets",
    "settings_from_mapping",
]
