"""The tables, as SQLAlchemy 2 declarative models; Alembic migrations are written against these.

Every constraint gets a name from the metadata's naming convention, so that later migrations (batch mode on
SQLite, which rebuilds tables) can find and change them. Money is BIGINT fen; timestamps are aware UTC.
Only the store's operations touch these classes: no ORM object ever leaves the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STAY_STATES = ("in_lot", "exited", "cancelled")
EXIT_ORDER_STATES = ("awaiting", "paid", "released", "cancelled")
GATE_OUTCOMES = ("opened", "failed")
OUTBOX_CLOUDS = ("bolink", "alipay", "tmall")
OUTBOX_STATES = ("pending", "sent", "dead")
ROLES = ("attendant", "supervisor")
SHIFT_STATES = ("open", "closed")
ARREARS_STATES = ("open", "collected", "waived")
EXCEPTION_KINDS = ("manual_lift", "free_release")
TIMING_KINDS = ("camera_to_quote", "bolink_round_trip")

# Lengths shared by the models, the first migration and the boundary checks in the operations.
ORDER_ID_MAX = 48
ORDER_REF_MAX = 128
PLATE_MAX = 32
SHORT_MAX = 32  # lane ids, colours, classes, channels, reasons, flags, kinds
NAME_MAX = 64  # operators, actors, actions, trade numbers, payer ids
DEDUPE_KEY_MAX = 200


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on every backend.

    SQLite keeps no offset, so values are stored as naive UTC there and made aware again when read;
    PostgreSQL gets a timestamptz. A naive datetime is refused: its meaning depends on the machine's zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused (store aware UTC timestamps only): {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Stay(Base):
    """One vehicle's visit, from entry to exit; `order_id` is the id Bolink knows the stay by."""

    __tablename__ = "stays"
    __table_args__ = (
        CheckConstraint(_one_of("state", STAY_STATES), name="state"),
        Index("ix_stays_plate_state", "plate", "state"),
        Index("ix_stays_entry_at", "entry_at"),
        Index("ix_stays_exit_at", "exit_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(ORDER_ID_MAX), unique=True)
    plate: Mapped[str] = mapped_column(String(PLATE_MAX))
    plate_colour: Mapped[str] = mapped_column(String(SHORT_MAX))
    vehicle_class: Mapped[str] = mapped_column(String(SHORT_MAX))
    entry_lane: Mapped[str] = mapped_column(String(SHORT_MAX))
    entry_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exit_lane: Mapped[str | None] = mapped_column(String(SHORT_MAX))
    exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the lot booth the car entered at, for a stay imported at this booth's exit (#18); NULL: entered here
    origin_booth: Mapped[str | None] = mapped_column(String(32))


class ExitOrder(Base):
    """The settlement of one exit attempt: the quote shown, and how it ended (paid, released, cancelled).

    `settled_at` is when the order left "awaiting", whichever way. `settled_by` points at the payment that
    settled it; that foreign key closes a cycle with payments.exit_order_id, hence `use_alter`.
    """

    __tablename__ = "exit_orders"
    __table_args__ = (
        CheckConstraint(_one_of("state", EXIT_ORDER_STATES), name="state"),
        CheckConstraint(
            "gross_fen >= 0 AND paid_before_fen >= 0 AND discount_fen >= 0 AND due_fen >= 0",
            name="amounts_not_negative",
        ),
        Index("ix_exit_orders_stay_id_state", "stay_id", "state"),
        Index("ix_exit_orders_settled_at", "settled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"))
    lane_id: Mapped[str] = mapped_column(String(SHORT_MAX))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quote_json: Mapped[str] = mapped_column(Text)
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    paid_before_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    due_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_by: Mapped[int | None] = mapped_column(ForeignKey("payments.id", use_alter=True))
    release_reason: Mapped[str | None] = mapped_column(Text)
    released_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    #: the part of due_fen that is the plate's arrears (earlier stays' unpaid fees; see Arrears)
    arrears_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Payment(Base):
    """Money the booth was told about, stored even when it cannot be matched (then `flag` says why).

    `trade_no` is unique on its own, not per channel: it is the payment provider's transaction number
    (WeChat, Alipay, UnionPay) as Bolink passes it on, one per movement of money, while the channel label
    (pay_type) of a result, its repeat and a query_order answer may differ. NULL (cash) is never a duplicate.
    """

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("trade_no"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        Index("ix_payments_paid_at", "paid_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"), index=True)
    order_ref: Mapped[str] = mapped_column(String(ORDER_REF_MAX))
    exit_order_id: Mapped[int | None] = mapped_column(ForeignKey("exit_orders.id"), index=True)
    channel: Mapped[str] = mapped_column(String(SHORT_MAX))
    pay_channel: Mapped[int | None] = mapped_column(Integer)
    trade_no: Mapped[str | None] = mapped_column(String(NAME_MAX))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lane_id: Mapped[str | None] = mapped_column(String(SHORT_MAX))
    operator: Mapped[str] = mapped_column(String(NAME_MAX))
    payer_id: Mapped[str | None] = mapped_column(String(NAME_MAX))
    flag: Mapped[str | None] = mapped_column(String(SHORT_MAX))
    raw_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GateEvent(Base):
    """Every barrier command and its outcome, with who asked and why: the evidence for each lift."""

    __tablename__ = "gate_events"
    __table_args__ = (
        CheckConstraint(_one_of("outcome", GATE_OUTCOMES), name="outcome"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lane_id: Mapped[str] = mapped_column(String(SHORT_MAX))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"), index=True)
    reason: Mapped[str] = mapped_column(String(SHORT_MAX))
    operator: Mapped[str] = mapped_column(String(NAME_MAX))
    note: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEntry(Base):
    """Who did what, for the supervisor: exceptions (manual lift, free release, corrections) land here."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(NAME_MAX))
    action: Mapped[str] = mapped_column(String(NAME_MAX))
    detail_json: Mapped[str] = mapped_column(Text)


class OutboxRow(Base):
    """What must still reach a cloud, written in the same transaction as the business row it reports.

    Rows are never deleted: "sent" and "dead" rows are the record of what was (or could not be) delivered.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("cloud", OUTBOX_CLOUDS), name="cloud"),
        CheckConstraint(_one_of("state", OUTBOX_STATES), name="state"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_cloud_state_next_attempt_at", "cloud", "state", "next_attempt_at"),
        Index("ix_outbox_stay_id_cloud_state", "stay_id", "cloud", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    cloud: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(SHORT_MAX))
    payload_json: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(DEDUPE_KEY_MAX), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Person(Base):
    """An attendant or a supervisor. `username` is what they type or tap to sign in and what every
    operator/actor column records; the PIN is kept only as a salted scrypt hash (booth.people)."""

    __tablename__ = "people"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role"),
        CheckConstraint("failed_pins >= 0", name="failed_pins_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    role: Mapped[str] = mapped_column(String(16))
    pin_hash: Mapped[str] = mapped_column(Text)
    failed_pins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(NAME_MAX))


class Shift(Base):
    """One attendant's stint at the booth, from the opening float to the blind cash count.

    The close keeps what was expected, what was counted (by denomination, as JSON) and the variance
    (counted - expected, signed), who co-signed a variance above the limit, and the float handed over to
    the next shift. At most one shift is open at a time: an open shift holds `open_slot` = 1, which is unique,
and a closed one NULL (portable, unlike a partial index, whose dialect options would load SQLAlchemy's
PostgreSQL dialect — 100 ms — at every start).
    """

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint(_one_of("state", SHIFT_STATES), name="state"),
        CheckConstraint("opening_float_fen >= 0", name="opening_float_not_negative"),
        CheckConstraint(
            "(counted_fen IS NULL OR counted_fen >= 0)"
            " AND (handover_float_fen IS NULL OR handover_float_fen >= 0)",
            name="close_amounts_not_negative",
        ),
        CheckConstraint(
            "(state = 'open' AND open_slot = 1) OR (state = 'closed' AND open_slot IS NULL)", name="open_slot"
        ),
        Index("ix_shifts_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attendant_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    open_slot: Mapped[int | None] = mapped_column(Integer, unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opening_float_fen: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_json: Mapped[str | None] = mapped_column(Text)
    counted_fen: Mapped[int | None] = mapped_column(BigInteger)
    expected_fen: Mapped[int | None] = mapped_column(BigInteger)
    variance_fen: Mapped[int | None] = mapped_column(BigInteger)
    cosigned_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    handover_float_fen: Mapped[int | None] = mapped_column(BigInteger)
    close_note: Mapped[str | None] = mapped_column(Text)


class LaneException(Base):
    """A manual lift or a free release: the reason (from the configured list), free text, who did it, who
    approved it when the reason needs a supervisor, and the lane photo of the moment when there is one."""

    __tablename__ = "lane_exceptions"
    __table_args__ = (
        CheckConstraint(_one_of("kind", EXCEPTION_KINDS), name="kind"),
        Index("ix_lane_exceptions_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(SHORT_MAX))
    lane_id: Mapped[str] = mapped_column(String(SHORT_MAX))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    exit_order_id: Mapped[int | None] = mapped_column(ForeignKey("exit_orders.id"))
    plate: Mapped[str | None] = mapped_column(String(PLATE_MAX))
    due_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(NAME_MAX))
    note: Mapped[str] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(String(NAME_MAX))
    approved_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    photo: Mapped[str | None] = mapped_column(Text)


class Arrears(Base):
    """What a stay owed when its exit was never seen (the plate entered again): asked for at that plate's next
    exit on top of its fee, and closed as collected (with the exit order that was paid) or waived (by an
    attendant, with a reason, and a supervisor where configured). Never forgone silently."""

    __tablename__ = "arrears"
    __table_args__ = (
        CheckConstraint(_one_of("state", ARREARS_STATES), name="state"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_arrears_plate_state", "plate", "state"),
        Index("ix_arrears_noticed_at", "noticed_at"),
        Index("ix_arrears_settled_at", "settled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), unique=True)
    plate: Mapped[str] = mapped_column(String(PLATE_MAX))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    noticed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    noticed_lane: Mapped[str] = mapped_column(String(SHORT_MAX))
    state: Mapped[str] = mapped_column(String(16))
    #: the exit order that last asked for it (the one whose payment or release closes it)
    exit_order_id: Mapped[int | None] = mapped_column(ForeignKey("exit_orders.id"))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    approved_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    reason: Mapped[str | None] = mapped_column(Text)


class LaneTiming(Base):
    """One timed step of a lane (camera push → quote shown, a Bolink call's round trip), for the per-lane
    figures. Written in batches in the background, never on the way to the gate; pruned after some days."""

    __tablename__ = "lane_timings"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TIMING_KINDS), name="kind"),
        Index("ix_lane_timings_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lane_id: Mapped[str] = mapped_column(String(SHORT_MAX))
    kind: Mapped[str] = mapped_column(String(SHORT_MAX))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ms: Mapped[float] = mapped_column(Float)
