"""systemd's service notifications, fed from the GUI thread.

Under ``Type=notify`` with ``WatchdogSec=`` (deploy/booth.service) systemd passes ``NOTIFY_SOCKET`` (a unix
datagram socket, "@..." for the abstract namespace) and ``WATCHDOG_USEC``. The booth sends ``READY=1`` once
the window is up, ``WATCHDOG=1`` every half interval from a QTimer on the GUI thread, and ``STOPPING=1`` on
the way out. A GUI thread that freezes stops feeding, and systemd kills and restarts the booth
(``Restart=always``). The protocol is a few ASCII lines per datagram (sd_notify(3)); sending never blocks.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

from PySide6.QtCore import QObject, QTimer, Slot

log = logging.getLogger("ui.watchdog")


class NotifyError(ValueError):
    """NOTIFY_SOCKET or WATCHDOG_USEC holds something systemd would never set."""


def notify_address(env: Mapping[str, str] | None = None) -> str | None:
    """The socket address from ``NOTIFY_SOCKET`` (abstract names start with a NUL byte), or None if unset."""
    env = os.environ if env is None else env
    value = env.get("NOTIFY_SOCKET", "")
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if not value.startswith("/"):
        raise NotifyError(f"NOTIFY_SOCKET must be an absolute path or start with '@', got {value!r}")
    return value


def watchdog_interval_s(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """systemd's watchdog interval in seconds from ``WATCHDOG_USEC``, or None when no watchdog is asked for
    (unset, or ``WATCHDOG_PID`` names another process)."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    owner = env.get("WATCHDOG_PID", "")
    if owner and owner.strip() != str(os.getpid() if pid is None else pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        raise NotifyError(f"WATCHDOG_USEC must be a whole number of microseconds, got {usec!r}") from None
    if value <= 0:
        raise NotifyError(f"WATCHDOG_USEC must be positive, got {usec!r}")
    return value / 1_000_000


class SystemdNotifier:
    """Sends sd_notify datagrams to ``address`` (a unix socket path or "\\0abstract-name")."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)

    def notify(self, *assignments: str) -> bool:
        """Send ``READY=1``-style lines in one datagram; False (and a log line) if it could not be sent."""
        for line in assignments:
            if "=" not in line or "\n" in line:
                raise NotifyError(f"a notification is one VARIABLE=value line, got {line!r}")
        try:
            self._socket.sendto("\n".join(assignments).encode("utf-8"), self.address)
        except OSError as exc:  # systemd gone, socket full: the next feed tries again
            log.warning("systemd notification %s not sent: %s", assignments, exc)
            return False
        return True

    def close(self) -> None:
        self._socket.close()


class WatchdogFeeder(QObject):
    """``READY=1`` on ``start()``, then ``WATCHDOG=1`` every ``interval_s / 2`` from the GUI thread's event
    loop, ``STOPPING=1`` on ``stop()``."""

    def __init__(
        self, notifier: SystemdNotifier, interval_s: float | None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.notifier = notifier
        self.interval_s = interval_s
        self.timer = QTimer(self)
        if interval_s is not None:
            self.timer.setInterval(max(1, round(interval_s * 1000 / 2)))
        self.timer.timeout.connect(self.feed)

    def start(self) -> None:
        self.notifier.notify("READY=1", "STATUS=booth window up")
        if self.interval_s is not None:
            self.feed()
            self.timer.start()

    @Slot()
    def feed(self) -> None:
        self.notifier.notify("WATCHDOG=1")

    def stop(self) -> None:
        """Tell systemd the stop is deliberate, then stop feeding and close the socket."""
        self.timer.stop()
        self.notifier.notify("STOPPING=1")
        self.notifier.close()


def feeder_from_environment(parent: QObject | None = None) -> WatchdogFeeder | None:
    """A feeder for the service systemd started, or None when not run by systemd with ``Type=notify``."""
    try:
        address = notify_address()
        interval = watchdog_interval_s()
    except NotifyError as exc:
        log.warning("systemd notification disabled: %s", exc)
        return None
    if address is None:
        return None
    return WatchdogFeeder(SystemdNotifier(address), interval, parent)
