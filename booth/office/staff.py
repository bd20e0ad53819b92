"""People at the booth: attendants and supervisors, their PINs, roles and lock-outs.

PINs are kept only as salted scrypt hashes in a self-describing string, so the cost can be raised later
without invalidating the PINs already set. Synchronous on purpose: the engine runs these calls on its
office thread, and scrypt (about 50 ms) is never computed while the database's write lock is held.
Every change, and every failed sign-in, writes an audit_log row naming who did it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from booth.config import StaffSettings
from booth.store.db import Database
from booth.store.models import NAME_MAX, AuditEntry, Person
from booth.store.records import StoreError

Role = Literal["attendant", "supervisor"]
ROLES: tuple[Role, ...] = ("attendant", "supervisor")

#: scrypt cost: 16 MiB of memory and about 50 ms per PIN on a booth PC (RFC 7914's interactive figure).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"
#: Stored hashes with a cost above this are refused rather than computed (a damaged row must not stall
#: the booth for minutes).
_MAX_N = 2**20
PIN_MAX_LENGTH = 12
_USERNAME_RE = re.compile(rf"^[A-Za-z0-9_.\-]{{1,{NAME_MAX}}}$")
_DIGITS_RE = re.compile(r"^[0-9]+$")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PersonRecord:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    locked_until: datetime | None  # only while the lock-out still runs


class StaffError(Exception):
    """A change to the people was refused. ``code`` is one of "bad_username", "bad_name", "bad_role",
    "taken", "not_found", "not_allowed", "last_supervisor"; ``message`` (English) names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuthError(StaffError):
    """A PIN was refused. ``code`` is one of "unknown", "disabled", "locked", "wrong_pin",
    "not_supervisor", "bad_pin"; ``remaining`` is the tries left before a lock-out (wrong_pin), and
    ``locked_until`` the aware UTC end of a lock-out (locked)."""

    def __init__(
        self, code: str, message: str, *, remaining: int | None = None, locked_until: datetime | None = None
    ) -> None:
        super().__init__(code, message)
        self.remaining = remaining
        self.locked_until = locked_until


# --- PIN hashes ------------------------------------------------------------------------------------------


def hash_pin(pin: str, *, n: int = SCRYPT_N) -> str:
    """``scrypt$n=16384,r=8,p=1$<salt>$<key>`` (standard base64): the parameters travel with the hash."""
    if not isinstance(pin, str):
        raise TypeError(f"a PIN is text, got {type(pin).__name__}")
    salt = os.urandom(_SALT_BYTES)
    key = _derive(pin, salt, n, SCRYPT_R, SCRYPT_P)
    return f"{_SCHEME}$n={n},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(key)}"


def pin_matches(pin: str, stored: str) -> bool:
    """Whether `pin` is the one `stored` was made from; compared in constant time. A damaged or unknown
    stored string matches nothing."""
    if not isinstance(pin, str) or not isinstance(stored, str):
        return False
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(pin, salt, n, r, p, length=len(key)), key)


def _derive(pin: str, salt: bytes, n: int, r: int, p: int, *, length: int = _KEY_BYTES) -> bytes:
    return Scrypt(salt=salt, length=length, n=n, r=r, p=p).derive(pin.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != _SCHEME:
        return None
    try:
        params = dict(item.split("=", 1) for item in parts[1].split(","))
        n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
        salt = base64.b64decode(parts[2], validate=True)
        key = base64.b64decode(parts[3], validate=True)
    except (ValueError, KeyError, binascii.Error):
        return None
    if n < 2 or n > _MAX_N or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or not salt or not key:
        return None
    return n, r, p, salt, key


# --- the people ----------------------------------------------------------------------------------------


class Staff:
    """Attendants and supervisors in the booth's database; one instance per open Database.

    `scrypt_n` is the cost of newly set PINs (tests may lower it; PINs already stored keep their own).
    """

    def __init__(
        self,
        db: Database,
        settings: StaffSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        scrypt_n: int = SCRYPT_N,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._scrypt_n = scrypt_n
        self._dummy_hash: str | None = None

    # --- sign-in ---------------------------------------------------------------------------------------

    def authenticate(self, username: str, pin: str, *, role: Role | None = None) -> PersonRecord:
        """The person, if the PIN is theirs and they may sign in now (as `role`, when one is asked for).

        A wrong PIN is counted; `lockout_after` of them in a row lock the person out for
        `lockout_minutes`. A right PIN resets the count. An unknown username costs one scrypt too.
        """
        if role is not None and role not in ROLES:
            raise StaffError("bad_role", f"role must be one of {ROLES}, got {role!r}")
        if not isinstance(username, str) or not isinstance(pin, str):
            raise AuthError("bad_pin", "the username and the PIN must be text")
        if not _DIGITS_RE.match(pin) or len(pin) > PIN_MAX_LENGTH:
            # Not counted as a wrong PIN: no such PIN can exist (the minimum length is not checked here,
            # so raising it in the settings does not shut out PINs set before).
            raise AuthError("bad_pin", f"a PIN is 1-{PIN_MAX_LENGTH} digits (0-9)")
        with self._session("authenticate", write=False) as session:
            row = _person_by_name(session, username)
            stored = None if row is None else row.pin_hash
        # scrypt outside any transaction: the write lock is never held for it
        matched = pin_matches(pin, stored if stored is not None else self._dummy())
        now = self._now()
        failure: AuthError | None = None
        with self._session("authenticate", write=True) as session:
            row = _person_by_name(session, username)
            if row is None:
                failure = AuthError("unknown", f"no person with the username {username!r}")
                write_audit(session, now, _actor(username), "sign_in_failed", {"reason": "unknown"})
            elif row.disabled_at is not None:
                failure = AuthError("disabled", f"{row.username} is disabled and cannot sign in")
                write_audit(session, now, row.username, "sign_in_failed", {"reason": "disabled"})
            elif row.locked_until is not None and row.locked_until > now:
                failure = _locked(row.username, row.locked_until)
                write_audit(session, now, row.username, "sign_in_failed", {"reason": "locked"})
            else:
                if row.pin_hash != stored:  # the PIN was changed meanwhile (rare): check against the new one
                    matched = pin_matches(pin, row.pin_hash)
                if not matched:
                    failure = self._wrong_pin(session, row, now)
                else:
                    row.failed_pins = 0
                    row.locked_until = None
                    if role == "supervisor" and row.role != "supervisor":
                        failure = AuthError("not_supervisor", f"{row.username} is not a supervisor")
                        write_audit(
                            session, now, row.username, "sign_in_failed", {"reason": "not_supervisor"}
                        )
                    else:
                        return self._record(row, now)
        assert failure is not None
        raise failure

    def _wrong_pin(self, session: Session, row: Person, now: datetime) -> AuthError:
        row.failed_pins += 1
        if row.failed_pins >= self._settings.lockout_after:
            row.failed_pins = 0
            row.locked_until = now + timedelta(minutes=self._settings.lockout_minutes)
            write_audit(
                session,
                now,
                row.username,
                "locked_out",
                {"wrong_pins": self._settings.lockout_after, "locked_until": row.locked_until.isoformat()},
            )
            return _locked(row.username, row.locked_until)
        remaining = self._settings.lockout_after - row.failed_pins
        write_audit(
            session,
            now,
            row.username,
            "sign_in_failed",
            {"reason": "wrong_pin", "wrong_pins": row.failed_pins},
        )
        return AuthError(
            "wrong_pin",
            f"wrong PIN for {row.username}: {remaining} more wrong PIN(s) lock it for "
            f"{self._settings.lockout_minutes} minutes",
            remaining=remaining,
        )

    # --- changes (supervisors only) ------------------------------------------------------------------

    def add_person(self, username: str, display_name: str, role: Role, pin: str, *, by: str) -> PersonRecord:
        """Add an attendant or supervisor. `by` must be an active supervisor; only while there is none
        yet may anyone (the CLI bootstrap, "system") add the first supervisor."""
        username = _username(username)
        display_name = _display_name(display_name)
        if role not in ROLES:
            raise StaffError("bad_role", f"role must be one of {ROLES}, got {role!r}")
        by = _by(by)
        pin_hash = hash_pin(self._new_pin(pin), n=self._scrypt_n)
        now = self._now()
        with self._session("add_person", write=True) as session:
            if _active_supervisors(session) == 0:
                if role != "supervisor":
                    raise StaffError("not_allowed", "there is no supervisor yet: add a supervisor first")
            else:
                _require_supervisor(session, by)
            if _person_by_name(session, username) is not None:
                raise StaffError("taken", f"the username {username!r} is already taken")
            row = Person(
                username=username,
                display_name=display_name,
                role=role,
                pin_hash=pin_hash,
                failed_pins=0,
                created_at=now,
                created_by=by,
            )
            session.add(row)
            session.flush()
            write_audit(
                session,
                now,
                by,
                "person_added",
                {"username": username, "display_name": display_name, "role": role},
            )
            return self._record(row, now)

    def set_pin(self, username: str, pin: str, *, by: str) -> None:
        """A new PIN, set by a supervisor or by the person themselves; it also ends a lock-out."""
        by = _by(by)
        pin_hash = hash_pin(self._new_pin(pin), n=self._scrypt_n)
        now = self._now()
        with self._session("set_pin", write=True) as session:
            row = _existing(session, username)
            if by != row.username:
                _require_supervisor(session, by)
            row.pin_hash = pin_hash
            row.failed_pins = 0
            row.locked_until = None
            write_audit(session, now, by, "pin_changed", {"username": row.username})

    def rename(self, username: str, display_name: str, *, by: str) -> PersonRecord:
        """A new display name (e.g. set later for an attendant added by staff number alone), by a supervisor;
        audited with the old and the new name. The same name again changes and audits nothing."""
        display_name = _display_name(display_name)
        by = _by(by)
        now = self._now()
        with self._session("rename", write=True) as session:
            _require_supervisor(session, by)
            row = _existing(session, username)
            old = row.display_name
            if old != display_name:
                row.display_name = display_name
                write_audit(
                    session,
                    now,
                    by,
                    "person_renamed",
                    {"username": row.username, "old_name": old, "display_name": display_name},
                )
            return self._record(row, now)

    def disable(self, username: str, *, by: str) -> None:
        """Stop a person signing in (their records stay). The last active supervisor cannot be disabled."""
        by = _by(by)
        now = self._now()
        with self._session("disable", write=True) as session:
            _require_supervisor(session, by)
            row = _existing(session, username)
            if row.disabled_at is not None:
                return
            if row.role == "supervisor" and _active_supervisors(session) <= 1:
                raise StaffError(
                    "last_supervisor",
                    f"{row.username} is the last active supervisor: add or enable another one first",
                )
            row.disabled_at = now
            row.disabled_by = by
            write_audit(session, now, by, "person_disabled", {"username": row.username})

    def enable(self, username: str, *, by: str) -> None:
        by = _by(by)
        now = self._now()
        with self._session("enable", write=True) as session:
            _require_supervisor(session, by)
            row = _existing(session, username)
            if row.disabled_at is None:
                return
            row.disabled_at = None
            row.disabled_by = None
            row.failed_pins = 0
            row.locked_until = None
            write_audit(session, now, by, "person_enabled", {"username": row.username})

    def unlock(self, username: str, *, by: str) -> None:
        """End a lock-out before its time and forget the wrong PINs counted so far."""
        by = _by(by)
        now = self._now()
        with self._session("unlock", write=True) as session:
            _require_supervisor(session, by)
            row = _existing(session, username)
            was_locked = row.locked_until is not None and row.locked_until > now
            row.failed_pins = 0
            row.locked_until = None
            write_audit(
                session, now, by, "person_unlocked", {"username": row.username, "was_locked": was_locked}
            )

    # --- reading ---------------------------------------------------------------------------------------

    def people(self) -> list[PersonRecord]:
        now = self._now()
        with self._session("people", write=False) as session:
            return [
                self._record(row, now) for row in session.scalars(select(Person).order_by(Person.username))
            ]

    def person(self, username: str) -> PersonRecord | None:
        if not isinstance(username, str):
            return None
        now = self._now()
        with self._session("person", write=False) as session:
            row = _person_by_name(session, username)
            return None if row is None else self._record(row, now)

    def has_supervisor(self) -> bool:
        """Whether an active supervisor exists (if not, the first one is added without one: bootstrap)."""
        with self._session("has_supervisor", write=False) as session:
            return _active_supervisors(session) > 0

    # --- internals -------------------------------------------------------------------------------------

    def _new_pin(self, pin: str) -> str:
        low = self._settings.pin_min_length
        if not isinstance(pin, str) or not _DIGITS_RE.match(pin) or not low <= len(pin) <= PIN_MAX_LENGTH:
            raise AuthError("bad_pin", f"a PIN must be {low}-{PIN_MAX_LENGTH} digits (0-9)")
        return pin

    def _dummy(self) -> str:
        """A hash to check unknown usernames against, so that they take as long as known ones."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_pin("0" * PIN_MAX_LENGTH, n=self._scrypt_n)
        return self._dummy_hash

    def _record(self, row: Person, now: datetime) -> PersonRecord:
        locked = row.locked_until if row.locked_until is not None and row.locked_until > now else None
        return PersonRecord(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=cast(Role, row.role),
            active=row.disabled_at is None,
            locked_until=locked,
        )

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise StoreError(f"the clock gave the naive {now.isoformat()}: aware UTC times only")
        return now.astimezone(UTC)

    def _session(self, operation: str, *, write: bool) -> AbstractContextManager[Session]:
        return database_session(self._db, operation, write=write)


@contextmanager
def database_session(db: Database, operation: str, *, write: bool) -> Iterator[Session]:
    """One transaction (a write begins IMMEDIATE on SQLite; a read never takes the write lock);
    database failures become StoreError, as in booth.store. Shared by booth.shifts."""
    maker = db.sessionmaker if write else db.read_sessionmaker
    try:
        with maker.begin() as session:
            yield session
    except IntegrityError as exc:
        raise StoreError(f"{operation}: refused by the database: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"{operation}: database error: {exc}") from exc


def write_audit(session: Session, at: datetime, actor: str, action: str, detail: Mapping[str, Any]) -> None:
    """An audit_log row in the caller's transaction, so it commits with the change it records."""
    detail_json = json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, allow_nan=False)
    session.add(AuditEntry(at=at, actor=_actor(actor), action=action, detail_json=detail_json))


def _actor(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    return (name or "?")[:NAME_MAX]


def _locked(username: str, until: datetime) -> AuthError:
    return AuthError(
        "locked",
        f"{username} is locked out after too many wrong PINs until {until:%Y-%m-%d %H:%M} UTC "
        "(or until a supervisor unlocks it)",
        locked_until=until,
    )


def _person_by_name(session: Session, username: str) -> Person | None:
    return session.scalar(select(Person).where(Person.username == username))


def _existing(session: Session, username: str) -> Person:
    row = _person_by_name(session, username) if isinstance(username, str) else None
    if row is None:
        raise StaffError("not_found", f"no person with the username {username!r}")
    return row


def _active_supervisors(session: Session) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(Person)
        .where(Person.role == "supervisor", Person.disabled_at.is_(None))
    )
    return count or 0


def _require_supervisor(session: Session, by: str) -> None:
    row = _person_by_name(session, by)
    if row is None or row.role != "supervisor" or row.disabled_at is not None:
        raise StaffError("not_allowed", f"{by!r} is not an active supervisor: only a supervisor may do this")


def _username(value: str) -> str:
    if not isinstance(value, str) or not _USERNAME_RE.match(value):
        raise StaffError(
            "bad_username", f"a username is 1-{NAME_MAX} characters of A-Z a-z 0-9 _ . -, got {value!r}"
        )
    return value


def _display_name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StaffError("bad_name", "the display name must not be empty")
    value = value.strip()
    if len(value) > NAME_MAX:
        raise StaffError(
            "bad_name", f"the display name is longer than {NAME_MAX} characters: {value[:20]!r}..."
        )
    return value


def _by(value: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX:
        raise StaffError(
            "not_allowed", f"`by` must name who does this (1-{NAME_MAX} characters), got {value!r}"
        )
    return value.strip()
