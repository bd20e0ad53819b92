"""Where Booth keeps its files when the settings do not say: the one place that decides default paths.

Two layouts:

- **installed** (the Debian package: Booth's virtual environment is ``/opt/booth/venv``, so ``sys.prefix``
  lies under ``/opt/booth``): settings in ``/etc/booth/booth.toml``, data (database, photos, backups, logs) in
  ``/var/lib/booth``. Deciding by ``sys.prefix`` rather than by an environment variable the systemd unit sets
  means ``booth staff list`` typed in a shell on the booth PC finds the same files as the service.
- **from a clone** (any other ``sys.prefix``): the user's folders (``platformdirs``), on Linux
  ``~/.config/booth/booth.toml`` and ``~/.local/share/booth``.

``BOOTH_CONFIG`` (set by the unit) names the settings file in either layout. Paths written in a settings file
that are relative (``sqlite:///booth.sqlite``, a photo folder, a key file) are resolved against the settings
file's own folder by :func:`resolve_relative_paths`, never against the current directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "booth"
#: Where the Debian package puts Booth (its venv is /opt/booth/venv).
INSTALL_PREFIX = Path("/opt/booth")
INSTALLED_CONFIG = Path("/etc/booth/booth.toml")
INSTALLED_DATA = Path("/var/lib/booth")


def is_installed() -> bool:
    """True when this Booth runs from the package's virtual environment under /opt/booth."""
    prefix = Path(sys.prefix).resolve()
    return prefix == INSTALL_PREFIX or INSTALL_PREFIX in prefix.parents


def default_config_path() -> Path:
    named = os.environ.get("BOOTH_CONFIG", "").strip()
    if named:
        return Path(named).expanduser()
    if is_installed():
        return INSTALLED_CONFIG
    return Path(platformdirs.user_config_dir(APP_NAME)) / "booth.toml"


def data_dir() -> Path:
    """The folder of the database, photos, backups and logs when the settings do not name them."""
    return INSTALLED_DATA if is_installed() else Path(platformdirs.user_data_dir(APP_NAME))


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'booth.sqlite'}"


def default_photo_dir() -> Path:
    """Where camera photos are kept unless ``[cameras] photo_dir`` names a folder."""
    return data_dir() / "photos"


def default_backup_dir() -> Path:
    """Where ``booth backup`` and ``[backup]`` put their copies unless told."""
    return data_dir() / "backups"


def default_log_dir() -> Path:
    """Where the log file goes when Booth is not run by systemd (whose journal takes stderr)."""
    return data_dir() / "logs"


def demo_dir() -> Path:
    """The demo's one folder (``BOOTH_DEMO_DIR``, else ``~/.cache/booth/demo``): emptied when a demo starts,
    its throwaway keys removed when it ends, its database kept until the next demo starts so that
    ``booth --demo report ...`` and ``booth --demo sync status`` read the running or the last demo."""
    named = os.environ.get("BOOTH_DEMO_DIR", "").strip()
    return Path(named).expanduser() if named else Path(platformdirs.user_cache_dir(APP_NAME)) / "demo"


#: Keys holding a file or folder path, by section: resolved against the settings file's folder.
_PATH_KEYS: dict[str, tuple[str, ...]] = {
    "cameras": ("photo_dir",),
    "alipay": ("app_private_key_file", "alipay_public_key_file"),
    "backup": ("folder",),
    "retention": ("archive_folder",),
}


def resolve_relative_paths(data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``data`` (a settings file as read) with its relative paths made absolute against ``base`` (the
    settings file's folder): the SQLite file of ``[database] url`` and the keys in ``_PATH_KEYS``. Values
    that are not text are left for validation to name."""
    base = base.expanduser().absolute()
    resolved = dict(data)
    database = data.get("database")
    if isinstance(database, Mapping) and isinstance(database.get("url"), str):
        resolved["database"] = {**database, "url": _resolve_sqlite_url(database["url"], base)}
    for section, keys in _PATH_KEYS.items():
        values = data.get(section)
        if not isinstance(values, Mapping):
            continue
        changed = dict(values)
        for key in keys:
            value = values.get(key)
            if isinstance(value, str) and value.strip() and "\0" not in value:
                path = Path(value).expanduser()
                changed[key] = str(path if path.is_absolute() else base / path)
        resolved[section] = changed
    return resolved


def _resolve_sqlite_url(url: str, base: Path) -> str:
    """``sqlite:///booth.sqlite`` -> ``sqlite:////etc/booth/booth.sqlite`` for a file in /etc/booth; URLs of
    other databases, in-memory ones, SQLite URI filenames and absolute paths unchanged."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "\0" in url:
        return url  # validation names it
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url  # validation names it
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri") or parsed.query.get("mode"):
        return url
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return url
    path = Path(database).expanduser()
    if path.is_absolute():
        return url
    return parsed.set(database=str(base / path)).render_as_string(hide_password=False)
