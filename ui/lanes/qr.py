"""The payment QR: the lane's code_url drawn crisp (whole pixels per module, a white quiet zone) and big
enough for a phone to read from 1 m.

Sizing: a phone camera 1 m away sees about 1.3 px per millimetre of the code; decoders want 2-3 px per
module, so a module should be at least 2.5 mm wide. The widget asks the layout for that and never draws
modules smaller than 1.5 mm (the floor when four lanes share a small screen).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.kit.physical import mm_to_px

QUIET_ZONE_MODULES = 4  # the standard's quiet zone; without it many phone decoders give up
MODULE_MM = 2.5
MIN_MODULE_MM = 1.5


@functools.lru_cache(maxsize=32)
def qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The code's modules (True = dark), without the quiet zone. Error correction M survives glare.

    Cached: choosing the mask takes qrcode ~25 ms, and a lane's URL is the same for every car.
    """
    if not text:
        raise ValueError("a QR code needs some text")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())


def render_qr(modules: Sequence[Sequence[bool]], module_px: int) -> QImage:
    """Black modules on white, quiet zone included, ``module_px`` whole pixels per module."""
    if module_px < 1:
        raise ValueError(f"module_px must be at least 1, got {module_px}")
    count = len(modules) + 2 * QUIET_ZONE_MODULES
    side = count * module_px
    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        black = QColor("black")
        for y, row in enumerate(modules):
            top = (y + QUIET_ZONE_MODULES) * module_px
            x = 0
            while x < len(row):  # one rectangle per horizontal run of dark modules
                if not row[x]:
                    x += 1
                    continue
                start = x
                while x < len(row) and row[x]:
                    x += 1
                left = (start + QUIET_ZONE_MODULES) * module_px
                painter.fillRect(left, top, (x - start) * module_px, module_px, black)
    finally:
        painter.end()
    return image


class QrView(QWidget):
    """Draws one URL as a QR code, as large as the widget allows in whole pixels per module.

    No signals. Rendering is cached per (URL, module size), so a lane update that keeps its URL costs nothing.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("qr")
        self._url: str | None = None
        self._modules: tuple[tuple[bool, ...], ...] = ()
        self._cache: tuple[str, int, QImage] | None = None  # (url, module_px, image)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    @property
    def url(self) -> str | None:
        return self._url

    def set_url(self, url: str | None) -> None:
        if url == self._url:
            return
        count = self._count()
        self._url = url
        self._modules = qr_modules(url) if url else ()
        if self._count() != count:
            self.updateGeometry()  # only a different code size changes what the widget asks the layout for
        self.update()

    def _count(self) -> int:
        return (len(self._modules) or 29) + 2 * QUIET_ZONE_MODULES

    def sizeHint(self) -> QSize:
        side = self._count() * mm_to_px(MODULE_MM, self.screen())
        return QSize(side, side)

    def minimumSizeHint(self) -> QSize:
        side = self._count() * mm_to_px(MIN_MODULE_MM, self.screen())
        return QSize(side, side)

    def module_px(self) -> int:
        """Pixels per module at the current size (0 when nothing is shown)."""
        if not self._modules:
            return 0
        return max(1, min(self.width(), self.height()) // self._count())

    def code_rect(self) -> QRect:
        """Where the code (quiet zone included) is drawn, in widget coordinates."""
        side = self.module_px() * self._count()
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._modules:
            return
        module_px = self.module_px()
        url = self._url or ""
        if self._cache is None or self._cache[:2] != (url, module_px):
            self._cache = (url, module_px, render_qr(self._modules, module_px))
        painter = QPainter(self)
        try:
            painter.drawImage(self.code_rect().topLeft(), self._cache[2])
        finally:
            painter.end()
