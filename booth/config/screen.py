"""The booth window's sections: ``[kiosk]`` (locked-down full screen) and ``[display]`` (language, theme,
text size, voice)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from booth.config.section import Section


class KioskSettings(Section):
    """[kiosk]: the booth screen as a locked-down kiosk (also `booth --kiosk`)."""

    enabled: bool = Field(False, description="Frameless full screen; leaving needs a supervisor PIN.")
    hide_cursor: bool = Field(False, description="Hide the mouse pointer (touchscreen booths).")
    idle_lock_s: float = Field(
        300.0, ge=0, le=86_400, description="Lock after this long untouched (0 = never); lanes keep working."
    )
    watchdog: bool = Field(True, description="Feed systemd's watchdog from the GUI thread (as a unit).")


class DisplaySettings(Section):
    """[display]: language, theme, text size and voice of the booth window."""

    language: Literal["zh_CN", "en"] = Field("zh_CN", description='"zh_CN" or "en"; switchable at run time.')
    theme: Literal["standard", "high_contrast"] = Field("standard", description="Colour theme.")
    font_scale: float = Field(1.0, ge=0.75, le=2.0, description="Text size relative to the standard size.")
    voice: bool = Field(True, description="Spoken prompts for the driver and the attendant, where available.")
