"""The X display the screenshots and the Xvfb tests run on: a private Xvfb server on a free display number,
and a pointer that taps through the X server with xdotool (a real click, as a finger on a touchscreen
without a window manager would make)."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import shutil
import subprocess
from collections.abc import Iterator

DEFAULT_SIZE = (1920, 1080)


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080); anything else is refused naming what was given."""
    match = re.fullmatch(r"(\d{3,5})x(\d{3,5})", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT in pixels, e.g. 1920x1080, got {text!r}")
    return int(match.group(1)), int(match.group(2))


@contextlib.contextmanager
def private_xvfb(size: tuple[int, int] = DEFAULT_SIZE, timeout_s: float = 20.0) -> Iterator[str]:
    """A private Xvfb server on a free display number (Xvfb picks it and tells us through -displayfd);
    yields the display name (":N") and stops the server on exit."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb): no X display for a real window")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], timeout_s)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not report a display number (exit code {server.poll()})")
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        server.wait(10)


class XPointer:
    """The X server's pointer, moved and clicked by xdotool on ``$DISPLAY``."""

    def __init__(self) -> None:
        tool = shutil.which("xdotool")
        if tool is None:
            raise RuntimeError("xdotool is not installed (apt-get install xdotool): no pointer to tap with")
        self.tool = tool

    def click(self, x: int, y: int) -> None:
        """Move to (``x``, ``y``) on the screen and click the first button there."""
        self._run("mousemove", str(x), str(y), "click", "1")

    def move(self, x: int, y: int) -> None:
        self._run("mousemove", str(x), str(y))

    def _run(self, *args: str) -> None:
        subprocess.run([self.tool, *args], check=True, timeout=10, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
