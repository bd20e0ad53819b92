"""What a report holds: :class:`Report` and its lines, the labels (in Chinese, as the CSV and the command
line print them; the window translates its own), and :class:`ReportError`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")
Window = tuple[datetime, datetime]

LATE = "late_after_settlement"  # the payment flag of money that arrived after the car had left
#: Rows kept in each list; the rest is only counted (Listing.total).
LIST_LIMIT = 200
#: Windows longer than this get hour-of-day buckets (24) instead of one bucket per hour.
HOURLY_MAX = timedelta(hours=48)
#: Bolink pay_type -> the label used in CSV files and the command line (the window translates its own).
CHANNEL_LABELS = {
    "cash": "现金",
    "wallet": "泊链钱包",
    "scancode": "泊链扫码",
    "sweepcode": "泊链被扫",
    "prepay": "预付",
    "monthuser": "月卡",
    "etc": "ETC",
    "free": "免费",
}
#: Bolink pay_channel numbers -> keys; a payment without one (cash) is "none".
PAY_CHANNEL_KEYS = {0: "wechat", 1: "alipay", 2: "balance", 3: "unionpay"}
PAY_CHANNEL_LABELS = {
    "wechat": "微信",
    "alipay": "支付宝",
    "balance": "余额",
    "unionpay": "银联",
    "none": "未注明（现金等）",
}
FLAG_LABELS = {
    "late_after_settlement": "车辆离场后到账",
    "unknown_order": "未知订单",
    "not_at_this_lane": "非本车道订单",
    "exit_in_progress": "出场结算中到账",
}
EXCEPTION_LABELS = {"free_release": "免费放行", "manual_lift": "人工抬杆"}  # the window's words (phrases.py)
#: a stay that left unpaid: the exit was missed, or the attendant lifted the gate
UNPAID_LABELS = {"missed_exit": "漏记出场", "manual_lift": "人工抬杆"}
#: the clouds and the states of their undelivered rows, as the window's sync indicator says them
CLOUD_LABELS = {"bolink": "泊链", "alipay": "支付宝", "tmall": "天猫"}
BACKLOG_LABELS = {"pending": "待发", "dead": "失败"}
ARREARS_LABELS = {"noticed": "新记欠费", "collected": "收回欠费", "waived": "免收欠费", "open": "未收欠费"}
SETTLEMENT_LABELS = {"paid": "已支付", "released": "放行（未收费）", "cancelled": "已取消"}
CHANNEL_ORDER = ("cash", "wallet", "scancode", "sweepcode", "prepay")
PAY_CHANNEL_ORDER = ("wechat", "alipay", "unionpay", "balance", "none")


class ReportError(Exception):
    """A report cannot be built; the message names the problem (unknown shift, open shift, bad period)."""


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """The first rows of a list and how many rows it has in all."""

    items: tuple[T, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True, slots=True)
class ChannelTotal:
    key: str  # Bolink pay_type ("cash", "scancode", ...), pay_channel key ("wechat", ...) or payment flag
    label: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class CountLine:
    key: str
    label: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ExceptionLine:
    at: datetime
    kind: str  # "free_release" | "manual_lift"
    lane_id: str
    plate: str | None
    due_fen: int
    reason: str
    note: str
    operator: str
    approved_by: str | None


@dataclass(frozen=True, slots=True)
class FailedPayment:
    at: datetime
    actor: str
    lane_id: str
    order_ref: str
    plate: str
    amount_fen: int | None
    pay_type: str
    errmsg: str


@dataclass(frozen=True, slots=True)
class PaymentLine:
    paid_at: datetime
    channel: str
    pay_channel: int | None
    amount_fen: int
    trade_no: str | None
    order_ref: str
    plate: str | None
    lane_id: str | None
    flag: str | None


@dataclass(frozen=True, slots=True)
class PaidNotExited:
    """A car with money counted in the window that had not left by the window's end."""

    stay_id: int
    plate: str
    order_id: str
    entry_at: datetime
    paid_fen: int
    last_paid_at: datetime


@dataclass(frozen=True, slots=True)
class UnpaidLine:
    """A car that left without paying: its exit was missed (stay closed when the plate entered again) or it
    was let out by a manual lift while money was due. For a missed exit `due_fen` is what was kept as its
    arrears (see `Report.arrears`); None when nothing was kept (it owed nothing, could not be priced, or was
    closed before Booth kept arrears)."""

    kind: Literal["missed_exit", "manual_lift"]
    at: datetime
    plate: str
    entry_at: datetime | None
    lane_id: str | None
    due_fen: int | None
    operator: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class BacklogLine:
    """Outbox rows not delivered when the report was built (the backlog is now, not of the window)."""

    cloud: str
    state: str  # "pending" | "dead"
    count: int
    oldest_at: datetime | None


@dataclass(frozen=True, slots=True)
class HourBucket:
    hour: int  # local hour of the day, 0-23
    start: datetime | None  # local start of the hour; None for hour-of-day buckets
    label: str
    exits: int
    payments: int
    revenue_fen: int


@dataclass(frozen=True, slots=True)
class ShiftInfo:
    id: int
    attendant: str  # username
    attendant_name: str
    opened_at: datetime
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class CashSummary:
    """The drawer: what it started with, the cash taken, what the close expected, counted and found."""

    opening_float_fen: int
    cash_taken_fen: int  # the drawer's cash in the shift's window (booth.shifts.cash_kept, as the close)
    cash_payments: int
    expected_fen: int | None  # as stored by the close
    counted: tuple[tuple[int, int], ...]  # (denomination fen, pieces), largest first
    counted_fen: int | None
    variance_fen: int | None  # counted - expected
    cosigned_by: str | None
    handover_float_fen: int | None
    close_note: str


@dataclass(frozen=True, slots=True)
class Report:
    lot_name: str
    title: str
    kind: Literal["shift", "period"]
    start: datetime  # aware UTC
    end: datetime
    zone: ZoneInfo
    generated_at: datetime
    windows: tuple[Window, ...]
    shift: ShiftInfo | None
    attendant: str | None
    attendant_name: str | None
    by_channel: tuple[ChannelTotal, ...]
    by_pay_channel: tuple[ChannelTotal, ...]
    by_flag: tuple[ChannelTotal, ...]
    payment_count: int
    total_fen: int
    counted_fen: int
    flagged_fen: int
    vehicles_in: int
    vehicles_out: int
    missed_exits: int
    settlements: tuple[CountLine, ...]
    exception_totals: tuple[CountLine, ...]
    exceptions: Listing[ExceptionLine]
    failed_payments: Listing[FailedPayment]
    late_payments: Listing[PaymentLine]
    other_flagged: Listing[PaymentLine]
    paid_not_exited: Listing[PaidNotExited]
    exited_unpaid: Listing[UnpaidLine]
    #: fees of stays whose exit was not seen: noticed, collected and waived in the window, open at its end
    arrears: tuple[CountLine, ...]
    sync_backlog: tuple[BacklogLine, ...]
    hourly_kind: Literal["hour", "hour_of_day"]
    hourly: tuple[HourBucket, ...]
    cash: CashSummary | None

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def local_text(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")


def channel_label(key: str) -> str:
    return CHANNEL_LABELS.get(key, key)


def pay_channel_key(pay_channel: int | None) -> str:
    if pay_channel is None:
        return "none"
    return PAY_CHANNEL_KEYS.get(pay_channel, f"pay_channel_{pay_channel}")


def pay_channel_label(key: str) -> str:
    return PAY_CHANNEL_LABELS.get(key, key)
