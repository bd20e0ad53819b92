"""``booth staff ...`` and ``booth shift list``: people and shifts from a terminal, e.g. to add the very first
supervisor before the booth window is ever opened.

booth staff add USERNAME --name NAME --role attendant|supervisor [--by SUPERVISOR] [--pin-stdin]
booth staff list
booth staff disable|enable|unlock USERNAME --by SUPERVISOR [--pin-stdin]
booth staff rename USERNAME --name NAME --by SUPERVISOR [--pin-stdin]
booth shift list [--from DATE] [--to DATE] [--attendant USERNAME]

Changes need the acting supervisor's PIN, except adding the first supervisor (bootstrap: the audit log
then names ``cli:<login>``). PINs are typed without echo, or read one per line from stdin with --pin-stdin
(``add``: the new PIN, then the supervisor's). Every handler returns the exit code: 0 done, 1 refused,
2 bad arguments. booth.cli imports this module, so booth.cli is imported here only inside the handlers.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from booth.config import ConfigError
from booth.domain.money import format_yuan

if TYPE_CHECKING:
    from booth.config import Settings
    from booth.office.staff import Role, Staff
    from booth.store import Database

#: booth.staff.ROLES, repeated so that building the parser imports neither SQLAlchemy nor cryptography
ROLES = ("attendant", "supervisor")
#: Dates a command accepts: far outside them a day's start in UTC (or the next day) leaves datetime's range
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)

Handler = Callable[[argparse.Namespace], int]
Action = Callable[[argparse.Namespace, "Settings", "Database"], int]


class _Refused(Exception):
    """The command cannot go on; the message is printed and the exit code returned."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``staff`` and ``shift`` commands; each parser gets ``handler`` (namespace -> exit code)."""
    staff = subparsers.add_parser("staff", help="attendants and supervisors, their PINs")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="add an attendant or a supervisor (the first one: a supervisor)")
    add.add_argument("username", type=text_argument, help="what they sign in with: letters, digits, _ . -")
    add.add_argument("--name", type=text_argument, required=True, help="display name, e.g. 李娜")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--by",
        type=text_argument,
        metavar="SUPERVISOR",
        help="the supervisor adding them (not the first one)",
    )
    _pin_stdin_option(add, new_person=True)
    _config_option(add)
    add.set_defaults(handler=_handler(_add))
    listing = staff_sub.add_parser("list", help="everyone, with role, state and lock-out")
    _config_option(listing)
    listing.set_defaults(handler=_handler(_list_people))
    for name, text in (
        ("disable", "stop a person signing in (their records stay)"),
        ("enable", "let a disabled person sign in again"),
        ("unlock", "end a lock-out after too many wrong PINs"),
    ):
        change = staff_sub.add_parser(name, help=text)
        change.add_argument("username", type=text_argument)
        change.add_argument(
            "--by", type=text_argument, metavar="SUPERVISOR", required=True, help="the supervisor doing it"
        )
        _pin_stdin_option(change)
        _config_option(change)
        change.set_defaults(handler=_handler(_change), change=name)
    rename = staff_sub.add_parser(
        "rename", help="set or change a person's display name (e.g. one added by staff number alone)"
    )
    rename.add_argument("username", type=text_argument, help="their username (staff number)")
    rename.add_argument("--name", type=text_argument, required=True, help="the new display name, e.g. 李娜")
    rename.add_argument(
        "--by", type=text_argument, metavar="SUPERVISOR", required=True, help="the supervisor doing it"
    )
    _pin_stdin_option(rename)
    _config_option(rename)
    rename.set_defaults(handler=_handler(_rename))

    shift = subparsers.add_parser("shift", help="shifts and their cash counts")
    shift_sub = shift.add_subparsers(dest="shift_command", required=True)
    shifts = shift_sub.add_parser("list", help="shifts overlapping a period (dates in the lot's time zone)")
    shifts.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    shifts.add_argument("--to", dest="date_to", metavar="DATE", help="last day (included), YYYY-MM-DD")
    shifts.add_argument(
        "--attendant", type=text_argument, metavar="USERNAME", help="only this person's shifts"
    )
    _config_option(shifts)
    shifts.set_defaults(handler=_handler(_list_shifts))


def text_argument(text: str) -> str:
    """A name or username from the command line: refused when it holds bytes that are not UTF-8 (the shell
    hands them over as lone surrogates, which the database cannot store)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {text!r}") from None
    return text


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")


def _pin_stdin_option(parser: argparse.ArgumentParser, *, new_person: bool = False) -> None:
    order = (
        "the new person's PIN first, then (unless this is the first supervisor) the --by supervisor's"
        if new_person
        else "the --by supervisor's PIN"
    )
    parser.add_argument(
        "--pin-stdin", action="store_true", help=f"read PINs from stdin, one a line (for scripts): {order}"
    )


def _handler(action: Action) -> Handler:
    """Load the settings, open the database, run `action`; refusals are printed, not raised."""

    def handle(args: argparse.Namespace) -> int:
        from booth.cli.demo import load_for_command
        from booth.office.shifts import ShiftError
        from booth.office.staff import StaffError
        from booth.store import StoreError, open_database

        try:
            settings = load_for_command(
                args.sub_config or getattr(args, "config", None), bool(getattr(args, "demo", False))
            )
            database = open_database(settings.database.url)
        except (ConfigError, StoreError) as exc:
            print(exc, file=sys.stderr)
            return 1
        try:
            return action(args, settings, database)
        except _Refused as exc:
            print(exc, file=sys.stderr)
            return exc.exit_code
        except (StaffError, ShiftError, StoreError) as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        finally:
            database.close()

    return handle


# --- staff -----------------------------------------------------------------------------------------------


def _add(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from booth.office.staff import Staff

    staff = Staff(db, settings.staff)
    pins = _PinReader(args.pin_stdin)
    new_pin = pins.read(f"PIN for {args.username}: ")
    if not args.pin_stdin and getpass.getpass(f"PIN for {args.username} again: ") != new_pin:
        raise _Refused("the two PINs differ: nothing added")
    if staff.has_supervisor():
        if not args.by:
            raise _Refused("--by SUPERVISOR is required: only a supervisor may add people", 2)
        by = _supervisor(staff, args.by, pins)
    else:
        if args.role != "supervisor":
            raise _Refused("there is no supervisor yet: add one first (--role supervisor)")
        by = f"cli:{getpass.getuser()}"
    person = staff.add_person(args.username, args.name, cast("Role", args.role), new_pin, by=by)
    print(f"added {person.role} {person.username} ({person.display_name})")
    return 0


def _change(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from booth.office.staff import Staff

    staff = Staff(db, settings.staff)
    by = _supervisor(staff, args.by, _PinReader(args.pin_stdin))
    if args.change == "disable":
        staff.disable(args.username, by=by)
        print(f"{args.username} is disabled")
    elif args.change == "enable":
        staff.enable(args.username, by=by)
        print(f"{args.username} is enabled")
    else:
        staff.unlock(args.username, by=by)
        print(f"{args.username} is unlocked")
    return 0


def _rename(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from booth.office.staff import Staff

    staff = Staff(db, settings.staff)
    if staff.person(args.username) is None:
        raise _Refused(f"refused: no person with the username {args.username!r}")
    by = _supervisor(staff, args.by, _PinReader(args.pin_stdin))
    person = staff.rename(args.username, args.name, by=by)
    print(f"{person.username} is now called {person.display_name}")
    return 0


def _list_people(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from booth.office.staff import Staff

    zone = settings.park.zone
    people = Staff(db, settings.staff).people()
    if not people:
        print(
            "nobody yet: add the first supervisor with "
            "`booth staff add USERNAME --name NAME --role supervisor`"
        )
        return 0
    print(f"{'username':<20} {'role':<10} {'state':<9} name")
    for p in people:
        state = "active" if p.active else "disabled"
        locked = "" if p.locked_until is None else f"  (locked until {_local(p.locked_until, zone)})"
        print(f"{p.username:<20} {p.role:<10} {state:<9} {p.display_name}{locked}")
    return 0


def _supervisor(staff: Staff, username: str, pins: _PinReader) -> str:
    """The acting supervisor, once their PIN is checked (a wrong one counts towards their lock-out)."""
    from booth.office.staff import AuthError

    pin = pins.read(f"PIN of supervisor {username}: ")
    try:
        return staff.authenticate(username, pin, role="supervisor").username
    except AuthError as exc:
        raise _Refused(f"refused: {exc.message}") from exc


class _PinReader:
    """PINs typed without echo, or one a line from stdin (--pin-stdin)."""

    def __init__(self, from_stdin: bool) -> None:
        self._from_stdin = from_stdin

    def read(self, prompt: str) -> str:
        if not self._from_stdin:
            return getpass.getpass(prompt)
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            raise _Refused(f"--pin-stdin: stdin is not UTF-8 text ({prompt.rstrip(': ')})", 2) from None
        if not line:
            raise _Refused(f"--pin-stdin: stdin ended before this PIN ({prompt.rstrip(': ')})", 2)
        return line.rstrip("\r\n")


# --- shifts ----------------------------------------------------------------------------------------------


def _list_shifts(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from booth.office.shifts import Shifts
    from booth.office.staff import Staff

    zone = settings.park.zone
    since = _day_start(args.date_from, zone, "--from")
    until = _day_start(args.date_to, zone, "--to", next_day=True)
    if since is not None and until is not None and until <= since:
        raise _Refused("--to is before --from", 2)
    shifts = Shifts(db, settings.shifts, Staff(db, settings.staff))
    found = shifts.list(since=since, until=until, attendant=args.attendant)
    if not found:
        print("no shifts in this period")
        return 0
    print(
        f"{'id':>5} {'attendant':<14} {'opened':<16} {'closed':<16} {'float':>9} {'counted':>10} "
        f"{'expected':>10} {'variance':>9} {'handover':>9} co-signed"
    )
    for s in found:
        closed = "open" if s.closed_at is None else _local(s.closed_at, zone)
        print(
            f"{s.id:>5} {s.attendant:<14} {_local(s.opened_at, zone):<16} {closed:<16} "
            f"{format_yuan(s.opening_float_fen):>9} {_yuan(s.counted_fen):>10} {_yuan(s.expected_fen):>10} "
            f"{_yuan(s.variance_fen):>9} {_yuan(s.handover_float_fen):>9} {s.cosigned_by or ''}"
        )
    return 0


def _day_start(text: str | None, zone: ZoneInfo, option: str, *, next_day: bool = False) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise _Refused(f"{option}: expected a date YYYY-MM-DD, got {text!r}", 2) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _Refused(f"{option}: a date from {FIRST_DAY} to {LAST_DAY}, got {text!r}", 2)
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _yuan(fen: int | None) -> str:
    return "" if fen is None else format_yuan(fen)
