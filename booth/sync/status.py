"""The sync's status: each cloud's queue (pending, oldest, dead letters) and relay (breaker, hold, last
error), composed into a :class:`SyncStatus` of plain frozen values any thread may read, and described in
lines for ``booth sync status`` and the log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from booth.store import OutboxBacklog, OutboxRecord, Store
from booth.sync.outbox import RelayState
from booth.sync.rows import CLOUDS

DEAD_LETTERS_SHOWN: Final = 20


@dataclass(frozen=True)
class DeadLetter:
    """A row parked for the supervisor, with why it could not be sent."""

    id: int
    cloud: str
    kind: str
    reason: str
    attempts: int
    created_at: datetime
    dedupe_key: str


@dataclass(frozen=True)
class CloudStatus:
    """One cloud's queue and relay. ``breaker`` is "closed", "open", "half_open", or "none" (no breaker);
    ``held`` says why nothing is sent (e.g. the lot is not registered), "" when sending."""

    cloud: str
    enabled: bool
    pending: int
    oldest_pending_at: datetime | None
    oldest_age_s: float | None
    dead: int
    dead_letters: tuple[DeadLetter, ...]
    breaker: str
    reopens_in_s: float
    held: str
    last_error: str
    sent: int
    relayed_elsewhere: int = 0  # rows another booth of the lot sent for this one while it was silent

    @property
    def healthy(self) -> bool:
        return not self.held and self.dead == 0 and self.breaker in ("closed", "none")


@dataclass(frozen=True)
class LotLine:
    """A lot booth's push to the lot server ([lot] only): reachable or not, how many journal entries wait,
    and why the last round failed ("" when it did not)."""

    online: bool
    behind: int
    last_error: str = ""

    def describe(self) -> str:
        state = "online" if self.online else "offline"
        error = f" ({self.last_error})" if self.last_error and not self.online else ""
        entries = "entry" if self.behind == 1 else "entries"
        return f"lot server: {state}, {self.behind} journal {entries} to push{error}"


@dataclass(frozen=True)
class SyncStatus:
    """Every cloud's sync at ``taken_at``; plain frozen values, safe to hand to any thread. ``lot``: the
    push to the lot server (LotLine) on a lot booth, None elsewhere."""

    taken_at: datetime
    clouds: tuple[CloudStatus, ...]
    lot: LotLine | None = None

    def cloud(self, name: str) -> CloudStatus:
        for status in self.clouds:
            if status.cloud == name:
                return status
        raise KeyError(name)


def read_outbox_status(
    store: Store, dead_limit: int = DEAD_LETTERS_SHOWN
) -> tuple[dict[str, OutboxBacklog], list[OutboxRecord]]:
    """The store's side of the status (a store call: database thread)."""
    return store.outbox_backlog(), store.dead_outbox(limit=dead_limit)


def compose_status(
    now: datetime,
    backlog: Mapping[str, OutboxBacklog],
    dead_rows: Sequence[OutboxRecord],
    relays: Mapping[str, RelayState],
    enabled: Mapping[str, bool],
) -> SyncStatus:
    """Every cloud's status at ``now`` from the store's backlog and dead rows and the relays' states."""
    clouds = []
    for cloud in CLOUDS:
        queue = backlog.get(cloud)
        relay = relays.get(cloud)
        oldest = queue.oldest_pending_at if queue else None
        letters = tuple(
            DeadLetter(r.id, r.cloud, r.kind, r.last_error or "", r.attempts, r.created_at, r.dedupe_key)
            for r in dead_rows
            if r.cloud == cloud
        )
        clouds.append(
            CloudStatus(
                cloud=cloud,
                enabled=enabled.get(cloud, False),
                pending=queue.pending if queue else 0,
                oldest_pending_at=oldest,
                oldest_age_s=None if oldest is None else max(0.0, (now - oldest).total_seconds()),
                dead=queue.dead if queue else 0,
                dead_letters=letters,
                breaker="none" if relay is None or relay.breaker is None else relay.breaker.value,
                reopens_in_s=relay.reopens_in_s if relay else 0.0,
                held=relay.held if relay else "",
                last_error=relay.last_error if relay else "",
                sent=relay.sent if relay else 0,
                relayed_elsewhere=relay.relayed_elsewhere if relay else 0,
            )
        )
    return SyncStatus(now, tuple(clouds))


def describe_status(status: SyncStatus, *, only_enabled: bool = False) -> list[str]:
    """Lines for ``booth sync status`` and logs."""
    lines = []
    for c in status.clouds:
        if only_enabled and not c.enabled and not c.pending and not c.dead:
            continue
        age = "" if c.oldest_age_s is None else f", oldest {_duration(c.oldest_age_s)} old"
        breaker = "" if c.breaker in ("none", "closed") else f", breaker {c.breaker}"
        held = f", HELD: {c.held}" if c.held else ""
        if c.relayed_elsewhere:  # (booth.sync.lot_relay)
            held += f", {c.relayed_elsewhere} sent by another booth of the lot while this one was silent"
        state = "" if c.enabled else " (not configured)"
        lines.append(f"{c.cloud}{state}: {c.pending} pending{age}, {c.dead} dead{breaker}{held}")
        for letter in c.dead_letters:
            lines.append(
                f"  dead #{letter.id} {letter.kind} ({letter.dedupe_key}), {letter.attempts} attempt(s): "
                f"{letter.reason}"
            )
        if c.dead > len(c.dead_letters):
            lines.append(f"  ... and {c.dead - len(c.dead_letters)} more")
    if status.lot is not None:  # LotLine
        lines.append(status.lot.describe())
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def status_key(status: SyncStatus) -> tuple[object, ...]:
    """What makes a status worth announcing (not the ages, which change every second)."""
    lot = None if status.lot is None else (status.lot.online, status.lot.last_error)  # LotLine
    return (*((c.cloud, c.pending, c.dead, c.breaker, c.held, c.last_error) for c in status.clouds), lot)
