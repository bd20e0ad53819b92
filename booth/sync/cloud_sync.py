"""Background sync of completed orders to Alipay and of parking data to Tmall.

What is sent is decided where the business row is written, and queued in the same transaction (see
``booth.store``): an Alipay payment queues ``order.sync``; for a mall park an entry queues the Tmall
``arrive`` backflow, a payment ``pay`` and an exit ``leave``. The outbox rows hold the facts of the moment
(who paid, which trade, the plate, the times); what comes from the settings (``out_parking_id``, the lot's
name, ``mall_id``) and Alipay's ``parking_id`` are added when the row is sent, so a supervisor who fixes the
settings can requeue dead rows and they go out right. A payment whose rows cannot be built as it is booked
queues rebuild markers in their place (``PAYMENT_REBUILD_KIND``) and alerts the supervisor; the relay builds
the real rows from them when it sends them, or parks them as dead letters saying why.

:class:`CloudSync` runs one :class:`~booth.sync.outbox.OutboxRelay` per cloud on the engine's loop, starts the
emulators in sandbox mode, and keeps a :class:`SyncStatus` any thread may read. Its parts: the rows
(:mod:`booth.sync.rows`), Alipay's side with the lot's registration (:mod:`booth.sync.alipay_relay`),
Tmall's (:mod:`booth.sync.tmall_relay`) and the status (:mod:`booth.sync.status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from booth.clouds.alipay import AlipayClient, out_order_no_for
from booth.clouds.top import TopClient
from booth.config import AlipaySettings, Settings, SyncSettings, TmallSettings
from booth.store import OutboxItem, OutboxRecord, StayRecord, Store
from booth.store.worker import DatabaseWorkerClosed
from booth.sync.alipay_relay import AlipayOrderSender, AlipaySync
from booth.sync.outbox import (
    Backoff,
    BreakerPolicy,
    CircuitBreaker,
    OutboxRelay,
    Sender,
    SendResult,
    SendVerdict,
)
from booth.sync.rows import (
    ALIPAY,
    BOLINK,
    PAYMENT_REBUILD_KIND,
    TMALL,
    PaymentFacts,
    backflow_item,
    backflow_key,
    order_sync_item,
    order_sync_key,
)
from booth.sync.status import (
    SyncStatus,
    compose_status,
    read_outbox_status,
    status_key,
)
from booth.sync.tmall_relay import TmallBackflowSender, open_tmall

if TYPE_CHECKING:
    from booth.sandbox.top_router import TopRouterEmulator

log = logging.getLogger("booth.sync")
T = TypeVar("T")


def relay_backoff(sync: SyncSettings) -> Backoff:
    """The relays' retry schedule from the settings."""
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
        self._alipay: AlipaySync | None = None
        self.tmall_emulator: TopRouterEmulator | None = None  # in sandbox mode
        self.alipay: AlipayClient | None = None
        self.tmall: TopClient | None = None
        self._http: list[httpx.AsyncClient] = []
        self.relays: dict[str, OutboxRelay] = {}
        #: each relay's sender and hold, for a lot booth relaying a silent booth's rows (booth.sync.lot_relay)
        self.senders: dict[str, Sender] = {}
        self.holds: dict[str, Callable[[], Awaitable[str]]] = {}
        self._other_relays: dict[str, OutboxRelay] = {}
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
            keys.append((ALIPAY, order_sync_key(out_order_no_for(facts.order_id, facts.trade_no))))
        if self._tmall_wants("pay"):
            keys.append((TMALL, backflow_key("pay", facts.order_id, facts.trade_no)))
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

    @property
    def alipay_emulator(self) -> Any:
        """The Alipay gateway emulator this sync started (sandbox mode), else None."""
        return self._alipay.emulator if self._alipay is not None else None

    async def _start_alipay(self, settings: AlipaySettings, sync: SyncSettings) -> None:
        alipay = self._alipay = AlipaySync(
            settings, self._store, self._run, clock=self._clock, on_alert=self._on_alert
        )
        self.alipay = await alipay.start(self._http_client(sync))
        sender = AlipayOrderSender(settings, self.alipay, lambda: alipay.parking_id)
        self.relays[ALIPAY] = self._relay(ALIPAY, self._rebuilding(sender.send), sync, hold=alipay.hold)
        self.senders[ALIPAY], self.holds[ALIPAY] = sender.send, alipay.hold
        await alipay.alert_if_held()

    def _wake_alipay_relay(self) -> None:
        if (relay := self.relays.get(ALIPAY)) is not None:
            relay.wake()

    async def _start_tmall(self, settings: TmallSettings, sync: SyncSettings) -> None:
        http = self._http_client(sync)
        self.tmall, self.tmall_emulator = await open_tmall(settings, http, self._clock)
        sender = TmallBackflowSender(settings, self.tmall)
        self.relays[TMALL] = self._relay(TMALL, self._rebuilding(sender.send), sync)
        self.senders[TMALL] = sender.send

    def tasks(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """The coroutines the engine runs as tasks: each relay, and the status refresher."""
        jobs = [(f"{cloud}-relay", relay.run()) for cloud, relay in self.relays.items()]
        if self._alipay is not None:
            jobs += self._alipay.tasks(self._wake_alipay_relay)
        jobs.append(("sync-status", self._status_loop()))
        return jobs

    async def aclose(self) -> None:
        for http in self._http:
            await http.aclose()
        self._http.clear()
        if self._alipay is not None:
            await self._alipay.aclose()
        if self.tmall_emulator is not None:
            await self.tmall_emulator.stop()

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
        key = status_key(status)
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
