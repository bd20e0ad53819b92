"""The window's alert bar: the latest alert (or a word for the attendant) at the bottom, with "got it" and,
for a sync alert, a way to the sync panel.

Its room is kept when it is hidden, at one height (two lines of text or a button): an alert that comes or
goes moves nothing, so a tap meant for a lane's button never lands on another one. Its words keep the main
window's translation context ("BoothWindow"), where they were before it became a widget of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from booth.engine import AlertRaised
from ui.kit.style import Sizes
from ui.kit.wording import alert_detail_words, alert_words, is_sync_alert


class AlertBar(QFrame):
    """``text`` the alert's words, ``sync_button`` (shown for a cloud's sync alert) and ``dismiss_button``."""

    def __init__(self, sizes: Sizes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alertBar")
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 4, 8, 4)
        self.text = QLabel("")
        self.text.setObjectName("alertText")
        self.text.setWordWrap(True)
        self.dismiss_button = QPushButton(QCoreApplication.translate("BoothWindow", "知道了"))
        self.dismiss_button.setMinimumSize(sizes.target * 2, sizes.target)
        self.dismiss_button.clicked.connect(self.hide)
        self.sync_button = QPushButton(QCoreApplication.translate("BoothWindow", "查看同步"))
        self.sync_button.setMinimumSize(sizes.target * 2, sizes.target)
        self.sync_button.hide()
        row.addWidget(self.text, 1)
        row.addWidget(self.sync_button)
        row.addWidget(self.dismiss_button)
        lines = self.text.fontMetrics().lineSpacing() * 2
        self.setFixedHeight(max(sizes.target, lines) + 8)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self._notice: Callable[[], str] | None = None  # the notice shown (its words); None: an alert, nothing
        self.hide()

    def notice(self, text: str | Callable[[], str]) -> None:
        """``text`` (a word for the attendant, not an engine alert): words made in the current language when
        drawn (a refusal, said again after a language switch), or a text as it came."""
        self._notice = text if callable(text) else lambda: text
        self.text.setText(self._notice())
        self.sync_button.hide()
        self.show()

    def redraw_notice(self) -> bool:
        """The notice shown, in the current language (after a switch); False when it shows no notice."""
        if self._notice is None:
            return False
        self.text.setText(self._notice())
        return True

    def show_alert(self, alert: AlertRaised, lane_name: str, zone: tzinfo) -> None:
        when = alert.at.astimezone(zone).strftime("%H:%M:%S")
        where = f" {lane_name}" if lane_name else ""
        words = QCoreApplication.translate("BoothWindow", "%1%2 · %3：%4")
        words = words.replace("%1", when).replace("%2", where)
        detail = alert_detail_words(alert)
        self._notice = None
        self.text.setText(words.replace("%3", alert_words(alert.kind)).replace("%4", detail))
        self.sync_button.setVisible(alert.lane_id is None and is_sync_alert(alert.kind))
        self.show()
