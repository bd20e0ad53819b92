"""Booth's persistent state: SQLAlchemy 2 tables, Alembic migrations run at start, and the units of work
the engine calls (each one transaction; business rows and their outbox rows commit together)."""

from booth.store.db import Database, create_database_engine, migration_config, open_database, upgrade_schema
from booth.store.operations import Store
from booth.store.records import (
    AuditRecord,
    ExitOrderRecord,
    OutboxBacklog,
    OutboxItem,
    OutboxRecord,
    PaymentFlag,
    PaymentOutcome,
    PaymentRecord,
    PaymentStatus,
    StayRecord,
    StoreError,
)

__all__ = [
    "AuditRecord",
    "Database",
    "ExitOrderRecord",
    "OutboxBacklog",
    "OutboxItem",
    "OutboxRecord",
    "PaymentFlag",
    "PaymentOutcome",
    "PaymentRecord",
    "PaymentStatus",
    "StayRecord",
    "Store",
    "StoreError",
    "create_database_engine",
    "migration_config",
    "open_database",
    "upgrade_schema",
]
