"""Issue 14, item 2: after a crash no relay is left ON. A booth killed between a host-timed pulse's coil ON
and OFF left the barrier up until the next paid car; at start every relay gate is now driven to rest before
any lane acts on a car, and that is recorded. A real engine against pymodbus's own server on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from booth.domain.lane import LaneState
from booth.engine import AlertRaised
from tests.conftest import RunningEngine, wait_until
from tests.test_engine import bring_car, pay
from tests.test_gates import FC_WRITE_COIL, FakeRelayBoard, closed_port

MakeEngine = Callable[..., RunningEngine]
T = TypeVar("T")
COIL = 3


class BoardThread:
    """A relay board served from its own loop in its own thread (the engine runs its own loop)."""

    def __init__(self, board: FakeRelayBoard) -> None:
        self.board = board
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    def coil(self) -> bool:
        return self.run(self.board.coil(1, COIL))

    def writes(self) -> list[tuple[int, ...] | None]:
        return [a.values for a in self.board.accesses if a.function_code == FC_WRITE_COIL and a.values]

    def close(self) -> None:
        self.run(self.board.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def relay() -> Iterator[BoardThread]:
    served = BoardThread(FakeRelayBoard())
    yield served
    served.close()


def exit_lane_on(port: int) -> list[dict[str, Any]]:
    """One exit lane whose barrier is a host-timed Modbus TCP relay (board_pulse "none")."""
    gate = {"driver": "modbus_tcp", "host": "127.0.0.1", "port": port, "coil": COIL, "pulse_ms": 100}
    return [{"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1", "pass_timeout_s": 1,
             "gate": gate}]  # fmt: skip


def gate_rests(r: RunningEngine) -> list[tuple[str, dict[str, Any]]]:
    rows = r.rows("SELECT actor, detail_json FROM audit_log WHERE action = 'gate_rest' ORDER BY id")
    return [(actor, json.loads(detail)) for actor, detail in rows]


def test_a_relay_left_on_by_a_crash_is_off_once_the_booth_has_started(
    make_engine: MakeEngine, relay: BoardThread
) -> None:
    relay.run(relay.board.start())
    relay.run(relay.board.set_coil(1, COIL, True))  # the last run was killed between ON and OFF
    r = make_engine(lanes=exit_lane_on(relay.board.port))
    # start() has returned: no car has come, and the barrier is already let go
    assert not relay.coil()
    assert relay.writes() == [(0,)]
    name = f"modbus_tcp 127.0.0.1:{relay.board.port} coil {COIL}"
    assert gate_rests(r) == [("lane:X1", {"gate": name, "outcome": "rested"})]
    assert not [e for e in r.events if isinstance(e, AlertRaised) and e.kind == "gate_fault"]
    # and the lane works as before: the paid car leaves through the same board
    pay(r, bring_car(r, "X1", "苏M12345"))
    wait_until(lambda: r.engine.exits_completed == 1, what="the exit through the Modbus gate")
    assert relay.writes() == [(0,), (1,), (0,)]
    assert not relay.coil()


def test_a_board_unreachable_at_start_is_a_gate_fault_and_is_rested_once_it_answers(
    make_engine: MakeEngine, relay: BoardThread
) -> None:
    relay.board.port = closed_port()  # the board is off (or its switch reboots) as the booth starts
    r = make_engine(lanes=exit_lane_on(relay.board.port))
    # the booth started all the same, and the supervisor was told which lane's gate is not at rest
    alert = next(e for e in r.events if isinstance(e, AlertRaised) and e.kind == "gate_fault")
    assert alert.lane_id == "X1"
    assert "not at rest at start" in alert.message and "cannot connect" in alert.message
    [(actor, failed)] = gate_rests(r)
    assert actor == "lane:X1" and failed["outcome"] == "failed" and "cannot connect" in failed["error"]
    assert r.rows("SELECT COUNT(*) FROM audit_log WHERE action = 'gate_fault'") == [(1,)]
    assert r.lane("X1").state is LaneState.IDLE  # the lane itself is not in a gate fault: it waits for cars
    order_id = bring_car(r, "X1", "苏M12345")  # a car is served while the board is still down
    # the board comes back with the relay still ON: the booth lets it go without waiting for a paid car
    relay.run(relay.board.start())
    relay.run(relay.board.set_coil(1, COIL, True))
    wait_until(lambda: len(gate_rests(r)) == 2, what="the gate to be rested once its board answers")
    assert gate_rests(r)[1][1]["outcome"] == "rested"
    assert not relay.coil()
    pay(r, order_id)
    wait_until(lambda: r.engine.exits_completed == 1, what="the exit through the board that came back")
    assert relay.writes() == [(0,), (1,), (0,)]


def test_a_stop_during_a_pulse_lets_the_pulse_finish_and_closes_the_stay(
    make_engine: MakeEngine, relay: BoardThread
) -> None:
    """Found by the lane crash test: a clean stop cancelled the gate task mid-pulse, so the relay stayed ON
    until the next start and the stay of the car that was let out stayed open."""
    relay.run(relay.board.start())
    lanes = exit_lane_on(relay.board.port)
    lanes[0]["gate"]["pulse_ms"] = 1500
    r = make_engine(lanes=lanes)
    order_id = bring_car(r, "X1", "苏G00001")
    pay(r, order_id)
    wait_until(relay.coil, what="the pulse to begin")
    r.engine.stop()  # mid-pulse
    assert not relay.coil()
    assert relay.writes() == [(0,), (1,), (0,), (0,)]  # rest at start, the whole pulse, rest at stop
    assert r.rows("SELECT state FROM stays WHERE order_id = ?", order_id) == [("exited",)]
