"""Instructions per call, counted by valgrind: a deterministic figure for A/B work on a noisy machine.

    python -m benchmarks.icount [--numba] [--size quick] [--calls 3] [kernel ...]

Each kernel runs in its own process under `valgrind --tool=callgrind` with collection
switched on only inside `itertools.starmap`'s `next` (`--toggle-collect=starmap_next`):
the warm calls made through it are counted, the import, the compile and the first calls
are not. The count is the same from run to run (the machine's load and its fast and
slow modes do not enter it), so two trees can be compared one kernel at a time; it is
not a time (a cache miss or a long dependency chain costs more than an instruction).
Needs valgrind (`apt-get install valgrind`); the timings in RESULTS.md stay the measure
of record.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside valgrind: build the arguments, compile and warm up, then the counted calls.
CHILD = """
import collections, gc, itertools, sys
sys.path[:0] = [{src!r}, {root!r}, *{site!r}]
from benchmarks.suite import KERNELS, numba_module
from fastimport.testing import compile_module
kernel = next(k for k in KERNELS if k.name == {name!r})
module = numba_module(kernel.source()) if {numba!r} else compile_module(kernel.source())
fn, args = getattr(module, kernel.entry), kernel.make_args({size!r})
fn(*args)
fn(*args)
gc.disable()
collections.deque(itertools.starmap(fn, [args] * {calls}), maxlen=0)
"""


def count(name: str, *, numba: bool, size: str, calls: int) -> float:
    """Instructions per warm call of kernel `name` (fastimport, or Numba's copy)."""
    # valgrind runs the real interpreter (not a venv's link to it), so the venv's packages are added by hand
    site = [p for p in sys.path if p.endswith("site-packages")]
    script = CHILD.format(
        src=str(ROOT / "src"), root=str(ROOT), site=site, name=name, numba=numba, size=size, calls=calls
    )
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--collect-atstart=no",
        "--toggle-collect=starmap_next",
        "--smc-check=all",  # JIT code is written, then run
        os.path.realpath(sys.executable),  # (not a pyenv shim: valgrind would trace the shell)
        "-c",
        script,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - fixed command
    found = re.search(r"Collected\s*:\s*([\d,]+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{name}: valgrind run failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", "")) / calls


def main(argv: list[str] | None = None) -> int:
    """Print instructions per call for each kernel asked (all by default)."""
    from benchmarks.suite import KERNELS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.icount", description=__doc__.splitlines()[0])
    parser.add_argument("kernels", nargs="*", help="kernel names (default: all)")
    parser.add_argument("--numba", action="store_true", help="count Numba's copy instead of fastimport")
    parser.add_argument("--size", default="quick", choices=("tiny", "quick", "full"))
    parser.add_argument("--calls", type=int, default=3, help="counted calls per kernel")
    args = parser.parse_args(argv)
    known = {k.name for k in KERNELS}
    unknown = [name for name in args.kernels if name not in known]
    if unknown:
        parser.error(f"unknown kernel(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    for name in args.kernels or [k.name for k in KERNELS]:
        per_call = count(name, numba=args.numba, size=args.size, calls=args.calls)
        print(f"{name:20s} {per_call / 1e6:10.3f} M instructions/call", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
