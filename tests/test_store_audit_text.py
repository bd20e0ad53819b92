"""The audit log keeps whatever text it is given: a plate with a byte a camera could not decode arrives as a
lone surrogate ('\\udc80'), which SQLite's UTF-8 cannot hold, and the write must not fail on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from booth.store import Database, Store


def test_a_lone_surrogate_in_an_audit_detail_is_kept_as_an_escape(db: Database) -> None:
    store = Store(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    detail = {"plate": "京A\udc80123", "note": "好"}
    store.audit(actor="camera:X1", action="camera_read", detail=detail, at=at)
    (entry,) = store.audit_entries("camera_read")
    assert json.loads(entry.detail_json) == detail  # nothing lost


def test_ordinary_text_is_still_stored_readable(db: Database) -> None:
    store = Store(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    store.audit(actor="cli:x", action="note", detail={"plate": "京A12345"}, at=at)
    (entry,) = store.audit_entries("note")
    assert "京A12345" in entry.detail_json
