"""Stays: a car admitted at an entry (its stay, and a missed exit before it kept as arrears), priced at an
exit (the exit order opened with its quote), and closed when it has gone. Seeded stays for the demo and
training."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from booth.config import LaneSettings, Settings
from booth.domain import lane as L
from booth.domain.phrases import say
from booth.domain.plates import parse_plate
from booth.domain.tariff import TariffError, add_arrears, quote_fee, vehicle_class_for
from booth.engine.runtime import Runtime
from booth.engine.stored import new_order_id, quote_json
from booth.lot.lookup import LotUnreachable, StayLookup
from booth.store import OutboxItem
from booth.store.records import StayRecord
from booth.store.worker import Priority

log = logging.getLogger("booth.engine")


class Stays:
    """The lot's stays as the lanes meet them. ``lot``: the lot's stays at other booths (``[lot]``), asked
    when a plate at an exit has no open stay here; None: a booth on its own."""

    def __init__(
        self,
        rt: Runtime,
        settings: Settings,
        lane_settings: Mapping[str, LaneSettings],
        lot: StayLookup | None = None,
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._lane_settings = lane_settings
        self.lot = lot

    async def from_lot(self, plate: str) -> bool:
        """A plate with no open stay here: its open stay at another booth of the lot, if the lot knows one,
        imported here (same order id and entry, its origin booth kept). True when the plate now has an open
        stay here. The lot is asked off the loop and off the database thread, and waits at most [lot]
        query_timeout_ms (then the recent-entries cache answers); anything that goes wrong is logged and is
        "not found" (today's no_stay): the lot never fails an exit."""
        lot = self.lot
        if lot is None:
            return False
        try:
            found = await asyncio.to_thread(lot.find_open, plate)
        except LotUnreachable as exc:
            log.warning("%s: no stay of %s found at the lot", exc, plate)
            return False
        except Exception:
            log.exception("the lot's lookup of %s failed", plate)
            return False
        if found is None:
            return False
        store = self._rt.store
        try:
            stay = await self._rt.db(
                lambda: store.import_stay(
                    order_id=found.order_id,
                    plate=found.plate,
                    plate_colour=found.plate_colour,
                    vehicle_class=found.vehicle_class,
                    entry_lane=found.entry_lane,
                    entry_at=found.entry_at,
                    origin_booth=found.origin_booth,
                )
            )
        except Exception:
            log.exception("the stay %s of %s found at the lot could not be kept here", found.order_id, plate)
            return False
        log.info(
            "%s: stay %s entered at booth %s (%s, %s) found at the lot (%s), kept here as stay %s (%s)",
            plate,
            found.order_id,
            found.origin_booth,
            found.entry_lane,
            found.entry_at.isoformat(),
            found.source,
            stay.id,
            stay.state,
        )
        return stay.state == "in_lot"

    async def quote(self, lane_id: str, cmd: L.QuoteStay) -> L.StayQuoted | L.StayNotFound:
        """Price the plate's open stay (arrears included) and open its exit order at this lane."""
        store, tariff, zone = self._rt.store, self._settings.tariff, self._settings.park.zone

        def work() -> L.StayQuoted | L.StayNotFound:
            inputs = store.exit_quote_inputs(cmd.plate.text)
            if inputs is None:
                return L.StayNotFound(cmd.plate, cmd.at)
            stay, payments, arrears = inputs
            quote = quote_fee(
                tariff,
                plate=cmd.plate.text,
                colour=str(stay.plate_colour or cmd.plate.colour),
                entry=stay.entry_at,
                exit=cmd.at,
                tz=zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
            if arrears:
                quote = add_arrears(quote, [a.amount_fen for a in arrears])
                owed.append(sum(a.amount_fen for a in arrears))
            order = store.open_exit_order(
                stay_id=stay.id,
                lane_id=lane_id,
                opened_at=cmd.at,
                quote_json=quote_json(quote),
                gross_fen=quote.gross_fen,
                paid_before_fen=quote.paid_fen,
                discount_fen=quote.discount_fen,
                due_fen=quote.due_fen,
                arrears_ids=[a.id for a in arrears],
            )
            return L.StayQuoted(
                cmd.plate, stay.id, stay.order_id, order.id, stay.entry_at, quote, cmd.at, stay.entry_lane
            )

        owed: list[int] = []
        result = await self._rt.db(work)
        if isinstance(result, L.StayNotFound) and await self.from_lot(cmd.plate.text):
            result = await self._rt.db(work)  # (the stay entered at another booth, now kept here)
        if owed:  # the attendant sees the arrears line; the supervisor is told the plate owes from before
            said = say("alert.arrears_asked", plate=cmd.plate.text, owed_fen=owed[0], lane_id=lane_id)
            await self._rt.said(lane_id, "arrears_asked", said, cmd.at)
        return result

    async def admit(self, lane_id: str, cmd: L.AdmitVehicle, at_exit: set[int]) -> L.EntryDecided:
        """Admit (or refuse) a car at an entry: its stay and the rows that report it, in one transaction.
        ``at_exit``: the stays being handled at exit barriers now."""
        store, park = self._rt.store, self._settings.park
        lane = self._lane_settings[lane_id]
        vclass = vehicle_class_for(self._settings.tariff, str(cmd.plate.colour))

        missed: list[tuple[str, int | None]] = []
        # a car cannot be at an exit barrier and at an entry at once: one of the reads is wrong (a misread or
        # a cloned plate), so the stay being handled at the exit is not closed by this read

        def work() -> L.EntryDecided:
            if cmd.plate.text in park.blacklist:
                return L.EntryDecided(cmd.plate, False, "黑名单车辆", None, cmd.at)
            previous = store.open_stay_for_plate(cmd.plate.text)
            if previous is not None and previous.id in at_exit:
                return L.EntryDecided(cmd.plate, False, "车辆正在出口", None, cmd.at)
            if previous is not None:
                # the car left unseen (an exit misread or lifted by hand): that stay ends here, so the lot's
                # count and this stay's quote only know the stay that starts now; what it owed is never
                # forgone silently: it is kept as arrears, asked for at this plate's next exit
                owed = self.owed(previous, cmd.at)
                store.close_missed_stay(previous.id, at=cmd.at, lane_id=lane_id, owed_fen=owed or 0)
                missed.append((f"{previous.order_id}（入场 {previous.entry_at:%Y-%m-%d %H:%M} UTC）", owed))
            if park.capacity and store.count_in_lot() >= park.capacity:
                return L.EntryDecided(cmd.plate, False, "车位已满", None, cmd.at)
            order_id = new_order_id(lane_id, cmd.at)
            inpark = OutboxItem(
                cloud="bolink",
                kind="inpark",
                payload={
                    "car_number": cmd.plate.text,
                    "in_time": int(cmd.at.timestamp()),
                    "order_id": order_id,
                    "in_channel_id": lane.channel_id,
                    "license_color": str(cmd.plate.colour),
                },
                dedupe_key=f"bolink:inpark:{order_id}",
            )
            stay = store.create_stay(
                order_id=order_id,
                plate=cmd.plate.text,
                plate_colour=str(cmd.plate.colour),
                vehicle_class=vclass,
                lane_id=lane_id,
                entry_at=cmd.at,
                outbox=[inpark, *self.entry_items(order_id, cmd.plate.text, cmd.at)],
            )
            return L.EntryDecided(cmd.plate, True, "", stay.id, cmd.at)

        decision = await self._rt.db(work)
        for stay, owed in missed:
            if owed is None:
                said = say("alert.missed_exit_unpriced", plate=cmd.plate.text, stay=stay)
            else:
                said = say("alert.missed_exit", plate=cmd.plate.text, stay=stay, owed_fen=owed)
            await self._rt.said(lane_id, "missed_exit", said, cmd.at)
        if decision.admitted:
            self._rt.wake_relays(bolink=True)
        return decision

    def owed(self, stay: StayRecord, at: datetime) -> int | None:
        """What a stay owes if it ended at ``at`` (database thread): its fee less the money counted for it;
        None when it cannot be priced (then the supervisor is told to look)."""
        payments = self._rt.store.counted_payments(stay.id)
        try:
            quote = quote_fee(
                self._settings.tariff,
                plate=stay.plate,
                colour=stay.plate_colour,
                entry=stay.entry_at,
                exit=max(at, stay.entry_at),
                tz=self._settings.park.zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
        except TariffError as exc:
            log.warning("stay %s cannot be priced for its arrears: %s", stay.order_id, exc)
            return None
        return quote.due_fen

    async def seed(self, plate_text: str, entry_at: datetime, lane_id: str | None = None) -> int:
        plate = parse_plate(plate_text)
        store = self._rt.store
        entry_lane = lane_id or self._settings.lanes[0].id
        order_id = new_order_id(entry_lane, entry_at)
        vclass = vehicle_class_for(self._settings.tariff, str(plate.colour))
        stay = await self._rt.db(
            lambda: store.create_stay(
                order_id=order_id,
                plate=plate.text,
                plate_colour=str(plate.colour),
                vehicle_class=vclass,
                lane_id=entry_lane,
                entry_at=entry_at,
                outbox=[
                    OutboxItem(
                        cloud="bolink",
                        kind="inpark",
                        payload={
                            "car_number": plate.text,
                            "in_time": int(entry_at.timestamp()),
                            "order_id": order_id,
                            "in_channel_id": self._lane_settings[entry_lane].channel_id,
                            "license_color": str(plate.colour),
                        },
                        dedupe_key=f"bolink:inpark:{order_id}",
                    ),
                    *self.entry_items(order_id, plate.text, entry_at),
                ],
            ),
            Priority.BACKGROUND,
        )
        self._rt.wake_relays(bolink=True)
        return stay.id

    async def plates_in_lot(self) -> list[str]:
        store = self._rt.store
        return await self._rt.db(store.plates_in_lot, Priority.BACKGROUND)

    async def close(self, lane_id: str, cmd: L.CloseStay) -> None:
        store, sync = self._rt.store, self._rt.cloud_sync

        def work() -> None:
            items: list[OutboxItem] = []
            if sync is not None and sync.tmall_enabled:
                stay = store.stay_by_id(cmd.stay_id)
                if stay is not None:
                    items = sync.exit_items(stay, at=cmd.at)
            store.close_stay(cmd.stay_id, lane_id=lane_id, exit_at=cmd.at, outbox=items)

        await self._rt.db(work)
        self._rt.wake_relays()

    def entry_items(self, order_id: str, plate: str, at: datetime) -> list[OutboxItem]:
        sync = self._rt.cloud_sync
        return [] if sync is None else sync.entry_items(order_id=order_id, plate=plate, at=at)

    async def cancel_order(self, exit_order_id: int, at: datetime) -> None:
        store = self._rt.store
        await self._rt.db(lambda: store.cancel_exit_order(exit_order_id, at=at), Priority.MONEY)
