"""Guards, deopt, specialization, rebinding, function identity, fallback and Ctrl-C.

These are the parts of the contract that are not about arithmetic: a compiled function must
notice every change Python can make (types of arguments, rebound globals and builtins, mocks),
must still look like the user's function, and must stay interruptible.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time
import traceback
import types
from pathlib import Path
from unittest import mock

import pytest
from tests.differential import (
    assert_native,
    assert_same,
    assert_same_native,
    call,
    modules,
    same_outcome,
)

from fastimport.frontend.types import List, Tuple, Ty
from fastimport.runtime.dispatch import annotation_type
from fastimport.testing import compile_module, plain_module, record_of

ROOT = Path(__file__).resolve().parent.parent


def _pair(src: str) -> tuple[types.ModuleType, types.ModuleType]:
    """A fresh (fastimport, CPython) pair, so records and counters start from zero."""
    src = textwrap.dedent(src)
    return compile_module(src), plain_module(src)


def _check(fast: object, ref: object, *args: object, **kwargs: object) -> None:
    got, want = call(fast, *args, **kwargs), call(ref, *args, **kwargs)
    assert same_outcome(got, want), f"fastimport {got.describe()} != CPython {want.describe()}"


# --- guards, deopt, specialization ---------------------------------------------------------

ADD_SRC = """
def add(a, b):
    return a + b

def ident(a):
    return a

def annotated(a: int, b: float) -> float:
    return a * b + 1
"""


def test_deopt_on_new_argument_types() -> None:
    """Calling with ints, then floats, then strs matches CPython each time.

    Every mismatching call is counted as a deopt or gets its own specialization.
    """
    m, p = _pair(ADD_SRC)
    _check(m.add, p.add, 1, 2)
    assert_native(m, "add")
    rec = record_of(m.add)
    before = (rec.deopts, len(rec.signatures))
    _check(m.add, p.add, 1.5, 2.25)
    after_float = (rec.deopts, len(rec.signatures))
    assert after_float[0] > before[0] or after_float[1] > before[1], rec
    _check(m.add, p.add, "ab", "cd")
    after_str = (rec.deopts, len(rec.signatures))
    assert after_str[0] > after_float[0] or after_str[1] > after_float[1], rec
    _check(m.add, p.add, [1], [2])
    _check(m.add, p.add, 1, "x")  # TypeError with CPython's message


def test_one_specialization_per_signature() -> None:
    """An int call then a float call give two signatures; repeating them adds none."""
    m, p = _pair(ADD_SRC)
    for args in ((1, 2), (1.5, 2.5), (3, 4), (0.5, 0.25)):
        _check(m.add, p.add, *args)
    rec = record_of(m.add)
    assert rec.status == "native", rec.reason
    assert len(rec.signatures) == 2, rec.signatures
    assert rec.native_calls >= 2, rec


def test_many_signatures_stay_correct() -> None:
    """Every int/float/bool combination gives CPython's result.

    This holds however many specializations the compiler chooses to keep.
    """
    m, p = _pair(ADD_SRC)
    values = [1, 2.5, True, 2**70, float("nan"), False, -0.0]
    for a in values:
        for b in values:
            _check(m.add, p.add, a, b)
    assert_native(m, "add")


@pytest.mark.parametrize("first", [1, 2.5], ids=repr)
def test_bool_is_not_int(first: float) -> None:
    """After an int or float specialization, passing True returns the bool True, not 1."""
    m, p = _pair(ADD_SRC)
    _check(m.ident, p.ident, first)
    _check(m.ident, p.ident, True)
    _check(m.add, p.add, first, first)
    _check(m.add, p.add, True, False)
    assert type(m.ident(True)) is bool


def test_subclass_arguments_use_their_own_methods() -> None:
    """Subclasses of int and float with overridden operators fail the guard and get CPython's result."""
    m, p = _pair(ADD_SRC)
    _check(m.add, p.add, 1, 2)
    _check(m.add, p.add, 1.5, 2.5)

    class MyInt(int):
        def __add__(self, other: object) -> str:
            return "MyInt.__add__"

    class MyFloat(float):
        def __add__(self, other: object) -> str:
            return "MyFloat.__add__"

    _check(m.add, p.add, MyInt(1), 2)
    _check(m.add, p.add, MyFloat(1.0), 2.0)
    _check(m.ident, p.ident, MyInt(5))
    assert type(m.ident(MyInt(5))) is MyInt


def test_annotations_give_the_signature() -> None:
    """An annotated function runs native for its annotated types.

    It still behaves like CPython (annotations are not enforced) for other types.
    """
    m, p = _pair(ADD_SRC)
    _check(m.annotated, p.annotated, 3, 1.5)
    assert_native(m, "annotated")
    rec = record_of(m.annotated)
    assert len(rec.signatures) >= 1
    _check(m.annotated, p.annotated, 2.5, 1.5)
    _check(m.annotated, p.annotated, "ab", 2)
    _check(m.annotated, p.annotated, 2**70, 3)


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("int", Ty.INT),
        ("float", Ty.FLOAT),
        ("bool", Ty.BOOL),
        ("list[float]", List(Ty.FLOAT)),
        ("List[list[int]]", List(List(Ty.INT))),
        ("'list[bool]'", List(Ty.BOOL)),  # a string annotation is read
        ("tuple[float, int]", Tuple((Ty.FLOAT, Ty.INT))),
        ("Tuple[tuple[int, int], float]", Tuple((Tuple((Ty.INT, Ty.INT)), Ty.FLOAT))),
        ("tuple[int, ...]", None),
        ("list", None),
        ("list[str]", None),
        ("list[tuple[int]]", None),
        ("np.ndarray", None),  # no dtype, no ndim
        ("int | None", None),
        ("'list[float'", None),  # not Python
    ],
)
def test_annotation_types(annotation: str, expected: object) -> None:
    """The annotations that give a signature: numbers, lists of them (nested), tuples of them."""
    assert annotation_type(ast.parse(annotation, mode="eval").body) == expected


def test_list_annotations_give_the_signature() -> None:
    """A `list[list[float]]` annotation is compiled for at the first call, whatever that call passes."""
    src = "def total(rows: list[list[float]]) -> float:\n    s = 0.0\n    for r in rows:\n        s += r[0]\n    return s\n"  # noqa: E501
    m, p = _pair(src)
    _check(m.total, p.total, [[1, 2], [3]])  # ints: the annotation's specialization misses, this one is observed
    _check(m.total, p.total, [[1.5], [2.5, 0.0]])
    assert any("list[list[float]]" in s and "(annotation)" in s for s in record_of(m.total).signatures)


def test_integer_overflow_deopts_without_wrapping() -> None:
    """An int64 overflow in native code leaves for bytecode, counts a deopt and gives the big int."""
    m, p = _pair(ADD_SRC)
    _check(m.add, p.add, 1, 2)
    rec = record_of(m.add)
    before = rec.deopts
    _check(m.add, p.add, 2**63 - 1, 1)
    assert rec.deopts > before, rec
    assert m.add(2**63 - 1, 1) == p.add(2**63 - 1, 1)


# --- names are read at call time ------------------------------------------------------------

GLOBALS_SRC = """
import math

N = 3
SCALE = 2.0

def times_n(x):
    return x * N

def scaled(x):
    return x * SCALE + N

def helper(x):
    return x + 1

def use_helper(x):
    return helper(x) * 2

def use_abs(x):
    return abs(x)

def use_min(a, b):
    return min(a, b)

def root(x):
    return math.sqrt(x)

def loop_n(k):
    s = 0
    for i in range(k):
        s += N
    return s
"""


def test_rebinding_a_global_value() -> None:
    """`m.N = 5` is seen by the next call, even a change of type (int -> float)."""
    m, p = _pair(GLOBALS_SRC)
    for fname in ("times_n", "scaled", "loop_n"):
        _check(getattr(m, fname), getattr(p, fname), 4)
    assert_native(m, "times_n")
    for value in (5, 2.5, 2**70, True):
        m.N = p.N = value
        for fname in ("times_n", "scaled", "loop_n"):
            _check(getattr(m, fname), getattr(p, fname), 4)
    del m.N, p.N
    _check(m.times_n, p.times_n, 4)  # NameError with CPython's message


def test_rebinding_a_called_function() -> None:
    """`m.helper = lambda x: x * 100` is called by compiled callers from the next call on."""
    m, p = _pair(GLOBALS_SRC)
    _check(m.use_helper, p.use_helper, 3)
    assert_native(m, "use_helper")
    m.helper = p.helper = lambda x: x * 100
    _check(m.use_helper, p.use_helper, 3)
    m.helper = p.helper = lambda x: "str"  # noqa: ARG005
    _check(m.use_helper, p.use_helper, 3)


def test_mock_patch_object_helper() -> None:
    """`mock.patch.object(m, "helper")` takes effect inside and is undone after the block."""
    m, p = _pair(GLOBALS_SRC)
    _check(m.use_helper, p.use_helper, 3)
    with mock.patch.object(m, "helper", return_value=41), mock.patch.object(p, "helper", return_value=41):
        _check(m.use_helper, p.use_helper, 3)
        assert m.helper.call_count == 1
    _check(m.use_helper, p.use_helper, 3)


def test_shadowing_a_builtin() -> None:
    """A module global named `abs` or `min` shadows the builtin at the next call.

    Deleting it restores the builtin.
    """
    m, p = _pair(GLOBALS_SRC)
    _check(m.use_abs, p.use_abs, -3)
    _check(m.use_min, p.use_min, 1, 2)
    assert_native(m, "use_abs")
    m.abs = p.abs = lambda x: 42  # noqa: ARG005
    m.min = p.min = max
    _check(m.use_abs, p.use_abs, -3)
    _check(m.use_min, p.use_min, 1, 2)
    del m.abs, p.abs, m.min, p.min
    _check(m.use_abs, p.use_abs, -3)
    _check(m.use_min, p.use_min, 1, 2)


def test_patching_a_builtin_in_builtins() -> None:
    """Patching `builtins.abs` is seen by compiled code, like CPython."""
    m, p = _pair(GLOBALS_SRC)
    _check(m.use_abs, p.use_abs, -3)
    with mock.patch("builtins.abs", lambda x: -7):  # noqa: ARG005, PT008 - a plain function, as users patch
        got, want = call(m.use_abs, -3), call(p.use_abs, -3)
    assert same_outcome(got, want), (got, want)


def test_mock_patch_math_sqrt() -> None:
    """`mock.patch("math.sqrt", ...)` is seen by compiled `math.sqrt(x)` calls."""
    m, p = _pair(GLOBALS_SRC)
    _check(m.root, p.root, 4.0)
    assert_native(m, "root")
    with mock.patch("math.sqrt", lambda x: -1.0):  # noqa: ARG005, PT008 - a plain function, as users patch
        got, want = call(m.root, 4.0), call(p.root, 4.0)
    assert same_outcome(got, want), (got, want)
    _check(m.root, p.root, 4.0)
    assert math.sqrt(4.0) == 2.0


def test_rebinding_module_math() -> None:
    """Rebinding the module's `math` name to another object is seen by the next call."""
    m, p = _pair(GLOBALS_SRC)
    _check(m.root, p.root, 9.0)
    fake = types.SimpleNamespace(sqrt=lambda x: x + 0.5)
    m.math = p.math = fake
    _check(m.root, p.root, 9.0)


# --- transparent objects --------------------------------------------------------------------

IDENTITY_SRC = '''
def area(w, h=2.0, *, scale=1):
    """Area of a w-by-h rectangle."""
    return w * h * scale

def twice(self, x):
    return x * 2

def fails(a, b):
    x = a + 1
    y = x * 2
    return y // b

def calls_fails(a):
    return fails(a, 0) + 1
'''


def test_function_attributes() -> None:
    """The function's metadata is the user's, before and after compilation.

    `__name__`, `__qualname__`, `__doc__`, `__module__`, `__defaults__`, `__kwdefaults__`,
    `__annotations__` and `inspect.signature`.
    """
    m, p = _pair(IDENTITY_SRC)
    for stage in ("before", "after"):
        assert m.area.__name__ == p.area.__name__, stage
        assert m.area.__qualname__ == p.area.__qualname__, stage
        assert m.area.__doc__ == p.area.__doc__, stage
        assert m.area.__module__ == m.__name__, stage
        assert m.area.__defaults__ == p.area.__defaults__, stage
        assert m.area.__kwdefaults__ == p.area.__kwdefaults__, stage
        assert m.area.__annotations__ == p.area.__annotations__, stage
        assert str(inspect.signature(m.area)) == str(inspect.signature(p.area)), stage
        assert isinstance(m.area, types.FunctionType), stage
        assert inspect.isfunction(m.area), stage
        _check(m.area, p.area, 3.0)
        _check(m.area, p.area, 3, 4, scale=2)
    assert_native(m, "area")


def test_pickle_by_reference() -> None:
    """A compiled function pickles by reference: `pickle.loads(pickle.dumps(f)) is f`."""
    m, _ = _pair(IDENTITY_SRC)
    m.area(3.0)
    assert pickle.loads(pickle.dumps(m.area)) is m.area  # noqa: S301 - our own data


def test_use_as_method() -> None:
    """A compiled function stored on a class binds like a method, like CPython."""
    m, p = _pair(IDENTITY_SRC)
    _check(m.twice, p.twice, 1, 3)

    class CM:
        meth = m.twice

    class CP:
        meth = p.twice

    assert CM().meth(5) == CP().meth(5)
    assert type(CM().meth(2.5)) is type(CP().meth(2.5))
    assert CM.meth(0, 7) == CP.meth(0, 7)


def test_decorators_applied_later() -> None:
    """`functools.lru_cache(m.f)` and `functools.wraps` work on a compiled function."""
    m, p = _pair(IDENTITY_SRC)
    _check(m.area, p.area, 3.0)
    cached_m, cached_p = functools.lru_cache(m.area), functools.lru_cache(p.area)
    for _ in range(3):
        _check(cached_m, cached_p, 3.0, 5.0)
    assert cached_m.cache_info().hits == 2
    assert cached_m.__wrapped__ is m.area

    @functools.wraps(m.area)
    def wrapper(*args: float) -> float:
        return m.area(*args) + 1

    assert wrapper.__name__ == "area"
    assert wrapper.__doc__ == p.area.__doc__


def _last_frames(func: object, *args: object) -> list[traceback.FrameSummary]:
    try:
        func(*args)  # type: ignore[operator]
    except ZeroDivisionError as exc:
        return list(traceback.extract_tb(exc.__traceback__))
    raise AssertionError("expected ZeroDivisionError")


@pytest.mark.parametrize(("fname", "args"), [("fails", (1, 0)), ("calls_fails", (1,)), ("fails", (1.5, 0.0))])
def test_traceback_points_at_the_same_line(fname: str, args: tuple[float, ...]) -> None:
    """An exception raised inside compiled code has CPython's last frames.

    Same function names, line numbers and source lines, in the module's own file.
    """
    m, p = _pair(IDENTITY_SRC)
    call(getattr(m, fname), *(a + 1 for a in args))  # first call compiles
    got, want = _last_frames(getattr(m, fname), *args), _last_frames(getattr(p, fname), *args)
    n = 2 if fname == "calls_fails" else 1
    assert [(f.name, f.lineno, f.line) for f in got[-n:]] == [(f.name, f.lineno, f.line) for f in want[-n:]]
    assert all(f.filename == m.__file__ for f in got[-n:])
    assert_native(m, fname)


@pytest.mark.parametrize("first", [(1, 2), ("a", "b")])
def test_a_function_handed_back_to_bytecode_gets_its_version_back(first: tuple) -> None:
    """Given up on, a function has the version MAKE_FUNCTION gives its plain code, so CPython specializes its calls.

    On 3.13 assigning `__code__` or a vectorcall clears the version for good and every later
    call takes the interpreter's generic path (~+8 ns); 3.10-3.12 need nothing (no layout).
    """
    import ctypes

    from fastimport.runtime import dispatch, funcobject

    fast, ref = _pair(ADD_SRC)
    _check(fast.add, ref.add, *first)  # (ints: a specialization and a vectorcall; strs: neither)
    for _ in range(dispatch.GIVE_UP_AFTER * dispatch.DEOPT_CHECK_EVERY if first == (1, 2) else dispatch.GIVE_UP_AFTER):
        _check(fast.add, ref.add, "a", "b")
    assert fast.add.__code__.co_code == ref.add.__code__.co_code  # plain bytecode again
    lay = funcobject.version_layout()
    if sys.version_info < (3, 13):
        assert lay is None
        return
    assert lay is not None
    version = ctypes.c_uint32.from_address(id(fast.add) + lay.func_offset).value
    assert version == ctypes.c_uint32.from_address(id(fast.add.__code__) + lay.code_offset).value >= 2
    assert ctypes.c_uint32.from_address(id(ref.add) + lay.func_offset).value >= 2  # (as CPython's own)


# --- what stays bytecode --------------------------------------------------------------------

UNSUPPORTED_SRC = """
import functools

def uses_str(n):
    s = "ab" * n
    return len(s)

def uses_sum(n):
    xs = [i * i for i in range(n)]
    return sum(xs)

def uses_print(x):
    print("x is", x)
    return x + 1

def gen(n):
    for i in range(n):
        yield i * 2

@functools.lru_cache(maxsize=None)
def decorated(n):
    return n * 3

def outer(n):
    def inner(k):
        return k + n
    return inner(n) * 2

def consume_gen(n):
    return sum(gen(n))
"""

# Line (in the dedented source) of the construct that keeps each function in bytecode.
UNSUPPORTED_LINES = {
    "uses_str": [5],
    "uses_sum": [10],  # the list comprehension compiles; sum() does not
    "uses_print": [13],
    "gen": [16, 18],
    "decorated": [20, 21],
    "outer": [24, 25],
    "consume_gen": [30],
}


@pytest.mark.parametrize("fname", list(UNSUPPORTED_LINES))
@pytest.mark.parametrize("n", [0, 3, 7])
def test_unsupported_constructs_stay_bytecode(fname: str, n: int) -> None:
    """Functions outside the compiled subset behave exactly as CPython.

    Functions using str, sum(), print, generators, decorators or nested functions give the same
    value, type and stdout, and are recorded as bytecode with a reason that names the line.
    """
    fast, ref = modules(UNSUPPORTED_SRC)
    got = call(getattr(fast, fname), n)
    want = call(getattr(ref, fname), n)
    if fname == "gen":
        got.value, want.value = list(got.value), list(want.value)
    assert same_outcome(got, want), (got.describe(), want.describe())
    rec = record_of(getattr(fast, fname))
    assert rec.status == "bytecode", rec
    assert rec.reason, rec
    assert any(re.search(rf"(:|line ){line}(?!\d)", rec.reason) for line in UNSUPPORTED_LINES[fname]), rec.reason


def test_unsupported_lines_are_right() -> None:
    """The line table above points at the constructs in UNSUPPORTED_SRC (guards the test itself)."""
    lines = textwrap.dedent(UNSUPPORTED_SRC).splitlines()
    assert '"ab"' in lines[UNSUPPORTED_LINES["uses_str"][0] - 1]
    assert "sum(" in lines[UNSUPPORTED_LINES["uses_sum"][0] - 1]
    assert "print" in lines[UNSUPPORTED_LINES["uses_print"][0] - 1]
    assert "yield" in lines[UNSUPPORTED_LINES["gen"][1] - 1]
    assert "@functools" in lines[UNSUPPORTED_LINES["decorated"][0] - 1]
    assert "def inner" in lines[UNSUPPORTED_LINES["outer"][1] - 1]
    assert "gen(n)" in lines[UNSUPPORTED_LINES["consume_gen"][0] - 1]


def test_supported_function_next_to_unsupported_one() -> None:
    """An eligible function in a module full of unsupported ones still goes native."""
    src = UNSUPPORTED_SRC + "\ndef plain_math(a, b):\n    return a * b - 1\n"
    assert_same_native(src, "plain_math", 6, 7)
    assert_same(src, "uses_print", 2)


# --- Ctrl-C ---------------------------------------------------------------------------------

SPIN_SRC = """
def spin_for(n):
    s = 0
    for i in range(n):
        s = (s + i) % 1000003
    return s

def spin_while(x):
    n = 0
    while x > 0.5:
        x = x * 0.999 + 0.0004
        n += 1
    return n

def spin_rec(n):
    if n <= 0:
        return 1
    return (step(n - 1) + step(n - 2)) % 1000003

def step(n):
    return spin_rec(n)
"""

INTERRUPT_SCRIPT = r"""
import _thread, signal, sys, threading
# NOTE: a parent that ignores SIGINT (a background job) would make Python ignore it too.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path[:0] = [{src!r}]
from fastimport.testing import compile_module, plain_module, record_of

SPIN_SRC = {spin!r}
m, p = compile_module(SPIN_SRC), plain_module(SPIN_SRC)
fname, method = sys.argv[1], sys.argv[2]
f = getattr(m, fname)
small, huge = {{"spin_for": (1000, 10**13), "spin_while": (10.0, float("inf")), "spin_rec": (10, 200)}}[fname]
f(small)

print("ready", flush=True)
if method == "external":
    pass  # the parent process sends SIGINT
elif method == "setitimer":
    def on_alarm(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
else:
    threading.Timer(0.5, _thread.interrupt_main).start()
try:
    f(huge)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
print("after", f(small) == getattr(p, fname)(small), flush=True)
try:
    print("status", record_of(f).status, flush=True)
except KeyError as exc:
    print("status missing", exc, flush=True)
"""


@pytest.mark.parametrize("method", ["external", "setitimer", "interrupt_main"])
@pytest.mark.parametrize("fname", ["spin_for", "spin_while", "spin_rec"])
def test_ctrl_c_interrupts_native_loop(fname: str, method: str) -> None:
    """A native loop (or a recursion through two functions) that would run for ages stops soon after SIGINT.

    SIGINT may come from another process, from a threading.Timer, or a signal handler that raises
    it; the function keeps working afterwards.
    """
    script = INTERRUPT_SCRIPT.format(src=str(ROOT / "src"), spin=textwrap.dedent(SPIN_SRC))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, fname, method],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if method == "external" and first == "ready\n":
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"not interrupted within 20 s; stdout so far: {first + out!r}")
    lines = (first + out).splitlines()
    assert lines[:3] == ["ready", "interrupted", "after True"], (first + out, err)
    assert lines[3:] == ["status native"], (first + out, err)
