"""A real window on a real X server (Xvfb), grabbed from the screen: not blank, Chinese drawn, QR readable.

The window runs in a child process because a process can host only one Qt platform (the other UI tests use
offscreen). ``python -m ui.screenshot`` is the same program that made docs/screenshot-lanes.png.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from qr_reading import decode_qr

from PySide6.QtGui import QImage

from ui.style import CJK_FAMILIES

XVFB = shutil.which("Xvfb")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    XVFB is None, reason="Xvfb is not installed (apt-get install xvfb): no X display to open a real window on"
)


@pytest.fixture
def x_display() -> Iterator[str]:
    """A private Xvfb server on a free display number (Xvfb picks it and tells us through -displayfd)."""
    assert XVFB is not None
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [XVFB, "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number.isdigit():
            pytest.fail(f"Xvfb did not report a display number (exit code {server.poll()})")
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        server.wait(10)


def test_the_lane_screen_on_a_real_x_display(x_display: str, tmp_path: Path) -> None:
    shot, report_file = tmp_path / "lanes.png", tmp_path / "lanes.json"
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(
        [sys.executable, "-m", "ui.screenshot", str(shot), "--report", str(report_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["platform"] == "xcb"

    with Image.open(shot) as opened:
        image = opened.convert("RGB")
    assert list(image.size) == report["screen"] == [1920, 1080]
    gray = image.convert("L")
    assert ImageStat.Stat(gray).stddev[0] > 30, "the screen is (nearly) blank"
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 100, "the screen has almost no distinct colours"

    # the plate: big Chinese text on a plate-coloured background, so its pixels vary a lot
    x, y, w, h = report["plate_rect"]
    assert h >= 60 and report["plate_text"] == "苏A·12345"
    plate = gray.crop((x, y, x + w, y + h))
    assert ImageStat.Stat(plate).stddev[0] > 25, "the plate area is flat: no text was drawn"
    for glyphs in (report["plate_glyphs"], report["text_glyphs"]):
        assert glyphs["family"] in CJK_FAMILIES
        assert glyphs["missing"] == [], f"drawn as empty boxes: {glyphs['missing']}"

    # the QR, as the X server shows it, reads back to the sandbox's pay page
    qx, qy, qw, qh = report["qr_rect"]
    qr = QImage(str(shot)).copy(qx, qy, qw, qh)
    assert decode_qr(qr) == [report["pay_url"]]
    assert report["pay_url"].startswith("http://127.0.0.1:") and report["pay_url"].endswith("/pay/X1")
