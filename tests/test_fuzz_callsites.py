"""Random scripts: what predict/callsites.py reads off a call site against what the call gets when it runs.

Hypothesis writes one script per example: names rebound to numbers, strings, arrays, lists
and dicts, in straight lines, `if`/`else` blocks, `for` and `while` loops and `try`
blocks, with calls `f(name)` and `g(name)` among them, at module level and in a function
`main()` that a module-level line calls. The script is read (never run) for its call
sites, then run with `f` and `g` recording the label of every argument they get
(predict/labels.py `label_of`, as the guards see it). Where the reading says a label at
every call site of a function (`agreed`: what the predictor trusts at 0.97), every call
that ran must have got that label. This is what the reading of the binding that reaches a
call (its block, the blocks around it, the loops that may rebind the name on the way round)
must get right; the lists here are never changed after they are made, since the reading
of appends is flow-insensitive by design (`xs = []; f(xs); xs.append(1.0)`: `f` gets
an empty list, which its guard rejects, at the cost of a compile).

    FUZZ_EXAMPLES=3000 FUZZ_STATS=1 python3 -m pytest -q -p no:cacheprovider tests/test_fuzz_callsites.py
"""

from __future__ import annotations

import ast
import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastimport.predict import callsites, labels

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
PRINT_STATS = bool(os.environ.get("FUZZ_STATS"))
STATS: Counter[str] = Counter()

NAMES = ["a", "b", "c"]
VALUES = [
    "1",
    "2.5",
    "True",
    "'text'",
    "None",
    "np.zeros(3)",
    "np.zeros((2, 2))",
    "np.arange(4)",
    "[1.0, 2.0]",
    "[1, 2]",
    "(1, 2)",
    "{'k': 1.5, 's': 'x'}",
    "len('abc')",
    "7 // 2",
    "7 / 2",
]


@st.composite
def values(draw: st.DrawFn) -> str:
    """An expression: a literal or constructor, or one made from a name (which may hold anything by then)."""
    other = draw(st.sampled_from(NAMES))
    return draw(
        st.sampled_from(
            [
                *VALUES,
                f"{other}",
                f"{other} * 2",
                f"{other} + 1.0",
                "d['k']",
                "d['s']",
            ]
        )
    )


@st.composite
def blocks(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """1-4 statements; a compound one holds a block of its own (two levels at most)."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["bind", "bind", "call", "call", "compound"] if depth < 2 else ["bind", "call"]))
        name = draw(st.sampled_from(NAMES))
        if kind == "bind":
            lines.append(f"{name} = {draw(values())}")
        elif kind == "call":
            lines.append(f"{draw(st.sampled_from(['f', 'g']))}({name})")
        else:
            header = draw(st.sampled_from(["if k % 2:", "for k2 in range(3):", "while k < 3:", "try:", "if k:"]))
            body = draw(blocks(depth + 1))
            if header.startswith("while"):
                body = [*body, "k += 1"]  # (ends: k only grows inside)
            lines.append(header)
            lines.extend("    " + line for line in body)
            if header.startswith("if") and draw(st.booleans()):
                lines.append("else:")
                lines.extend("    " + line for line in draw(blocks(depth + 1)))
            elif header == "try:":
                lines.append("except Exception:")
                lines.extend("    " + line for line in draw(blocks(depth + 1)))
    return lines


@st.composite
def scripts(draw: st.DrawFn) -> str:
    """A module: `f` and `g`, some module-level lines, a `main()` with its own, and the call of `main()`."""
    top = [f"{n} = {draw(st.sampled_from(VALUES))}" for n in NAMES]
    module_lines = draw(blocks())
    main_lines = [f"{n} = {draw(st.sampled_from(VALUES))}" for n in NAMES if draw(st.booleans())]
    main_lines += draw(blocks())
    parts = [
        "import numpy as np",
        "def f(x):",
        "    return x",
        "def g(y):",
        "    return y",
        "d = {'k': 1.5, 's': 'x'}",
        "k = 0",
        *top,
        *module_lines,
        "k = 0",
        "def main():",
        "    k = 0",
        *("    " + line for line in main_lines),
        "main()",
    ]
    return "\n".join(parts) + "\n"


def _run(source: str) -> dict[str, list[str]]:
    """Run the script with `f` and `g` recording the labels of what they get (up to an exception, if one)."""
    seen: dict[str, list[str]] = {"f": [], "g": []}

    class Recording(dict):  # the module's globals: `def f` and `def g` bind recorders instead
        def __setitem__(self, key: str, value: object) -> None:
            super().__setitem__(key, _recorder(seen[key]) if key in seen else value)

    try:
        exec(compile(source, "<fuzz>", "exec"), Recording(__name__="fuzz"))  # noqa: S102 - the test's own script
    except Exception:  # noqa: BLE001 - `None * 2` and the like: the calls made so far still count
        STATS["raised"] += 1
    return seen


def _recorder(into: list[str]) -> object:
    def record(x: object) -> object:
        into.append(labels.label_of(x))
        return x

    return record


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts())
def test_a_label_every_call_site_tells_is_what_the_calls_get(source: str) -> None:
    """Wherever the reading tells a function's parameter at every call site, the calls that ran got exactly it."""
    evidence = callsites.read(ast.parse(source))
    ran = _run(source)
    for function, param in (("f", "x"), ("g", "y")):
        told = callsites.agreed(evidence.sites.get(function, {}).get(param, []))
        STATS["told" if told is not None else "not told"] += 1
        if told is not None and ran[function]:
            STATS["told and called"] += 1
            assert set(ran[function]) == {told}, (function, told, ran[function], source)
    if PRINT_STATS:
        print(dict(STATS))
