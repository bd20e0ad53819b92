"""The booth's answers to Bolink's downstream messages (sent with upload.do, ``data_target`` "bolink")."""

from __future__ import annotations

from typing import Any

from booth.clouds.bolink_protocol.json_text import BadMessage
from booth.clouds.bolink_protocol.wire import ANSWERED_SERVICES, DATA_TARGET, ECHOED_FIELDS, ERRMSG_MAX
from booth.domain.money import format_yuan


def _answer(service_name: str, state: int, errmsg: str, allowed: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    if state not in allowed:
        raise ValueError(f"{service_name} answer: state must be one of {allowed}, got {state!r}")
    if state == 0 and not errmsg:
        raise ValueError(f"{service_name} answer: state 0 needs an errmsg saying why")
    return {
        "service_name": service_name,
        "data_target": DATA_TARGET,
        "state": state,
        "errmsg": errmsg[:ERRMSG_MAX],
    }


def outpark_ack(*, order_id: str, trade_no: str, state: int = 1, errmsg: str = "") -> dict[str, Any]:
    """Acknowledge a payment result (state 1 = received); Bolink re-pushes until it gets this."""
    return {**_answer("outpark", state, errmsg), "trade_no": trade_no, "order_id": order_id}


def query_price_answer(
    *,
    park_id: str,
    order_id: str,
    price_fen: int,
    total_fen: int,
    duration_min: int,
    query_time: int,
    query_order_no: str,
    derate_fen: int = 0,
    derate_duration_min: int = 0,
    free_out_time_min: int = 0,
    state: int = 1,
    errmsg: str = "",
) -> dict[str, Any]:
    """What is due now (``price``, after prepay and discounts) and the gross ``total``, as yuan strings."""
    return {
        **_answer("query_price", state, errmsg),
        "park_id": park_id,
        "order_id": order_id,
        "price": format_yuan(price_fen),
        "duration": duration_min,
        "free_out_time": free_out_time_min,
        "query_time": query_time,
        "derate_money": format_yuan(derate_fen),
        "derate_duration": derate_duration_min,
        "total": format_yuan(total_fen),
        "query_order_no": query_order_no,
    }


def prepay_answer(
    *, park_id: str, order_id: str, prepay_fen: int, query_time: int | None, state: int = 1, errmsg: str = ""
) -> dict[str, Any]:
    """Book (state 1) or refuse a prepayment; Bolink settles the money only after state 1."""
    out = {**_answer("prepay_order", state, errmsg), "park_id": park_id, "order_id": order_id}
    out["prepay"] = format_yuan(prepay_fen)
    if query_time is not None:
        out["query_time"] = query_time
    return out


def nolicence_answer(*, car_number: str, state: int = 1, errmsg: str = "") -> dict[str, Any]:
    """Let a plateless car in (1), refuse (0) or 2; then the booth calls ``inpark`` with that car number."""
    return {**_answer("nolicence_in_park", state, errmsg, (0, 1, 2)), "car_number": car_number}


def bad_message_answer(bad: BadMessage) -> dict[str, Any] | None:
    """The state-0 answer to a malformed message that expects one (None if it expects none)."""
    if bad.service_name not in ANSWERED_SERVICES:
        return None
    out = _answer(bad.service_name, 0, f"bad message: {bad.reason}")
    for key in ECHOED_FIELDS:
        value = bad.fields.get(key)
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            out[key] = str(value)
    return out
