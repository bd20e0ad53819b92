"""The one thread that talks to the database, with a priority queue.

SQLite takes one writer at a time, so every store call runs on this single thread, in order of priority:
money first (booking a payment, settling an exit: the gate waits on them), then lane work (quotes, entries,
closing stays), then background bookkeeping (the outbox relay, audit rows, gate-event records). Within one
priority, calls run in the order they were submitted. It is a ``concurrent.futures.Executor``, so
``loop.run_in_executor`` works with it (as background work).
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("booth.store.worker")

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseWorkerClosed(RuntimeError):
    """Work submitted after the engine shut its database thread down."""


class Priority(IntEnum):
    MONEY = 0
    LANE = 1
    BACKGROUND = 2


_Job = tuple[int, int, Callable[[], Any] | None, Future[Any] | None]


class DatabaseWorker(Executor):
    def __init__(self, name: str = "booth-db") -> None:
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._shutdown = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit_at(self, priority: Priority, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                what = getattr(fn, "__qualname__", repr(fn))
                raise DatabaseWorkerClosed(f"the database worker is shut down; refused {what}")
            self._queue.put((int(priority), next(self._order), fn, future))
        return future

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self.submit_at(Priority.BACKGROUND, functools.partial(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            # after everything already queued, whatever its priority
            self._queue.put((len(Priority), next(self._order), None, None))
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        while True:
            _, _, fn, future = self._queue.get()
            if fn is None or future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
