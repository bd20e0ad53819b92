"""Photos on disk: stored atomically per day, refused unless an image, bounded in count and age."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from booth.devices.photos import PhotoError, PhotoStore

JPEG = b"\xff\xd8\xff\xe0" + bytes(100)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
AT = datetime(2026, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)


def test_save_writes_the_bytes_under_the_day_folder(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, keep=10, keep_days=30)
    stored = store.save("X1", "苏A·12345", JPEG, AT)
    assert stored.path == tmp_path / "20260501" / "X1_093015123456_苏A12345.jpg"
    assert stored.path.read_bytes() == JPEG and stored.size == len(JPEG)
    assert store.save("X1", "苏B12345", PNG, AT).path.suffix == ".png"
    assert not list(tmp_path.rglob("*.part"))


def test_save_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, keep=10, keep_days=30)
    with pytest.raises(PhotoError, match="not a JPEG or PNG image"):
        store.save("X1", "苏A12345", b"<html>", AT)
    with pytest.raises(PhotoError, match="nothing"):
        store.save("X1", "苏A12345", b"", AT)
    assert store.photos() == []


def test_prune_keeps_the_newest_within_count_and_age(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path, keep=3, keep_days=7)
    paths = []
    for n in range(5):
        at = AT + timedelta(minutes=n)
        path = store.save("X1", f"苏A1234{n}", JPEG, at).path
        os.utime(path, (at.timestamp(), at.timestamp()))
        paths.append(path)
    assert store.prune(AT + timedelta(minutes=10)) == 2
    assert store.photos() == paths[2:]
    # ten days later every photo is older than keep_days
    assert store.prune(AT + timedelta(days=10)) == 3
    assert store.photos() == [] and not (tmp_path / "20260501").exists()


def test_retention_must_keep_something(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PhotoStore(tmp_path, keep=0, keep_days=1)


def test_retention_runs_by_itself_in_the_background(tmp_path: Path) -> None:
    """Every 50th save starts a retention pass on its own thread (never on the car's path)."""
    import time

    store = PhotoStore(tmp_path, keep=5, keep_days=30)
    for n in range(50):
        store.save("X1", f"苏A{n:05d}", JPEG, AT + timedelta(seconds=n))
    deadline = time.monotonic() + 10
    while len(store.photos()) > 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(store.photos()) == 5
