"""predict/callsites.py: argument labels read off a module's own call sites, checked against what runs."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from fastimport.predict import callsites, features, labels, predictor

ROOT = Path(__file__).resolve().parents[1]


def _agreed(source: str) -> dict[str, dict[str, str | None]]:
    found = callsites.read(ast.parse(textwrap.dedent(source))).sites
    return {f: {p: callsites.agreed(seen) for p, seen in params.items()} for f, params in found.items()}


def _run_recording(path: Path, argv: list[str]) -> dict[str, dict[str, set[str]]]:
    """Run `path` as __main__ under plain CPython; {function: {param: labels of every call's argument}}."""
    import contextlib
    import io
    import runpy

    seen: dict[str, dict[str, set[str]]] = {}
    target = str(path)

    def profile(frame: object, event: str, _arg: object) -> None:
        code = frame.f_code  # type: ignore[attr-defined]
        if event == "call" and code.co_filename == target and not code.co_name.startswith("<"):
            n = code.co_argcount + code.co_kwonlyargcount
            for name in code.co_varnames[:n]:
                value = frame.f_locals[name]  # type: ignore[attr-defined]
                seen.setdefault(code.co_name, {}).setdefault(name, set()).add(labels.label_of(value))

    old_argv = sys.argv
    sys.argv = [target, *argv]
    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(target, run_name="__main__")
    finally:
        sys.setprofile(None)
        sys.argv = old_argv
    return seen


EXAMPLES = [
    ("fib.py", "20"),
    ("integrate.py", "1000"),
    ("nbody.py", "100"),
    ("nbody_lists.py", "100"),
    ("primes.py", "1000"),
    ("signal_stats.py", "300"),
    ("pipeline.py", "2000"),
]


PROGRAMS = [(f"examples/{example}", arg) for example, arg in EXAMPLES] + [("tests/programs/mixed_features.py", "")]


@pytest.mark.parametrize(("program", "arg"), PROGRAMS)
def test_every_label_the_call_sites_agree_on_is_what_the_calls_pass(program: str, arg: str) -> None:
    """Differential: each parameter's agreed call-site label is the label of every value it is called with."""
    path = ROOT / program
    example = path.name
    told = _agreed(path.read_text(encoding="utf-8"))
    ran = _run_recording(path, [arg] if arg else [])
    checked = 0
    for function, params in told.items():
        for param, label in params.items():
            if label is not None:
                assert ran[function][param] == {label}, (function, param)
                checked += 1
    assert checked or example == "fib.py"  # (fib.py's calls pass values of its own functions' parameters)


def test_the_examples_scripts_are_read_through() -> None:
    """What a script's main and module code pass reaches the kernels, through returns and chains of calls."""
    told = _agreed((ROOT / "examples" / "signal_stats.py").read_text(encoding="utf-8"))
    assert told["mean"] == {"a": "ndarray:float64:1"}  # signal = make_signal(...), np.empty(n) inside
    assert told["histogram"] == {"a": "ndarray:float64:1", "bins": "int", "low": "float", "high": "float"}
    told = _agreed((ROOT / "examples" / "nbody_lists.py").read_text(encoding="utf-8"))
    assert told["advance"] == {"bodies": "list[list[float]]", "steps": "int", "dt": "float"}


CASES = {
    "literals and arithmetic": (
        """
        def f(a, b, c, d, e):
            return 0
        f(1, 2.5, 1 + 2.0, 7 // 2, 7 / 2)
        """,
        {"a": "int", "b": "float", "c": "float", "d": "int", "e": "float"},
    ),
    "rebound to another type: the binding that reaches the call": (
        """
        def f(x):
            return x
        v = 1
        v = 2.0
        f(v)
        """,
        {"x": "float"},
    ),
    "rebound after the call in a loop: not told": (
        """
        def f(x):
            return x
        v = 1
        for i in range(3):
            f(v)
            v = 2.0
        """,
        {"x": None},
    ),
    "rebound in one branch before the call: not told": (
        """
        import sys
        def f(x):
            return x
        v = 1
        if sys.argv:
            v = 2.0
        f(v)
        """,
        {"x": None},
    ),
    "a name reused for a string, then an array (pipeline.py)": (
        """
        import numpy as np
        def f(x, y):
            return x
        def main(lines):
            records = []
            for line in lines:
                name, a = line.split(",")
                records.append({"name": name, "a": float(a), "n": len(name)})
            a = np.array([r["a"] for r in records])
            f(a, [r["n"] for r in records])
        """,
        {"x": "ndarray:float64:1", "y": "list[int]"},
    ),
    "an empty list and its appends": (
        """
        def f(x, y):
            return x
        xs = []
        ys = []
        for i in range(10):
            xs.append(i / 2)
            ys.append(i)
        ys.append(0.5)
        f(xs, ys)
        """,
        {"x": "list[float]", "y": "other"},
    ),
    "an empty list some other call may fill: not told": (
        """
        def fill(xs):
            xs.append("text")
        def f(x):
            return x
        xs = []
        xs.append(1.0)
        fill(xs)
        f(xs)
        """,
        {"x": None},
    ),
    "a dict's key stored again: not told": (
        """
        def f(x, y):
            return x
        d = {"a": 1.0, "b": 2}
        other = {}
        other["a"] = "text"
        f(d["a"], d["b"])
        """,
        {"x": None, "y": "int"},
    ),
    "a dict that some .update() may change: not told": (
        """
        def f(x):
            return x
        d = {"a": 1.0}
        settings = {}
        settings.update(load())
        f(d["a"])
        """,
        {"x": None},
    ),
    "a while loop's test, its body rebinding the name: not told": (
        """
        def f(x):
            return x < 3
        v = 1
        while f(v):
            v = 2.5
        """,
        {"x": None},
    ),
    "a name met again while its bindings are read, read again later (found by tests/test_fuzz_callsites.py)": (
        """
        def f(x):
            return x
        def kernel(y):
            return y
        b = 2.5
        c = b
        b = c * 2
        f(b)
        def main():
            kernel(b)
        """,
        {"y": None},  # (not "other": the cycle's mark was kept as b's label)
    ),
    "the binding that reaches reads the name itself (found by tests/test_fuzz_callsites.py)": (
        """
        def f(x):
            return x
        b = 2.5
        b = b * 2
        f(b)
        """,
        {"x": None},
    ),
    "a list whose appends read itself: not told, and the module still read": (
        """
        def f(x, y):
            return x
        xs = [1.0]
        xs.append(xs[0] * 2)
        f(xs, 3)
        """,
        {"x": None, "y": "int"},
    ),
    "one call site not told: not agreed": (
        """
        from data import load
        def f(x):
            return x
        f(1)
        f(load())
        """,
        {"x": None},
    ),
    "two call sites that differ": (
        """
        def f(x):
            return x
        f(1)
        f(1.0)
        """,
        {"x": None},
    ),
    "star arguments": (
        """
        def f(x, y):
            return x
        args = (1, 2)
        f(*args)
        """,
        {"x": None, "y": None},
    ),
    "keywords, and defaults are not call sites": (
        """
        def f(x, y=0.5, *, z=1):
            return x
        f(y=2, x=3.0)
        """,
        {"x": "float", "y": "int", "z": None},
    ),
    "numpy constructors": (
        """
        import numpy as np
        def f(a, b, c, d, e, g):
            return 0
        n = 4
        f(np.zeros((n, 3)), np.empty(n, dtype=np.int64), np.arange(10), np.array([[1, 2], [3, 4.0]]),
          np.linspace(0, 1, 5), np.random.rand(2, 2, 2))
        """,
        {
            "a": "ndarray:float64:2",
            "b": "ndarray:int64:1",
            "c": "ndarray:int64:1",
            "d": "ndarray:float64:2",
            "e": "ndarray:float64:1",
            "g": "ndarray:float64:3",
        },
    ),
    "lists": (
        """
        def f(a, b, c, d):
            return 0
        n = 3
        f([0.0] * n, [[0.0] * n for _ in range(n)], [1, 2, 3], [1, 2.0])
        """,
        {"a": "list[float]", "b": "list[list[float]]", "c": "list[int]", "d": "other"},
    ),
    "subscripts, argv and math": (
        """
        import math, sys
        import numpy as np
        def f(a, b, c, d, e):
            return 0
        grid = np.ones((3, 4))
        f(grid[0], grid[1, 2], sys.argv[0], int(sys.argv[1]) if len(sys.argv) > 1 else 10, math.sqrt(2))
        """,
        {"a": "ndarray:float64:1", "b": "float", "c": "str", "d": "int", "e": "float"},
    ),
    "a global some function rebinds": (
        """
        def f(x):
            return x
        def g():
            global v
            v = "s"
        v = 1
        f(v)
        """,
        {"x": None},
    ),
    "through parameters and returns": (
        """
        def kernel(x, k):
            return x
        def run(x, k):
            return kernel(x, k)
        def make(n):
            return [0.5] * n
        run(make(3), 2)
        """,
        {"x": "list[float]", "k": "int"},
    ),
    "an accumulator: its own bindings agree": (
        """
        import numpy as np
        def f(x, y):
            return x
        a = np.ones(3)
        s = 0.0
        t = 0
        for i in range(3):
            s += a[i]
            t = t + 0.5
        f(s, t)
        """,
        {"x": "float", "y": None},
    ),
    "a list stored into with another type": (
        """
        def f(a, b, c, d):
            return 0
        out = [0] * 4
        for i in range(4):
            out[i] = i / 2
        kept = [0] * 4
        kept[1] = 7
        grown = [1, 2]
        grown.append(2.5)
        rows = [[0.0] * 3 for _ in range(3)]
        rows[0][1] = 1.5
        f(out, kept, grown, rows)
        """,
        {"a": None, "b": "list[int]", "c": None, "d": "list[list[float]]"},
    ),
    "a list a function stores into": (
        """
        def f(xs):
            return 0
        def fill():
            data[0] = 0.5
        data = [1, 2, 3]
        fill()
        f(data)
        """,
        {"xs": None},
    ),
    "a parameter or a rebound name shadows the module's function": (
        """
        def f(x):
            return x
        def g(f):
            return f("s")
        def h():
            f = str
            return f(1.5)
        g(len)
        h()
        f(3)
        """,
        {"x": "int"},
    ),
    "recursion terminates": (
        """
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        fib(fib(3))
        """,
        {"n": None},
    ),
    "a name shadowing a builtin": (
        """
        def f(x):
            return x
        def int(v):
            return "not an int"
        f(int(3))
        """,
        {"x": "str"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_call_site_labels(case: str) -> None:
    """Each kind of expression the reading knows, and what it must not claim to know."""
    source, expected = CASES[case]
    told = _agreed(source)
    function = "kernel" if "kernel" in told else "fib" if "fib" in told else "f"
    assert told[function] == expected


def test_random_draws_clocks_and_reshapes() -> None:
    """NumPy Generators and draws, the random and time modules, reshapes: each call site's label (any order)."""
    source = """
import random, time
import numpy as np
from numpy.random import default_rng
def f(a, b, c, d, e, g, h, k):
    return 0
rng = default_rng(7)
grid = rng.random((4, 4))
f(rng.normal(0.0, 1.0, size=10), rng.integers(0, 9, (3, 3)), rng.random(), grid.ravel(),
  grid.reshape(2, 2, 4), random.randint(1, 6), time.perf_counter(), list(range(5)))
f(rng, np.random.randint(0, 5, size=4), np.random.uniform(0, 1), np.sum(grid), np.eye(3), 0, 0, 0)
"""
    sites = {param: sorted(seen) for param, seen in callsites.read(ast.parse(source)).sites["f"].items()}
    assert sites == {
        "a": ["ndarray:float64:1", "other"],
        "b": ["ndarray:int64:1", "ndarray:int64:2"],
        "c": ["float", "float"],
        "d": ["float", "ndarray:float64:1"],
        "e": ["ndarray:float64:2", "ndarray:float64:3"],
        "g": ["int", "int"],
        "h": ["float", "int"],
        "k": ["int", "list[int]"],
    }


KERNELS = """
def smooth(x, w):
    return helper(x[0], w)


def helper(v, w):
    return v / w
"""

IMPORTER = """
import numpy as np
import kern
import kern as k
import other
from kern import smooth as s

x = np.zeros(10)
kern.smooth(x, 3)
k.smooth(np.ones(4), 2)
s(x, 1)
other.smooth("not kern's", 1.5)
"""


def test_an_importer_s_calls_are_call_sites_too() -> None:
    """`import kern; kern.smooth(...)`, aliases and from-imports count; another module's smooth does not."""
    evidence = callsites.read(ast.parse(KERNELS), ast.parse(IMPORTER), "kern")
    assert evidence.sites["smooth"] == {"x": ["ndarray:float64:1"] * 3, "w": ["int"] * 3}
    assert {p: callsites.agreed(seen) for p, seen in evidence.sites["helper"].items()} == {"v": "float", "w": "int"}
    assert callsites.read(ast.parse(KERNELS), ast.parse(IMPORTER), "other").sites["smooth"] == {
        "x": ["str"],
        "w": ["float"],
    }
    assert callsites.read(ast.parse(KERNELS)).sites["smooth"] == {"x": [], "w": []}


def test_an_expression_too_deep_to_read_gives_no_evidence() -> None:
    """A RecursionError while reading costs the module its evidence, nothing else."""
    tree = ast.parse("def f(x):\n    return x\nf(" + "-" * 300 + "1)\n")
    assert callsites.read(tree).sites == {"f": {"x": ["int"]}}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)  # (reading -(-(...)) recurses: past the limit, no evidence and no error)
    try:
        assert callsites.read(tree) == callsites.Evidence()
    finally:
        sys.setrecursionlimit(limit)


FLOWS = """
def kernel(bodies, dt, steps):
    for _ in range(steps):
        dt = dt * 1.0
    return bodies


def run(steps, bodies, dt):
    kernel(bodies, 0.01, steps)
    kernel(bodies, dt=dt, steps=steps + 1)
    dt = 2.0
    return run(steps - 1, bodies, dt)
"""


def test_flows_are_parameters_passed_unchanged() -> None:
    """A bare, never rebound parameter passed to a module function: a flow; rebound, changed, or itself: not."""
    flows = callsites.read(ast.parse(FLOWS)).flows
    assert flows == {"run": {"steps": [("kernel", "steps")], "bodies": [("kernel", "bodies"), ("kernel", "bodies")]}}


def test_a_flow_joins_both_parameters_probabilities() -> None:
    """The caller's parameter gets the renormalized product of its own and the callee's parameter's probabilities."""
    tree = ast.parse(FLOWS)
    nodes = list(callsites.module_functions(tree).values())
    model = predictor.model()
    alone = model.probabilities(features.vectorize([f for n in nodes for f in features.parameter_features(n)]))
    evidence = callsites.Evidence(flows=callsites.read(tree).flows)
    [kernel, run] = predictor.predict([(n, False) for n in nodes], using=model, evidence=evidence)
    expected = alone[3] * alone[2]  # run's steps (row 3) times kernel's steps (row 2)
    expected /= expected.sum()
    assert run[0].label == labels.LABELS[int(expected.argmax())]
    assert run[0].probability == pytest.approx(float(expected.max()), rel=1e-5)
    assert kernel[2].probability == pytest.approx(float(alone[2].max()), rel=1e-5)  # (the callee keeps its own)
    [as_method] = predictor.predict([(nodes[1], True)], using=model, evidence=evidence)
    assert as_method == predictor.predict([(nodes[1], True)], using=model)[0]  # (flows are for module functions)


class _NoModel(predictor.Model):
    def __init__(self) -> None:  # (no session: asking it is the failure)
        pass

    def probabilities(self, _matrix: object) -> object:
        raise AssertionError("the model was asked")


def test_the_predictor_takes_agreed_call_site_labels_and_says_so() -> None:
    """A told label is the guess, at the measured precision, with no model asked; the report says which."""
    source = textwrap.dedent(
        """
        def integrate(a, b, n):
            h = (b - a) / n
            s = 0.0
            for i in range(n):
                s += a + i * h
            return s * h

        integrate(0.0, 1.0, 100)
        """
    )
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    model = predictor.model()
    [guesses] = predictor.predict([(node, False)], using=_NoModel(), evidence=predictor.module_evidence(source))
    assert [(g.label, g.source) for g in guesses] == [
        ("float", "call sites"),
        ("float", "call sites"),
        ("int", "call sites"),
    ]
    assert all(g.probability == predictor.CALL_SITES_EVERY for g in guesses)
    assert all(g.ranked == ((g.label, g.probability),) for g in guesses)  # (no model was asked)
    assert f"a: float {predictor.CALL_SITES_EVERY:.2f} call sites" in predictor.shown(guesses)
    [plain] = predictor.predict([(node, False)], using=model)
    assert all(g.source == "model" for g in plain)
    [as_method] = predictor.predict([(node, True)], using=model, evidence=predictor.module_evidence(source))
    assert all(g.source == "model" for g in as_method)  # (evidence is for module-level functions)


def test_a_batch_with_a_parameter_not_told_asks_the_model_and_keeps_its_ranking() -> None:
    """A parameter the call sites do not tell: the model runs; a told one keeps its label, ranked by the model."""
    source = "from data import load\ndef f(x, y):\n    return x\nf(1, load())\n"
    node = ast.parse(source).body[1]
    evidence = predictor.module_evidence(source)
    assert not predictor.told_everywhere(node, evidence)
    [[x, y]] = predictor.predict([(node, False)], evidence=evidence)
    assert (x.label, x.source, y.source) == ("int", "call sites", "model")
    assert len(x.ranked) == predictor.TOP


def test_some_call_sites_not_telling_lower_the_probability() -> None:
    """Call sites that tell agree, one does not tell: the label, at the lower measured precision."""
    source = "from data import load\ndef f(x):\n    return x\nf(1)\nf(load())\n"
    node = ast.parse(source).body[1]
    [[guess]] = predictor.predict([(node, False)], evidence=predictor.module_evidence(source))
    assert (guess.label, guess.probability, guess.source) == ("int", predictor.CALL_SITES_SOME, "call sites")


def test_a_long_or_broken_module_is_not_read() -> None:
    """Past CALL_SITES_MAX_BYTES (the reading holds the GIL) or not Python: no evidence."""
    nothing = callsites.Evidence()
    assert predictor.module_evidence("def f(:\n") == nothing
    assert predictor.module_evidence(None) == nothing
    long = "def f(x):\n    return x\nf(1)\n" + "#" * predictor.CALL_SITES_MAX_BYTES
    assert predictor.module_evidence(long) == nothing
    assert predictor.module_evidence(long[: -predictor.CALL_SITES_MAX_BYTES]).sites == {"f": {"x": ["int"]}}
