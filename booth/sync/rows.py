"""What the sync queues: the outbox rows of Alipay's ``order.sync`` and Tmall's backflows, and the facts a
payment's rows are built from.

A row holds the facts of the moment (who paid, which trade, the plate, the times); what comes from the
settings and Alipay's ``parking_id`` is added when it is sent (:mod:`booth.sync.alipay_relay`,
:mod:`booth.sync.tmall_relay`). Each row's dedupe key is derived from what it reports, so the same report
queued twice is one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from booth.clouds.alipay import out_order_no_for
from booth.store import OutboxItem

ALIPAY: Final = "alipay"
TMALL: Final = "tmall"
BOLINK: Final = "bolink"
CLOUDS: Final = (BOLINK, ALIPAY, TMALL)
ORDER_SYNC_KIND: Final = "order_sync"
PAYMENT_REBUILD_KIND: Final = "payment_rebuild"
"""An outbox row standing for a payment's Alipay or Tmall row that could not be built when the payment was
booked: it holds the payment's facts and the real row's dedupe key, and the relay builds the real row (with
the booking's own code) when it sends it, so the report is late but never lost and never sent twice."""
BOLINK_ALIPAY: Final = 1
"""Bolink's code for Alipay, in both ``pay_channel`` (0 WeChat, 1 Alipay, 2 balance, 3 UnionPay) and
``pay_company`` (0 WeChat, 1 Alipay)."""


def paid_by_alipay(pay_channel: int | None, pay_company: int | None) -> bool:
    """Bolink said the money came through Alipay (either field is enough; newer Bolink sends both)."""
    return pay_channel == BOLINK_ALIPAY or pay_company == BOLINK_ALIPAY


def iso_utc(moment: datetime) -> str:
    """An aware moment as UTC ISO text (how a row keeps it); a naive one is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {moment!r}")
    return moment.astimezone(UTC).isoformat()


def moment_of(payload: Mapping[str, Any], name: str) -> datetime:
    """A row's moment back; ValueError naming the field when it is missing or has no time zone."""
    value = payload.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name}: missing from the outbox row")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{name}: no time zone in {value!r}")
    return moment


def order_sync_item(
    *,
    order_id: str,
    trade_no: str,
    user_id: str,
    plate: str,
    entry_at: datetime,
    order_time: datetime,
    paid_at: datetime,
    amount_fen: int,
    card_number: str = "*",
) -> OutboxItem:
    """One Alipay payment to report with ``order.sync``. ``out_order_no`` is derived from the order and the
    trade, so a repeat of the same payment is the same row (and Alipay knows it if it comes again)."""
    out_order_no = out_order_no_for(order_id, trade_no)
    return OutboxItem(
        cloud=ALIPAY,
        kind=ORDER_SYNC_KIND,
        payload={
            "out_order_no": out_order_no,
            "order_id": order_id,
            "trade_no": trade_no,
            "user_id": user_id,
            "car_number": plate,
            "in_time": iso_utc(entry_at),
            "order_time": iso_utc(order_time),
            "pay_time": iso_utc(paid_at),
            "amount_fen": amount_fen,
            "card_number": card_number,
        },
        dedupe_key=order_sync_key(out_order_no),
    )


def order_sync_key(out_order_no: str) -> str:
    """The dedupe key of an order.sync row."""
    return f"alipay:order_sync:{out_order_no}"


def backflow_key(action: str, order_id: str, ref: str = "") -> str:
    """The dedupe key of a backflow row (``ref`` tells two payments of one stay apart)."""
    return (f"tmall:{action}:{order_id}" + (f":{ref}" if ref else ""))[:200]


def backflow_item(
    action: Literal["arrive", "pay", "leave"],
    *,
    order_id: str,
    plate: str,
    at: datetime,
    entry_at: datetime | None = None,
    ref: str = "",
) -> OutboxItem:
    """A Tmall backflow: ``at`` is the entry (arrive), the payment (pay) or the exit (leave). ``pay`` needs
    ``entry_at`` for the minutes parked and ``ref`` (the trade) to tell two payments of one stay apart."""
    payload: dict[str, Any] = {"action": action, "car_no": plate, "order_id": order_id, "time": iso_utc(at)}
    if action == "pay":
        if entry_at is None:
            raise ValueError("a pay backflow needs entry_at")
        payload["park_duration"] = max(0, int((at - entry_at).total_seconds() // 60))
    key = backflow_key(action, order_id, ref)
    return OutboxItem(cloud=TMALL, kind=f"backflow_{action}", payload=payload, dedupe_key=key)


@dataclass(frozen=True)
class PaymentFacts:
    """What a payment's Alipay and Tmall rows are built from, as a rebuild marker keeps it.
    ``alipay_user_id``: the payer of a payment made through Alipay (None for any other); ``exit_order_id``:
    the exit order it paid, whose opening is Alipay's ``order_time``."""

    order_id: str
    trade_no: str
    amount_fen: int
    paid_at: datetime
    exit_order_id: int | None = None
    alipay_user_id: str | None = None

    def payload(self, failure: str) -> dict[str, Any]:
        """The marker's payload; ``failure`` is kept for the record (why the row was not built at once)."""
        return {
            "order_id": self.order_id,
            "trade_no": self.trade_no,
            "amount_fen": self.amount_fen,
            "paid_at": self.paid_at.isoformat(),
            "exit_order_id": self.exit_order_id,
            "alipay_user_id": self.alipay_user_id,
            "failure": failure[:2000],
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PaymentFacts:
        """A marker's facts back; ValueError naming the field that is missing or wrong."""

        def text(name: str, *, optional: bool = False) -> Any:
            value = payload.get(name)
            if (value is None and optional) or (isinstance(value, str) and value):
                return value
            raise ValueError(f"{name}: expected a non-empty text, got {value!r}")

        def whole(name: str, *, optional: bool = False) -> Any:
            value = payload.get(name)
            if (value is None and optional) or (
                isinstance(value, int) and not isinstance(value, bool) and value >= 0
            ):
                return value
            raise ValueError(f"{name}: expected a whole number >= 0, got {value!r}")

        return cls(
            order_id=text("order_id"),
            trade_no=text("trade_no"),
            amount_fen=whole("amount_fen"),
            paid_at=moment_of(payload, "paid_at"),
            exit_order_id=whole("exit_order_id", optional=True),
            alipay_user_id=text("alipay_user_id", optional=True),
        )
