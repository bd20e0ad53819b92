"""A lane's details, what the driver and the attendant read: the plate over the payment QR (or why there is
none, or the car's photo when nothing is due) | the amount with its tariff breakdown, the change, the times
and a small photo. ``LaneDetails.show_view`` draws a ``LaneView``; the lane panel (ui/lanes/lane_panel.py)
puts it over its action panels and wires the actions.
"""

from __future__ import annotations

import contextlib
import html
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import tzinfo

from PySide6.QtCore import QCoreApplication, QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QImageReader, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.domain.lane import LaneState, LaneView
from booth.domain.plates import PROVINCES
from ui.kit.style import ICONS, Sizes
from ui.kit.wording import breakdown_words, clock_words, duration_words, yuan
from ui.lanes.qr import QrView

PAYABLE = frozenset({LaneState.AWAITING_PAYMENT, LaneState.PAYMENT_FAILED, LaneState.TIMED_OUT})
#: the lane's photo is a camera snapshot in a local file; anything larger than this is refused, not decoded
MAX_PHOTO_PIXELS = 40_000_000

log = logging.getLogger("ui.lanes")
_decoder: ThreadPoolExecutor | None = None


def photo_decoder() -> ThreadPoolExecutor:
    """The one thread that decodes the lanes' photos (made at first use). Decoding a camera's 1080p JPEG
    took 12 ms of the GUI thread per car, and far longer with the cores busy (a 432-ms stall of the soak
    was mostly in it); on this thread the GUI keeps drawing, and QImage is safe to make off the GUI thread.
    The thread lives as long as the window's process (at exit Python waits for a decode under way)."""
    global _decoder
    if _decoder is None:
        _decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-decode")
    return _decoder


def set_tone(widget: QWidget, tone: str) -> None:
    """Change a style property and re-polish only when it changed (re-polishing costs a style pass)."""
    if widget.property("tone") != tone:
        widget.setProperty("tone", tone)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def show_page(stack: QStackedWidget, index: int) -> None:
    """Switch pages only when it changes: Qt's call lets go of the GIL, and taking it back from a busy engine
    thread costs up to a switch interval each time (a lane redraws on every step of every car)."""
    if stack.currentIndex() != index:
        stack.setCurrentIndex(index)


def set_shown(widget: QWidget, shown: bool) -> None:
    """``setVisible`` only when it changes (same reason as :func:`show_page`)."""
    if widget.isHidden() == shown:
        widget.setVisible(shown)


def named_label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    return label


def plate_for_display(plate: str) -> str:
    """'苏A12345' -> '苏A·12345', as printed on the plate; anything unusual is shown as it is."""
    if len(plate) >= 7 and plate[0] in PROVINCES and plate[1].isascii() and plate[1].isalpha():
        return f"{plate[:2]}·{plate[2:]}"
    return plate


def photo_bound(widget: QWidget) -> QSize:
    """The most device pixels a lane's photo is shown at: half the screen each way (a photo box is at most a
    lane's left column), at least 640x360."""
    screen = widget.screen()
    if screen is None:
        return QSize(960, 540)
    size = screen.size() * screen.devicePixelRatio() / 2
    return size.expandedTo(QSize(640, 360))


def read_photo(path: str, bound: QSize) -> QImage | None:
    """The camera's photo in ``path`` decoded at no more than ``bound`` (in proportion), or None when it
    cannot be read (any thread: the lanes call it on :func:`photo_decoder`'s). A JPEG scales while it
    decodes: a 1080p scene for a 1080p screen is decoded at half its size, a quarter of the pixels (18 ->
    12 ms per car on the 2-core test machine), and 2 MB kept per lane, not 8 MB (bench_gui.py --soak)."""
    reader = QImageReader(path)
    size = reader.size()
    if not (reader.canRead() and size.isValid() and size.width() * size.height() <= MAX_PHOTO_PIXELS):
        return None
    if size.width() > bound.width() or size.height() > bound.height():
        reader.setScaledSize(size.scaled(bound, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


def scaled_to_box(image: QImage, box: QSize) -> QImage:
    """``image`` at the most that fits ``box``, in proportion, smoothly (any thread)."""
    return image.scaled(box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


#: the photo scaled to each photo box: (the box's size then, the image); None for a box with no size yet
Scaled = tuple[tuple[QSize, QImage] | None, ...]
#: a decoded photo (None: unreadable) and its Scaled
Decoded = tuple[QImage | None, Scaled]


def decode_for_boxes(path: str, bound: QSize, boxes: tuple[QSize, ...]) -> Decoded:
    """(the photo thread) The photo (:func:`read_photo`) and, for each box size, the photo scaled to it, so
    the GUI thread only shows them (a smooth scale of a half-screen photo took it 3-8 ms a box)."""
    image = read_photo(path, bound)
    if image is None:
        return None, ()
    return image, tuple((box, scaled_to_box(image, box)) if box.width() >= 8 and box.height() >= 8 else None
                        for box in boxes)  # fmt: skip


class PhotoBox(QLabel):
    """The vehicle photo scaled to the box (in proportion), or a crossed-out camera when there is none."""

    _placeholder: QIcon | None = None

    def __init__(self, max_icon_px: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photo")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(max_icon_px, max_icon_px * 3 // 4)
        # the pixmap is scaled to the box: the box must not size itself by the pixmap (it could never shrink)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._max_icon_px = max_icon_px
        self._image: QImage | None = None
        self._scaled: tuple[QSize, QImage] | None = None  # the image scaled to the box, and the box's size
        self._pending = False
        self.has_photo = False

    def show_image(
        self, image: QImage | None, description: str, scaled: tuple[QSize, QImage] | None = None
    ) -> None:
        """Show ``image`` (None: the 'no photo' sign); ``scaled``: (a box size, ``image`` scaled to it on the
        photo thread), drawn as it is while the box has that size (scaled again here if it changed)."""
        self._image = image
        self._scaled = scaled
        self._pending = False
        self.has_photo = image is not None
        self.setToolTip(description)
        self.setAccessibleName(description)
        self._scale()

    def show_pending(self) -> None:
        """A new car's photo is being decoded: an empty box meanwhile (never the last car's photo, and not
        the 'no photo' sign for the few milliseconds it takes)."""
        self._image = self._scaled = None
        self._pending = True
        self.has_photo = False
        self.clear()

    def _scale(self) -> None:
        box = self.contentsRect().size()
        if box.width() < 8 or box.height() < 8 or self._pending:
            return
        if self._image is not None:
            if self._scaled is None or self._scaled[0] != box:
                self._scaled = (box, scaled_to_box(self._image, box))  # (the box changed size)
            self.setPixmap(QPixmap.fromImage(self._scaled[1]))
            return
        if PhotoBox._placeholder is None:
            PhotoBox._placeholder = QIcon(str(ICONS / "no-photo.svg"))
        side = min(box.width(), box.height() * 4 // 3, self._max_icon_px)
        self.setPixmap(PhotoBox._placeholder.pixmap(QSize(side, side * 3 // 4)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._scale()


class LaneDetails(QWidget):
    """The plate and the QR (or the photo) | the amount, its breakdown, the change, the times, a small photo.
    Its words keep the lane panel's translation context ("LanePanel"), where they were before the split.

    ``narrow`` (three or four lanes): one tall column; ``compact`` (a small window): the same two columns,
    condensed.
    """

    #: (ticket, decode_for_boxes' result) from the decoding thread; queued to the GUI thread's slot
    _photoDecoded = Signal(int, object)

    def __init__(
        self, direction: str, zone: tzinfo, sizes: Sizes, *, narrow: bool, compact: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.direction = direction
        self.zone = zone
        self.narrow = narrow
        self.compact = compact
        self._photo_path: str | None = None
        self._photo_loaded = False
        self._photo: QImage | None = None
        self._photo_ticket = 0  # the decode whose result is wanted; an older one's result is dropped
        self._photo_asked = False  # a first view was drawn (the empty lane's sign too)
        self._photoDecoded.connect(self._on_photo_decoded, Qt.ConnectionType.QueuedConnection)
        self._breakdown: tuple[tuple[str, int], ...] | None = None
        target = sizes.target
        self.plate_label = named_label("plate")
        self.plate_label.setProperty("compact", narrow)
        if compact:
            self.plate_label.setProperty("small", True)  # less padding round the same glyphs
        self.plate_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plate_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.qr = QrView()
        caption = QCoreApplication.translate("LanePanel", "请用手机扫码支付")
        self.qr_caption = named_label("qrCaption", caption)
        self.qr_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_caption.setWordWrap(True)  # a long English caption must not widen the lane
        # the driver reads these from the car, 1-2 m away: the instruction at the state's size, the amount
        # at the amount's (the theme's colours still apply: only the size and weight are set here)
        self.qr_caption.setStyleSheet(f"font-size: {sizes.state}px; font-weight: bold;")
        self.qr_amount = named_label("amount")
        self.qr_amount.setAlignment(Qt.AlignmentFlag.AlignCenter)
        qr_page = QWidget()
        qr_box = QVBoxLayout(qr_page)
        qr_box.setContentsMargins(0, 0, 0, 0)
        qr_box.addWidget(self.qr, 1)
        qr_box.addWidget(self.qr_caption)
        qr_box.addWidget(self.qr_amount)
        self.qr_missing = named_label("qrMissing")
        self.qr_missing.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_missing.setWordWrap(True)
        self.qr_missing.setStyleSheet(f"font-size: {sizes.state}px; font-weight: bold;")
        self.photo_large = PhotoBox(target * 3)
        self.media = QStackedWidget()
        self.media.addWidget(qr_page)
        self.media.addWidget(self.qr_missing)
        self.media.addWidget(self.photo_large)
        self.media.setMinimumSize(self.qr.minimumSizeHint())
        self.media.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        left = QVBoxLayout()
        left.addWidget(self.plate_label)
        left.addWidget(self.media, 1)

        self.amount_caption = named_label(
            "amountCaption", QCoreApplication.translate("LanePanel", "应收金额")
        )
        self.amount = named_label("amount")
        self.breakdown = named_label("breakdown")
        self.breakdown.setTextFormat(Qt.TextFormat.RichText)
        self.breakdown.setWordWrap(True)
        self.change = named_label("change")
        self.entry_value = named_label("fieldValue")
        self.exit_value = named_label("fieldValue")
        self.duration_value = named_label("fieldValue")
        times = QGridLayout()
        times.setHorizontalSpacing(12)
        for row, (name, value) in enumerate(
            ((QCoreApplication.translate("LanePanel", "入场时间"), self.entry_value),
             (QCoreApplication.translate("LanePanel", "出场时间"), self.exit_value),
             (QCoreApplication.translate("LanePanel", "停车时长"), self.duration_value))
        ):
            times.addWidget(named_label("fieldName", name), row, 0)
            times.addWidget(value, row, 1)
        times.setColumnStretch(1, 1)
        self.photo_small = PhotoBox(target * 2)
        self.photo_small.setFixedSize(target * 4, target * (2 if compact else 3))
        policy = QSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        policy.setRetainSizeWhenHidden(not narrow)  # showing it must not re-lay out (and repaint) the lane
        self.photo_small.setSizePolicy(policy)
        self.amount_box = QWidget()
        amount_box = QVBoxLayout(self.amount_box)
        amount_box.setContentsMargins(0, 0, 0, 0)
        amount_box.addWidget(self.amount_caption)
        amount_box.addWidget(self.amount)
        amount_box.addWidget(self.breakdown)
        amount_box.addWidget(self.change)
        right = QVBoxLayout()
        right.addWidget(self.amount_box)
        right.addStretch(1)
        right.addLayout(times)
        right.addWidget(self.photo_small, 0, Qt.AlignmentFlag.AlignLeft)

        columns = QVBoxLayout(self) if narrow else QHBoxLayout(self)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.setSpacing(8 if narrow or compact else 16)
        columns.addLayout(left, 11)
        columns.addLayout(right, 0 if narrow else 9)
        if narrow:
            right.takeAt(1)  # no stretch between the amount and the times: the QR above takes the room
            times.setVerticalSpacing(0)
            self.amount_caption.hide()  # the amount right under the QR needs no caption: room for the QR
        if compact:
            times.setVerticalSpacing(2)
            amount_box.setSpacing(2)
            right.setSpacing(4)
            left.setSpacing(4)
        if direction == "entry":
            self.amount_box.hide()

    def retranslate(self) -> None:
        """The tariff lines are words too: drawn again at the next render."""
        self._breakdown = None

    def show_view(self, v: LaneView, *, paid: bool, cash_only: bool) -> None:
        """Draw ``v``. ``paid``: the amount was paid (no longer due); ``cash_only``: no QR can be had now."""
        if v.plate:
            self.plate_label.setText(plate_for_display(v.plate))
            colour = v.plate_colour if v.plate_colour in (
                "blue", "yellow", "green", "yellow_green", "white", "black") else "unknown"
        else:
            self.plate_label.setText(QCoreApplication.translate("LanePanel", "无车辆"))
            colour = "none"
        if self.plate_label.property("plateColour") != colour:
            self.plate_label.setProperty("plateColour", colour)
            self.plate_label.style().unpolish(self.plate_label)
            self.plate_label.style().polish(self.plate_label)
        self._render_photo(v.photo if v.plate else None)
        self.entry_value.setText(clock_words(v.entry_at, self.zone))
        self.exit_value.setText(clock_words(v.exit_at, self.zone))
        minutes = v.duration_minutes
        self.duration_value.setText(duration_words(minutes) if minutes is not None else "—")

        self.amount.setText(yuan(v.due_fen) if v.due_fen is not None and v.plate else "—")
        if paid:
            self.amount_caption.setText(QCoreApplication.translate("LanePanel", "已付"))
        else:
            self.amount_caption.setText(QCoreApplication.translate("LanePanel", "应收金额"))
        breakdown = breakdown_words(v) if v.plate else ()
        if breakdown != self._breakdown:
            self._breakdown = breakdown
            rows = "".join(
                f"<tr><td>{html.escape(label)}</td><td align=right>&nbsp;&nbsp;{yuan(fen)}</td></tr>"
                for label, fen in breakdown
            )
            # a line never wraps (a wrapped line left "¥2.00" alone below its words): the layout chosen for
            # the window's size gives the lines their width
            table = f'<table style="white-space:nowrap">{rows}</table>'
            self.breakdown.setText(table if rows else "")
        change = ""
        if v.change_fen is not None and v.plate:
            change = QCoreApplication.translate("LanePanel", "找零 %1").replace("%1", yuan(v.change_fen))
        self.change.setText(change)
        if self.compact:  # an empty line's room goes to the QR
            set_shown(self.change, bool(self.change.text()))
        self._render_qr(v, cash_only)

    def _render_qr(self, v: LaneView, cash_only: bool) -> None:
        """While money is due: the QR (or why there is none) under the plate; otherwise the photo there."""
        paying = v.direction == "exit" and v.state in PAYABLE and v.due_fen is not None and bool(v.plate)
        if paying and v.code_url:
            self.qr.set_url(v.code_url)
            self.qr_caption.setText(QCoreApplication.translate("LanePanel", "请用手机扫码支付"))
            self.qr_amount.setText(yuan(v.due_fen or 0))
            show_page(self.media, 0)
        elif paying:
            self.qr.set_url(None)
            if cash_only:
                words = QCoreApplication.translate("LanePanel", "暂不能扫码\n请付现金 %1")
                words = words.replace("%1", yuan(v.due_fen or 0))
            else:
                words = QCoreApplication.translate("LanePanel", "正在获取付款码…")
            self.qr_missing.setText(words)
            show_page(self.media, 1)
        else:
            self.qr.set_url(None)
            show_page(self.media, 2)
        set_shown(self.photo_small, paying and not self.narrow)

    @property
    def photo_pending(self) -> bool:
        """A photo is being decoded for the car shown."""
        return self._photo_path is not None and not self._photo_loaded

    def _render_photo(self, path: str | None) -> None:
        """The car's photo, decoded on the photo thread (:func:`photo_decoder`); the boxes show it when it
        arrives, if the lane still shows that photo by then."""
        if path == self._photo_path and self._photo_asked:
            return  # shown, or on its way
        self._photo_path, self._photo_asked = path, True
        self._photo = None
        self._photo_ticket += 1
        if not path:
            self._photo_loaded = True
            self._show_photo(None, failed=False)
            return
        self._photo_loaded = False
        for box in (self.photo_large, self.photo_small):
            box.show_pending()
        ticket, bound = self._photo_ticket, photo_bound(self)
        boxes = tuple(box.contentsRect().size() for box in (self.photo_large, self.photo_small))
        future = photo_decoder().submit(decode_for_boxes, path, bound, boxes)
        future.add_done_callback(lambda done: self._photo_done(ticket, done))

    def _photo_done(self, ticket: int, done: Future[Decoded]) -> None:
        """(the decoding thread) Hand the result to the GUI thread; a widget already gone takes nothing."""
        try:
            decoded = done.result()
        except Exception:  # a reader that raised: shown as unreadable, never a dead thread
            log.exception("a lane photo could not be decoded")
            decoded = (None, ())
        with contextlib.suppress(RuntimeError):  # the window was closed meanwhile (its C++ object is gone)
            self._photoDecoded.emit(ticket, decoded)

    @Slot(int, object)
    def _on_photo_decoded(self, ticket: int, decoded: Decoded) -> None:
        if ticket != self._photo_ticket:
            return  # another car's photo is wanted now
        image, scaled = decoded
        self._photo = image
        self._photo_loaded = True
        self._show_photo(image, failed=image is None, scaled=scaled)

    def _show_photo(self, image: QImage | None, *, failed: bool, scaled: Scaled = ()) -> None:
        if failed:
            text = QCoreApplication.translate("LanePanel", "车辆图像无法读取")
        else:
            text = QCoreApplication.translate("LanePanel", "无车辆图像")
        for index, box in enumerate((self.photo_large, self.photo_small)):
            box.show_image(image, text, scaled[index] if index < len(scaled) else None)
