"""How lane values read on screen: a state in words and a tone (colour), a gate, a duration, money, a time,
and the background sync to the clouds.

Every string goes through ``QCoreApplication.translate`` (context "LaneWording", or "SyncWording" for the
sync) so that a later English translation only adds a .qm file. A tone is never shown without its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Literal

from PySide6.QtCore import QCoreApplication

from booth.domain.lane import LaneState
from booth.domain.money import format_yuan
from booth.sync import CloudStatus, SyncStatus


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
    # raised by the background sync (lane_id None): the supervisor reads the details in the sync panel
    "alipay_dead_letter": QT_TRANSLATE_NOOP("LaneWording", "支付宝同步失败"),
    "tmall_dead_letter": QT_TRANSLATE_NOOP("LaneWording", "天猫同步失败"),
    "bolink_dead_letter": QT_TRANSLATE_NOOP("LaneWording", "泊链上传失败"),
    "alipay_unverified_answers": QT_TRANSLATE_NOOP("LaneWording", "支付宝应答无法验证"),
    "tmall_unverified_answers": QT_TRANSLATE_NOOP("LaneWording", "天猫应答无法验证"),
    "alipay_lot_unregistered": QT_TRANSLATE_NOOP("LaneWording", "停车场未在支付宝登记"),
    "sync_start_failed": QT_TRANSLATE_NOOP("LaneWording", "云端同步未能启动"),
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
        return QCoreApplication.translate("LaneWording", "泊链：连接中")
    if online:
        return QCoreApplication.translate("LaneWording", "泊链：在线")
    return QCoreApplication.translate("LaneWording", "泊链：离线")


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
        words = QCoreApplication.translate("LaneWording", "%1天%2小时%3分钟")
        return words.replace("%1", str(days)).replace("%2", str(hours)).replace("%3", str(mins))
    if hours:
        words = QCoreApplication.translate("LaneWording", "%1小时%2分钟")
        return words.replace("%1", str(hours)).replace("%2", str(mins))
    return QCoreApplication.translate("LaneWording", "%1分钟").replace("%1", str(mins))


def clock_words(at: datetime | None, zone: tzinfo) -> str:
    """A time in the lot's zone: 'MM-DD HH:MM:SS' (the date matters for stays over midnight)."""
    if at is None:
        return "—"
    return at.astimezone(zone).strftime("%m-%d %H:%M:%S")


# ------------------------------------------------------------------------------------------ background sync

_CLOUDS: dict[str, str] = {
    "bolink": QT_TRANSLATE_NOOP("SyncWording", "泊链"),
    "alipay": QT_TRANSLATE_NOOP("SyncWording", "支付宝"),
    "tmall": QT_TRANSLATE_NOOP("SyncWording", "天猫"),
}

#: what an outbox row carries, in words (unknown kinds are shown as they are)
_OUTBOX_KINDS: dict[str, str] = {
    "inpark": QT_TRANSLATE_NOOP("SyncWording", "入场上传"),
    "outpark": QT_TRANSLATE_NOOP("SyncWording", "出场上传"),
    "order_sync": QT_TRANSLATE_NOOP("SyncWording", "订单同步"),
    "backflow_arrive": QT_TRANSLATE_NOOP("SyncWording", "入场回流"),
    "backflow_pay": QT_TRANSLATE_NOOP("SyncWording", "支付回流"),
    "backflow_leave": QT_TRANSLATE_NOOP("SyncWording", "出场回流"),
}

_OPEN_BREAKER = frozenset({"open", "half_open"})


def _sync_tr(text: str) -> str:
    return QCoreApplication.translate("SyncWording", text)


def is_sync_alert(kind: str) -> bool:
    """Alerts of the background sync are named after their cloud ("alipay_dead_letter", ...) or "sync_…"."""
    prefix = kind.split("_", 1)[0]
    return prefix in _CLOUDS or prefix == "sync"


def cloud_words(cloud: str) -> str:
    return _sync_tr(_CLOUDS[cloud]) if cloud in _CLOUDS else cloud


def outbox_kind_words(kind: str) -> str:
    return _sync_tr(_OUTBOX_KINDS[kind]) if kind in _OUTBOX_KINDS else kind


def shown_clouds(status: SyncStatus) -> list[CloudStatus]:
    """The clouds worth a line: the configured ones, and any other that still has rows (settings changed)."""
    return [c for c in status.clouds if c.enabled or c.pending or c.dead]


def cloud_state(c: CloudStatus) -> tuple[str, Tone]:
    """One cloud's sync in a word or two, with its tone: failures first, then a pause, then a backlog."""
    if c.dead:
        return QCoreApplication.translate("SyncWording", "有失败项"), "bad"
    if c.held:
        return QCoreApplication.translate("SyncWording", "暂停发送"), "attention"
    if c.breaker == "open":
        return QCoreApplication.translate("SyncWording", "已熔断"), "attention"
    if c.breaker == "half_open":
        return QCoreApplication.translate("SyncWording", "试探恢复中"), "attention"
    if c.pending:
        return QCoreApplication.translate("SyncWording", "发送中"), "busy"
    return QCoreApplication.translate("SyncWording", "正常"), "ok"


def breaker_words(breaker: str, reopens_in_s: float) -> str:
    """The circuit breaker: "none" is a cloud without one (Bolink retries on its own schedule)."""
    match breaker:
        case "closed":
            return QCoreApplication.translate("SyncWording", "正常（发送中）")
        case "open":
            seconds = max(1, round(reopens_in_s))
            words = QCoreApplication.translate("SyncWording", "已熔断：暂停发送，约%1秒后试探")
            return words.replace("%1", str(seconds))
        case "half_open":
            return QCoreApplication.translate("SyncWording", "试探中：已发出一条，成功即恢复")
        case "none":
            return QCoreApplication.translate("SyncWording", "无（按退避重试）")
    return breaker


def age_words(seconds: float) -> str:
    """How long the oldest row has waited: seconds, then minutes, then hours (and days)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return QCoreApplication.translate("SyncWording", "%1秒").replace("%1", str(whole))
    return duration_words(whole // 60)


def _cloud_summary(c: CloudStatus) -> str:
    bits = []
    if c.pending:
        bits.append(QCoreApplication.translate("SyncWording", "待发 %1").replace("%1", str(c.pending)))
    if c.dead:
        bits.append(QCoreApplication.translate("SyncWording", "失败 %1").replace("%1", str(c.dead)))
    if c.held or c.breaker in _OPEN_BREAKER:
        bits.append(QCoreApplication.translate("SyncWording", "暂停"))
    return f"{cloud_words(c.cloud)} {' · '.join(bits)}" if bits else ""


def sync_summary(status: SyncStatus) -> tuple[str, Tone]:
    """The top bar's words and tone: "同步：正常", "同步：泊链 待发 3", "同步异常：支付宝 待发 3 · 失败 1".

    Only clouds with something to say are named. "异常" (with the bad or attention tone) means a supervisor
    is needed: dead letters, or a cloud not being sent to (breaker open, held).
    """
    clouds = shown_clouds(status)
    parts = [text for c in clouds if (text := _cloud_summary(c))]
    tones = {cloud_state(c)[1] for c in clouds}
    tone: Tone = next((t for t in ("bad", "attention", "busy") if t in tones), "ok")
    if not parts:
        return QCoreApplication.translate("SyncWording", "同步：正常"), tone
    if tone in ("bad", "attention"):
        head = QCoreApplication.translate("SyncWording", "同步异常：")
    else:
        head = QCoreApplication.translate("SyncWording", "同步：")
    return head + QCoreApplication.translate("SyncWording", "；").join(parts), tone


# ------------------------------------------------------------------------------------------ plate refusals

#: PlateError codes in words; %1 is the character concerned, %2 its position, %3 the expected shape
_PLATE_ERRORS: dict[str, str] = {
    "not_text": QT_TRANSLATE_NOOP("PlateWording", "车牌不是文字"),
    "empty": QT_TRANSLATE_NOOP("PlateWording", "车牌为空"),
    "no_plate": QT_TRANSLATE_NOOP("PlateWording", "无牌车：请按无牌车处理"),
    "emergency": QT_TRANSLATE_NOOP("PlateWording", "应急车牌不能自动处理：请人工处理"),
    "foreign": QT_TRANSLATE_NOOP("PlateWording", "含有车牌上不会出现的字符：%1"),
    "not_province": QT_TRANSLATE_NOOP("PlateWording", "「%1」不是省份简称（车牌以省份简称、使或WJ开头）"),
    "military": QT_TRANSLATE_NOOP("PlateWording", "「%1」不是省份简称；像军车车牌，请人工处理"),
    "too_short": QT_TRANSLATE_NOOP("PlateWording", "太短：%3"),
    "too_long": QT_TRANSLATE_NOOP("PlateWording", "太长：%3"),
    "letter_io": QT_TRANSLATE_NOOP("PlateWording", "第2位不能是「%1」：字母I和O不用于车牌"),
    "last_only": QT_TRANSLATE_NOOP("PlateWording", "「%1」只能是车牌的最后一位"),
    "province_later": QT_TRANSLATE_NOOP("PlateWording", "「%1」是省份简称，只能在第1位"),
    "wrong_char": QT_TRANSLATE_NOOP("PlateWording", "第%2位不能是「%1」：%3"),
    "new_energy_start": QT_TRANSLATE_NOOP("PlateWording", "小型新能源车牌字母后应为D或F，不能是「%1」"),
    "suffix_too_long": QT_TRANSLATE_NOOP("PlateWording", "以「%1」结尾的车牌只有7位"),
    "not_new_energy": QT_TRANSLATE_NOOP(
        "PlateWording", "8位车牌应为新能源车牌：字母后是D或F（小型），或以D或F结尾（大型）"),
}

_PLATE_SHAPES: dict[str, str] = {
    "ordinary": QT_TRANSLATE_NOOP("PlateWording", "普通车牌为7位：省份、字母、5位序号"),
    "plate_max": QT_TRANSLATE_NOOP("PlateWording", "车牌最多8位（新能源车牌：省份、字母、6位序号）"),
    "letter": QT_TRANSLATE_NOOP("PlateWording", "第2位是字母（不含I和O）"),
    "serial": QT_TRANSLATE_NOOP("PlateWording", "序号是字母（不含I和O）和数字"),
    "consulate": QT_TRANSLATE_NOOP("PlateWording", "领馆车牌在字母和「领」之间是4位数字"),
    "large_new_energy": QT_TRANSLATE_NOOP("PlateWording", "大型新能源车牌在结尾的D或F之前是5位数字"),
    "small_new_energy": QT_TRANSLATE_NOOP("PlateWording", "小型新能源车牌以4位数字结尾"),
    "armed_police": QT_TRANSLATE_NOOP("PlateWording", "武警车牌是WJ、可选的省份简称和4至5位序号"),
    "embassy": QT_TRANSLATE_NOOP("PlateWording", "使馆车牌是「使」加6位数字"),
    "plateless": QT_TRANSLATE_NOOP("PlateWording", "无牌车编号是「无」加7位字母（不含I和O）或数字"),
}


def _plate_tr(text: str) -> str:
    return QCoreApplication.translate("PlateWording", text)


def plate_error_words(code: str, params: Mapping[str, str], fallback: str) -> str:
    """A plate refusal (``PlateError.code``/``.params``) in the screen's language; an unknown code shows
    ``fallback`` (the error's own English reason) rather than nothing."""
    if code not in _PLATE_ERRORS:
        return fallback
    shape = params.get("shape", "")
    words = _plate_tr(_PLATE_ERRORS[code])
    return (words.replace("%1", params.get("char", params.get("chars", "")))
            .replace("%2", params.get("position", ""))
            .replace("%3", _plate_tr(_PLATE_SHAPES[shape]) if shape in _PLATE_SHAPES else shape))
