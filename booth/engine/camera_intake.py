"""The camera intake: what the plate cameras (and the simulator) report, as the engine's ``CameraSink``: a
plate read at a lane, its photo kept and queued for Bolink, a doubtful read flagged for the attendant, a car
that turned back, a camera's own events and alerts."""

from __future__ import annotations

import asyncio
import logging
from contextlib import nullcontext
from datetime import datetime

from booth.config import Settings
from booth.devices.camera_reads import PlateRead, likely_plates
from booth.devices.photos import PhotoError, PhotoStore
from booth.domain import lane as L
from booth.domain.phrases import Phrase, say
from booth.domain.plates import PLATELESS_MARKERS, PlateColour, PlateError, parse_plate
from booth.engine.events import EngineError
from booth.engine.lanes import LaneRunner
from booth.engine.runtime import Runtime
from booth.engine.stays import Stays
from booth.engine.timings import LaneTimings
from booth.store import OutboxItem
from booth.store.worker import Priority

log = logging.getLogger("booth.engine")


class CameraIntake:
    """Turns camera reports into lane events (through ``LaneRunner.dispatch``) and kept photos."""

    def __init__(
        self, rt: Runtime, settings: Settings, lanes: LaneRunner, stays: Stays, photos: PhotoStore | None
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._lanes = lanes
        self._stays = stays
        self._photos = photos
        #: camera push → quote shown, per lane (set by the engine's loop)
        self.timings: LaneTimings | None = None

    async def vehicle_at(
        self,
        lane_id: str,
        plate_text: str,
        colour: PlateColour | str | int | None = None,
        confidence: int | None = None,
        photo: str | None = None,
    ) -> None:
        """A plate read at a lane (a camera, the simulator, a test): an unreadable plate is an alert for the
        attendant and raises PlateError; the lane is not touched."""
        if lane_id not in self._lanes.lanes:
            raise EngineError(f"no lane {lane_id!r}")
        at = self._rt.now()
        try:
            plate = parse_plate(plate_text, colour)
        except PlateError as exc:
            said = say("alert.plate_unreadable", text=repr(plate_text), error=str(exc))
            await self._rt.said(lane_id, "plate_unreadable", said, at)
            raise
        await self._lanes.dispatch(lane_id, L.VehicleDetected(plate, at, confidence, photo))

    async def camera_read(self, read: PlateRead) -> None:
        """A camera read a plate at a lane: keep the photo, hand the plate to the lane, flag a doubtful
        read for the attendant and queue the photo for Bolink. Never raises (the listener must answer)."""
        lane_id, at = read.lane_id, self._rt.now()
        text = read.plate_text.strip()
        if text in PLATELESS_MARKERS or "无牌" in text or "无车牌" in text:
            await self._rt.said(lane_id, "plateless", say("alert.plateless", source=read.source), at)
            return
        try:
            with self.timings.camera_read(lane_id) if self.timings is not None else nullcontext():
                photo = await self._store_photo(lane_id, text, read.image or read.crop, at)
                await self.vehicle_at(lane_id, text, read.colour, read.confidence, photo)
        except PlateError:
            return  # vehicle_at_async raised the plate_unreadable alert
        except Exception:
            log.exception("%s: the read %s from %s could not be handled", lane_id, text, read.source)
            return
        view = self._lanes.lanes[lane_id].view()
        threshold = self._settings.cameras.low_confidence
        if read.confidence is not None and read.confidence < threshold:
            plate = view.plate or text
            try:
                matches = likely_plates(plate, await self._stays.plates_in_lot())
            except Exception:
                log.exception("%s: could not list the plates in the lot", lane_id)
                matches = []
            if matches:
                said = say(
                    "alert.plate_low_confidence",
                    plate=plate,
                    confidence=read.confidence,
                    plates=tuple(matches),
                )
            else:
                said = say("alert.plate_low_confidence_none", plate=plate, confidence=read.confidence)
            await self._rt.said(lane_id, "plate_low_confidence", said, at)
        if self._settings.cameras.upload_photos and view.order_id:
            upload = await self._photo_to_upload(read, view.plate or text, photo, at)
            if upload is not None:
                await self._queue_carpic(lane_id, view.order_id, view.plate or text, upload, at)

    async def _photo_to_upload(
        self, read: PlateRead, plate: str, photo: str | None, at: datetime
    ) -> str | None:
        """The scene if small enough for Bolink, else the plate crop (kept as a photo too), else none."""
        limit = self._settings.cameras.upload_max_bytes
        if photo is not None and read.image is not None and len(read.image) <= limit:
            return photo
        if read.crop is not None and len(read.crop) <= limit:
            if read.image is None:
                return photo  # the crop is the stored photo
            return await self._store_photo(read.lane_id, f"{plate}crop", read.crop, at)
        if photo is not None:
            log.info("%s: photo of %s not sent to Bolink: larger than upload_max_bytes", read.lane_id, plate)
        return None

    async def _store_photo(self, lane_id: str, plate: str, data: bytes | None, at: datetime) -> str | None:
        photos = self._photos
        if photos is None or not data:
            return None
        try:
            stored = await asyncio.to_thread(photos.save, lane_id, plate, data, at)
        except PhotoError as exc:
            log.warning("%s: photo of %s not kept: %s", lane_id, plate, exc)
            return None
        return str(stored.path)

    async def _queue_carpic(self, lane_id: str, order_id: str, plate: str, photo: str, at: datetime) -> None:
        """The photo goes to Bolink in the background; the row names the file (read when sent)."""
        store = self._rt.store
        item = OutboxItem(
            cloud="bolink",
            kind="upload_carpic",
            payload={
                "order_id": order_id,
                "car_number": plate,
                "create_time": int(at.timestamp()),
                "park_order_type": "in" if self._lanes.lanes[lane_id].direction == "entry" else "out",
                "picture_source": "order",
                "pic_type": "jpg" if photo.endswith(".jpg") else "png",
                "photo": photo,
            },
            dedupe_key=f"bolink:carpic:{order_id}:{int(at.timestamp() * 1000)}",
        )
        try:
            await self._rt.db(lambda: store.enqueue([item]), Priority.BACKGROUND)
        except Exception:
            log.exception("%s: the photo upload of %s could not be queued", lane_id, order_id)
            return
        self._rt.wake_relays(bolink=True)

    # ------------------------------------------------------------------------- CameraSink's other calls
    async def camera_left(self, lane_id: str, source: str) -> None:
        """The camera saw the car turn back."""
        log.info("%s: %s says the car turned back", lane_id, source)
        try:
            await self._lanes.dispatch(lane_id, L.VehicleLeft(self._rt.now()))
        except L.LaneRuleError as exc:
            log.info("%s: turned back ignored: %s", lane_id, exc)
        except Exception:
            log.exception("%s: turned back could not be handled", lane_id)

    async def camera_record(self, lane_id: str, action: str, detail: dict[str, object]) -> None:
        """A camera's own event (a heartbeat gap, an IO input) kept in the audit."""
        store, at = self._rt.store, self._rt.now()
        try:
            await self._rt.db(
                lambda: store.audit(actor=f"camera:{lane_id}", action=action, detail=detail, at=at),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("%s: could not record %s", lane_id, action)

    async def camera_alert(self, lane_id: str, kind: str, said: Phrase) -> None:
        try:
            await self._rt.alert(lane_id, kind, said.text, self._rt.now(), detail=said)
        except Exception:
            log.exception("%s: could not record the alert %s", lane_id, kind)
