"""The lanes side by side (one to four), sharing the window's width equally, and made again when the window
chooses another layout (compact or standard) for its size."""

from __future__ import annotations

import logging
from datetime import tzinfo

from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from booth.config import LaneSettings, Settings
from ui.kit.style import Sizes
from ui.lanes.lane_panel import LanePanel
from ui.link.bridge import EngineBridge

log = logging.getLogger("ui.window")

MAX_LANES = 4


class LaneRow(QWidget):
    """``panels`` (lane id -> LanePanel, one dict for the row's life) side by side in ``grid``."""

    def __init__(self, settings: Settings, bridge: EngineBridge, *, operator: str, zone: tzinfo,
                 sizes: Sizes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings, self.bridge, self.zone = settings, bridge, zone
        self.lanes = settings.lanes[:MAX_LANES]
        if len(settings.lanes) > MAX_LANES:
            log.warning("%d lanes configured; the window shows the first %d", len(settings.lanes), MAX_LANES)
        # one or two lanes: wide panels side by side; three or four: tall, narrow panels side by side
        self.narrow = len(self.lanes) > 2
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self.panels: dict[str, LanePanel] = {}
        for i, lane in enumerate(self.lanes):
            panel = self._make(lane, sizes, operator)
            self.panels[lane.id] = panel
            self.grid.addWidget(panel, 0, i)
            self.grid.setColumnStretch(i, 1)

    def _make(self, lane: LaneSettings, sizes: Sizes, operator: str) -> LanePanel:
        panel = LanePanel(
            lane, self.bridge, operator=operator, zone=self.zone, sizes=sizes, narrow=self.narrow,
            home_province=self.settings.park.province, exceptions=self.settings.exceptions,
        )
        # the lanes share the width equally whatever each shows: a lane's open keypad never takes its
        # neighbour's room (the layout chosen for the window's size makes each lane's content fit its share)
        policy = panel.sizePolicy()
        policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
        panel.setSizePolicy(policy)
        return panel

    def remake(self, sizes: Sizes) -> None:
        """Every lane made again in ``sizes``' layout, each keeping its car, who acts, its pending commands
        and its open panel (LanePanel.take_over)."""
        for lane in self.lanes:
            old = self.panels[lane.id]
            panel = self._make(lane, sizes, old.operator)
            panel.take_over(old)
            self.grid.replaceWidget(old, panel)
            self.panels[lane.id] = panel
            old.hide()
            old.deleteLater()
