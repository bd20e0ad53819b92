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

from booth.domain.lane import LaneState, LaneView
from booth.domain.money import format_yuan
from booth.domain.phrases import ParamValue, Phrase, fill
from booth.engine import AlertRaised, CloudStatus, LotLine, SyncStatus


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
    "open": (QT_TRANSLATE_NOOP("LaneWording", "道闸：已开"), "ok"),  # the same words as the state 道闸已开
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
    "plateless": QT_TRANSLATE_NOOP("LaneWording", "无牌车"),
    "plate_low_confidence": QT_TRANSLATE_NOOP("LaneWording", "车牌识别存疑"),
    "missed_exit": QT_TRANSLATE_NOOP("LaneWording", "上次未见出场"),
    "exception_limit": QT_TRANSLATE_NOOP("LaneWording", "特殊放行超过上限"),
    "camera_online": QT_TRANSLATE_NOOP("LaneWording", "车牌相机已恢复"),
    "camera_offline": QT_TRANSLATE_NOOP("LaneWording", "车牌相机离线"),
    "unexpected": QT_TRANSLATE_NOOP("LaneWording", "系统异常"),
    "payment_wrong_lane": QT_TRANSLATE_NOOP("LaneWording", "付款通道不符"),
    "arrears_asked": QT_TRANSLATE_NOOP("LaneWording", "另收往次欠费"),
    "camera_clock": QT_TRANSLATE_NOOP("LaneWording", "相机时间不准"),
    "qr_unavailable": QT_TRANSLATE_NOOP("LaneWording", "付款码无法获取"),
    "paid_not_out": QT_TRANSLATE_NOOP("LaneWording", "已付款未出场"),
    "clock_step": QT_TRANSLATE_NOOP("LaneWording", "系统时钟被调整"),
    "config_warning": QT_TRANSLATE_NOOP("LaneWording", "配置存在风险"),
    "bolink_sign_mismatch": QT_TRANSLATE_NOOP("LaneWording", "泊链消息签名不符"),
    "sync_payment_rebuild": QT_TRANSLATE_NOOP("LaneWording", "支付宝/天猫上报待重建"),
    # raised by the background sync (lane_id None): the supervisor reads the details in the sync panel
    "alipay_dead_letter": QT_TRANSLATE_NOOP("LaneWording", "支付宝同步失败"),
    "tmall_dead_letter": QT_TRANSLATE_NOOP("LaneWording", "天猫同步失败"),
    "bolink_dead_letter": QT_TRANSLATE_NOOP("LaneWording", "泊链上传失败"),
    "alipay_unverified_answers": QT_TRANSLATE_NOOP("LaneWording", "支付宝应答无法验证"),
    "tmall_unverified_answers": QT_TRANSLATE_NOOP("LaneWording", "天猫应答无法验证"),
    "alipay_lot_unregistered": QT_TRANSLATE_NOOP("LaneWording", "停车场未在支付宝登记"),
    "sync_start_failed": QT_TRANSLATE_NOOP("LaneWording", "云端同步未能启动"),
    "backup_failed": QT_TRANSLATE_NOOP("LaneWording", "数据库备份失败"),
    "archive_failed": QT_TRANSLATE_NOOP("LaneWording", "历史数据归档失败"),
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
    "payment_rebuild": QT_TRANSLATE_NOOP("SyncWording", "支付上报（重建）"),
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


# journal entries waiting for the lot server above which a booth in contact with it says so
LOT_BEHIND_SHOWN = 100


def lot_summary(lot: LotLine) -> tuple[str, Tone] | None:
    """A lot booth's push to the lot server, for the top bar: nothing while it keeps up;
    "车场服务器离线（待推 N）" when it cannot reach the server (the lanes work on; a supervisor should
    know); a backlog when it lags."""
    if not lot.online:
        words = QCoreApplication.translate("SyncWording", "车场服务器离线（待推 %1）")
        return words.replace("%1", str(lot.behind)), "attention"
    if lot.behind > LOT_BEHIND_SHOWN:
        words = QCoreApplication.translate("SyncWording", "车场服务器 待推 %1")
        return words.replace("%1", str(lot.behind)), "busy"
    return None


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
    if status.lot is not None and (lot := lot_summary(status.lot)):  # a lot booth's push to the lot server
        parts.append(lot[0])
        tones.add(lot[1])
    tone: Tone = next((t for t in ("bad", "attention", "busy") if t in tones), "ok")
    if not parts:
        return QCoreApplication.translate("SyncWording", "同步：正常"), tone
    if tone in ("bad", "attention"):
        head = QCoreApplication.translate("SyncWording", "同步异常：")
    else:
        head = QCoreApplication.translate("SyncWording", "同步：")
    return head + QCoreApplication.translate("SyncWording", "；").join(parts), tone


# ------------------------------------------------------------------------------------------ plate refusals

#: PlateError codes in words; %1 is the character concerned, %2 its position, %3 the expected shape. They
#: follow "车牌无效：", so none holds a colon of its own (no "车牌无效：太短：普通车牌为7位：…")
_PLATE_ERRORS: dict[str, str] = {
    "not_text": QT_TRANSLATE_NOOP("PlateWording", "车牌不是文字"),
    "empty": QT_TRANSLATE_NOOP("PlateWording", "车牌为空"),
    "no_plate": QT_TRANSLATE_NOOP("PlateWording", "无牌车，请按无牌车处理"),
    "emergency": QT_TRANSLATE_NOOP("PlateWording", "应急车牌不能自动处理，请人工处理"),
    "foreign": QT_TRANSLATE_NOOP("PlateWording", "含有车牌上不会出现的字符「%1」"),
    "not_province": QT_TRANSLATE_NOOP("PlateWording", "「%1」不是省份简称（车牌以省份简称、使或WJ开头）"),
    "military": QT_TRANSLATE_NOOP("PlateWording", "「%1」不是省份简称；像军车车牌，请人工处理"),
    "too_short": QT_TRANSLATE_NOOP("PlateWording", "太短，%3"),
    "too_long": QT_TRANSLATE_NOOP("PlateWording", "太长，%3"),
    "letter_io": QT_TRANSLATE_NOOP("PlateWording", "第2位不能是「%1」（字母I和O不用于车牌）"),
    "last_only": QT_TRANSLATE_NOOP("PlateWording", "「%1」只能是车牌的最后一位"),
    "province_later": QT_TRANSLATE_NOOP("PlateWording", "「%1」是省份简称，只能在第1位"),
    "wrong_char": QT_TRANSLATE_NOOP("PlateWording", "第%2位不能是「%1」，%3"),
    "new_energy_start": QT_TRANSLATE_NOOP("PlateWording", "小型新能源车牌字母后应为D或F，不能是「%1」"),
    "suffix_too_long": QT_TRANSLATE_NOOP("PlateWording", "以「%1」结尾的车牌只有7位"),
    "not_new_energy": QT_TRANSLATE_NOOP(
        "PlateWording", "8位车牌应为新能源车牌（小型字母后是D或F，大型以D或F结尾）"),
}

_PLATE_SHAPES: dict[str, str] = {
    "ordinary": QT_TRANSLATE_NOOP("PlateWording", "普通车牌为7位（省份、字母、5位序号）"),
    "plate_max": QT_TRANSLATE_NOOP("PlateWording", "车牌最多8位（新能源车牌为省份、字母、6位序号）"),
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


# ------------------------------------------------------------------------------------- what booth says

#: every code of booth.domain.phrases in words; the source text is booth's own Chinese template (a test
#: holds them equal), so the default language reads exactly as booth writes it
_PHRASES: dict[str, str] = {
    "lane.waiting": QT_TRANSLATE_NOOP("BoothWording", "等待车辆"),
    "lane.quoting": QT_TRANSLATE_NOOP("BoothWording", "计费中"),
    "lane.free_by_tariff": QT_TRANSLATE_NOOP("BoothWording", "免费放行（{rule}）"),
    "lane.pay": QT_TRANSLATE_NOOP("BoothWording", "请付款 {due_fen} 元"),
    "lane.no_stay": QT_TRANSLATE_NOOP("BoothWording", "无入场记录：请核对车牌，或免费放行 / 人工抬杆"),
    "lane.scan_to_pay": QT_TRANSLATE_NOOP("BoothWording", "请扫码支付 {due_fen} 元"),
    "lane.bolink_unavailable": QT_TRANSLATE_NOOP("BoothWording", "泊链暂时不可用，请收现金 {due_fen} 元"),
    "lane.retrying": QT_TRANSLATE_NOOP("BoothWording", "重新发起支付"),
    "lane.paying": QT_TRANSLATE_NOOP("BoothWording", "支付中…"),
    "lane.payment_failed": QT_TRANSLATE_NOOP("BoothWording", "支付失败：请重新发起支付或收现金"),
    "lane.payment_failed_unknown": QT_TRANSLATE_NOOP("BoothWording", "支付失败：未知原因"),
    "lane.paid_booking": QT_TRANSLATE_NOOP("BoothWording", "支付成功，入账中"),
    "lane.cash_taken": QT_TRANSLATE_NOOP("BoothWording", "现金 {due_fen} 元，找零 {change_fen} 元"),
    "lane.partial_requote": QT_TRANSLATE_NOOP("BoothWording", "部分付款已入账，重新计费"),
    "lane.payment_held": QT_TRANSLATE_NOOP("BoothWording", "收到通道 {channel} 的付款，待人工核对"),
    "lane.paid_opening": QT_TRANSLATE_NOOP("BoothWording", "已付款，抬杆中"),
    "lane.not_settling": QT_TRANSLATE_NOOP(
        "BoothWording", "付款 {trade_no} 未能结算本单（{status}），请核对"),
    "lane.free_release": QT_TRANSLATE_NOOP("BoothWording", "免费放行：{reason}"),
    "lane.manual_lift": QT_TRANSLATE_NOOP("BoothWording", "人工抬杆：{reason}"),
    "lane.plate_corrected": QT_TRANSLATE_NOOP("BoothWording", "车牌已更正，重新计费"),
    "lane.backed_away": QT_TRANSLATE_NOOP("BoothWording", "车辆已倒车离开"),
    "lane.cancelled": QT_TRANSLATE_NOOP("BoothWording", "已取消（{operator}）"),
    "lane.superseded": QT_TRANSLATE_NOOP("BoothWording", "车辆已到 {other_lane} 车道"),
    "lane.goodbye": QT_TRANSLATE_NOOP("BoothWording", "一路顺风"),
    "lane.gate_fault": QT_TRANSLATE_NOOP("BoothWording", "道闸没有抬起，请人工抬杆并检查道闸"),
    "lane.booking_failed": QT_TRANSLATE_NOOP("BoothWording", "付款未能入账，未抬杆：请重试"),
    "lane.quote_failed": QT_TRANSLATE_NOOP(
        "BoothWording", "无法计费：请更正车牌、免费放行或人工抬杆"),
    "lane.record_failed": QT_TRANSLATE_NOOP("BoothWording", "未能记录，未抬杆：请重试"),
    "lane.payment_timeout": QT_TRANSLATE_NOOP("BoothWording", "支付超时：请收现金、重新发起支付或放行"),
    "lane.checking": QT_TRANSLATE_NOOP("BoothWording", "核验中"),
    "lane.entry_refused": QT_TRANSLATE_NOOP("BoothWording", "禁止入场：{reason}"),
    "lane.welcome": QT_TRANSLATE_NOOP("BoothWording", "欢迎光临"),
    "lane.entry_record_failed": QT_TRANSLATE_NOOP("BoothWording", "入场未能登记：请重试或人工抬杆"),
    "entry.blacklisted": QT_TRANSLATE_NOOP("BoothWording", "黑名单车辆"),
    "entry.lot_full": QT_TRANSLATE_NOOP("BoothWording", "车位已满"),
    "entry.at_exit": QT_TRANSLATE_NOOP("BoothWording", "该车牌正在出口处理中：请核对车牌"),
    "action.free_release": QT_TRANSLATE_NOOP("BoothWording", "免费放行"),
    "action.manual_lift": QT_TRANSLATE_NOOP("BoothWording", "人工抬杆"),
    "rule.reason_missing": QT_TRANSLATE_NOOP("BoothWording", "{action} needs a reason"),
    "rule.operator_missing": QT_TRANSLATE_NOOP("BoothWording", "{action} needs the operator's name"),
    "rule.busy_booking": QT_TRANSLATE_NOOP("BoothWording", "正在入账或抬杆，请稍候"),
    "rule.busy_opening": QT_TRANSLATE_NOOP("BoothWording", "正在抬杆，请稍候"),
    "rule.nothing_to_correct": QT_TRANSLATE_NOOP("BoothWording", "只有计费或待付款的车辆可以更正车牌"),
    "rule.correct_needs_operator": QT_TRANSLATE_NOOP("BoothWording", "更正车牌需要收费员"),
    "rule.nothing_to_retry": QT_TRANSLATE_NOOP("BoothWording", "没有等待支付的订单，无法重新发起支付"),
    "rule.nothing_to_cash": QT_TRANSLATE_NOOP("BoothWording", "没有等待支付的订单，不能收现金"),
    "rule.cash_short": QT_TRANSLATE_NOOP(
        "BoothWording", "现金不足：应收 {due_fen} 元，实收 {tendered_fen} 元"),
    "rule.cash_needs_operator": QT_TRANSLATE_NOOP("BoothWording", "收现金需要收费员"),
    "rule.nothing_to_release": QT_TRANSLATE_NOOP("BoothWording", "当前没有可免费放行的车辆"),
    "rule.entry_no_charge": QT_TRANSLATE_NOOP("BoothWording", "入口车道不收费"),
    "refused.reason_missing": QT_TRANSLATE_NOOP("BoothWording", "{action}需要原因"),
    "refused.operator_missing": QT_TRANSLATE_NOOP("BoothWording", "{action}需要收费员"),
    "refused.note_not_text": QT_TRANSLATE_NOOP("BoothWording", "{action}的备注必须是文字"),
    "refused.reason_too_long": QT_TRANSLATE_NOOP(
        "BoothWording", "{action}的原因最多 {max} 个字（现 {length} 个）"),
    "refused.note_too_long": QT_TRANSLATE_NOOP(
        "BoothWording", "{action}的备注最多 {max} 个字（现 {length} 个）"),
    "refused.reason_not_listed": QT_TRANSLATE_NOOP(
        "BoothWording", "“{reason}”不是可选的{action}原因；请从列表选择：{listed}"),
    "refused.approval_required": QT_TRANSLATE_NOOP("BoothWording", "“{reason}”{action}需要主管输入 PIN 批准"),
    "refused.approver_malformed": QT_TRANSLATE_NOOP("BoothWording", "批准人须为（用户名, PIN）"),
    "refused.approval_failed": QT_TRANSLATE_NOOP("BoothWording", "主管批准未通过（{username}）：{error}"),
    "alert.camera_online": QT_TRANSLATE_NOOP("BoothWording", "车牌相机已恢复"),
    "alert.camera_offline": QT_TRANSLATE_NOOP("BoothWording", "车牌相机离线：{seconds} 秒没有心跳"),
    "refused.car_changed": QT_TRANSLATE_NOOP(
        "BoothWording", "车道上的车辆已变化，{action}未执行：请重新操作"
    ),
    "refused.self_approval": QT_TRANSLATE_NOOP(
        "BoothWording", "{username} 不能批准自己的{action}：须由另一位主管批准"
    ),
    "tariff.whitelist": QT_TRANSLATE_NOOP("BoothWording", "白名单车辆 {plate}"),
    "tariff.free_minutes": QT_TRANSLATE_NOOP("BoothWording", "{minutes}分钟内免费"),
    "tariff.free_minutes_first": QT_TRANSLATE_NOOP("BoothWording", "前{minutes}分钟免费"),
    "tariff.pass": QT_TRANSLATE_NOOP("BoothWording", "月卡 {plate} 有效期{valid_from}至{valid_to}"),
    "tariff.pass_note": QT_TRANSLATE_NOOP(
        "BoothWording", "月卡 {plate} 有效期{valid_from}至{valid_to} {note}"),
    "tariff.pass_part": QT_TRANSLATE_NOOP(
        "BoothWording", "月卡 {plate} {start}–{end} 有效期内免费（{valid_from}至{valid_to}）"),
    "tariff.pass_lapsed": QT_TRANSLATE_NOOP("BoothWording", "月卡不在有效期（{valid_from}至{valid_to}）"),
    "tariff.cap_window": QT_TRANSLATE_NOOP(
        "BoothWording", "第{window}个24小时 {start}–{end} 封顶（按时计{raw_fen}元）"),
    "tariff.cap_day": QT_TRANSLATE_NOOP("BoothWording", "当日 {start}–{end} 封顶（按时计{raw_fen}元）"),
    "tariff.first_period": QT_TRANSLATE_NOOP("BoothWording", "{where}首{minutes}分钟"),
    "tariff.periods": QT_TRANSLATE_NOOP("BoothWording", "{where}{count}个{minutes}分钟×{price_fen}元"),
    "tariff.more_periods": QT_TRANSLATE_NOOP("BoothWording", "{where}续{count}个{minutes}分钟×{price_fen}元"),
    "tariff.night_capped": QT_TRANSLATE_NOOP(
        "BoothWording", "{where}{count}个{minutes}分钟×{price_fen}元（{raw_fen}元，每夜封顶{cap_fen}元）"),
    "tariff.where.day": QT_TRANSLATE_NOOP("BoothWording", "日间 "),
    "tariff.where.night": QT_TRANSLATE_NOOP("BoothWording", "夜间 "),
    "tariff.where.span": QT_TRANSLATE_NOOP("BoothWording", "{start}–{end} "),
    "tariff.where.day_span": QT_TRANSLATE_NOOP("BoothWording", "日间 {start}–{end} "),
    "tariff.where.night_span": QT_TRANSLATE_NOOP("BoothWording", "夜间 {start}–{end} "),
    "tariff.discount": QT_TRANSLATE_NOOP("BoothWording", "优惠 {amount_fen}元"),
    "tariff.discount_partly_used": QT_TRANSLATE_NOOP(
        "BoothWording", "优惠 {amount_fen}元（抵扣{used_fen}元）"),
    "tariff.discount_unused": QT_TRANSLATE_NOOP("BoothWording", "优惠 {amount_fen}元（无需抵扣）"),
    "tariff.prepaid": QT_TRANSLATE_NOOP("BoothWording", "已付 {amount_fen}元"),
    "tariff.prepaid_partly_used": QT_TRANSLATE_NOOP(
        "BoothWording", "已付 {amount_fen}元（抵扣{used_fen}元）"),
    "tariff.prepaid_unused": QT_TRANSLATE_NOOP("BoothWording", "已付 {amount_fen}元（无需抵扣）"),
    "tariff.arrears": QT_TRANSLATE_NOOP("BoothWording", "往次未见出场欠费 {count}笔"),
    "tariff.arrears_paid": QT_TRANSLATE_NOOP("BoothWording", "已付抵扣欠费"),
    "tariff.grace": QT_TRANSLATE_NOOP("BoothWording", "付款后{minutes}分钟内离场，免补缴"),
    "alert.no_stay": QT_TRANSLATE_NOOP("BoothWording", "{plate} 在 {lane_id} 出场，无入场记录"),
    "alert.plate_corrected": QT_TRANSLATE_NOOP("BoothWording", "{old} → {new}（{operator}）"),
    "alert.payment_failed": QT_TRANSLATE_NOOP("BoothWording", "{plate}: {error}"),
    "alert.payment_timeout": QT_TRANSLATE_NOOP("BoothWording", "{plate} 在 {lane_id} 支付超时"),
    "alert.payment_flagged": QT_TRANSLATE_NOOP("BoothWording", "付款 {trade_no} 已入账并标记：{flag}"),
    "alert.payment_flagged_order": QT_TRANSLATE_NOOP("BoothWording", "付款 {trade_no}（{order_id}）：{flag}"),
    "alert.payment_not_settling": QT_TRANSLATE_NOOP("BoothWording", "{trade_no}: {status}"),
    "alert.payment_wrong_lane": QT_TRANSLATE_NOOP(
        "BoothWording", "付款 {trade_no} 指向通道 {channel}，车辆 {plate} 在 {lane_id}：已入账未抬杆"),
    "alert.payment_not_settling_flag": QT_TRANSLATE_NOOP("BoothWording", "{trade_no}: {status} {flag}"),
    "alert.gate_fault": QT_TRANSLATE_NOOP(
        "BoothWording", "{lane_id} 道闸未按指令动作：请检查道闸，需要时人工抬杆"),
    "alert.lane_busy": QT_TRANSLATE_NOOP("BoothWording", "{plate} 到达，但本车道仍在处理 {other}"),
    "alert.lane_busy_entry": QT_TRANSLATE_NOOP("BoothWording", "{plate} 到达，但本车道仍在处理上一辆车"),
    "alert.store_failed": QT_TRANSLATE_NOOP(
        "BoothWording", "{lane_id} 数据未能写入，未抬杆：请重试；反复出现请联系维护人员"),
    "alert.entry_refused": QT_TRANSLATE_NOOP("BoothWording", "{plate}: {reason}"),
    "alert.unexpected_entry_decision": QT_TRANSLATE_NOOP(
        "BoothWording", "exit lane {lane_id} got an entry decision"),
    "alert.plate_unreadable": QT_TRANSLATE_NOOP("BoothWording", "{text}: {error}"),
    "alert.plateless": QT_TRANSLATE_NOOP("BoothWording", "无牌车，请人工处理（{source}）"),
    "alert.plate_low_confidence": QT_TRANSLATE_NOOP(
        "BoothWording", "车牌 {plate} 置信度 {confidence}%，请核对；可能是：{plates}"),
    "alert.plate_low_confidence_none": QT_TRANSLATE_NOOP(
        "BoothWording", "车牌 {plate} 置信度 {confidence}%，请核对；可能是：无相近的在场车辆"),
    "alert.missed_exit": QT_TRANSLATE_NOOP(
        "BoothWording", "{plate} 再次入场，上次停车未见出场：{stay}，欠费 {owed_fen} 元记为往次欠费"),
    "alert.missed_exit_unpriced": QT_TRANSLATE_NOOP(
        "BoothWording", "{plate} 再次入场，上次停车未见出场：{stay}，无法计费，请核对"),
    "alert.camera_clock": QT_TRANSLATE_NOOP(
        "BoothWording",
        "{lane_id} 摄像机时间与本机相差 {offset_s} 秒，识别未被采用：请校准摄像机时钟（或为补发的旧记录）"),
    "alert.qr_unavailable": QT_TRANSLATE_NOOP(
        "BoothWording",
        "{plate} 在 {lane_id} 等待付款，泊链仍无法给出付款码：车道持续重试，请收现金或检查网络"),
    "alert.paid_not_out": QT_TRANSLATE_NOOP(
        "BoothWording", "{plate} 重启前已在 {lane_id} 付款但未抬杆：车辆再次到达该车道时自动抬杆，请核对"),
    "alert.released_not_out": QT_TRANSLATE_NOOP(
        "BoothWording", "{plate} 重启前已在 {lane_id} 放行但未抬杆：车辆再次到达时请重新处理"),
    "alert.clock_step": QT_TRANSLATE_NOOP(
        "BoothWording", "系统时钟被调整 {seconds} 秒：车道计时按实际经过的时间继续"),
    "alert.arrears_asked": QT_TRANSLATE_NOOP(
        "BoothWording", "{plate} 在 {lane_id} 出场，另收往次欠费 {owed_fen} 元"),
    "alert.exception_limit_shift": QT_TRANSLATE_NOOP(
        "BoothWording", "本班（{attendant}）{action}已 {count} 次，超过上限 {limit} 次；最近一次：{operator}，{reason}"),  # noqa: E501
    "alert.exception_limit_day": QT_TRANSLATE_NOOP(
        "BoothWording", "今日（无开班）{action}已 {count} 次，超过上限 {limit} 次；最近一次：{operator}，{reason}"),  # noqa: E501
    "alert.sync_start_failed": QT_TRANSLATE_NOOP("BoothWording", "支付宝/天猫同步未能启动：{error}"),
}


def _booth_tr(text: str) -> str:
    return QCoreApplication.translate("BoothWording", text)


def known_phrase_codes() -> frozenset[str]:
    """The booth codes this window has words for."""
    return frozenset(_PHRASES)


def phrase_words(phrase: Phrase | None, fallback: str = "") -> str:
    """What booth said, in the screen's language: money as yuan, nested phrases in words, lists joined.
    A code this window does not know shows booth's own (Chinese) text; no phrase shows ``fallback``."""
    if phrase is None:
        return fallback
    template = _PHRASES.get(phrase.code)
    if template is None:
        return phrase.text
    return fill(_booth_tr(template), phrase.params, _param_words)


def _param_words(name: str, value: ParamValue) -> str:
    if isinstance(value, Phrase):
        return phrase_words(value)
    if isinstance(value, tuple):
        return QCoreApplication.translate("BoothWording", "、").join(value)
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("_fen"):
        return format_yuan(value)
    return str(value)


def lane_message_words(view: LaneView) -> str:
    """A lane's state message (booth's text when the view carries no phrase)."""
    return phrase_words(view.said, view.message)


def breakdown_words(view: LaneView) -> tuple[tuple[str, int], ...]:
    """The quote's lines as (words, fen); a view without its lines (built by hand) shows its labels."""
    if view.lines:
        return tuple((phrase_words(line.phrase, line.label), line.fen) for line in view.lines)
    return view.breakdown


def alert_detail_words(alert: AlertRaised) -> str:
    """An alert's detail in the screen's language (its Chinese message when raised with text only)."""
    return phrase_words(alert.detail, alert.message)


def refused_words(exc: BaseException) -> str | None:
    """A refusal booth worded as a phrase (a lane rule, a refused exception), or None if it has none."""
    phrase = getattr(exc, "phrase", None)
    return phrase_words(phrase) if isinstance(phrase, Phrase) else None
