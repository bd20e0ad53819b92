"""The lane timings table (``lane_timings``): many samples in one transaction, and the old ones pruned.

Only background jobs call this (booth.engine.timings): a lane never waits on a timing row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert

from booth.store.base import StoreBase
from booth.store.checks import checked_aware
from booth.store.models import SHORT_MAX, TIMING_KINDS, LaneTiming
from booth.store.records import StoreError


@dataclass(frozen=True)
class TimingSample:
    lane_id: str
    kind: str
    at: datetime
    ms: float


class TimingStore(StoreBase):
    def record_timings(self, samples: Sequence[TimingSample]) -> int:
        """All ``samples`` in one transaction (one INSERT of many rows); returns how many."""
        rows = []
        for sample in samples:
            if sample.kind not in TIMING_KINDS:
                raise StoreError(f"timing kind {sample.kind!r} is not one of {', '.join(TIMING_KINDS)}")
            if not sample.lane_id or len(sample.lane_id) > SHORT_MAX:
                raise StoreError(f"lane_id {sample.lane_id!r}: 1 to {SHORT_MAX} characters")
            if not sample.ms >= 0:
                raise StoreError(f"timing of {sample.ms!r} ms refused: not a duration")
            at = checked_aware("at", sample.at)
            rows.append({"lane_id": sample.lane_id, "kind": sample.kind, "at": at, "ms": float(sample.ms)})
        if not rows:
            return 0
        with self._write("record_timings") as session:
            session.execute(insert(LaneTiming), rows)
        return len(rows)

    def prune_timings(self, before: datetime) -> int:
        """Delete the samples taken before ``before``; returns how many went."""
        before = checked_aware("before", before)
        with self._write("prune_timings") as session:
            result = session.execute(delete(LaneTiming).where(LaneTiming.at < before))
            return int(getattr(result, "rowcount", 0) or 0)
