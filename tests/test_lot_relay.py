"""Each cloud message sent once, lot-wide (issue #18, booth/lot/relay.py), on PostgreSQL with the real relays
(OutboxRelay, AlipayOrderSender, TmallBackflowSender) against the sandbox's Alipay gateway and TOP router
emulators on 127.0.0.1. The oracles are what the emulators received.

A booth X dies with pending rows (pushed to the lot, never sent); after takeover_after_s a live booth sends
each once; X back sends none of them again and marks them as sent by the other booth; two live booths racing
for X's rows send each once; X cut off from the server for longer than its lease holds its rows, then
resumes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine, text

from booth.clouds.alipay import ORDER_SYNC, AlipayClient
from booth.clouds.top import TopClient
from booth.lot.push import LotPusher
from booth.lot.server import server_engine
from booth.sandbox.alipay_gateway import AlipayGatewayEmulator
from booth.sandbox.top_router import TopRouterEmulator
from booth.store import Store
from booth.store.outbox_ops import RELAYED_BY
from booth.sync.alipay_relay import AlipayOrderSender
from booth.sync.lot_relay import LotTakeover, RelayLease
from booth.sync.outbox import Backoff, OutboxRelay
from booth.sync.rows import backflow_item, order_sync_item
from booth.sync.tmall_relay import TmallBackflowSender
from tests.lot_rig import TcpProxy, booth_database, lot_server
from tests.test_alipay import ALIPAY_PRIVATE, APP_ID, APP_PUBLIC
from tests.test_alipay import settings as alipay_settings
from tests.test_top import APP_KEY, SECRET
from tests.test_top import settings as tmall_settings

pytestmark = pytest.mark.postgresql

TAKEOVER_S = 2.0  # the lease: 1 s
FAST = Backoff(base=timedelta(milliseconds=50), cap=timedelta(milliseconds=200))


@dataclass
class Clouds:
    alipay: AlipayGatewayEmulator
    top: TopRouterEmulator

    def order_syncs(self) -> Counter[str]:
        """out_order_no -> how many order.sync requests carried it."""
        seen: Counter[str] = Counter()
        for params in self.alipay.requests:
            if params.get("method") == ORDER_SYNC:
                seen[json.loads(params["biz_content"])["out_order_no"]] += 1
        return seen

    def backflows(self) -> Counter[tuple[str, str]]:
        """(car_no, action) -> how many backflow calls carried it."""
        wanted = "tmall.popupstore.park.backflow"
        return Counter((p["car_no"], p["action"]) for p in self.top.calls if p.get("method") == wanted)


@pytest_asyncio.fixture
async def clouds() -> AsyncIterator[Clouds]:
    async with (
        AlipayGatewayEmulator(APP_PUBLIC, ALIPAY_PRIVATE, app_id=APP_ID) as alipay,
        TopRouterEmulator(APP_KEY, SECRET) as top,
    ):
        yield Clouds(alipay, top)


@pytest.fixture
def lot(pg_url: str) -> Iterator[Engine]:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


@dataclass
class Booth:
    """One booth: its SQLite store and journal, its pusher, its fence, its two relays and its takeover."""

    booth_id: str
    store: Store
    server: Engine
    clouds: Clouds
    pusher: LotPusher
    lease: RelayLease
    takeover: LotTakeover
    relays: list[OutboxRelay]
    http: httpx.AsyncClient
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    db_thread: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))

    @classmethod
    def make(
        cls,
        tmp_path: Path,
        booth_id: str,
        url: str,
        clouds: Clouds,
        *,
        takeover: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall: Callable[[], datetime] | None = None,
    ) -> Booth:
        """``clock`` is the booth's own wall clock (its store, its pusher, its lease): the real time unless
        given; ``wall``, when given, is its pusher's and its lease's instead (the store keeps ``clock``). The
        lease and the pusher measure its contact on the real elapsed clock (booth.domain.elapsed)."""
        db = booth_database(tmp_path, booth_id)
        store = Store(db, clock=clock)
        server = server_engine(url)
        wall = wall or clock
        pusher = LotPusher(
            db, server, booth_id, push_interval_s=0.05, heartbeat_s=0.2, backoff_max_s=0.3, clock=wall
        )
        lease = RelayLease(
            booth_id,
            server,
            store,
            takeover_after_s=TAKEOVER_S,
            last_contact_mono=lambda: pusher.status.last_contact_mono,
            clock=wall,
        )
        http = httpx.AsyncClient()
        alipay = AlipayClient(alipay_settings(), gateway_url=clouds.alipay.gateway_url, http=http)
        top = TopClient(tmall_settings(), gateway_url=clouds.top.gateway_url, http=http)
        senders = {
            "alipay": AlipayOrderSender(alipay_settings(), alipay, lambda: "PI0000000000000000001").send,
            "tmall": TmallBackflowSender(tmall_settings(), top).send,
        }
        booth = cls(booth_id, store, server, clouds, pusher, lease, None, [], http)  # type: ignore[arg-type]
        booth.relays = [
            OutboxRelay(cloud, store, booth.db_thread, send, backoff=FAST, idle_s=0.05)
            for cloud, send in senders.items()
        ]
        for relay in booth.relays:
            relay.fence = lease
        booth.takeover = LotTakeover(lease, senders if takeover else {}, backoff=FAST, every_s=0.1)
        return booth

    def start(self, *, relays: bool = True) -> None:
        """The pusher and the takeover; the relays too unless ``relays`` is False (see start_relays)."""
        self.pusher.start()
        self.tasks.append(asyncio.create_task(self.takeover.run()))
        if relays:
            self.start_relays()

    def start_relays(self) -> None:
        self.tasks += [asyncio.create_task(relay.run()) for relay in self.relays]

    async def die(self) -> None:
        """Everything stops at once (no last push)."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        await self.lease.aclose()
        await asyncio.to_thread(self.pusher.stop)

    async def close(self) -> None:
        await self.die()
        await self.http.aclose()
        self.server.dispose()
        self.db_thread.shutdown()

    def queue_stays(self, count: int) -> list[str]:
        """``count`` paid stays, each with an order.sync and two backflows (pay, leave): their plates."""
        at = datetime.now(UTC) - timedelta(hours=1)
        plates = []
        for n in range(count):
            order_id = f"{self.booth_id}_o{n}"
            plate = f"苏A{self.booth_id[:1].upper()}{n:04d}"
            stay = self.store.create_stay(
                order_id=order_id,
                plate=plate,
                plate_colour="blue",
                vehicle_class="small",
                lane_id=f"{self.booth_id}-E1",
                entry_at=at,
            )
            paid = at + timedelta(minutes=30)
            trade_no = f"2026120322001{abs(hash(order_id)) % 10**15:015d}"
            self.store.enqueue(
                [
                    order_sync_item(
                        order_id=order_id,
                        trade_no=trade_no,
                        user_id="2088000000000001",
                        plate=plate,
                        entry_at=at,
                        order_time=paid,
                        paid_at=paid,
                        amount_fen=500 + n,
                    ),
                    backflow_item("pay", order_id=order_id, plate=plate, at=paid, entry_at=at, ref=trade_no),
                    backflow_item("leave", order_id=order_id, plate=plate, at=paid + timedelta(minutes=1)),
                ],
                stay_id=stay.id,
            )
            plates.append(plate)
        return plates

    def outbox_states(self) -> dict[int, tuple[str, str | None]]:
        with self.store._db.read_engine.connect() as c:  # type: ignore[attr-defined]
            return {i: (s, e) for i, s, e in c.execute(text("SELECT id, state, last_error FROM outbox"))}


def claims(lot: Engine) -> list[dict[str, Any]]:
    with lot.connect() as c:
        rows = c.execute(text("SELECT * FROM lot_relay_claims ORDER BY outbox_id"))
        return [dict(r._mapping) for r in rows]


async def wait_for(predicate: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


def all_sent(clouds: Clouds, plates: list[str]) -> bool:
    """Every stay's backflows and order.sync reached the emulators (at least once: the tests count after)."""
    flows = clouds.backflows()
    syncs = clouds.order_syncs()
    return all(flows[(p, a)] >= 1 for p in plates for a in ("pay", "leave")) and len(syncs) >= len(plates)


async def dead_x_with_rows(
    tmp_path: Path, url: str, clouds: Clouds, count: int, **make: Any
) -> tuple[Booth, list[str]]:
    """Booth X queues rows, pushes them to the lot and dies before sending any."""
    x = Booth.make(tmp_path, "x", url, clouds, **make)
    plates = x.queue_stays(count)
    await asyncio.to_thread(x.pusher.push_once)
    await x.close()
    return x, plates


@pytest.mark.asyncio
async def test_a_dead_booths_rows_are_sent_once_by_a_live_booth_and_the_booth_back_sends_none_again(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    y = Booth.make(tmp_path, "y", pg_url, clouds)
    y.start()
    try:
        _, plates = await dead_x_with_rows(tmp_path, pg_url, clouds, 4)
        started = time.monotonic()
        await asyncio.sleep(TAKEOVER_S / 2)
        assert clouds.order_syncs() == Counter() and clouds.backflows() == Counter(), "taken before the time"
        await wait_for(lambda: all_sent(clouds, plates), 15, "Y to send X's rows")
        assert time.monotonic() - started >= TAKEOVER_S * 0.9
        await wait_for(
            lambda: [c["outcome"] for c in claims(lot)] == ["sent"] * 12, 5, "Y to record its sends"
        )
        assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 4
        assert {c["claimed_by"] for c in claims(lot)} == {"y"}
        assert {c["outcome"] for c in claims(lot)} == {"sent"}
        assert y.takeover.sent == {"alipay": 4, "tmall": 8}

        # X comes back on the same database: it sends none of them again and marks them as sent by Y
        x = Booth.make(tmp_path, "x", pg_url, clouds)
        x.start()
        try:
            await wait_for(
                lambda: all(s == "sent" for s, _ in x.outbox_states().values()), 10, "X to mark its rows"
            )
            await asyncio.sleep(0.5)  # its relays running meanwhile
            assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 4
            assert set(clouds.backflows().values()) == {1} and len(clouds.backflows()) == 8
            assert clouds.alipay.duplicates == {}
            assert {e for _, e in x.outbox_states().values()} == {f"{RELAYED_BY}y"}
            assert all(c["settled_at"] is not None for c in claims(lot))
            assert sum(r.state.relayed_elsewhere for r in x.relays) == 12
            # the marks reach the lot: X's mirror rows are sent too
            await wait_for(
                lambda: _mirror_states(lot, "x") == {"sent"}, 10, "X's marks to be pushed to the lot"
            )
        finally:
            await x.close()
    finally:
        await y.close()


def _mirror_states(lot: Engine, booth_id: str) -> set[str]:
    with lot.connect() as c:
        return set(
            c.execute(
                text("SELECT DISTINCT state FROM lot_outbox WHERE booth_id = :b"), {"b": booth_id}
            ).scalars()
        )


@pytest.mark.asyncio
async def test_two_live_booths_racing_for_a_dead_booths_rows_send_each_once(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    y = Booth.make(tmp_path, "y", pg_url, clouds)
    z = Booth.make(tmp_path, "z", pg_url, clouds)
    y.start()
    z.start()
    try:
        _, plates = await dead_x_with_rows(tmp_path, pg_url, clouds, 30)
        died = time.monotonic()
        await wait_for(lambda: all_sent(clouds, plates), 30, "Y and Z to send X's rows")
        print(
            f"90 rows of X sent by Y and Z {time.monotonic() - died:.2f} s after X died "
            f"(takeover {TAKEOVER_S} s)"
        )
        await asyncio.sleep(0.5)
        assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 30
        assert set(clouds.backflows().values()) == {1} and len(clouds.backflows()) == 60
        assert clouds.alipay.duplicates == {}
        by = Counter(c["claimed_by"] for c in claims(lot))
        assert set(by) <= {"y", "z"} and sum(by.values()) == 90
        print("claims per booth:", dict(by))
        # a stay's backflows went in their order (pay before leave) whoever sent them
        order = [(p["car_no"], p["action"]) for p in clouds.top.calls]
        for plate in plates:
            assert order.index((plate, "pay")) < order.index((plate, "leave"))
    finally:
        await y.close()
        await z.close()


@pytest.mark.asyncio
async def test_a_booth_cut_off_longer_than_its_lease_holds_its_rows_then_resumes(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    proxy = TcpProxy()
    proxy.start()
    try:
        x = Booth.make(tmp_path, "x", proxy.url(pg_url), clouds, takeover=False)
        x.start()
        try:
            await wait_for(lambda: not x.lease.lapsed(), 5, "X's first contact")
            proxy.cut()
            await wait_for(x.lease.lapsed, 5, "X's lease to run out")
            plates = x.queue_stays(2)
            for relay in x.relays:
                relay.wake()
            await asyncio.sleep(1.0)
            assert clouds.order_syncs() == Counter() and clouds.backflows() == Counter()
            assert all(s == "pending" for s, _ in x.outbox_states().values())
            assert all("lot server has not answered" in r.state.held for r in x.relays)
            proxy.start()
            await wait_for(lambda: all_sent(clouds, plates), 15, "X to send its own rows once back")
            await wait_for(
                lambda: all(s == "sent" for s, _ in x.outbox_states().values()), 5, "X to mark its rows"
            )
            assert set(clouds.order_syncs().values()) == {1} and set(clouds.backflows().values()) == {1}
            assert all(r.state.held == "" for r in x.relays)
            assert claims(lot) == []
        finally:
            await x.close()
    finally:
        proxy.cut()


class SteppedClock:
    """A booth's wall clock that can be stepped (as NTP steps one that ran ahead)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.mark.asyncio
async def test_a_booth_cut_off_whose_wall_clock_steps_back_hours_loses_its_lease_and_sends_nothing_twice(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    """Issue #18: X pushes its rows to the lot (its relays not started), is cut off from the server, and its
    wall clock (its pusher's and its lease's) is stepped back 3 hours at once, as NTP corrects a clock that
    ran ahead. X's lease runs out after takeover_after_s / 2 all the same; Y takes X's rows over after
    takeover_after_s on the server's clock and sends them; X's relays, started then, send none of them, and
    once X is back it marks them as sent by Y. (With the lease on the wall clock, X's last contact looked 3
    hours ahead: the lease held on, and X sent every row Y had sent again. X's store keeps the real time,
    so its rows are due at once: with its clock stepped too they are due 3 hours on, and the double send
    waits for that.)"""
    proxy = TcpProxy()
    proxy.start()
    y = Booth.make(tmp_path, "y", pg_url, clouds)
    wall = SteppedClock()
    x = Booth.make(tmp_path, "x", proxy.url(pg_url), clouds, wall=wall)
    try:
        y.start()
        plates = x.queue_stays(3)
        x.start(relays=False)
        await wait_for(lambda: _mirror_states(lot, "x") == {"pending"}, 5, "X's rows pending on the lot")
        await wait_for(x.lease.holds, 5, "X's lease to hold")
        assert await x.lease.hold("alipay") == ""  # the claims read (none): only the lease can hold X now
        assert not x.lease.lapsed()
        proxy.cut()
        wall.offset = -timedelta(hours=3)
        await wait_for(x.lease.lapsed, 5, "X's lease to run out, its wall clock 3 hours back")
        await wait_for(lambda: all_sent(clouds, plates), 15, "Y to send X's rows")
        await wait_for(
            lambda: [c["outcome"] for c in claims(lot)] == ["sent"] * 9, 5, "Y to record its sends"
        )
        x.start_relays()
        await asyncio.sleep(1.0)
        assert x.lease.lapsed()
        assert all("lot server has not answered" in r.state.held for r in x.relays)
        assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 3
        assert set(clouds.backflows().values()) == {1} and len(clouds.backflows()) == 6

        proxy.start()
        await wait_for(
            lambda: all(s == "sent" for s, _ in x.outbox_states().values()), 10, "X to mark its rows"
        )
        await asyncio.sleep(0.5)
        assert {e for _, e in x.outbox_states().values()} == {f"{RELAYED_BY}y"}
        assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 3
        assert set(clouds.backflows().values()) == {1} and len(clouds.backflows()) == 6
        assert clouds.alipay.duplicates == {}
    finally:
        await x.close()
        await y.close()
        proxy.cut()


@pytest.mark.asyncio
async def test_no_takeover_while_the_booth_is_alive_and_none_with_takeover_off(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    """Y's takeover runs beside a live X whose clouds refuse for a while: X's retried rows are never taken."""
    y = Booth.make(tmp_path, "y", pg_url, clouds)
    x = Booth.make(tmp_path, "x", pg_url, clouds)
    y.start()
    x.start()
    try:
        await wait_for(lambda: not x.lease.lapsed(), 5, "X's first contact")
        clouds.top.fail_next(6, "7")
        plates = x.queue_stays(3)
        await wait_for(lambda: all_sent(clouds, plates), 20, "X to send its own rows")
        await asyncio.sleep(TAKEOVER_S)
        assert claims(lot) == []
        assert y.takeover.sent == {}
        assert set(clouds.backflows().values()) == {1}
    finally:
        await x.close()
        await y.close()


def skewed(by_s: float) -> Callable[[], datetime]:
    """A booth's clock that runs ``by_s`` ahead of the real time (behind when negative)."""
    return lambda: datetime.now(UTC) + timedelta(seconds=by_s)


def seconds_since_contact(lot: Engine, booth_id: str) -> float:
    """How long ago the server last heard from the booth, by the server's clock."""
    with lot.connect() as c:
        return float(
            c.execute(
                text(
                    "SELECT extract(epoch FROM now() - last_contact_at) FROM lot_booths WHERE booth_id = :b"
                ),
                {"b": booth_id},
            ).scalar_one()
        )


@pytest.mark.asyncio
async def test_a_live_booth_whose_clock_is_far_behind_the_servers_is_not_silent_and_not_taken_over(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    """The bug (issue #18): X's clock runs 2 x takeover_after_s behind the server's. X pushes all along, and
    its lease (its own clock against its own rounds) holds; its rows wait pending on the lot (its relays not
    started yet). The server must not count X silent, so Y's takeover claims none of them; once X's relays
    run, X sends each row once itself. (When X wrote its contacts by its own clock, the server saw it silent
    from its first round and Y took its rows while X's lease held.)"""
    y = Booth.make(tmp_path, "y", pg_url, clouds)
    x = Booth.make(tmp_path, "x", pg_url, clouds, clock=skewed(-2 * TAKEOVER_S))
    try:
        y.start()
        plates = x.queue_stays(3)
        x.start(relays=False)
        await wait_for(x.lease.holds, 5, "X's lease to hold")
        await wait_for(lambda: _mirror_states(lot, "x") == {"pending"}, 5, "X's rows pending on the lot")
        await asyncio.sleep(TAKEOVER_S * 1.5)  # Y's takeover looks every 0.1 s meanwhile
        assert x.lease.holds(), "X's lease (its clock against its own rounds) holds all along"
        assert seconds_since_contact(lot, "x") < TAKEOVER_S, "silent on the server while it pushes"
        assert claims(lot) == [] and y.takeover.sent == {}
        assert clouds.order_syncs() == Counter() and clouds.backflows() == Counter()
        assert _mirror_states(lot, "x") == {"pending"}

        x.start_relays()
        await wait_for(lambda: all_sent(clouds, plates), 15, "X to send its own rows")
        await wait_for(lambda: _mirror_states(lot, "x") == {"sent"}, 10, "X's sends to reach the lot")
        await asyncio.sleep(0.5)
        assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 3
        assert set(clouds.backflows().values()) == {1} and len(clouds.backflows()) == 6
        assert claims(lot) == [] and y.takeover.sent == {}
    finally:
        await x.close()
        await y.close()


@pytest.mark.asyncio
async def test_a_dead_booth_whose_clock_ran_far_ahead_is_taken_over_by_the_servers_clock(
    tmp_path: Path, pg_url: str, lot: Engine, clouds: Clouds
) -> None:
    """X's clock ran an hour ahead of the server's when it died with rows pending (never tried: due, on X's
    clock, an hour from the server's now): the server counts X's silence from its own clock and takes a row
    X never tried as due, so Y sends X's rows after takeover_after_s, not an hour later."""
    y = Booth.make(tmp_path, "y", pg_url, clouds)
    y.start()
    try:
        _, plates = await dead_x_with_rows(tmp_path, pg_url, clouds, 2, clock=skewed(3600))
        assert seconds_since_contact(lot, "x") >= 0, "X's contact is the server's clock, not X's"
        await wait_for(lambda: all_sent(clouds, plates), 15, "Y to send X's rows")
        await asyncio.sleep(0.5)
        assert set(clouds.order_syncs().values()) == {1} and len(clouds.order_syncs()) == 2
        assert set(clouds.backflows().values()) == {1} and len(clouds.backflows()) == 4
        assert {c["claimed_by"] for c in claims(lot)} == {"y"}
    finally:
        await y.close()


def test_a_lot_booths_engine_fences_its_relays_and_takes_over_a_silent_booths_bolink_entries(
    make_engine: Callable[..., Any], pg_url: str
) -> None:
    """Through a whole booth engine ([lot] takeover_after_s): its own entry goes to Bolink once its lease
    holds; a silent booth's pending inpark is claimed and sent to Bolink by this booth's client; its outpark
    (which needs that booth's own store) is left alone."""
    from tests.conftest import wait_until

    lot = lot_server(pg_url)
    try:
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        entry = {
            "car_number": "苏D00001",
            "in_time": int(long_ago.timestamp()),
            "order_id": "deadx_o1",
            "in_channel_id": "E1",
            "license_color": "blue",
        }
        with lot.begin() as c:
            c.execute(
                text(
                    "INSERT INTO lot_booths (booth_id, first_contact_at, last_contact_at) "
                    "VALUES ('dead-x', :t, :t)"
                ),
                {"t": long_ago},
            )
            for outbox_id, kind, payload in ((7, "inpark", entry), (8, "outpark", {"order_id": "deadx_o0"})):
                c.execute(
                    text(
                        "INSERT INTO lot_outbox (booth_id, id, stay_id, cloud, kind, payload_json, "
                        "dedupe_key, state, attempts, next_attempt_at, created_at) "
                        "VALUES ('dead-x', :id, :id, 'bolink', :kind, :payload, :key, 'pending', 0, :t, :t)"
                    ),
                    {
                        "id": outbox_id,
                        "kind": kind,
                        "payload": json.dumps(payload),
                        "key": f"k{outbox_id}",
                        "t": long_ago,
                    },
                )
        r = make_engine(
            lot={"server": pg_url, "booth_id": "exit-a", "heartbeat_s": 0.2, "takeover_after_s": 2}
        )
        engine = r.engine
        engine.vehicle_at("E1", "苏E00002").result(5)

        def inparks(order_id: str) -> int:
            return sum(
                1 for name, d in list(engine.sandbox.calls) if name == "inpark" and d["order_id"] == order_id
            )

        wait_until(lambda: inparks("deadx_o1") == 1, timeout=15, what="the silent booth's inpark sent here")
        [(own,)] = wait_until(lambda: r.rows("SELECT order_id FROM stays WHERE plate = '苏E00002'"))
        wait_until(lambda: inparks(own) == 1, timeout=10, what="this booth's own inpark")
        assert [(c["outbox_id"], c["claimed_by"], c["outcome"]) for c in claims(lot)] == [
            (7, "exit-a", "sent")
        ]
        sync = engine.cloud_sync
        assert sync is not None
        wait_until(
            lambda: [c.held for c in sync.status.clouds if c.cloud == "bolink"] == [""],
            what="the Bolink relay not held (its lease holds)",
        )
    finally:
        lot.dispose()


def test_the_lease_counts_a_gap_between_two_contacts_seen_as_a_lapse() -> None:
    """Contacts seen further apart than half the takeover time may hide a lapse (another booth may have
    claimed this booth's rows meanwhile): the lease does not hold at that look, and the rows wait until the
    claims are read again. All on the elapsed clock (here a fake one); the wall clock plays no part."""
    contact: list[float | None] = [None]
    elapsed = [1000.0]
    lease = RelayLease(
        "x",
        None,  # type: ignore[arg-type]  (the server is not asked here)
        None,  # type: ignore[arg-type]
        takeover_after_s=10,
        last_contact_mono=lambda: contact[0],
        elapsed=lambda: elapsed[0],
    )
    assert not lease.holds()  # no contact yet
    contact[0] = 1000.0
    assert not lease.holds()  # the first contact seen: nothing known of before it
    for step in range(1, 20):  # a contact every second, looked at every second
        elapsed[0] = contact[0] = 1000.0 + step
        assert lease.holds()
    assert lease.lapsed(), "held again since a lapse and the claims not read since"
    lease._settled_epoch = lease._epoch  # what settle() does once it read the claims
    assert not lease.lapsed()
    # the loop looked nowhere for 6 s while the contacts went on: as good as a lapse
    elapsed[0] = contact[0] = 1025.0
    assert not lease.holds() and lease.lapsed()
    elapsed[0] = contact[0] = 1026.0
    assert lease.holds() and lease.lapsed()  # holds, but the claims must be read again first
    # a contact older than half the takeover time: lapsed
    elapsed[0] = 1031.0
    assert not lease.holds()
    assert RelayLease("x", None, None, takeover_after_s=0, last_contact_mono=lambda: None).holds()  # type: ignore[arg-type]


def test_a_wall_clock_stepped_back_by_hours_does_not_keep_the_lease() -> None:
    """The lease is on the elapsed clock: the booth's wall clock stepped back 3 hours after its last contact
    (an NTP correction of a clock that ran ahead) neither keeps the lease past half the takeover time nor
    makes it hold again. (On the wall clock the last contact looked 3 hours in the future: it held for 3 more
    hours, while the server took the booth's rows over after takeover_after_s.)"""
    wall = [datetime(2026, 12, 3, 12, 0, tzinfo=UTC)]
    elapsed = [500.0]
    contact: list[float | None] = [None]
    lease = RelayLease(
        "x",
        None,  # type: ignore[arg-type]  (the server is not asked here)
        None,  # type: ignore[arg-type]
        takeover_after_s=10,
        last_contact_mono=lambda: contact[0],
        clock=lambda: wall[0],
        elapsed=lambda: elapsed[0],
    )
    for step in range(3):  # contacts every second
        elapsed[0] = contact[0] = 500.0 + step
        wall[0] += timedelta(seconds=1)
        lease.holds()
    assert lease.holds()
    # the contacts stop; the wall clock is stepped back 3 hours and runs on
    wall[0] -= timedelta(hours=3)
    elapsed[0] += 4  # 4 s since the last contact began
    wall[0] += timedelta(seconds=4)
    assert lease.holds()
    elapsed[0] += 1  # 5 s: half the takeover time
    wall[0] += timedelta(seconds=1)
    assert not lease.holds()
    for _ in range(200):  # and for the 3 hours after
        elapsed[0] += 60
        wall[0] += timedelta(seconds=60)
        assert not lease.holds() and lease.lapsed()
