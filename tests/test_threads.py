"""Several threads calling compiled functions at once: results stay CPython's, nothing crashes."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from fastimport.testing import compile_module, plain_module, record_of

SRC = """
def work(n, x):
    s = 0
    for i in range(n):
        s += i * x
    return s
"""


def test_first_calls_from_many_threads_compile_once_each_and_agree() -> None:
    """Eight threads make first calls with different signatures at the same time; all results match CPython."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    args = [(1000, 3), (1000, 2.5), (1000, True), (500, 7), (500, 0.5), (700, False), (10, 2**40), (3, 1.0)]
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(args))

    def run(index: int) -> None:
        try:
            barrier.wait()
            for _ in range(50):
                results[index] = fast.work(*args[index])
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for index, call_args in enumerate(args):
        expected = plain.work(*call_args)
        assert results[index] == expected
        assert type(results[index]) is type(expected)
    assert record_of(fast.work).status == "native"


WATCHED = """
import sys
import threading
import time

from fastimport.testing import compile_module

SLOW_LOOPS = '''
import math

def roots(n):
    s = 0.0
    for _ in range(n):
        s = math.sqrt(s + 1.0)
    return s

def bump(lst, n):
    for _ in range(n):
        lst[0] += 1.0
    return lst[0]
'''

func = getattr(compile_module(SLOW_LOOPS), sys.argv[1])
args = ([0.0],) if sys.argv[1] == "bump" else ()
func(*args, 10)
ran = []
done = threading.Event()

def watch():
    while not done.is_set():
        ran.append(time.perf_counter())
        done.wait(0.001)

watcher = threading.Thread(target=watch)
watcher.start()
time.sleep(0.01)  # (the watcher is waiting on its timer)
start = time.perf_counter()
func(*args, 40_000_000)  # ~0.15-0.3 s
end = time.perf_counter()
done.set()
watcher.join()
print(sum(1 for t in ran if start < t < end), end - start)
"""


@pytest.mark.parametrize("fname", ["roots", "bump"])
def test_other_threads_run_during_a_long_native_loop(fname: str) -> None:
    """A thread that wakes every millisecond gets the GIL again and again while a native loop runs, as under CPython.

    Both loops take ~60-110 us per 16384 iterations (one checkpoint). When the checkpoint
    released and re-took the GIL every time, the waiting thread ran 0 times in 0.27 s:
    CPython's waiter asks for the GIL only after a switch interval in which it did not
    change hands. (In a process of its own: under pytest the old checkpoint happened to
    let the thread run, for reasons of that process.)
    """
    command = [sys.executable, "-c", WATCHED, fname]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    count, seconds = run.stdout.split()
    assert int(count) >= 3, (count, seconds)
