"""Alipay's part of the sync: the lot's registration, the sender of ``order.sync`` rows, and
:class:`AlipaySync`, which holds the client (and, in sandbox mode, the gateway emulator with its lot
registered) and keeps rows back until the lot has Alipay's ``parking_id``.

Nothing goes to Alipay before the lot is registered: ``booth alipay register-lot`` (or the sandbox at
start) sends ``parkinglotinfo.create`` once and records the ``parking_id`` in the audit log, where a running
booth finds it (:func:`find_lot_registration`) within a few seconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal, Protocol, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from booth.clouds.alipay import AlipayClient, AlipayOutcome, AlipayResult, build_order_sync_biz
from booth.config import AlipayLotSettings, AlipaySettings, private_key_pem, public_key_pem
from booth.store import OutboxRecord, Store
from booth.sync.outbox import SendResult, SendVerdict
from booth.sync.rows import ORDER_SYNC_KIND, moment_of

log = logging.getLogger("booth.sync")
T = TypeVar("T")

LOT_REGISTERED: Final = "alipay_lot_registered"
"""Audit action of the lot's registration; its detail holds Alipay's ``parking_id``."""
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


# ------------------------------------------------------------------------------------------------- sender


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
                order_time=moment_of(p, "order_time"),
                order_no=p["trade_no"],
                pay_time=moment_of(p, "pay_time"),
                pay_money_fen=p["amount_fen"],
                in_time=moment_of(p, "in_time"),
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


# ---------------------------------------------------------------------------------------- the relay's side


@functools.cache
def sandbox_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """Throwaway (app, Alipay) key pairs for the sandbox: made once per process, never stored."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


class AlipaySync:
    """Alipay's client (and its gateway emulator in sandbox mode), the lot's ``parking_id``, and the hold
    that keeps ``order.sync`` rows back until there is one. Runs on the engine's loop.

    ``run`` runs store calls on the database thread; ``on_alert(kind, message)`` reaches the supervisor.
    """

    def __init__(
        self,
        settings: AlipaySettings,
        store: Store,
        run: DbRunner,
        *,
        clock: Callable[[], datetime],
        on_alert: Callable[[str, str], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._run = run
        self._clock = clock
        self._on_alert = on_alert
        self.emulator: Any = None  # AlipayGatewayEmulator in sandbox mode
        self.client: AlipayClient | None = None
        self._parking_id = ""
        self._lot_checked_at = -float("inf")
        self._lot_reason = ""
        #: the sandbox lot, when its emulator (in a process of its own) did not answer at start yet
        self._sandbox_lot_pending: AlipaySettings | None = None

    @property
    def parking_id(self) -> str:
        """Alipay's id of the lot ("" until it is known)."""
        return self._parking_id

    async def start(self, http: httpx.AsyncClient) -> AlipayClient:
        """The client over ``http`` (in sandbox mode to an emulator, started here unless it runs in a process
        of its own, with the sandbox's lot registered at once)."""
        settings = self._settings
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
                self.emulator = AlipayGatewayEmulator(
                    public_key_pem(app_key),
                    private_key_pem(alipay_key),
                    app_id=settings.app_id,
                    port=settings.sandbox_port,
                )
                await self.emulator.start()
                url = self.emulator.gateway_url
                alipay_public = alipay_key.public_key()
            if settings.lot is None:
                settings = settings.model_copy(update={"lot": SANDBOX_LOT})
            self.client = AlipayClient(
                settings,
                gateway_url=url,
                app_private_key=app_key,
                alipay_public_key=alipay_public,
                http=http,
                clock=self._clock,
            )
            log.info("Alipay gateway emulator at %s", url)
            # retried while the emulator is not reached or slow: one in a process of its own may still be
            # starting, and one in this process may not answer within request_timeout_s on a busy machine
            if await self._register_sandbox_lot(settings, retry_later=True):
                self._sandbox_lot_pending = settings  # tasks() keeps trying; no alert meanwhile
        else:
            self.client = AlipayClient(settings, http=http, clock=self._clock)
        return self.client

    async def alert_if_held(self) -> None:
        """Tell the supervisor at start when rows are held back (not while the sandbox lot is still tried)."""
        if await self.hold() and self._sandbox_lot_pending is None:
            self._on_alert("alipay_lot_unregistered", self._lot_reason)

    def tasks(self, wake_relay: Callable[[], None]) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """What runs beside the relay: the sandbox lot's registration, while its emulator is not answering."""
        if self._sandbox_lot_pending is None:
            return []
        return [("alipay-sandbox-lot", self._sandbox_lot_loop(self._sandbox_lot_pending, wake_relay))]

    async def aclose(self) -> None:
        if self.emulator is not None:
            await self.emulator.stop()

    async def hold(self) -> str:
        """Nothing goes to Alipay before the lot has a parking_id (looked up again every few seconds, so a
        registration made with the command while the booth runs is picked up)."""
        if self._parking_id:
            return ""
        settings = self._settings
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

    async def _register_sandbox_lot(self, settings: AlipaySettings, *, retry_later: bool = False) -> bool:
        """Register the sandbox's lot (at start). True when the emulator was not reached (or did not answer in
        time) and ``retry_later``: the caller tries again for a while before the hold's alert."""
        assert self.client is not None
        try:
            await register_lot(
                self.client, self._store, settings, self._run, actor="engine", clock=self._clock
            )
        except LotRegistrationError as exc:
            if retry_later and exc.retry:
                return True
            log.info("sandbox lot: %s", exc)
        return False

    async def _sandbox_lot_loop(self, settings: AlipaySettings, wake_relay: Callable[[], None]) -> None:
        """Try the sandbox lot's registration again until the emulator answers (a while), then let the hold
        say what is wrong as for any unregistered lot."""
        deadline = time.monotonic() + _SANDBOX_LOT_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(_SANDBOX_LOT_RETRY_S)
            if not await self._register_sandbox_lot(settings, retry_later=True):
                break
        self._sandbox_lot_pending = None
        self._lot_checked_at = -float("inf")  # look the registration up now
        if await self.hold():
            self._on_alert("alipay_lot_unregistered", self._lot_reason)
        wake_relay()  # what waited for the lot goes now
