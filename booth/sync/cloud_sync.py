"""Background sync of completed orders to Alipay and of parking data to Tmall.

What is sent is decided where the business row is written, and queued in the same transaction (see
``booth.store``): an Alipay payment queues ``order.sync``; for a mall park an entry queues the Tmall
``arrive`` backflow, a payment ``pay`` and an exit ``leave``. The outbox rows hold the facts of the moment
(who paid, which trade, the plate, the times); what comes from the settings (``out_parking_id``, the lot's
name, ``mall_id``) and Alipay's ``parking_id`` are added when the row is sent, so a supervisor who fixes the
settings can requeue dead rows and they go out right. A payment whose rows cannot be built as it is booked
queues rebuild markers in their place (``PAYMENT_REBUILD_KIND``) and alerts the supervisor; the relay builds
the real rows from them when it sends them, or parks them as dead letters saying why.

:class:`CloudSync` runs one :class:`~booth.outbox.OutboxRelay` per cloud on the engine's loop, starts the
emulators in sandbox mode, and keeps a :class:`SyncStatus` any thread may read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, Protocol, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from booth.clouds.alipay import (
    AlipayClient,
    AlipayOutcome,
    AlipayResult,
    build_order_sync_biz,
    out_order_no_for,
)
from booth.clouds.top import TopClient, TopOutcome, build_backflow
from booth.config import (
    BACKFLOW_ACTIONS,
    AlipayLotSettings,
    AlipaySettings,
    Settings,
    SyncSettings,
    TmallSettings,
    private_key_pem,
    public_key_pem,
)
from booth.store import OutboxBacklog, OutboxItem, OutboxRecord, StayRecord, Store
from booth.store.worker import DatabaseWorkerClosed
from booth.sync.outbox import (
    Backoff,
    BreakerPolicy,
    CircuitBreaker,
    OutboxRelay,
    RelayState,
    Sender,
    SendResult,
    SendVerdict,
)

log = logging.getLogger("booth.sync")
T = TypeVar("T")

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
LOT_REGISTERED: Final = "alipay_lot_registered"
"""Audit action of the lot's registration; its detail holds Alipay's ``parking_id``."""
DEAD_LETTERS_SHOWN: Final = 20
_LOT_LOOKUP_EVERY_S: Final = 5.0
_SANDBOX_LOT_WAIT_S: Final = 15.0  # how long the sandbox's lot registration waits for its emulator
_SANDBOX_LOT_RETRY_S: Final = 0.2
SANDBOX_LOT: Final = AlipayLotSettings(
    city_id="320102",
    parking_address="演示地址（沙箱）",
    longitude=Decimal("118.796877"),
    latitude=Decimal("32.060255"),
    parking_number=300,
)


class DbRunner(Protocol):
    """Runs a store call where the caller's database calls run (the engine's database thread)."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


def paid_by_alipay(pay_channel: int | None, pay_company: int | None) -> bool:
    """Bolink said the money came through Alipay (either field is enough; newer Bolink sends both)."""
    return pay_channel == BOLINK_ALIPAY or pay_company == BOLINK_ALIPAY


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {moment!r}")
    return moment.astimezone(UTC).isoformat()


def _moment(payload: Mapping[str, Any], name: str) -> datetime:
    value = payload.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name}: missing from the outbox row")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{name}: no time zone in {value!r}")
    return moment


# ---------------------------------------------------------------------------------------- what is queued


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
            "in_time": _iso(entry_at),
            "order_time": _iso(order_time),
            "pay_time": _iso(paid_at),
            "amount_fen": amount_fen,
            "card_number": card_number,
        },
        dedupe_key=_order_sync_key(out_order_no),
    )


def _order_sync_key(out_order_no: str) -> str:
    return f"alipay:order_sync:{out_order_no}"


def _backflow_key(action: str, order_id: str, ref: str = "") -> str:
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
    payload: dict[str, Any] = {"action": action, "car_no": plate, "order_id": order_id, "time": _iso(at)}
    if action == "pay":
        if entry_at is None:
            raise ValueError("a pay backflow needs entry_at")
        payload["park_duration"] = max(0, int((at - entry_at).total_seconds() // 60))
    key = _backflow_key(action, order_id, ref)
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
            paid_at=_moment(payload, "paid_at"),
            exit_order_id=whole("exit_order_id", optional=True),
            alipay_user_id=text("alipay_user_id", optional=True),
        )


# -------------------------------------------------------------------------------------- Alipay's lot id


@dataclass(frozen=True)
class LotRegistration:
    """Alipay's id of this lot. From the settings (registered elsewhere) or from the audit log, where
    ``booth alipay register-lot`` (or the sandbox at start) recorded the answer of parkinglotinfo.create."""

    parking_id: str
    out_parking_id: str
    app_id: str
    gateway: str
    at: datetime | None
    source: Literal["settings", "database"]
    newly_registered: bool = False  # False: found, so register_lot sent nothing (registering is idempotent)


class LotRegistrationError(Exception):
    """The lot could not be registered; the message says why. ``retry``: the gateway was not reached or
    asked to try later, so the same call may work later."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def gateway_key(settings: AlipaySettings) -> str:
    """What a registration is valid for: a lot registered with the sandbox is unknown to the real gateway."""
    return "sandbox" if settings.is_sandbox else settings.gateway_url


def find_lot_registration(store: Store, settings: AlipaySettings) -> LotRegistration | None:
    """This lot's registration for this app and gateway, if there is one (a store call: database thread)."""
    if settings.parking_id:
        return LotRegistration(
            settings.parking_id,
            settings.out_parking_id,
            settings.app_id,
            gateway_key(settings),
            None,
            "settings",
        )
    wanted = {
        "gateway": gateway_key(settings),
        "app_id": settings.app_id,
        "out_parking_id": settings.out_parking_id,
    }
    for entry in store.audit_entries(LOT_REGISTERED):
        detail = entry.detail
        parking_id = detail.get("parking_id")
        if all(detail.get(k) == v for k, v in wanted.items()) and isinstance(parking_id, str) and parking_id:
            return LotRegistration(
                parking_id, settings.out_parking_id, settings.app_id, wanted["gateway"], entry.at, "database"
            )
    return None


async def register_lot(
    client: AlipayClient,
    store: Store,
    settings: AlipaySettings,
    run: DbRunner,
    *,
    actor: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LotRegistration:
    """parkinglotinfo.create, once: a lot registered already is answered with its registration and nothing
    is sent (an integrator's script may run this on every install); stores a new parking_id."""
    existing = await run(lambda: find_lot_registration(store, settings))
    if existing is not None:
        log.info(
            "lot %s already registered with Alipay as parking_id %s (%s): nothing sent",
            settings.out_parking_id,
            existing.parking_id,
            registration_origin(existing),
        )
        return existing
    result = await client.create_parking_lot()
    if not result.done:
        raise LotRegistrationError(
            f"parkinglotinfo.create failed: {result.describe()}", retry=result.outcome is AlipayOutcome.RETRY
        )
    parking_id = result.node.get("parking_id")
    if not isinstance(parking_id, str) or not parking_id.strip():
        raise LotRegistrationError(f"parkinglotinfo.create answered without a parking_id: {result.node!r}")
    at = clock()
    detail = {
        "gateway": gateway_key(settings),
        "app_id": settings.app_id,
        "out_parking_id": settings.out_parking_id,
        "parking_id": parking_id,
    }
    await run(lambda: store.audit(actor=actor, action=LOT_REGISTERED, detail=detail, at=at))
    log.info("lot %s registered with Alipay: parking_id %s", settings.out_parking_id, parking_id)
    return LotRegistration(
        parking_id, settings.out_parking_id, settings.app_id, detail["gateway"], at, "database", True
    )


def registration_origin(found: LotRegistration) -> str:
    """Where a known registration comes from, for a person: the settings or when it was recorded."""
    if found.source == "settings":
        return "in the settings: alipay.parking_id"
    return f"since {found.at:%Y-%m-%d %H:%M} UTC" if found.at else "in the database"


# ------------------------------------------------------------------------------------------------ senders


def alipay_send_result(result: AlipayResult) -> SendResult:
    """Alipay's outcome as the relay's verdict; "already synced" is done, a bad signature is never."""
    match result.outcome:
        case AlipayOutcome.SUCCESS:
            return SendResult(SendVerdict.SENT)
        case AlipayOutcome.ALREADY_DONE:
            return SendResult(SendVerdict.SENT, f"already synced: {result.describe()}")
        case AlipayOutcome.FATAL:
            return SendResult(SendVerdict.FATAL, result.describe())
    return SendResult(SendVerdict.RETRY, result.describe(), unverified=result.signature_failed)


class AlipayOrderSender:
    """Sends ``order_sync`` rows with ``order.sync``; ``parking_id`` is asked for at send time."""

    def __init__(self, settings: AlipaySettings, client: AlipayClient, parking_id: Callable[[], str]) -> None:
        self._settings = settings
        self._client = client
        self._parking_id = parking_id

    def biz(self, row: OutboxRecord) -> dict[str, str]:
        """The business fields of a row; ValueError (naming the field) when they cannot be built."""
        p = row.payload
        s = self._settings
        try:
            return build_order_sync_biz(
                user_id=p["user_id"],
                out_parking_id=s.out_parking_id,
                parking_name=s.parking_name,
                car_number=p["car_number"],
                out_order_no=p["out_order_no"],
                order_time=_moment(p, "order_time"),
                order_no=p["trade_no"],
                pay_time=_moment(p, "pay_time"),
                pay_money_fen=p["amount_fen"],
                in_time=_moment(p, "in_time"),
                parking_id=self._parking_id(),
                pay_type=s.order_pay_type,
                card_number=p.get("card_number") or "*",
            )
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]}: missing from the outbox row") from None

    async def send(self, row: OutboxRecord) -> SendResult:
        if row.kind != ORDER_SYNC_KIND:
            return SendResult(SendVerdict.FATAL, f"unknown Alipay outbox kind {row.kind!r}")
        try:
            biz = self.biz(row)
        except (ValueError, TypeError) as exc:
            return SendResult(SendVerdict.FATAL, f"order.sync not built: {exc}")
        return alipay_send_result(await self._client.sync_order(biz))


class TmallBackflowSender:
    """Sends ``backflow_*`` rows with ``tmall.popupstore.park.backflow`` for the configured mall."""

    def __init__(self, settings: TmallSettings, client: TopClient) -> None:
        self._settings = settings
        self._client = client

    def params(self, row: OutboxRecord) -> dict[str, str]:
        p = row.payload
        action = p.get("action")
        if action not in BACKFLOW_ACTIONS or row.kind != f"backflow_{action}":
            raise ValueError(f"unknown Tmall outbox kind {row.kind!r} (action {action!r})")
        at = _moment(p, "time")
        return build_backflow(
            action,
            p.get("car_no", ""),
            self._settings.mall_id,
            start_time=at if action == "arrive" else None,
            end_time=at if action == "leave" else None,
            pay_time=at if action == "pay" else None,
            park_duration_minutes=p.get("park_duration") if action == "pay" else None,
        )

    async def send(self, row: OutboxRecord) -> SendResult:
        try:
            params = self.params(row)
        except (ValueError, TypeError) as exc:
            return SendResult(SendVerdict.FATAL, f"backflow not built: {exc}")
        result = await self._client.backflow(params)
        if result.outcome is TopOutcome.SUCCESS:
            return SendResult(SendVerdict.SENT)
        if result.outcome is TopOutcome.FATAL:
            return SendResult(SendVerdict.FATAL, result.describe())
        return SendResult(SendVerdict.RETRY, result.describe(), retry_after_s=result.retry_after_s)


# ------------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class DeadLetter:
    """A row parked for the supervisor, with why it could not be sent."""

    id: int
    cloud: str
    kind: str
    reason: str
    attempts: int
    created_at: datetime
    dedupe_key: str


@dataclass(frozen=True)
class CloudStatus:
    """One cloud's queue and relay. ``breaker`` is "closed", "open", "half_open", or "none" (no breaker);
    ``held`` says why nothing is sent (e.g. the lot is not registered), "" when sending."""

    cloud: str
    enabled: bool
    pending: int
    oldest_pending_at: datetime | None
    oldest_age_s: float | None
    dead: int
    dead_letters: tuple[DeadLetter, ...]
    breaker: str
    reopens_in_s: float
    held: str
    last_error: str
    sent: int

    @property
    def healthy(self) -> bool:
        return not self.held and self.dead == 0 and self.breaker in ("closed", "none")


@dataclass(frozen=True)
class SyncStatus:
    """Every cloud's sync at ``taken_at``; plain frozen values, safe to hand to any thread."""

    taken_at: datetime
    clouds: tuple[CloudStatus, ...]

    def cloud(self, name: str) -> CloudStatus:
        for status in self.clouds:
            if status.cloud == name:
                return status
        raise KeyError(name)


def read_outbox_status(
    store: Store, dead_limit: int = DEAD_LETTERS_SHOWN
) -> tuple[dict[str, OutboxBacklog], list[OutboxRecord]]:
    """The store's side of the status (a store call: database thread)."""
    return store.outbox_backlog(), store.dead_outbox(limit=dead_limit)


def compose_status(
    now: datetime,
    backlog: Mapping[str, OutboxBacklog],
    dead_rows: Sequence[OutboxRecord],
    relays: Mapping[str, RelayState],
    enabled: Mapping[str, bool],
) -> SyncStatus:
    clouds = []
    for cloud in CLOUDS:
        queue = backlog.get(cloud)
        relay = relays.get(cloud)
        oldest = queue.oldest_pending_at if queue else None
        letters = tuple(
            DeadLetter(r.id, r.cloud, r.kind, r.last_error or "", r.attempts, r.created_at, r.dedupe_key)
            for r in dead_rows
            if r.cloud == cloud
        )
        clouds.append(
            CloudStatus(
                cloud=cloud,
                enabled=enabled.get(cloud, False),
                pending=queue.pending if queue else 0,
                oldest_pending_at=oldest,
                oldest_age_s=None if oldest is None else max(0.0, (now - oldest).total_seconds()),
                dead=queue.dead if queue else 0,
                dead_letters=letters,
                breaker="none" if relay is None or relay.breaker is None else relay.breaker.value,
                reopens_in_s=relay.reopens_in_s if relay else 0.0,
                held=relay.held if relay else "",
                last_error=relay.last_error if relay else "",
                sent=relay.sent if relay else 0,
            )
        )
    return SyncStatus(now, tuple(clouds))


def describe_status(status: SyncStatus, *, only_enabled: bool = False) -> list[str]:
    """Lines for ``booth sync status`` and logs."""
    lines = []
    for c in status.clouds:
        if only_enabled and not c.enabled and not c.pending and not c.dead:
            continue
        age = "" if c.oldest_age_s is None else f", oldest {_duration(c.oldest_age_s)} old"
        breaker = "" if c.breaker in ("none", "closed") else f", breaker {c.breaker}"
        held = f", HELD: {c.held}" if c.held else ""
        state = "" if c.enabled else " (not configured)"
        lines.append(f"{c.cloud}{state}: {c.pending} pending{age}, {c.dead} dead{breaker}{held}")
        for letter in c.dead_letters:
            lines.append(
                f"  dead #{letter.id} {letter.kind} ({letter.dedupe_key}), {letter.attempts} attempt(s): "
                f"{letter.reason}"
            )
        if c.dead > len(c.dead_letters):
            lines.append(f"  ... and {c.dead - len(c.dead_letters)} more")
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _status_key(status: SyncStatus) -> tuple[object, ...]:
    """What makes a status worth announcing (not the ages, which change every second)."""
    return tuple((c.cloud, c.pending, c.dead, c.breaker, c.held, c.last_error) for c in status.clouds)


# ------------------------------------------------------------------------------------- the engine's part


@functools.cache
def sandbox_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """Throwaway (app, Alipay) key pairs for the sandbox: made once per process, never stored."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


def relay_backoff(sync: SyncSettings) -> Backoff:
    return Backoff(base=timedelta(seconds=sync.retry_base_s), cap=timedelta(seconds=sync.retry_cap_s))


class CloudSync:
    """The Alipay and Tmall relays of one engine, their clients (and emulators in sandbox mode), and the
    status any thread may read. Everything but ``status`` runs on the engine's loop.

    ``db`` runs store calls (the engine's database thread, where ``submit`` is background priority);
    ``on_alert(kind, message)`` reaches the supervisor; ``on_status`` hears each status worth announcing
    (engine thread).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        db: Executor,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_alert: Callable[[str, str], None] = lambda kind, message: None,
        on_status: Callable[[SyncStatus], None] = lambda status: None,
    ) -> None:
        self._settings = settings
        self._alipay_settings = settings.alipay
        self._tmall_settings = settings.tmall
        self._store = store
        self._db = db
        self._clock = clock
        self._on_alert = on_alert
        self._on_status = on_status
        self.alipay_emulator: Any = None  # AlipayGatewayEmulator in sandbox mode
        self.tmall_emulator: Any = None  # TopRouterEmulator in sandbox mode
        self.alipay: AlipayClient | None = None
        self.tmall: TopClient | None = None
        self._http: list[httpx.AsyncClient] = []
        self.relays: dict[str, OutboxRelay] = {}
        self._other_relays: dict[str, OutboxRelay] = {}
        self._parking_id = ""
        self._lot_checked_at = -float("inf")
        self._lot_reason = ""
        #: the sandbox lot, when its emulator (in a process of its own) did not answer at start yet
        self._sandbox_lot_pending: AlipaySettings | None = None
        self._status = compose_status(clock(), {}, [], {}, self._enabled())
        self._announced: tuple[object, ...] = ()
        self._poke = asyncio.Event()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    # -- what is queued --------------------------------------------------------------------------------

    @property
    def alipay_enabled(self) -> bool:
        return self._alipay_settings is not None

    @property
    def tmall_enabled(self) -> bool:
        return self._tmall_settings is not None and bool(self._tmall_settings.actions)

    def _tmall_wants(self, action: str) -> bool:
        return self._tmall_settings is not None and action in self._tmall_settings.actions

    def entry_items(self, *, order_id: str, plate: str, at: datetime) -> list[OutboxItem]:
        if not self._tmall_wants("arrive"):
            return []
        return [backflow_item("arrive", order_id=order_id, plate=plate, at=at)]

    def payment_items(
        self,
        stay: StayRecord,
        *,
        trade_no: str,
        amount_fen: int,
        paid_at: datetime,
        order_time: datetime,
        alipay_user_id: str | None,
    ) -> list[OutboxItem]:
        """``alipay_user_id`` is set only for a payment made through Alipay (with its payer)."""
        items = []
        if self.alipay_enabled and alipay_user_id and trade_no:
            items.append(
                order_sync_item(
                    order_id=stay.order_id,
                    trade_no=trade_no,
                    user_id=alipay_user_id,
                    plate=stay.plate,
                    entry_at=stay.entry_at,
                    order_time=order_time,
                    paid_at=paid_at,
                    amount_fen=amount_fen,
                )
            )
        if self._tmall_wants("pay"):
            items.append(
                backflow_item(
                    "pay",
                    order_id=stay.order_id,
                    plate=stay.plate,
                    at=paid_at,
                    entry_at=stay.entry_at,
                    ref=trade_no,
                )
            )
        return items

    def prepare_payment_items(
        self,
        *,
        order_id: str,
        trade_no: str,
        amount_fen: int,
        paid_at: datetime,
        exit_order_id: int | None,
        alipay_user_id: str | None,
    ) -> tuple[list[OutboxItem], str]:
        """The rows to queue with a payment being booked (a store call: database thread), and "" — or, when
        they cannot be built, rebuild markers in their place and why, for the supervisor's alert. Never
        raises: the money is booked whatever happens here."""
        facts = PaymentFacts(order_id, trade_no, amount_fen, paid_at, exit_order_id, alipay_user_id)
        try:
            return self.build_payment_items(facts), ""
        except Exception as exc:
            log.exception("payment %s: its Alipay/Tmall rows could not be built", trade_no)
            error = f"{type(exc).__name__}: {exc}"
        try:
            markers = self.rebuild_markers(facts, error)
        except Exception:
            log.exception("payment %s: not even its rebuild markers could be made", trade_no)
            return [], (
                f"payment {trade_no} (order {order_id}) is booked, but what Alipay/Tmall are told of it "
                f"could not be built ({error}) nor queued to be rebuilt: it will not reach them; report it "
                "by hand"
            )
        if not markers:
            return [], ""  # nothing would have been sent for it anyway
        clouds = "/".join(m.cloud for m in markers)
        return markers, (
            f"payment {trade_no} (order {order_id}) is booked, but its {clouds} report could not be built "
            f"({error}). It is queued to be built again when it is sent; should that fail too it becomes a "
            "dead letter: fix the cause, then requeue (booth sync requeue)."
        )

    def build_payment_items(self, facts: PaymentFacts) -> list[OutboxItem]:
        """A payment's Alipay and Tmall rows (a store call: database thread); none for a stay Booth does not
        know (such a payment is flagged, and nothing is reported)."""
        if not (self.alipay_enabled or self.tmall_enabled):
            return []
        stay = self._store.stay_by_order_id(facts.order_id)
        if stay is None:
            return []
        return self._payment_items_of_stay(stay, facts)

    def _payment_items_of_stay(self, stay: StayRecord, facts: PaymentFacts) -> list[OutboxItem]:
        alipay_user = facts.alipay_user_id if self.alipay_enabled else None
        order_time = facts.paid_at
        if alipay_user and facts.exit_order_id is not None:
            order = self._store.exit_order_by_id(facts.exit_order_id)
            order_time = order.opened_at if order is not None else facts.paid_at
        return self.payment_items(
            stay,
            trade_no=facts.trade_no,
            amount_fen=facts.amount_fen,
            paid_at=facts.paid_at,
            order_time=order_time,
            alipay_user_id=alipay_user,
        )

    def rebuild_markers(self, facts: PaymentFacts, failure: str) -> list[OutboxItem]:
        """One marker per cloud that would have had a row, under that row's own dedupe key: whichever of the
        two is queued, the other is skipped, so the payment is reported once."""
        keys = []
        if self.alipay_enabled and facts.alipay_user_id and facts.trade_no:
            keys.append((ALIPAY, _order_sync_key(out_order_no_for(facts.order_id, facts.trade_no))))
        if self._tmall_wants("pay"):
            keys.append((TMALL, _backflow_key("pay", facts.order_id, facts.trade_no)))
        payload = facts.payload(failure)
        return [OutboxItem(cloud, PAYMENT_REBUILD_KIND, payload, key) for cloud, key in keys]

    def rebuild_payment_row(self, marker: OutboxRecord) -> OutboxRecord:
        """The row a rebuild marker stands for, built now by the booking's own code (a store call: database
        thread). ValueError says why it still cannot be built."""
        try:
            facts = PaymentFacts.from_payload(marker.payload)
        except ValueError as exc:
            raise ValueError(f"the marker's payment facts are unreadable: {exc}") from None
        stay = self._store.stay_by_order_id(facts.order_id)
        if stay is None:
            raise ValueError(f"no stay has the order_id {facts.order_id!r}")
        try:
            items = self._payment_items_of_stay(stay, facts)
        except Exception as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc
        for item in items:
            if item.cloud == marker.cloud and item.dedupe_key == marker.dedupe_key:
                payload_json = json.dumps(dict(item.payload), ensure_ascii=False)
                return replace(marker, kind=item.kind, payload_json=payload_json)
        built = ", ".join(item.dedupe_key for item in items) or "nothing"
        raise ValueError(
            f"the settings no longer ask for this {marker.cloud} report (built {built}, "
            f"not {marker.dedupe_key})"
        )

    def _rebuilding(self, send: Callable[[OutboxRecord], Awaitable[SendResult]]) -> Sender:
        """``send``, with rebuild markers turned into their real row first (on the database thread)."""

        async def send_or_rebuild(row: OutboxRecord) -> SendResult:
            if row.kind != PAYMENT_REBUILD_KIND:
                return await send(row)
            trade_no = row.payload.get("trade_no")
            try:
                rebuilt = await self._run(functools.partial(self.rebuild_payment_row, row))
            except DatabaseWorkerClosed:
                return SendResult(SendVerdict.RETRY, "the engine is stopping")
            except Exception as exc:
                log.warning(
                    "outbox %s: payment %s's %s report still cannot be built: %s",
                    row.id,
                    trade_no,
                    row.cloud,
                    exc,
                )
                return SendResult(
                    SendVerdict.FATAL, f"payment {trade_no}'s {row.cloud} report still cannot be built: {exc}"
                )
            log.info(
                "outbox %s: payment %s's %s report rebuilt as %s", row.id, trade_no, row.cloud, rebuilt.kind
            )
            return await send(rebuilt)

        return send_or_rebuild

    def exit_items(self, stay: StayRecord, *, at: datetime) -> list[OutboxItem]:
        if not self._tmall_wants("leave") or stay.state != "in_lot":
            return []
        return [backflow_item("leave", order_id=stay.order_id, plate=stay.plate, at=at)]

    # -- life cycle ------------------------------------------------------------------------------------

    def _enabled(self) -> dict[str, bool]:
        return {BOLINK: True, ALIPAY: self.alipay_enabled, TMALL: self.tmall_enabled}

    def watch(self, relay: OutboxRelay) -> None:
        """Include a relay made elsewhere (Bolink's) in the status."""
        self._other_relays[relay.cloud] = relay

    async def start(self) -> None:
        """Clients (and emulators in sandbox mode), then the relays; a sandbox lot is registered at once."""
        sync = self._settings.sync
        if self._alipay_settings is not None:
            await self._start_alipay(self._alipay_settings, sync)
        if self._tmall_settings is not None:
            await self._start_tmall(self._tmall_settings, sync)
        await self.refresh_status()

    def _http_client(self, sync: SyncSettings) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=sync.concurrency, max_keepalive_connections=sync.concurrency)
        )
        self._http.append(http)
        return http

    def _relay(
        self,
        cloud: str,
        send: Callable[[OutboxRecord], Awaitable[SendResult]],
        sync: SyncSettings,
        hold: Callable[[], Awaitable[str]] | None = None,
    ) -> OutboxRelay:
        breaker = CircuitBreaker(cloud, BreakerPolicy(sync.breaker_failures, sync.breaker_cooldown_s))
        return OutboxRelay(
            cloud,
            self._store,
            self._db,
            send,
            backoff=relay_backoff(sync),
            clock=self._clock,
            breaker=breaker,
            concurrency=sync.concurrency,
            hold=hold,
            on_alert=lambda cloud, kind, message: self._on_alert(f"{cloud}_{kind}", message),
            on_state=lambda state: self._poke.set(),
            unverified_alert_after=sync.unverified_alert_after,
        )

    async def _start_alipay(self, settings: AlipaySettings, sync: SyncSettings) -> None:
        http = self._http_client(sync)
        if settings.is_sandbox:
            if settings.sandbox_url:  # the emulator runs in a process of its own, with the keys given
                url = settings.sandbox_url
                app_key = settings.load_app_private_key()
                alipay_public = settings.load_alipay_public_key()
            else:
                from booth.sandbox.alipay_gateway import AlipayGatewayEmulator

                generated_app, alipay_key = sandbox_keys()
                private_given = bool(settings.app_private_key.get_secret_value().strip()) or (
                    settings.app_private_key_file is not None
                )
                app_key = settings.load_app_private_key() if private_given else generated_app
                self.alipay_emulator = AlipayGatewayEmulator(
                    public_key_pem(app_key),
                    private_key_pem(alipay_key),
                    app_id=settings.app_id,
                    port=settings.sandbox_port,
                )
                await self.alipay_emulator.start()
                url = self.alipay_emulator.gateway_url
                alipay_public = alipay_key.public_key()
            if settings.lot is None:
                settings = settings.model_copy(update={"lot": SANDBOX_LOT})
            self.alipay = AlipayClient(
                settings,
                gateway_url=url,
                app_private_key=app_key,
                alipay_public_key=alipay_public,
                http=http,
                clock=self._clock,
            )
            log.info("Alipay gateway emulator at %s", url)
            if await self._register_sandbox_lot(settings, retry_later=bool(settings.sandbox_url)):
                self._sandbox_lot_pending = settings  # tasks() keeps trying; no alert meanwhile
        else:
            self.alipay = AlipayClient(settings, http=http, clock=self._clock)
        sender = AlipayOrderSender(settings, self.alipay, lambda: self._parking_id)
        self.relays[ALIPAY] = self._relay(ALIPAY, self._rebuilding(sender.send), sync, hold=self._alipay_hold)
        if await self._alipay_hold() and self._sandbox_lot_pending is None:
            self._on_alert("alipay_lot_unregistered", self._lot_reason)

    async def _register_sandbox_lot(self, settings: AlipaySettings, *, retry_later: bool = False) -> bool:
        """Register the sandbox's lot (at start). True when the emulator was not reached and ``retry_later``:
        one in a process of its own (the demo starts it beside the booth) may still be starting."""
        assert self.alipay is not None
        try:
            await register_lot(
                self.alipay, self._store, settings, self._run, actor="engine", clock=self._clock
            )
        except LotRegistrationError as exc:
            if retry_later and exc.retry:
                return True
            log.info("sandbox lot: %s", exc)
        return False

    async def _sandbox_lot_loop(self, settings: AlipaySettings) -> None:
        """Try the sandbox lot's registration again until the emulator answers (a while), then let the hold
        say what is wrong as for any unregistered lot."""
        deadline = time.monotonic() + _SANDBOX_LOT_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(_SANDBOX_LOT_RETRY_S)
            if not await self._register_sandbox_lot(settings, retry_later=True):
                break
        self._sandbox_lot_pending = None
        self._lot_checked_at = -float("inf")  # look the registration up now
        if await self._alipay_hold():
            self._on_alert("alipay_lot_unregistered", self._lot_reason)
        if (relay := self.relays.get(ALIPAY)) is not None:
            relay.wake()  # what waited for the lot goes now

    async def _start_tmall(self, settings: TmallSettings, sync: SyncSettings) -> None:
        http = self._http_client(sync)
        url = None
        if settings.is_sandbox:
            from booth.sandbox.top_router import TopRouterEmulator

            session = settings.session.get_secret_value() or None
            self.tmall_emulator = TopRouterEmulator(
                settings.app_key,
                settings.app_secret.get_secret_value(),
                session=session,
                port=settings.sandbox_port,
            )
            await self.tmall_emulator.start()
            url = self.tmall_emulator.gateway_url
            log.info("TOP router emulator at %s", url)
        self.tmall = TopClient(settings, gateway_url=url, http=http, clock=self._clock)
        sender = TmallBackflowSender(settings, self.tmall)
        self.relays[TMALL] = self._relay(TMALL, self._rebuilding(sender.send), sync)

    async def _alipay_hold(self) -> str:
        """Nothing goes to Alipay before the lot has a parking_id (looked up again every few seconds, so a
        registration made with the command while the booth runs is picked up)."""
        if self._parking_id:
            return ""
        settings = self._alipay_settings
        if settings is None:
            return "Alipay is not configured"
        now = time.monotonic()
        if now - self._lot_checked_at >= _LOT_LOOKUP_EVERY_S:
            self._lot_checked_at = now
            found = await self._run(lambda: find_lot_registration(self._store, settings))
            if found is not None:
                self._parking_id = found.parking_id
                log.info("Alipay parking_id %s (%s)", found.parking_id, found.source)
                return ""
            self._lot_reason = (
                f"the lot {settings.out_parking_id!r} is not registered with Alipay "
                f"({gateway_key(settings)}): run `booth alipay register-lot`"
            )
        return self._lot_reason

    def tasks(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """The coroutines the engine runs as tasks: each relay, and the status refresher."""
        jobs = [(f"{cloud}-relay", relay.run()) for cloud, relay in self.relays.items()]
        if self._sandbox_lot_pending is not None:
            jobs.append(("alipay-sandbox-lot", self._sandbox_lot_loop(self._sandbox_lot_pending)))
        jobs.append(("sync-status", self._status_loop()))
        return jobs

    async def aclose(self) -> None:
        for http in self._http:
            await http.aclose()
        self._http.clear()
        for emulator in (self.alipay_emulator, self.tmall_emulator):
            if emulator is not None:
                await emulator.stop()

    # -- status ----------------------------------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        """The latest status; any thread (it is replaced whole, never changed)."""
        return self._status

    def poke(self) -> None:
        self._poke.set()

    async def refresh_status(self) -> SyncStatus:
        backlog, dead = await self._run(lambda: read_outbox_status(self._store))
        states = {cloud: relay.state for cloud, relay in {**self._other_relays, **self.relays}.items()}
        status = compose_status(self._clock(), backlog, dead, states, self._enabled())
        self._status = status
        key = _status_key(status)
        if key != self._announced:
            self._announced = key
            self._on_status(status)
        return status

    async def _status_loop(self) -> None:
        every = self._settings.sync.status_every_s
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that arrives as the
            # event is set, and this loop would outlive the engine's shutdown
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self._poke.wait()
            self._poke.clear()
            try:
                await self.refresh_status()
            except asyncio.CancelledError:
                raise
            except DatabaseWorkerClosed:
                return  # the engine is stopping
            except Exception:
                log.exception("sync status refresh failed")
            await asyncio.sleep(min(0.25, every))  # under load, at most a few refreshes a second
