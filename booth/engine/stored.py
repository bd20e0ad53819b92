"""Domain values as the engine stores and sends them, and read back: an exit order's quote, Bolink's price
fields, a stored plate, a payment's time, an exception's record, a new order id."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from booth.domain import lane as L
from booth.domain.money import format_yuan
from booth.domain.phrases import CHINESE, ParamValue, Phrase
from booth.domain.plates import Plate, PlateColour, PlateError, PlateKind, parse_plate
from booth.domain.tariff import Quote, QuoteLine
from booth.engine.events import EngineError
from booth.store.records import LaneExceptionItem

log = logging.getLogger("booth.engine")


def new_order_id(lane_id: str, at: datetime) -> str:
    """Bolink order ids: <= 48 chars of [A-Za-z0-9_], unique per stay in the park."""
    return f"{lane_id}_{at.astimezone(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


#: how far Bolink's pay_time may lie from the result's receipt and still be taken as when the driver paid
_PAY_TIME_AHEAD = timedelta(seconds=60)
_PAY_TIME_BEHIND = timedelta(days=7)


def pay_time_of(pay_time: int | None, received_at: datetime) -> datetime:
    """When the driver paid: Bolink's pay_time (a re-delivered result arrives later than it was paid), or the
    receipt time when it is missing or implausible (ahead of the receipt, or more than a week behind)."""
    if pay_time is None:
        return received_at
    try:
        paid = datetime.fromtimestamp(pay_time, UTC)
    except (OverflowError, OSError, ValueError):
        return received_at
    if received_at - _PAY_TIME_BEHIND <= paid <= received_at + _PAY_TIME_AHEAD:
        return min(paid, received_at)
    log.info("pay_time %s is implausible beside its receipt at %s: receipt time kept", pay_time, received_at)
    return received_at


def exception_item(cmd: L.RecordException) -> LaneExceptionItem:
    return LaneExceptionItem(
        kind=cmd.kind,
        lane_id=cmd.lane_id,
        reason=cmd.reason,
        note=cmd.note,
        operator=cmd.operator,
        at=cmd.at,
        stay_id=cmd.stay_id,
        exit_order_id=cmd.exit_order_id,
        plate=cmd.plate,
        due_fen=cmd.due_fen,
        approved_by=cmd.approved_by,
        photo=cmd.photo,
    )


def price_fields(q: Quote) -> dict[str, Any]:
    arrears = sum(line.fen for line in q.lines if line.phrase and line.phrase.code == "tariff.arrears")
    return {
        "price": format_yuan(q.due_fen),
        "total": format_yuan(q.gross_fen + arrears),  # (never less than the price: arrears are owed too)
        "duration": q.duration_minutes,
        "free_out_time": 0,
        "derate_money": format_yuan(q.discount_fen),
        "derate_duration": 0,
    }


def quote_json(q: Quote) -> str:
    return json.dumps(
        {
            "entry": q.entry.isoformat(),
            "exit": q.exit.isoformat(),
            "duration_minutes": q.duration_minutes,
            "vehicle_class": q.vehicle_class,
            "gross_fen": q.gross_fen,
            "paid_fen": q.paid_fen,
            "discount_fen": q.discount_fen,
            "due_fen": q.due_fen,
            "rule": q.rule,
            "lines": [[line.label, line.fen, phrase_json(line.phrase)] for line in q.lines],
        },
        ensure_ascii=False,
    )


def quote_from_json(text: str, due_fen: int) -> Quote:
    """The quote an exit order was opened with: a resumed exit shows what it showed, in the window's language
    (each line keeps its phrase; an order stored before lines kept one reads back with its Chinese label)."""
    try:
        q = json.loads(text)
        return Quote(
            entry=datetime.fromisoformat(q["entry"]),
            exit=datetime.fromisoformat(q["exit"]),
            duration_minutes=int(q["duration_minutes"]),
            vehicle_class=str(q["vehicle_class"]),
            gross_fen=int(q["gross_fen"]),
            paid_fen=int(q["paid_fen"]),
            discount_fen=int(q["discount_fen"]),
            due_fen=due_fen,
            rule=q["rule"],
            lines=tuple(
                QuoteLine(str(line[0]), int(line[1]), phrase_from_json(line[2] if len(line) > 2 else None))
                for line in q["lines"]
            ),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"exit order quote cannot be read back: {exc}") from exc


def phrase_json(phrase: Phrase | None) -> Any:
    """A phrase as JSON: its code and parameters (a nested phrase as an object, a tuple as a list)."""
    if phrase is None:
        return None

    def value(v: ParamValue) -> Any:
        if isinstance(v, Phrase):
            return {"phrase": phrase_json(v)}
        if isinstance(v, tuple):
            return list(v)
        return v

    return {"code": phrase.code, "params": [[name, value(v)] for name, v in phrase.params]}


def phrase_from_json(data: Any) -> Phrase | None:
    """The phrase ``phrase_json`` stored; an unknown code reads back as None (the label is kept)."""
    if data is None:
        return None

    def value(v: Any) -> ParamValue:
        if isinstance(v, dict):
            inner = phrase_from_json(v["phrase"])
            if inner is None:
                raise ValueError("a nested phrase with an unknown code")
            return inner
        if isinstance(v, list):
            return tuple(str(item) for item in v)
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise ValueError(f"a phrase parameter of type {type(v).__name__}")
        return v

    code = data["code"]
    if code not in CHINESE:
        return None
    return Phrase(str(code), tuple((str(name), value(v)) for name, v in data["params"]))


def stored_plate(text: str) -> Plate:
    """A plate as a stay stored it (valid when it was stored; a plateless id is kept as it is)."""
    try:
        return parse_plate(text)
    except PlateError:
        return Plate(text, PlateKind.PLATELESS, PlateColour.UNKNOWN)


def car_at(view: L.LaneView) -> tuple[str | None, str | None]:
    """Which car a lane is dealing with: its plate and the order being settled (None, None when empty)."""
    return view.plate, view.order_id
