"""Reading settings: a TOML file (or a mapping) into :class:`~booth.config.settings.Settings`.

Every error names the key (``lanes[1].gate.port``) and the problem. Unknown keys are refused, so a typo in
the file is reported instead of silently ignored. ``booth config check FILE`` runs the same validation.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from booth.config.clouds import AlipaySettings, BolinkSettings, TmallSettings
from booth.config.lanes import GATE_DRIVERS
from booth.config.paths import resolve_relative_paths
from booth.config.settings import Settings

#: A settings file larger than this is refused unread (``/dev/zero`` or a runaway file must not fill memory).
MAX_CONFIG_BYTES = 8 * 1024 * 1024


class ConfigError(Exception):
    """The configuration cannot be used. ``problems`` lists one ``key: reason`` line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        if len(problems) == 1:  # one line, as a command's refusal should be
            super().__init__(f"{source}: invalid configuration: {problems[0]}")
        else:
            super().__init__(f"{source}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in GATE_DRIVERS and out.endswith("gate"):
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
    top = _TOP_KEY.match(msg) if not error["loc"] else None
    if kind == "value_error" and top and top.group(1).split(".")[0] in Settings.model_fields:
        key, msg = top.group(1), top.group(2)  # a check across sections that names its key
    if kind != "value_error" and "input" in error and not isinstance(error["input"], (dict, list)):
        msg += f" (got {error['input']!r})"
    return f"{key}: {msg}"


_NAMED_KEY = re.compile(r"^([a-z_][a-z0-9_]*)(?:_file)?: (.*)$", re.S)
_TOP_KEY = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*): (.*)$", re.S)
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
    """Read and validate a TOML settings file; raise ConfigError naming each problem. Relative paths in it
    (the SQLite file, photo folder, key files, backup folder) are taken from the file's own folder."""
    raw = _read_capped(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(str(path), ["not valid TOML: arrays or tables nested too deeply"]) from None
    return settings_from_mapping(resolve_relative_paths(data, path.parent), str(path))


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
