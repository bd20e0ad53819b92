"""How long a test lets a loopback emulator take to answer.

The suite runs on every core (pytest-xdist), so a test's emulator and the booth under test share a machine
that is saturated for minutes. A client timeout that a test expects *not* to fire (the emulator is up and
will answer) must leave room for that: CI rehearsals broke three times on sub-second ones, each time a
different test. Use :data:`ANSWER_S` for those. A test that expects a timeout to fire (a hanging or silent
peer) may keep a short one: a busy machine only makes it fire later, never not at all.
"""

#: a client's request timeout against an emulator that answers (seconds)
ANSWER_S = 2.0
