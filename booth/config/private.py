"""Secrets stay private: a settings file (Bolink's ukey, the TOP secret) or an Alipay private key file that
others on the PC may read is refused, before anything starts, with the file, its mode and the fix.

Group-readable is fine (the package installs /etc/booth/booth.toml as root:booth 0640). Writable by others is
refused for every file named here, also the Alipay public key (swapping it would let anyone forge Alipay's
answers). The demo's settings come from no file and its throwaway keys are made 0600, so it never meets this.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from booth.config.loading import ConfigError
from booth.config.settings import Settings


class SecretsExposed(ConfigError):
    """A settings or key file is open to others; one line per file, each naming the fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(source, problems)
        Exception.__init__(self, "\n".join(f"refusing to start: {p}" for p in problems))


def exposure_problems(settings: Settings, config_path: Path | None) -> list[str]:
    """One line per settings or key file that others may read (secrets) or change (any of them)."""
    problems: list[str] = []
    if config_path is not None:
        problems += _check(config_path, "the Bolink ukey and the other secrets", secret=True)
    alipay = settings.alipay
    if alipay is not None:
        if alipay.app_private_key_file is not None:
            problems += _check(alipay.app_private_key_file, "the Alipay app private key", secret=True)
        if alipay.alipay_public_key_file is not None:
            problems += _check(alipay.alipay_public_key_file, "Alipay's public key", secret=False)
    return problems


def refuse_exposed_secrets(settings: Settings, config_path: Path | None) -> None:
    """Raise :class:`SecretsExposed` when :func:`exposure_problems` finds any."""
    problems = exposure_problems(settings, config_path)
    if problems:
        raise SecretsExposed(str(config_path) if config_path else "<settings>", problems)


def _check(path: Path, holds: str, *, secret: bool) -> list[str]:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return []  # a missing or unreadable file is named where it is read
    fix = f"chmod 640 {path} (group booth may read it) or chmod 600 {path}"
    if secret and mode & stat.S_IROTH:
        return [f"{path} is readable by others (mode {mode:04o}) and holds {holds}: {fix}"]
    if mode & stat.S_IWOTH:
        return [f"{path} is writable by others (mode {mode:04o}) and holds {holds}: {fix}"]
    return []
