"""The payment QR decodes back to the exact URL, crisp and at a size a phone reads from 1 m."""

from __future__ import annotations

from typing import Any

import pytest
from qr_reading import decode_qr

from PySide6.QtGui import QColor

from ui.kit.physical import mm_to_px, px_to_mm
from ui.lanes.qr import MIN_MODULE_MM, MODULE_MM, QUIET_ZONE_MODULES, QrView, qr_modules, render_qr

URLS = [
    "http://127.0.0.1:40123/pay/X1",
    "https://s.bolink.club/unionapi/pay/qr?park_id=21835&channel_id=X2&union_id=200208&sign=9f86d081884c7d65",
    "https://example.com/付款?车牌=苏A12345",  # non-ASCII survives the round trip
]


@pytest.mark.parametrize("url", URLS)
def test_rendered_code_decodes_to_the_exact_url(url: str) -> None:
    modules = qr_modules(url)
    image = render_qr(modules, 4)
    assert decode_qr(image) == [url]


def test_the_quiet_zone_is_white_and_modules_are_whole_pixels() -> None:
    modules = qr_modules(URLS[0])
    image = render_qr(modules, 5)
    side = (len(modules) + 2 * QUIET_ZONE_MODULES) * 5
    assert image.width() == image.height() == side
    white = QColor("white").rgb()
    for i in range(QUIET_ZONE_MODULES * 5):
        assert image.pixel(i, side // 2) == white and image.pixel(side // 2, i) == white
    # the top-left finder pattern starts exactly at the quiet zone's edge
    edge = QUIET_ZONE_MODULES * 5
    assert image.pixel(edge, edge) == QColor("black").rgb()
    assert image.pixel(edge - 1, edge) == white


def test_nothing_to_encode_is_refused() -> None:
    with pytest.raises(ValueError, match="needs some text"):
        qr_modules("")
    with pytest.raises(ValueError, match="module_px"):
        render_qr(qr_modules("x"), 0)


def test_the_widget_asks_for_modules_a_phone_reads_from_a_metre(qtbot: Any) -> None:
    view = QrView()
    qtbot.addWidget(view)
    view.set_url(URLS[1])
    hint = view.sizeHint()
    count = len(qr_modules(URLS[1])) + 2 * QUIET_ZONE_MODULES
    assert hint.width() == count * mm_to_px(MODULE_MM)
    view.resize(hint)
    view.show()
    assert px_to_mm(view.module_px()) >= MODULE_MM
    assert view.minimumSizeHint().width() == count * mm_to_px(MIN_MODULE_MM)
    assert decode_qr(view.grab().toImage()) == [URLS[1]]


def test_the_widget_draws_nothing_without_a_url_and_redraws_a_new_one(qtbot: Any) -> None:
    view = QrView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    assert view.module_px() == 0 and decode_qr(view.grab().toImage()) == []
    view.set_url(URLS[0])
    assert decode_qr(view.grab().toImage()) == [URLS[0]]
    view.set_url(URLS[2])
    assert decode_qr(view.grab().toImage()) == [URLS[2]]
    view.set_url(None)
    assert decode_qr(view.grab().toImage()) == []
