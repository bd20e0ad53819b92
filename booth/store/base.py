"""What every part of the store shares: the database, the clock, one write or read transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from booth.store.checks import checked_aware, utc_now
from booth.store.db import Database
from booth.store.records import (
    StoreError,
)


class StoreBase:
    """The database and the clock; ``_write``/``_read`` run one transaction."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    # --- transactions ----------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return checked_aware("clock()", self._clock())

    @contextmanager
    def _write(self, operation: str) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE on SQLite); database errors become StoreError."""
        try:
            with self._db.sessionmaker.begin() as session:
                yield session
        except IntegrityError as exc:
            raise StoreError(f"{operation}: refused by the database: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{operation}: database error: {exc}") from exc

    @contextmanager
    def _read(self, operation: str) -> Iterator[Session]:
        """One read transaction: a consistent snapshot that never takes the write lock."""
        try:
            with self._db.read_sessionmaker.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"{operation}: database error: {exc}") from exc
