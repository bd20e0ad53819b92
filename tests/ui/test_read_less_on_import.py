"""PySide6's check of every module imported after it reads the file's bytes and keeps none of its lines
(ui/shell/app.py: read_less_on_import), and still tells a module that uses PySide6 from one that does not."""

from __future__ import annotations

import linecache
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from PySide6.QtWidgets import QApplication

from ui.shell.app import ensure_application


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    qt_user = "from PySide6 import QtCore\n\nVALUE = 1\n"
    (tmp_path / "booth_t_qt_user.py").write_text(qt_user, encoding="utf-8")
    (tmp_path / "booth_t_plain.py").write_text("import json\n\nVALUE = 2\n" * 200, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("booth_t_qt_user", "booth_t_plain"):
            sys.modules.pop(name, None)


def test_modules_imported_after_pyside6_leave_no_lines_behind(qapp: QApplication, modules: Path) -> None:
    assert ensure_application() is qapp  # installs the check (once; a second call changes nothing)
    feature = sys.modules["shibokensupport.feature"]
    assert getattr(feature._mod_uses_pyside, "booth_reads_bytes", False)
    linecache.clearcache()
    __import__("booth_t_qt_user")  # an import statement's way: through PySide6's hook on __import__
    __import__("booth_t_plain")
    assert str(modules / "booth_t_qt_user.py") not in linecache.cache
    assert str(modules / "booth_t_plain.py") not in linecache.cache
    # PySide6's own bookkeeping got the same answers: 0 = uses PySide6 (features may apply), -1 = ignore it
    assert feature.pyside_feature_dict["booth_t_qt_user"] == 0
    assert feature.pyside_feature_dict["booth_t_plain"] == -1
