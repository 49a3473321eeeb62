"""Run one kernel under PyPy and time it there: `pypy3 benchmarks/peer_pypy.py JOB.json`.

The job (written by peers.run_pypy) names the kernel file, the function, its arguments
(scalars inline, arrays as .npy files) and the repeat counts. This script loads the kernel
file as a plain module, calls it `warmups` times to let PyPy's JIT compile the loops
(fewer if the warm-up budget runs out), then `repeats` timed calls (at least
`min_repeats`, fewer than `repeats` once the time budget is spent), and prints one JSON line:

    {"warmup_s": [...], "times_s": [...], "consistent": true, "result": {"float": "0x1.8p+1"}}

An array or NumPy scalar result is saved to the job's `result` path as .npy. It runs on
whatever Python PyPy implements (3.9 for Debian's pypy3), and never imports fastimport.

The garbage collector stays on (unlike the CPython side, which times with it off as
timeit does): NumPy's objects under PyPy live in cpyext, which only PyPy's collector
frees, and with it off `int_sum` at a million elements took 31 s a call instead of 2.4 s.
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path


def load_function(path: str, entry: str) -> object:
    """The kernel's function, from its file executed as a fresh module."""
    module = types.ModuleType("bench_kernel")
    module.__file__ = path
    sys.modules[module.__name__] = module
    source = Path(path).read_text(encoding="utf-8")
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - the benchmark's own kernel file
    return getattr(module, entry)


def load_args(specs: list[dict]) -> list[object]:
    """The call's arguments: inline scalars, or arrays from .npy files."""
    args = []
    for spec in specs:
        if "npy" in spec:
            import numpy as np  # only array kernels need NumPy

            args.append(np.load(spec["npy"]))
        else:
            args.append(spec["value"])
    return args


def timed(func: object, args: list[object]) -> tuple[float, object]:
    """(seconds, result) of one call (the garbage collector on: see above)."""
    t0 = time.perf_counter()
    result = func(*args)
    t1 = time.perf_counter()
    return t1 - t0, result


def fingerprint(value: object) -> object:
    """Something equal for results that are the same bits (to check the calls agree)."""
    if type(value).__module__ == "numpy":
        import numpy as np

        array = np.asarray(value)
        return (type(value).__name__, str(array.dtype), array.shape, array.tobytes())
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def encode(value: object, result_path: str) -> dict:
    """The result as JSON (Python scalars) or as a .npy file (arrays and NumPy scalars)."""
    if type(value).__module__ == "numpy":
        import numpy as np

        np.save(result_path, np.asarray(value))
        return {"npy": result_path, "scalar": not isinstance(value, np.ndarray)}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": value.hex()}
    return {"repr": repr(value)}


def main(job_path: str) -> None:
    """Run the job and print its JSON line."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    func = load_function(job["kernel"], job["entry"])
    args = load_args(job["args"])
    warmup_s: list[float] = []
    while len(warmup_s) < max(1, job["warmups"]):
        seconds, first = timed(func, args)
        warmup_s.append(seconds)
        if sum(warmup_s) > job["warmup_budget_s"]:
            break
    times_s: list[float] = []
    consistent = True
    value = first
    while len(times_s) < job["repeats"]:
        seconds, value = timed(func, args)
        times_s.append(seconds)
        consistent = consistent and fingerprint(value) == fingerprint(first)
        if len(times_s) >= job["min_repeats"] and sum(times_s) > job["budget_s"]:
            break
    print(
        json.dumps(
            {
                "warmup_s": warmup_s,
                "times_s": times_s,
                "consistent": consistent,
                "result": encode(value, job["result"]),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
