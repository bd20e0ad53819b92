"""The `booth` script keeps glibc's mmap threshold fixed (ui/launcher.py: steady_malloc): a large block freed
does not raise it, so the next one gets pages of its own again instead of a piece of the heap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import ctypes, json, sys
from ui import launcher

def in_heap(buf):
    address = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            return low <= address < high
    return False

steady = launcher.steady_malloc() if sys.argv[1] == "steady" else None
first = bytearray(1 << 20)  # a decoded photo's size: above the threshold, pages of its own
first_in_heap = in_heap(first)
del first
second = bytearray(1 << 20)
print(json.dumps([steady, first_in_heap, in_heap(second)]))
"""


def _probe(mode: str, env: dict[str, str] | None = None) -> object:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_freed_megabyte_does_not_send_the_next_one_to_the_heap() -> None:
    assert _probe("default") == [None, False, True]  # glibc's own rule: the threshold rose to 1 MB
    assert _probe("steady") == [True, False, False]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_an_explicit_malloc_setting_in_the_environment_wins() -> None:
    explicit = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20)}  # 4 MB: a megabyte is carved from the heap
    assert _probe("steady", explicit) == [False, True, True]
