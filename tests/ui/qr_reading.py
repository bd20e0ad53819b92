"""Reading QR codes back from what the window drew, with zbar (the way a phone's decoder would)."""

from __future__ import annotations

from pyzbar import pyzbar

from PySide6.QtGui import QImage


def decode_qr(image: QImage) -> list[str]:
    """Every QR code zbar finds in ``image``, as text."""
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height, stride = gray.width(), gray.height(), gray.bytesPerLine()
    raw = bytes(gray.constBits())
    pixels = b"".join(raw[row * stride: row * stride + width] for row in range(height))
    return [symbol.data.decode("utf-8") for symbol in pyzbar.decode((pixels, width, height))
            if symbol.type == "QRCODE"]
