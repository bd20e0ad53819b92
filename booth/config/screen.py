"""The booth window's sections: ``[kiosk]`` (locked-down full screen) and ``[display]`` (language, theme,
text size, voice, the idle lock).

``idle_lock_s`` was ``[kiosk]``'s while the idle lock worked only in kiosk mode; a file that still has it
there is read as ``[display] idle_lock_s`` (see :func:`moved_idle_lock`)."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field

from booth.config.section import Section

log = logging.getLogger("booth.config")


class KioskSettings(Section):
    """[kiosk]: the booth screen as a locked-down kiosk (also `booth --kiosk`)."""

    enabled: bool = Field(False, description="Frameless full screen; leaving needs a supervisor PIN.")
    hide_cursor: bool = Field(False, description="Hide the mouse pointer (touchscreen booths).")
    watchdog: bool = Field(True, description="Feed systemd's watchdog from the GUI thread (as a unit).")


class DisplaySettings(Section):
    """[display]: language, theme, text size and voice of the booth window."""

    language: Literal["zh_CN", "en"] = Field("zh_CN", description='"zh_CN" or "en"; switchable at run time.')
    theme: Literal["standard", "high_contrast"] = Field("standard", description="Colour theme.")
    font_scale: float = Field(1.0, ge=0.75, le=2.0, description="Text size relative to the standard size.")
    voice: bool = Field(True, description="Spoken prompts for the driver and the attendant, where available.")
    idle_lock_s: float = Field(
        300.0, ge=0, le=86_400,
        description="Lock the attendant's actions after this long untouched (0 = never), kiosk or not; the "
        "lanes keep working and each shows its plate, amount and QR behind the lock.",
    )


def moved_idle_lock(data: Any) -> Any:
    """The settings' raw tables with an old ``[kiosk] idle_lock_s`` moved to ``[display]`` (a file from before
    the idle lock worked out of kiosk mode); both set is a mistake: the one in ``[display]`` is meant."""
    if not isinstance(data, dict):
        return data
    kiosk = data.get("kiosk")
    if not isinstance(kiosk, dict) or "idle_lock_s" not in kiosk:
        return data
    display = data.get("display", {})
    if not isinstance(display, dict):
        return data
    if "idle_lock_s" in display:
        raise ValueError(
            "kiosk.idle_lock_s: moved to [display] idle_lock_s, which is set too: remove it from [kiosk]"
        )
    log.warning("[kiosk] idle_lock_s is read as [display] idle_lock_s (where it is now: move it there)")
    kiosk = {k: v for k, v in kiosk.items() if k != "idle_lock_s"}
    return {**data, "kiosk": kiosk, "display": {**display, "idle_lock_s": data["kiosk"]["idle_lock_s"]}}
