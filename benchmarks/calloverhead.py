"""Call overhead: ns per call of `add(1, 2)` from a Python loop, for each way of running `add`.

Also `add('a', 'b')`, which fastimport runs as bytecode (the bytecode path and its type recording).

Run by the suite once per Python version found, as a subprocess that prints JSON:

    python -m benchmarks.calloverhead --number 1000000 --repeat 7
    -> {"python": "3.11.7", "ns_per_call": {"loop only": 9.1, "cpython add": 41.0, ...}, ...}

Every figure is the median over `repeat` runs of a `timeit` loop of `number`
calls, divided by `number`; the "loop only" row is the timeit loop around
`pass` (not subtracted from the others).

fastimport's `add` is measured in its steady state: called past its tier-up threshold
first (runtime/dispatch.py TIER_UP_CALLS; not on 3.11, which never tiers up), and the
compile-ahead thread waited for, so that it runs with a vectorcall of its own. The row
"before tier-up" is the same function kept from tiering up: what its first million
calls cost.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import timeit
from typing import Any

SRC = """
def add(a, b):
    return a + b


def empty(a, b):
    pass
"""


def _check_add(func: Any) -> None:  # noqa: ANN401
    if func(1, 2) != 1 + 2:
        raise RuntimeError(f"{func!r}(1, 2) != 3")


def measure(number: int, repeat: int) -> dict[str, Any]:
    """Median ns per call of each candidate, interleaved repeat by repeat, with versions and fastimport's record."""
    from fastimport.testing import compile_module, plain_module, record_of  # after argument parsing

    plain = plain_module(SRC)
    fast = compile_module(SRC)
    _check_add(fast.add)  # compiles add for (int, int)
    record = record_of(fast.add)
    before_tier_up = compile_module(SRC).add
    _check_add(before_tier_up)
    _keep_from_tiering_up(before_tier_up)
    _tier_up(fast.add)
    candidates: dict[str, Any] = {
        "loop only (pass)": None,
        "cpython add": plain.add,
        "cpython empty": plain.empty,
        "fastimport add (native)": fast.add,
        "fastimport add (native, before tier-up)": before_tier_up,
        # str arguments: no specialization takes them. The first calls miss (and have their
        # types recorded, predict/observed.py), then the function is plain bytecode again.
        "cpython add(str)": plain.add,
        "fastimport add(str) (bytecode path)": compile_module(SRC).add,
    }
    versions = {"python": platform.python_version()}
    try:
        import llvmlite  # reported only

        versions["llvmlite"] = llvmlite.__version__
    except ImportError:  # pragma: no cover - fastimport needs it
        pass
    try:
        import numba  # optional peer

        nb_add = numba.njit(plain_module(SRC).add)
        _check_add(nb_add)  # compiles
        candidates["numba add (dispatcher)"] = nb_add
        versions["numba"] = numba.__version__
    except ImportError:
        versions["numba"] = None
    results: dict[str, float] = {}
    # Interleave the candidates repeat by repeat, so drifting machine load hits them alike.
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeat):
        for name, func in candidates.items():
            stmt = "pass" if func is None else "f('a', 'b')" if "(str)" in name else "f(1, 2)"
            timer = timeit.Timer(stmt, globals={"f": func})
            samples[name].append(timer.timeit(number) / number * 1e9)
    for name, values in samples.items():
        results[name] = statistics.median(values)
    return {
        **versions,
        "implementation": sys.implementation.name,
        "ns_per_call": results,
        "samples_ns": samples,
        "number": number,
        "repeat": repeat,
        "fastimport_status": record.status,
        "fastimport_native_calls": record.native_calls,
        "fastimport_deopts": record.deopts,
        "fastimport_tiered_up": list(record.tiered_up),
    }


def _tier_up(func: Any) -> None:  # noqa: ANN401
    """Call `func` past its tier-up threshold and wait for the compile-ahead thread (see the module's docstring)."""
    from fastimport.runtime import ahead, dispatch

    timeit.Timer("f(1, 2)", globals={"f": func}).timeit(dispatch.TIER_UP_CALLS + 1)
    ahead._wait()  # noqa: SLF001 - the benchmark's own reach into the runtime


def _keep_from_tiering_up(func: Any) -> None:  # noqa: ANN401
    from fastimport.runtime.dispatch import state_of
    from fastimport.runtime.native import NEVER

    state_of(func).entries[-1].data.tier_at = NEVER  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> None:
    """Print `measure(...)` as one line of JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.number, args.repeat)))


if __name__ == "__main__":
    main()
