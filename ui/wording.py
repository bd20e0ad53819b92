"""How lane values read on screen: a state in words and a tone (colour), a gate, a duration, money, a time.

Every string goes through ``QCoreApplication.translate`` (context "LaneWording") so that a later English
translation only adds a .qm file. A tone is never shown without its words.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Literal

from PySide6.QtCore import QCoreApplication

from booth.domain.lane import LaneState
from booth.domain.money import format_yuan


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # the name lupdate looks for; typed, unlike Qt's
    """Mark ``text`` for translation in ``context`` without translating it yet."""
    return text


Tone = Literal["idle", "busy", "pay", "attention", "ok", "bad", "offline"]

_STATES: dict[LaneState, tuple[str, Tone]] = {
    LaneState.IDLE: (QT_TRANSLATE_NOOP("LaneWording", "等待车辆"), "idle"),
    LaneState.QUOTING: (QT_TRANSLATE_NOOP("LaneWording", "计费中"), "busy"),
    LaneState.NO_STAY: (QT_TRANSLATE_NOOP("LaneWording", "无入场记录"), "attention"),
    LaneState.AWAITING_PAYMENT: (QT_TRANSLATE_NOOP("LaneWording", "待付款"), "pay"),
    LaneState.PAYMENT_FAILED: (QT_TRANSLATE_NOOP("LaneWording", "支付失败"), "bad"),
    LaneState.TIMED_OUT: (QT_TRANSLATE_NOOP("LaneWording", "支付超时"), "attention"),
    LaneState.SETTLING: (QT_TRANSLATE_NOOP("LaneWording", "已付款 · 入账中"), "ok"),
    LaneState.OPENING: (QT_TRANSLATE_NOOP("LaneWording", "抬杆中"), "ok"),
    LaneState.GATE_OPEN: (QT_TRANSLATE_NOOP("LaneWording", "道闸已开"), "ok"),
    LaneState.GATE_FAULT: (QT_TRANSLATE_NOOP("LaneWording", "道闸故障"), "bad"),
    LaneState.REFUSED: (QT_TRANSLATE_NOOP("LaneWording", "禁止入场"), "bad"),
}

_GATES: dict[str, tuple[str, Tone]] = {
    "closed": (QT_TRANSLATE_NOOP("LaneWording", "道闸：关闭"), "idle"),
    "opening": (QT_TRANSLATE_NOOP("LaneWording", "道闸：抬杆中"), "busy"),
    "open": (QT_TRANSLATE_NOOP("LaneWording", "道闸：已抬起"), "ok"),
    "fault": (QT_TRANSLATE_NOOP("LaneWording", "道闸：故障"), "bad"),
}

#: alert kinds the engine raises, in words for the attendant (unknown kinds are shown as they are)
_ALERTS: dict[str, str] = {
    "no_stay": QT_TRANSLATE_NOOP("LaneWording", "无入场记录"),
    "plate_corrected": QT_TRANSLATE_NOOP("LaneWording", "车牌已更正"),
    "plate_unreadable": QT_TRANSLATE_NOOP("LaneWording", "车牌无法识别"),
    "payment_failed": QT_TRANSLATE_NOOP("LaneWording", "支付失败"),
    "payment_timeout": QT_TRANSLATE_NOOP("LaneWording", "支付超时"),
    "payment_flagged": QT_TRANSLATE_NOOP("LaneWording", "付款需核对"),
    "payment_not_settling": QT_TRANSLATE_NOOP("LaneWording", "付款未能结算"),
    "gate_fault": QT_TRANSLATE_NOOP("LaneWording", "道闸故障"),
    "lane_busy": QT_TRANSLATE_NOOP("LaneWording", "车道忙"),
    "store_failed": QT_TRANSLATE_NOOP("LaneWording", "数据记录失败"),
    "entry_refused": QT_TRANSLATE_NOOP("LaneWording", "禁止入场"),
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("LaneWording", text)


def state_words(state: LaneState) -> str:
    return _tr(_STATES[state][0])


def state_tone(state: LaneState) -> Tone:
    return _STATES[state][1]


def gate_words(gate: str) -> str:
    words, _tone = _GATES.get(gate, (gate, "idle"))
    return _tr(words)


def gate_tone(gate: str) -> Tone:
    return _GATES.get(gate, ("", "idle"))[1]


def alert_words(kind: str) -> str:
    return _tr(_ALERTS[kind]) if kind in _ALERTS else kind


def bolink_words(online: bool | None) -> str:
    """None: not known yet (the first poll has not answered)."""
    if online is None:
        return _tr("泊链：连接中")
    return _tr("泊链：在线") if online else _tr("泊链：离线")


def bolink_tone(online: bool | None) -> Tone:
    if online is None:
        return "busy"
    return "ok" if online else "offline"


def yuan(fen: int) -> str:
    return f"¥{format_yuan(fen)}"


def duration_words(minutes: int) -> str:
    """2 h 5 min -> '2小时5分钟'; days are spelled out for long stays."""
    minutes = max(minutes, 0)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        words = _tr("%1天%2小时%3分钟")
        return words.replace("%1", str(days)).replace("%2", str(hours)).replace("%3", str(mins))
    if hours:
        return _tr("%1小时%2分钟").replace("%1", str(hours)).replace("%2", str(mins))
    return _tr("%1分钟").replace("%1", str(mins))


def clock_words(at: datetime | None, zone: tzinfo) -> str:
    """A time in the lot's zone: 'MM-DD HH:MM:SS' (the date matters for stays over midnight)."""
    if at is None:
        return "—"
    return at.astimezone(zone).strftime("%m-%d %H:%M:%S")
