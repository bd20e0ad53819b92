"""Correcting a misread plate in the lane: the province keypad, the misread to edit, and the lot's cars it
may be offered as one-tap suggestions. What it hands on is a plate the domain parser accepts; a refusal is
shown in words under the field.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from booth.domain.lane import LaneView
from booth.domain.plates import PlateError, parse_plate, suggest_plates
from ui.kit.keypads import PLATE_MAX_LEN, PlateKeypad
from ui.kit.wording import plate_error_words
from ui.lanes.actions import ActionPanel, entry_field

log = logging.getLogger("ui.actions")


class PlatePanel(ActionPanel):
    """Correct the plate: typed on the province keypad; refused with the parser's reason under the field.

    The field opens with the plate as read, to edit: the keys type at the cursor (a tap in the field moves
    it), ⌫ takes the character before it, "clear" starts from the province.

    Under the field, the plates now in the lot that the misread (or what is typed) may be — the OCR
    confusions 0/D/Q, 8/B, 2/Z, 5/S — as large buttons: one tap fills the field. ``plates_in_lot`` returns a
    future of the lot's plates (resolved on another thread); it is asked once each time the panel opens.
    """

    #: suggestion buttons shown at most
    SUGGESTIONS = 4
    _candidatesArrived = Signal(int, object)  # generation, list[str]; emitted from any thread

    def __init__(
        self, target: int, *, narrow: bool = False, home_province: str | None = None,
        plates_in_lot: Callable[[], Future[list[str]]] | None = None, parent: QWidget | None = None,
    ) -> None:
        super().__init__("correct_plate", target, parent)
        self.title.setText(self.tr("更正车牌"))
        self.current = QLabel("")
        self.current.setObjectName("actionHint")
        self.field = entry_field(PLATE_MAX_LEN)
        self.field.setPlaceholderText(self.tr("输入正确车牌，例如 苏A12345"))
        self.keypad = PlateKeypad(
            self.field, target, columns=8 if narrow else 10, home_province=home_province
        )
        row = QVBoxLayout() if narrow else QHBoxLayout()
        row.addWidget(self.current)
        row.addWidget(self.field, 1)
        self.body.addLayout(row)
        self._plates_in_lot = plates_in_lot
        self._candidates: list[str] = []
        self._generation = 0
        self._misread: str | None = None
        self.suggestion_bar = QWidget()
        suggestions = QHBoxLayout(self.suggestion_bar)
        suggestions.setContentsMargins(0, 0, 0, 0)
        suggestions.setSpacing(8)
        self.suggestion_caption = QLabel(self.tr("在场车辆中可能是："))
        self.suggestion_caption.setObjectName("actionHint")
        suggestions.addWidget(self.suggestion_caption)
        self.suggestion_buttons: list[QPushButton] = []
        for _ in range(self.SUGGESTIONS):
            button = QPushButton("")
            button.setObjectName("suggestion")
            button.setMinimumSize(target * 3, target)
            button.clicked.connect(self._on_suggestion_clicked)
            suggestions.addWidget(button)
            self.suggestion_buttons.append(button)
        suggestions.addStretch(1)
        self.suggestion_bar.hide()
        self.body.addWidget(self.suggestion_bar)
        self.body.addWidget(self.keypad, 1)
        self.keypad.edited.connect(self._on_edited)
        self.field.textEdited.connect(self._typed)
        self._candidatesArrived.connect(self._on_candidates, Qt.ConnectionType.QueuedConnection)
        self.set_busy(False)

    def confirm_text(self) -> str:
        return self.tr("确认车牌")

    def prepare(self, view: LaneView) -> None:
        self._misread = view.plate
        self._candidates = []
        self._ask_for_candidates()
        self.keypad.clear()
        self.keypad.set_text(view.plate or "")  # the misread, to edit (cursor at its end)
        super().prepare(view)
        self.field.setFocus()
        self._refresh_confirm()

    def update_view(self, view: LaneView) -> None:
        self.current.setText(self.tr("识别为 %1").replace("%1", view.plate or "—"))

    # ------------------------------------------------------------------------------------ suggestions
    def _ask_for_candidates(self) -> None:
        self._generation += 1
        if self._plates_in_lot is None:
            return
        generation = self._generation
        try:
            future = self._plates_in_lot()
        except Exception:  # the engine is not running: no suggestions, the keypad still works
            log.info("no plates in the lot to suggest from", exc_info=True)
            return

        def arrived(done: Future[list[str]]) -> None:  # any thread
            if done.cancelled() or done.exception() is not None:
                log.info("listing the plates in the lot failed: %s", done.exception() if not done.cancelled()
                         else "cancelled")
                return
            with contextlib.suppress(RuntimeError):  # the panel is gone (window closed meanwhile)
                self._candidatesArrived.emit(generation, list(done.result()))

        future.add_done_callback(arrived)

    @Slot(int, object)
    def _on_candidates(self, generation: int, plates: list[str]) -> None:
        if generation == self._generation:
            self._candidates = plates
            self._refresh_suggestions()

    def suggestions(self) -> list[str]:
        """The plates offered now: in-lot plates that the text typed (before typing: the misread) may be."""
        read = self.field.text().strip() or (self._misread or "")
        if not read or not self._candidates:
            return []
        try:
            return suggest_plates(read, self._candidates, limit=self.SUGGESTIONS)
        except PlateError:
            return []

    def _refresh_suggestions(self) -> None:
        offered = self.suggestions()
        for i, button in enumerate(self.suggestion_buttons):
            button.setVisible(i < len(offered))
            button.setText(offered[i] if i < len(offered) else "")
        self.suggestion_bar.setVisible(bool(offered))

    def _on_suggestion_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton) and button.text():
            self.field.setText(button.text())
            self._on_edited()

    # ------------------------------------------------------------------------------------ typing
    def _typed(self, text: str) -> None:
        upper = text.upper()
        if upper != text:
            at = self.field.cursorPosition()
            self.field.setText(upper)
            self.field.setCursorPosition(at)
        self._on_edited()

    def _on_edited(self) -> None:
        if self.error.text():
            self.show_error("")
        self._refresh_confirm()
        self._refresh_suggestions()

    def can_confirm(self) -> bool:
        """Something typed, and not the plate as read (nothing corrected yet)."""
        text = self.field.text().strip()
        return bool(text) and text != (self._misread or "")

    def validated(self) -> str | None:
        """The plate's canonical text if the parser accepts it (shows its reason otherwise)."""
        try:
            return parse_plate(self.field.text()).text
        except PlateError as exc:
            code, params, reason = exc.code, exc.params, exc.reason  # said again after a language switch
            self.show_error(
                lambda: self.tr("车牌无效：%1").replace("%1", plate_error_words(code, params, reason)))
            return None
