"""The lot rounds' client-side deadlines (booth.lot.server.RoundDeadline) are watched by one thread, not a
``threading.Timer`` (a thread) per round: a lot booth runs several rounds a second (push, pull, lookups,
relay claims), and each thread's start and end took the GIL from the lanes."""

from __future__ import annotations

import socket
import threading
import time
from types import SimpleNamespace

from booth.lot.server import _DEADLINES, RoundDeadline


def fake_connection(sock: socket.socket) -> SimpleNamespace:
    """What RoundDeadline shuts down: a psycopg connection's libpq socket (here a real loopback socket)."""
    return SimpleNamespace(pgconn=SimpleNamespace(socket=sock.fileno()))


def test_many_rounds_start_no_thread_of_their_own() -> None:
    with RoundDeadline(30, "a first round"):
        pass  # (the watcher thread exists from here on)
    before = {t.ident for t in threading.enumerate()}
    for i in range(300):
        with RoundDeadline(30, f"round {i}"):
            assert _DEADLINES.pending() >= 1
    after = {t.ident for t in threading.enumerate()}
    assert after - before == set()  # no thread started by the rounds (a Timer each would have made 300)
    assert _DEADLINES.pending() == 0  # every finished round is let go
    assert sum(t.name == "lot-round-deadlines" for t in threading.enumerate()) == 1


def test_an_overdue_round_shuts_its_connection_down_and_a_finished_one_does_not() -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        late = RoundDeadline(0.2, "a slow round").start()
        late.watch(fake_connection(a))
        done = RoundDeadline(0.1, "a quick round").start()
        done.watch(fake_connection(c))
        done.finish()  # ended before its moment: its connection is left alone
        later = RoundDeadline(30, "a long round").start()  # (a later one must not hold the sooner one up)
        b.settimeout(5)
        started = time.monotonic()
        assert b.recv(1) == b""  # the overdue round's socket was shut down: the peer reads the end
        waited = time.monotonic() - started
        assert late.expired and "a slow round took over 0.2 s" in late.why
        assert 0.1 < waited < 3
        time.sleep(0.2)
        d.setblocking(False)
        c.sendall(b"x")  # still open both ways
        assert d.recv(1) == b"x"
        assert not done.expired and not later.expired
        later.finish()
    finally:
        for s in (a, b, c, d):
            s.close()


def test_abandon_at_a_stop_acts_at_once() -> None:
    a, b = socket.socketpair()
    try:
        with RoundDeadline(30, "the push") as deadline:
            deadline.watch(fake_connection(a))
            deadline.abandon("the booth stops")
            b.settimeout(2)
            assert b.recv(1) == b""
            assert deadline.why == "the booth stops"
    finally:
        a.close()
        b.close()
