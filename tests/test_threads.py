"""Several threads calling compiled functions at once: results stay CPython's, nothing crashes."""

from __future__ import annotations

import threading

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
