"""End-of-shift and period reports: what the lot took, per channel and per hour, and what needs a look.

Everything is aggregated in SQL (GROUP BY / SUM / COUNT over the indexed time columns: payments.paid_at,
stays.entry_at / exit_at, exit_orders.settled_at, lane_exceptions.at, audit_log(action, at)), inside one
read transaction, so the figures are one consistent snapshot and a month of a million exits builds in
seconds. Lists (exceptions, failed and flagged payments, paid-but-not-exited, exited-unpaid) are capped;
each says how many rows there are in all.

Which money is in the totals: every stored payment whose `paid_at` falls in the window, flagged ones
included. A flagged payment (late after the car left, unknown order, ...) is money that was received and
must be refunded or matched by the supervisor; leaving it out would make the report disagree with the
provider's statement and with the cash drawer. So `total_fen` equals SUM(payments.amount_fen) over the
window to the fen; `counted_fen` (not flagged) and `flagged_fen` split it, and the flagged payments are
listed one by one (`late_payments`, `other_flagged`).

A shift's window is [opened_at, closed_at); an attendant's period report is the union of that attendant's
shift windows clipped to the period. Hourly buckets are in the lot's local time (settings.park.zone):
per hour for a window up to 48 hours, per hour of the day (0-23, summed) for longer ones.

The package's modules: :mod:`.records` (what a report holds, the labels, ReportError), :mod:`.queries` (the
SQL), :mod:`.building` (a shift's or a period's report from the queries), :mod:`.csv_file` (the CSV file
and reading its totals back). Import from the package.
"""

from booth.office.reports.building import (
    build_period_report,
    build_shift_report,
)
from booth.office.reports.csv_file import (
    CSV_TOTAL_KEY,
    read_csv_totals,
    write_csv,
)
from booth.office.reports.records import (
    ARREARS_LABELS,
    BACKLOG_LABELS,
    CHANNEL_LABELS,
    CHANNEL_ORDER,
    CLOUD_LABELS,
    EXCEPTION_LABELS,
    FLAG_LABELS,
    HOURLY_MAX,
    LATE,
    LIST_LIMIT,
    PAY_CHANNEL_KEYS,
    PAY_CHANNEL_LABELS,
    PAY_CHANNEL_ORDER,
    SETTLEMENT_LABELS,
    UNPAID_LABELS,
    BacklogLine,
    CashSummary,
    ChannelTotal,
    CountLine,
    ExceptionLine,
    FailedPayment,
    HourBucket,
    Listing,
    PaidNotExited,
    PaymentLine,
    Report,
    ReportError,
    ShiftInfo,
    UnpaidLine,
    Window,
    channel_label,
    pay_channel_key,
    pay_channel_label,
)

__all__ = [
    "ARREARS_LABELS",
    "BACKLOG_LABELS",
    "CHANNEL_LABELS",
    "CHANNEL_ORDER",
    "CLOUD_LABELS",
    "CSV_TOTAL_KEY",
    "EXCEPTION_LABELS",
    "FLAG_LABELS",
    "HOURLY_MAX",
    "LATE",
    "LIST_LIMIT",
    "PAY_CHANNEL_KEYS",
    "PAY_CHANNEL_LABELS",
    "PAY_CHANNEL_ORDER",
    "SETTLEMENT_LABELS",
    "UNPAID_LABELS",
    "BacklogLine",
    "CashSummary",
    "ChannelTotal",
    "CountLine",
    "ExceptionLine",
    "FailedPayment",
    "HourBucket",
    "Listing",
    "PaidNotExited",
    "PaymentLine",
    "Report",
    "ReportError",
    "ShiftInfo",
    "UnpaidLine",
    "Window",
    "build_period_report",
    "build_shift_report",
    "channel_label",
    "pay_channel_key",
    "pay_channel_label",
    "read_csv_totals",
    "write_csv",
]
