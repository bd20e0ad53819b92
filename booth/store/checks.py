"""The store's boundary checks: every input of a unit of work is checked before anything is written and
refused with a StoreError that names the field and the problem."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from booth.store.models import (
    EXCEPTION_KINDS,
    NAME_MAX,
    ORDER_ID_MAX,
    OUTBOX_CLOUDS,
    PLATE_MAX,
    SHORT_MAX,
    ExitOrder,
    LaneException,
    Stay,
)
from booth.store.records import (
    LaneExceptionItem,
    StoreError,
)

ORDER_ID_RE = re.compile(rf"^[A-Za-z0-9_]{{1,{ORDER_ID_MAX}}}$")
GATE_OUTCOMES = ("opened", "failed")
#: the lane photo's path, as the photo store names it
PHOTO_PATH_MAX = 1000
#: what an attendant may type next to a listed reason (the engine caps it tighter for the screen)
EXCEPTION_NOTE_MAX = 2000
_Row = TypeVar("_Row")


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- boundary checks -----------------------------------------------------------------------------------


def checked_aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise StoreError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{name} must be timezone-aware (UTC), got the naive {value.isoformat()}")
    return value.astimezone(UTC)


def checked_fen(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreError(f"{name} must be an integer amount in fen, got {type(value).__name__} {value!r}")
    if value < 0:
        raise StoreError(f"{name} must not be negative, got {value}")
    return value


def checked_row_id(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StoreError(f"{name} must be a positive integer id, got {value!r}")
    return value


def checked_text(name: str, value: str, max_len: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise StoreError(f"{name} must be text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise StoreError(f"{name} must not be empty")
    if len(value) > max_len:
        raise StoreError(f"{name} is longer than {max_len} characters: {value[:40]!r}...")
    return value


def checked_optional_text(name: str, value: str | None, max_len: int) -> str | None:
    """Empty or blank counts as absent: clouds send "" for "no trade number", and "" must not collide."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{name} must be text or None, got {type(value).__name__}")
    value = value.strip()
    return checked_text(name, value, max_len) if value else None


def checked_order_id(value: str) -> str:
    if not isinstance(value, str) or not ORDER_ID_RE.match(value):
        raise StoreError(f"order_id must be 1-{ORDER_ID_MAX} characters of [A-Za-z0-9_], got {value!r}")
    return value


def checked_exception_kind(value: str) -> str:
    if value not in EXCEPTION_KINDS:
        raise StoreError(f"kind must be one of {EXCEPTION_KINDS}, got {value!r}")
    return value


def lane_exception_row(item: LaneExceptionItem) -> LaneException:
    """Check an exception at the boundary and make its row (not yet added to a session)."""
    if not isinstance(item, LaneExceptionItem):
        raise StoreError(f"an exception must be a LaneExceptionItem, got {type(item).__name__}")
    return LaneException(
        at=checked_aware("at", item.at),
        kind=checked_exception_kind(item.kind),
        lane_id=checked_text("lane_id", item.lane_id, SHORT_MAX),
        stay_id=None if item.stay_id is None else checked_row_id("stay_id", item.stay_id),
        exit_order_id=None
        if item.exit_order_id is None
        else checked_row_id("exit_order_id", item.exit_order_id),
        plate=checked_optional_text("plate", item.plate, PLATE_MAX),
        due_fen=checked_fen("due_fen", item.due_fen),
        reason=checked_text("reason", item.reason, NAME_MAX),
        note=checked_text("note", item.note, EXCEPTION_NOTE_MAX, allow_empty=True),
        operator=checked_text("operator", item.operator, NAME_MAX),
        approved_by=checked_optional_text("approved_by", item.approved_by, NAME_MAX),
        photo=checked_optional_text("photo", item.photo, PHOTO_PATH_MAX),
    )


def check_exception_refs(session: Session, row: LaneException) -> None:
    """The stay and exit order an exception names exist (a clear error instead of a foreign-key one)."""
    if row.stay_id is not None:
        get_row(session, Stay, row.stay_id, "stay")
    if row.exit_order_id is not None:
        get_row(session, ExitOrder, row.exit_order_id, "exit order")


def checked_cloud(value: str) -> str:
    if value not in OUTBOX_CLOUDS:
        raise StoreError(f"cloud must be one of {OUTBOX_CLOUDS}, got {value!r}")
    return value


def json_text(name: str, value: dict[str, Any]) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{name} cannot be stored as JSON: {exc}") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. a camera's undecodable byte): kept as a \u escape
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, allow_nan=False)
    return text


def get_row(session: Session, model: type[_Row], row_id: int, what: str) -> _Row:
    row = session.get(model, row_id)
    if row is None:
        raise StoreError(f"no {what} with id {row_id}")
    return row
