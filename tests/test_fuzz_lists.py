"""Random loops over Python lists: fastimport against CPython, the lists' final contents and identities included.

Hypothesis writes one function `f(xs, rows, c)` per example: loops that read, store, `+=`
and `append` into a list of numbers `xs` and into the rows of a list of lists `rows`,
with indices `i`, `i + 1`, `-1 - i`, `n - 1 - i`, `c`... A list is the caller's object,
changed in place; native code reuses a float object it stores over when nothing else
holds it, snapshots a list before its first change and puts it back on a deopt. So the
arguments are drawn to stress exactly that:

- items of other types among the floats (an int, a bool, an int beyond 64 bits);
- the same float object in several slots (`[x] * 3`), the same row in several places of
  `rows` (`[row] * 2`), `xs` itself a row of `rows`;
- references to the items held by the caller across the call (a float changed in place
  that someone else holds would change under their feet).

Each call must match CPython's run on equal arguments: value (type included, floats bit
for bit) or exception, and afterwards the lists' contents, which rows are the same object,
and the held items' values.

    FUZZ_EXAMPLES=3000 python3 -m pytest -q -p no:cacheprovider tests/test_fuzz_lists.py
"""

from __future__ import annotations

import os
import struct
import textwrap
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.differential import call, modules, same_outcome, same_value
from tests.strategies import floats, range_loops

from fastimport.testing import record_of

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
PRINT_STATS = bool(os.environ.get("FUZZ_STATS"))
STATS: Counter[str] = Counter()

INDICES = ["i", "i", "i + 1", "i - 1", "-1 - i", "n - 1 - i", "c", "0", "-1", "i // 2"]
STARTS = ["0", "0", "1", "n - 1"]
STOPS = ["n", "n", "n - 1", "len(rows)", "min(c, 9)", "n + 1"]
STEPS = ["", "", ", 2", ", -1"]


@st.composite
def statements(draw: st.DrawFn) -> str:
    """One statement of the loop body."""
    x, y = draw(st.sampled_from(INDICES)), draw(st.sampled_from(INDICES))
    return draw(
        st.sampled_from(
            [
                f"s += xs[{x}]",
                f"xs[{x}] = xs[{y}] * 2.0",
                f"xs[{x}] = xs[{y}] + 1",
                f"xs[{x}] += c",
                f"xs[{x}] = s",
                "xs.append(s)",
                "xs.append(i)",
                f"row = rows[{x}]\nrow[{y}] = row[{y}] * 0.5 + s",
                f"rows[{x}][{y}] += 1.5",
                f"s += rows[{x}][{y}]",
                f"t = xs[{x}]\nxs[{x}] = xs[{y}]\nxs[{y}] = t",
                "if len(xs) > 12:\n    break",
                f"if xs[{x}] < 0:\n    continue",
            ]
        )
    )


@st.composite
def programs(draw: st.DrawFn) -> str:
    """The source of `f(xs, rows, c)`: one or two loops and a return."""
    loops = draw(range_loops(statements(), (STARTS, STOPS, STEPS)))
    result = draw(st.sampled_from(["s", "xs", "len(xs)", "s + len(rows)"]))
    code = "\n".join(["n = len(xs)", f"s = {draw(st.sampled_from(['0.0', '0']))}", *loops, f"return {result}"])
    return "def f(xs, rows, c):\n" + textwrap.indent(code, "    ") + "\n"


def _item(data: st.DataObject) -> object:
    """Mostly a float; sometimes an int, a bool or an int beyond 64 bits."""
    kind = data.draw(st.sampled_from(["float"] * 30 + ["int", "bool", "big"]))
    if kind == "float":
        return data.draw(floats())
    if kind == "int":
        return data.draw(st.integers(-100, 100))
    if kind == "bool":
        return data.draw(st.booleans())
    return 2**70


def draw_arguments(data: st.DataObject) -> tuple[list, list, int]:
    """xs, rows and c, with shared items and shared rows as described in the module docstring."""
    xs = [_item(data) for _ in range(data.draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 4, 5, 6])))]
    if xs and data.draw(st.booleans()):  # one float object in several slots
        shared = float(data.draw(floats()))
        for k in data.draw(st.lists(st.integers(0, len(xs) - 1), max_size=3)):
            xs[k] = shared
    rows = [
        [data.draw(floats()) for _ in range(data.draw(st.integers(1, 4)))] for _ in range(data.draw(st.integers(1, 3)))
    ]
    shape = data.draw(st.sampled_from(["plain", "plain", "repeated", "xs inside"]))
    if shape == "repeated" and rows:
        rows = [*rows, rows[0]]
    elif shape == "xs inside":
        rows = [*rows, xs]
    return xs, rows, data.draw(st.sampled_from([0, 1, 2, -1, 3, -4, 2**62]))


def _clone(xs: list, rows: list) -> tuple[list, list]:
    """Equal arguments with the same sharing: the same item objects, rows shared where they were."""
    new_xs = list(xs)
    clones: dict[int, list] = {id(xs): new_xs}
    new_rows = []
    for row in rows:
        if id(row) not in clones:
            clones[id(row)] = list(row)
        new_rows.append(clones[id(row)])
    return new_xs, new_rows


def _sharing(xs: list, rows: list) -> list[int]:
    """For each row, the index of the first row (or -1 for xs) that is the same object: the aliasing pattern."""
    return [next((k for k, other in enumerate(rows) if other is row), -1) if row is not xs else -1 for row in rows]


def _bits(values: list) -> list[object]:
    return [struct.pack("<d", v) if isinstance(v, float) else (type(v), v) for v in values]


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), data=st.data())
def test_random_list_loops_match_cpython(source: str, data: st.DataObject) -> None:
    """Several calls of one random program, on lists with mixed items, shared items and shared rows."""
    fast, ref = modules(source)
    for _ in range(3):
        xs, rows, c = draw_arguments(data)
        fast_xs, fast_rows = _clone(xs, rows)
        ref_xs, ref_rows = _clone(xs, rows)
        held = [*fast_xs, *(v for row in fast_rows for v in row)]  # the caller keeps these objects
        held_bits = _bits(held)
        want = call(ref.f, ref_xs, ref_rows, c)
        got = call(fast.f, fast_xs, fast_rows, c)
        where = f"f({xs!r}, {rows!r}, {c!r})\nsource:\n{source}"
        assert same_outcome(got, want), f"fastimport {got.describe()}, CPython {want.describe()}: {where}"
        assert same_value(fast_xs, ref_xs), f"xs ends {fast_xs!r}, CPython's {ref_xs!r}: {where}"
        assert same_value(fast_rows, ref_rows), f"rows end {fast_rows!r}, CPython's {ref_rows!r}: {where}"
        assert _sharing(fast_xs, fast_rows) == _sharing(ref_xs, ref_rows), f"rows no longer shared alike: {where}"
        assert _bits(held) == held_bits, f"an item the caller holds changed: {where}"
    if PRINT_STATS:
        record = record_of(fast.f)
        why = str(record.reason).split(" at ")[0]  # (without the file and line)
        STATS["some calls native" if record.native_calls else f"none native: {why}"] += 1
        print(dict(STATS.most_common(12)))
