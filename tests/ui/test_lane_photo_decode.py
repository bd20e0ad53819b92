"""A lane's photo is decoded no larger than it can be shown (ui/lanes/lane_details.py: read_photo)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from ui.lanes.lane_details import photo_bound, read_photo

LEFT, RIGHT = QColor("#cc3333"), QColor("#3366aa")


def _jpeg(folder: Path, width: int, height: int) -> str:
    """A JPEG photo: its left half red, its right half blue."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(RIGHT)
    painter = QPainter(image)
    painter.fillRect(0, 0, width // 2, height, LEFT)
    painter.end()
    path = folder / f"car-{width}x{height}.jpg"
    assert image.save(str(path), "JPEG")
    return str(path)


def _near(colour: QColor, expected: QColor) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(colour.getRgb()[:3], expected.getRgb()[:3], strict=True))


def test_a_camera_scene_is_decoded_at_the_size_it_is_shown(tmp_path: Path) -> None:
    scene = _jpeg(tmp_path, 1920, 1080)
    half = read_photo(scene, QSize(960, 540))
    assert half is not None and half.size() == QSize(960, 540)
    # the picture itself, not a blank of that size (JPEG is lossy: the colours within a few steps)
    assert _near(half.pixelColor(240, 270), LEFT) and _near(half.pixelColor(720, 270), RIGHT)
    # a box of another shape: the photo keeps its proportions inside it
    narrow = read_photo(scene, QSize(800, 800))
    assert narrow is not None and narrow.size() == QSize(800, 450)


def test_a_photo_smaller_than_the_bound_is_not_enlarged(tmp_path: Path) -> None:
    small = read_photo(_jpeg(tmp_path, 640, 480), QSize(960, 540))
    assert small is not None and small.size() == QSize(640, 480)


def test_what_is_not_a_picture_is_none(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture at all")
    assert read_photo(str(broken), QSize(960, 540)) is None
    assert read_photo(str(tmp_path / "gone.jpg"), QSize(960, 540)) is None


def test_the_bound_is_half_the_screen_and_at_least_640x360(qapp: QApplication) -> None:
    widget = QWidget()
    try:
        screen = widget.screen()
        width, height = screen.size().width(), screen.size().height()  # Qt's offscreen screen: 800x800
        assert screen.devicePixelRatio() == 1 and width < 1280
        assert photo_bound(widget) == QSize(640, max(360, height // 2))  # half its width is below the floor
    finally:
        widget.deleteLater()
