"""Elapsed time that no setting of the clock moves (the lot's relay lease, issue #18)."""

from __future__ import annotations

import time

_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)  # Linux (a booth runs on Debian)


def elapsed_s() -> float:
    """Seconds on this machine's boot clock: only differences mean anything. Like ``time.monotonic()`` it is
    never stepped (by NTP, by hand or by the RTC), so a lease measured on it lasts what it says; unlike it,
    it runs on while the machine is suspended (Linux ``CLOCK_BOOTTIME``), so a lease does not look fresh
    after a suspend the lot server saw as silence. ``time.monotonic()`` where there is no boot clock."""
    if _BOOTTIME is None:
        return time.monotonic()
    return time.clock_gettime(_BOOTTIME)


__all__ = ["elapsed_s"]
