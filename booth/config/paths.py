"""Where Booth keeps its files when the settings do not say: the one place that decides default paths.

The folders are the platform's per-user ones (``platformdirs``): on Linux ``~/.config/booth`` for the
settings file and ``~/.local/share/booth`` for the database and photos.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "booth"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "booth.toml"


def default_database_url() -> str:
    return f"sqlite:///{Path(platformdirs.user_data_dir(APP_NAME)) / 'booth.sqlite'}"


def default_photo_dir() -> Path:
    """Where camera photos are kept unless ``[cameras] photo_dir`` names a folder."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "photos"
