"""What a booth loads at start: each check runs in a fresh interpreter, as a user's process starts."""

from __future__ import annotations

import json
import subprocess
import sys


def _fresh(code: str) -> object:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_engine_loads_no_device_or_server_library_a_lane_does_not_use() -> None:
    """pymodbus (Modbus gates), pyserial (serial gates) and aiohttp (the camera listener, the emulators) are
    imported only by the drivers that need them: a demo or simulated booth never pays for them."""
    loaded = _fresh(
        "import json, sys, booth.engine, booth.cli.main\n"
        "print(json.dumps(sorted(m for m in ('pymodbus', 'serial', 'aiohttp') if m in sys.modules)))"
    )
    assert loaded == []


def test_a_vzenith_camera_loads_no_modbus_library_until_its_lane_has_an_led_board_to_speak() -> None:
    """The camera listener needs aiohttp; pymodbus (its CRC16 for the LED board's frames) only once a frame
    is made, for a lane with ``open_voice``."""
    loaded = _fresh(
        "import json, sys, booth.devices.cameras\n"
        "from booth.devices.vzenith import speak_frame\n"
        "before = 'pymodbus' in sys.modules\n"
        "assert speak_frame('一路顺风').startswith(bytes([0, 0x64, 0xFF, 0xFF]))\n"
        "print(json.dumps([before, 'pymodbus' in sys.modules]))"
    )
    assert loaded == [False, True]


def test_the_window_imports_the_engine_before_pyside6_so_its_import_hook_reads_almost_none_of_it() -> None:
    """PySide6's import hook reads the source of every module imported after it into linecache (see
    ui/__init__.py). With the engine's stack imported first only the few modules ui's own import statements
    name are read (the hook looks at what an import statement names), not the hundreds behind them."""
    count = (
        "print(json.dumps(len([f for f in linecache.cache if f.endswith('.py') and "
        "any(p in f for p in ('/sqlalchemy/', '/httpx/', '/pydantic/', '/cryptography/'))])))"
    )
    engine_first = _fresh("import json, linecache, ui.shell.app, ui.shell.main_window\n" + count)
    pyside_first = _fresh("import json, linecache, PySide6.QtCore, booth.engine, ui.shell.app\n" + count)
    assert isinstance(engine_first, int) and isinstance(pyside_first, int)
    assert engine_first <= 5
    assert pyside_first > 50  # the hook is real: this is what the order saves
