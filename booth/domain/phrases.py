"""Words booth shows on screen, as data: a code from one registry, its parameters, and the Chinese text.

``booth`` never imports Qt, so it cannot translate. What it says to an attendant (a lane's message, a
tariff line, an alert's detail, a refused command) is a ``Phrase``: the window looks the code up in its own
translated table (ui/wording.py) and formats the parameters itself; the command line and a window that
does not know a code use ``text``, the Chinese wording built from the template here. A phrase may carry
parameters its words leave out (an exception's text, a device's error): nobody at the lane can act on them,
so they are not on screen; ``logged`` adds them for the log and the audit.

Templates name their parameters in braces. How a parameter reads: a name ending in ``_fen`` is money
(integer fen, shown as yuan), a ``Phrase`` reads as its own words, a tuple of texts is a list (joined with
"、" in Chinese), anything else as it is (plates, times in the lot's zone, counts, free text from the
attendant, the settings or a device).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from booth.domain.money import format_yuan

#: every code booth can emit -> its Chinese template (the screen's wording in the default language)
CHINESE: dict[str, str] = {
    # --- a lane's state message (LaneView.said)
    "lane.waiting": "等待车辆",
    "lane.quoting": "计费中",
    "lane.free_by_tariff": "免费放行（{rule}）",
    "lane.pay": "请付款 {due_fen} 元",
    "lane.no_stay": "无入场记录：请核对车牌，或免费放行 / 人工抬杆",
    "lane.scan_to_pay": "请扫码支付 {due_fen} 元",
    "lane.bolink_unavailable": "泊链暂时不可用，请收现金 {due_fen} 元",
    "lane.retrying": "重新发起支付",
    "lane.paying": "支付中…",
    "lane.payment_failed": "支付失败：请重新发起支付或收现金",
    "lane.payment_failed_unknown": "支付失败：未知原因",
    "lane.paid_booking": "支付成功，入账中",
    "lane.cash_taken": "现金 {due_fen} 元，找零 {change_fen} 元",
    "lane.partial_requote": "部分付款已入账，重新计费",
    "lane.payment_held": "收到通道 {channel} 的付款，待人工核对",
    "lane.paid_opening": "已付款，抬杆中",
    "lane.not_settling": "付款 {trade_no} 未能结算本单（{status}），请核对",
    "lane.free_release": "免费放行：{reason}",
    "lane.manual_lift": "人工抬杆：{reason}",
    "lane.plate_corrected": "车牌已更正，重新计费",
    "lane.backed_away": "车辆已倒车离开",
    "lane.cancelled": "已取消（{operator}）",
    "lane.superseded": "车辆已到 {other_lane} 车道",
    "lane.goodbye": "一路顺风",
    "lane.gate_fault": "道闸没有抬起，请人工抬杆并检查道闸",
    "lane.booking_failed": "付款未能入账，未抬杆：请重试",
    "lane.quote_failed": "无法计费：请更正车牌、免费放行或人工抬杆",
    "lane.record_failed": "未能记录，未抬杆：请重试",
    "lane.payment_timeout": "支付超时：请收现金、重新发起支付或放行",
    "lane.checking": "核验中",
    "lane.entry_refused": "禁止入场：{reason}",
    "lane.welcome": "欢迎光临",
    "lane.entry_record_failed": "入场未能登记：请重试或人工抬杆",
    # --- why an entry was refused (EntryDecided.reason, as the engine words it)
    "entry.blacklisted": "黑名单车辆",
    "entry.lot_full": "车位已满",
    "entry.at_exit": "该车牌正在出口处理中：请核对车牌",
    # --- the attendant's exceptions, named inside other phrases
    "action.free_release": "免费放行",
    "action.manual_lift": "人工抬杆",
    # --- a lane refusing an attendant's command (LaneRuleError.phrase)
    "rule.reason_missing": "{action} needs a reason",
    "rule.operator_missing": "{action} needs the operator's name",
    "rule.busy_booking": "正在入账或抬杆，请稍候",
    "rule.busy_opening": "正在抬杆，请稍候",
    "rule.nothing_to_correct": "只有计费或待付款的车辆可以更正车牌",
    "rule.correct_needs_operator": "更正车牌需要收费员",
    "rule.nothing_to_retry": "没有等待支付的订单，无法重新发起支付",
    "rule.nothing_to_cash": "没有等待支付的订单，不能收现金",
    "rule.cash_short": "现金不足：应收 {due_fen} 元，实收 {tendered_fen} 元",
    "rule.cash_needs_operator": "收现金需要收费员",
    "rule.nothing_to_release": "当前没有可免费放行的车辆",
    "rule.entry_no_charge": "入口车道不收费",
    # --- the engine refusing a free release or manual lift (ExceptionRefused / ApprovalError .phrase)
    "refused.reason_missing": "{action}需要原因",
    "refused.operator_missing": "{action}需要收费员",
    "refused.note_not_text": "{action}的备注必须是文字",
    "refused.reason_too_long": "{action}的原因最多 {max} 个字（现 {length} 个）",
    "refused.note_too_long": "{action}的备注最多 {max} 个字（现 {length} 个）",
    "refused.reason_not_listed": "“{reason}”不是可选的{action}原因；请从列表选择：{listed}",
    "refused.approval_required": "“{reason}”{action}需要主管输入 PIN 批准",
    "refused.approver_malformed": "批准人须为（用户名, PIN）",
    "refused.approval_failed": "主管批准未通过（{username}）：{error}",
    "alert.camera_online": "车牌相机已恢复",
    "alert.camera_offline": "车牌相机离线：{seconds} 秒没有心跳",
    "refused.car_changed": "车道上的车辆已变化，{action}未执行：请重新操作",
    "refused.self_approval": "{username} 不能批准自己的{action}：须由另一位主管批准",
    # --- the lines of a tariff quote (QuoteLine.phrase); {where} is empty or one of the tariff.where.*
    "tariff.whitelist": "白名单车辆 {plate}",
    "tariff.free_minutes": "{minutes}分钟内免费",
    "tariff.free_minutes_first": "前{minutes}分钟免费",
    "tariff.pass": "月卡 {plate} 有效期{valid_from}至{valid_to}",
    "tariff.pass_note": "月卡 {plate} 有效期{valid_from}至{valid_to} {note}",
    "tariff.pass_part": "月卡 {plate} {start}–{end} 有效期内免费（{valid_from}至{valid_to}）",
    "tariff.pass_lapsed": "月卡不在有效期（{valid_from}至{valid_to}）",
    "tariff.cap_window": "第{window}个24小时 {start}–{end} 封顶（按时计{raw_fen}元）",
    "tariff.cap_day": "当日 {start}–{end} 封顶（按时计{raw_fen}元）",
    "tariff.first_period": "{where}首{minutes}分钟",
    "tariff.periods": "{where}{count}个{minutes}分钟×{price_fen}元",
    "tariff.more_periods": "{where}续{count}个{minutes}分钟×{price_fen}元",
    "tariff.night_capped": "{where}{count}个{minutes}分钟×{price_fen}元（{raw_fen}元，每夜封顶{cap_fen}元）",
    "tariff.where.day": "日间 ",
    "tariff.where.night": "夜间 ",
    "tariff.where.span": "{start}–{end} ",
    "tariff.where.day_span": "日间 {start}–{end} ",
    "tariff.where.night_span": "夜间 {start}–{end} ",
    "tariff.discount": "优惠 {amount_fen}元",
    "tariff.discount_partly_used": "优惠 {amount_fen}元（抵扣{used_fen}元）",
    "tariff.discount_unused": "优惠 {amount_fen}元（无需抵扣）",
    "tariff.prepaid": "已付 {amount_fen}元",
    "tariff.prepaid_partly_used": "已付 {amount_fen}元（抵扣{used_fen}元）",
    "tariff.prepaid_unused": "已付 {amount_fen}元（无需抵扣）",
    "tariff.grace": "付款后{minutes}分钟内离场，免补缴",
    "tariff.arrears": "往次未见出场欠费 {count}笔",
    "tariff.arrears_paid": "已付抵扣欠费",
    # --- the detail of an alert (AlertRaised.detail); the alert's kind is its headline
    "alert.no_stay": "{plate} 在 {lane_id} 出场，无入场记录",
    "alert.plate_corrected": "{old} → {new}（{operator}）",
    "alert.payment_failed": "{plate}: {error}",
    "alert.payment_timeout": "{plate} 在 {lane_id} 支付超时",
    "alert.payment_flagged": "付款 {trade_no} 已入账并标记：{flag}",
    "alert.payment_flagged_order": "付款 {trade_no}（{order_id}）：{flag}",
    "alert.payment_not_settling": "{trade_no}: {status}",
    "alert.payment_wrong_lane": "付款 {trade_no} 指向通道 {channel}，车辆 {plate} 在 {lane_id}：已入账未抬杆",
    "alert.payment_not_settling_flag": "{trade_no}: {status} {flag}",
    "alert.gate_fault": "{lane_id} 道闸未按指令动作：请检查道闸，需要时人工抬杆",
    "alert.lane_busy": "{plate} 到达，但本车道仍在处理 {other}",
    "alert.lane_busy_entry": "{plate} 到达，但本车道仍在处理上一辆车",
    "alert.store_failed": "{lane_id} 数据未能写入，未抬杆：请重试；反复出现请联系维护人员",
    "alert.entry_refused": "{plate}: {reason}",
    "alert.unexpected_entry_decision": "exit lane {lane_id} got an entry decision",
    "alert.plate_unreadable": "{text}: {error}",
    "alert.plateless": "无牌车，请人工处理（{source}）",
    "alert.plate_low_confidence": "车牌 {plate} 置信度 {confidence}%，请核对；可能是：{plates}",
    "alert.plate_low_confidence_none": "车牌 {plate} 置信度 {confidence}%，请核对；可能是：无相近的在场车辆",
    "alert.missed_exit": "{plate} 再次入场，上次停车未见出场：{stay}，欠费 {owed_fen} 元记为往次欠费",
    "alert.missed_exit_unpriced": "{plate} 再次入场，上次停车未见出场：{stay}，无法计费，请核对",
    "alert.camera_clock": (
        "{lane_id} 摄像机时间与本机相差 {offset_s} 秒，识别未被采用：请校准摄像机时钟（或为补发的旧记录）"
    ),
    "alert.qr_unavailable": (
        "{plate} 在 {lane_id} 等待付款，泊链仍无法给出付款码：车道持续重试，请收现金或检查网络"
    ),
    "alert.paid_not_out": "{plate} 重启前已在 {lane_id} 付款但未抬杆：车辆再次到达该车道时自动抬杆，请核对",
    "alert.released_not_out": "{plate} 重启前已在 {lane_id} 放行但未抬杆：车辆再次到达时请重新处理",
    "alert.clock_step": "系统时钟被调整 {seconds} 秒：车道计时按实际经过的时间继续",
    "alert.arrears_asked": "{plate} 在 {lane_id} 出场，另收往次欠费 {owed_fen} 元",
    "alert.exception_limit_shift": "本班（{attendant}）{action}已 {count} 次，超过上限 {limit} 次；"
    "最近一次：{operator}，{reason}",
    "alert.exception_limit_day": "今日（无开班）{action}已 {count} 次，超过上限 {limit} 次；"
    "最近一次：{operator}，{reason}",
    "alert.sync_start_failed": "支付宝/天猫同步未能启动：{error}",
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: how a list parameter is joined in Chinese
CHINESE_LIST_SEPARATOR = "、"


@dataclass(frozen=True, slots=True)
class Phrase:
    """One thing said on screen: ``code`` (a key of CHINESE) and its parameters, in a hashable form."""

    code: str
    params: tuple[tuple[str, ParamValue], ...] = ()

    @property
    def args(self) -> dict[str, ParamValue]:
        return dict(self.params)

    @property
    def text(self) -> str:
        """The Chinese wording (the command line, and the window's fallback)."""
        return fill(CHINESE[self.code], self.params, chinese_value)

    @property
    def detail(self) -> str:
        """The parameters the words leave out, as ``name: value``: the technical detail (an exception's
        text, a device's error) that a log and a supervisor need but a driver or an attendant does not."""
        used = placeholders(CHINESE[self.code])
        left_out = [(name, value) for name, value in self.params if name not in used]
        return "; ".join(f"{name}: {chinese_value(name, value)}" for name, value in left_out)

    @property
    def logged(self) -> str:
        """The words and, in brackets, the technical detail: what logs and the audit keep."""
        detail = self.detail
        return f"{self.text} [{detail}]" if detail else self.text


ParamValue: TypeAlias = str | int | Phrase | tuple[str, ...]


def say(code: str, **params: ParamValue) -> Phrase:
    """A phrase of the registry; an unknown code is a programming error, named at once."""
    if code not in CHINESE:
        raise KeyError(f"no phrase {code!r} in booth.domain.phrases.CHINESE")
    return Phrase(code, tuple(params.items()))


def chinese_value(name: str, value: ParamValue) -> str:
    """How one parameter reads in Chinese (see the module doc)."""
    if isinstance(value, Phrase):
        return value.text
    if isinstance(value, tuple):
        return CHINESE_LIST_SEPARATOR.join(value)
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("_fen"):
        return format_yuan(value)
    return str(value)


def fill(
    template: str,
    params: tuple[tuple[str, ParamValue], ...],
    reads: Callable[[str, ParamValue], str],
) -> str:
    """Put each ``{name}`` of ``template`` in words with ``reads``; an unknown name stays as written (a
    translation naming a parameter that is not there shows the mistake instead of failing)."""
    values = dict(params)

    def word(match: re.Match[str]) -> str:
        name = match[1]
        return reads(name, values[name]) if name in values else match[0]

    return _PLACEHOLDER.sub(word, template)


def placeholders(template: str) -> frozenset[str]:
    """The parameter names a template uses."""
    return frozenset(_PLACEHOLDER.findall(template))
