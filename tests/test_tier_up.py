"""Tier-up (runtime/dispatch.py `tier_up`): a leaf unit that is called often gets a vectorcall of its own.

A leaf (compiler.emit_unit: log-free, no loop, no call, numbers in and a number or None
out) is compiled first without one. Its newest entry's lite path calls a hook at the
TIER_UP_CALLS-th native call; the compile-ahead thread compiles the unit again with a
vectorcall of its own (the kernel inlined into it) and installs that in the entry's place.
These tests lower the threshold and check: which units are leaves; that the tier-up
happens where it may (not on 3.11, whose Python calls enter through the prologue; not
with FASTIMPORT_AHEAD=0; not for an entry that is no longer the newest); that calls
before and after it give CPython's outcomes and count as native; that a hook which
raises makes the call raise before any of it ran; and that a tiered unit is written to
the `.pym` and comes back from it with its vectorcall.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import call, same_outcome

from fastimport import config as config_module
from fastimport.backend.entry import code_way
from fastimport.runtime import ahead, dispatch
from fastimport.runtime.dispatch import state_of
from fastimport.runtime.native import NEVER, TIER_UPS
from fastimport.testing import compile_module, plain_module, record_of

SRC = """
import numpy as np

K = 3


def add(a, b):
    return a + b


def offset(x):
    return x + K


def positive(x):
    return x > 0


def nothing(x):
    y = x + 1


def helper(x):
    return x * 2


def calls_helper(x):
    return helper(x) + 1


def count(n):
    s = 0
    for i in range(n):
        s += i
    return s


def allocates(n):
    a = np.zeros(n)
    a[0] = 1.0
    return a[0]


def first(a):
    return a[0]
"""

# Where a vectorcall of the unit's own shortens the calls Python makes (see dispatch._tier_up_allowed).
TIERS = TIER_UPS and code_way() is not None
THRESHOLD = 20
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def low_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries armed in the test ask for their tier-up after THRESHOLD native calls."""
    monkeypatch.setattr(dispatch, "TIER_UP_CALLS", THRESHOLD)


def _newest(func: object) -> object:
    state = state_of(func)
    assert state is not None
    assert state.entries, "not compiled"
    return state.entries[-1]


@pytest.mark.parametrize(
    ("name", "args", "leaf"),
    [
        ("add", (1, 2), True),
        ("offset", (1,), True),  # (it reads a global: its vectorcall checks the world too)
        ("positive", (2,), True),
        ("nothing", (1,), True),  # returns None
        ("calls_helper", (3,), False),  # a call (the callee's unit is another matter)
        ("count", (10,), False),  # a loop: the call itself outweighs its entry
        ("allocates", (3,), False),  # not log-free
        ("first", ([1.5, 2.5],), False),  # a list in: not a lite shape
    ],
)
def test_leaves_are_the_small_log_free_units_of_a_lite_shape(name: str, args: tuple, leaf: bool) -> None:
    """Only a leaf is armed for a tier-up, and only where tier-ups are made; nothing has its own vectorcall yet."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    assert same_outcome(call(getattr(fast, name), *args), call(getattr(plain, name), *args))
    entry = _newest(getattr(fast, name))
    assert entry.leaf is leaf
    assert entry.code_slot == 0  # compiled without a vectorcall of its own at first
    armed = entry.data.tier_at != NEVER
    assert armed is (leaf and TIERS)


@pytest.mark.usefixtures("low_threshold")
@pytest.mark.parametrize(
    ("name", "args"), [("add", (1, 2)), ("offset", (4,)), ("positive", (-2.5,)), ("nothing", (7,))]
)
def test_a_leaf_called_often_tiers_up_and_still_agrees_with_cpython(name: str, args: tuple) -> None:
    """Past the threshold the thread installs the unit with its own vectorcall; every call before and after agrees."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    func, reference = getattr(fast, name), getattr(plain, name)
    assert same_outcome(call(func, *args), call(reference, *args))
    first = _newest(func)
    for _ in range(THRESHOLD + 4):
        assert same_outcome(call(func, *args), call(reference, *args))
    ahead._wait()  # the compile-ahead thread's tier-up
    entry = _newest(func)
    assert (entry is not first) is TIERS
    assert bool(entry.code_slot) is TIERS
    assert len(record_of(func).tiered_up) == int(TIERS)
    assert entry.data.tier_at == NEVER  # (asked once; a tiered entry asks for nothing)
    before = record_of(func).native_calls
    assert before == THRESHOLD + 5
    assert same_outcome(call(func, *args), call(reference, *args))
    assert next(map(func, *([a] for a in args))) == reference(*args)  # a C caller: the vectorcall too
    assert record_of(func).native_calls == before + 2  # the old entry's calls and the new one's, summed
    # What the vectorcall does not take goes where the shape's would send it: the core, a deopt, bytecode.
    others = {"add": [(2**62, 2**62), (1.5, 2), (True, 3), ("a", "b")], "offset": [(2**63,), (1.5,)]}
    for other in others.get(name, [(2**70,), ("x",)]):
        assert same_outcome(call(func, *other), call(reference, *other))


EDGE_SRC = """
import math


def mix(a, b):
    return a * b - a // 3 if a > b else a % 7 + b


def scale(x, k):
    return x * k + 0.5 if x == x else -x


def pick(flag, x):
    return -x if flag else x


def hyp(x, y):
    return math.sqrt(x * x + y * y)
"""
INTS = st.one_of(
    st.integers(-(2**31), 2**31),
    st.sampled_from([0, -1, 1, 2**62, -(2**62), 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**100]),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e308, -1e-308])
_TIERED: dict[str, object] = {}


def _tiered() -> tuple[object, object]:
    """EDGE_SRC's functions compiled, called past a low threshold and tiered up (where tier-ups are made)."""
    if not _TIERED:
        saved = dispatch.TIER_UP_CALLS
        dispatch.TIER_UP_CALLS = THRESHOLD
        try:
            fast = compile_module(EDGE_SRC)
            for _ in range(THRESHOLD + 1):
                fast.mix(5, 2), fast.scale(1.5, 2.0), fast.pick(True, 3), fast.hyp(3.0, 4.0)
            ahead._wait()
        finally:
            dispatch.TIER_UP_CALLS = saved
        for name in ("mix", "scale", "pick", "hyp"):
            assert bool(_newest(getattr(fast, name)).code_slot) is TIERS
        _TIERED["fast"], _TIERED["plain"] = fast, plain_module(EDGE_SRC)
    return _TIERED["fast"], _TIERED["plain"]


def _both_ways(fast: object, plain: object, name: str, *args: object) -> None:
    """A Python call and a C caller's (`map`), each against CPython's outcome: value, type, exception."""
    f, g = getattr(fast, name), getattr(plain, name)
    assert same_outcome(call(f, *args), call(g, *args))
    assert same_outcome(call(lambda *a: next(map(f, *([v] for v in a))), *args), call(g, *args))


@settings(max_examples=300, deadline=None)
@given(a=INTS, b=INTS)
def test_tiered_int_leaf_agrees_with_cpython(a: int, b: int) -> None:
    """Big ints, overflow in the kernel, floor division and modulo of negatives: CPython's, after the tier-up."""
    fast, plain = _tiered()
    _both_ways(fast, plain, "mix", a, b)


@settings(max_examples=300, deadline=None)
@given(x=FLOATS, k=FLOATS | INTS, flag=st.booleans() | st.integers(-1, 1))
def test_tiered_float_and_bool_leaves_agree_with_cpython(x: float, k: float, flag: object) -> None:
    """nan, -0.0, infinities, an int where a float was compiled, an int where a bool was: CPython's outcomes."""
    fast, plain = _tiered()
    _both_ways(fast, plain, "scale", x, k)
    _both_ways(fast, plain, "pick", flag, x)
    _both_ways(fast, plain, "hyp", x, k)


@pytest.mark.usefixtures("low_threshold")
def test_a_replaced_code_is_not_run_by_the_tiered_vectorcall() -> None:
    """The vectorcall runs the unit only for the code it was installed with (`__code__` assigned: CPython's)."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    for _ in range(THRESHOLD + 1):
        fast.add(1, 2)
    ahead._wait()
    fast.add.__code__, plain.add.__code__ = fast.positive.__code__, plain.positive.__code__
    for x in (4, -1.5):
        assert same_outcome(call(fast.add, x), call(plain.add, x))
    assert list(map(fast.add, [1, -2.5])) == list(map(plain.add, [1, -2.5]))


@pytest.mark.usefixtures("low_threshold")
def test_a_code_assigned_while_the_tier_up_compiles_is_kept() -> None:
    """The program's `f.__code__ = ...` wins over a tier-up under way: the thread installs nothing."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    assert fast.add(1, 2) == 3
    state, entry = state_of(fast.add), _newest(fast.add)
    with dispatch._compile_lock():  # the thread's tier-up waits for it
        for _ in range(THRESHOLD + 1):
            fast.add(1, 2)
        fast.add.__code__, plain.add.__code__ = fast.positive.__code__, plain.positive.__code__
    ahead._wait()
    assert fast.add.__code__ is fast.positive.__code__
    assert state.entries[-1] is entry
    assert state.record.tiered_up == []
    for x in (4, -1.5):
        assert same_outcome(call(fast.add, x), call(plain.add, x))


@pytest.mark.usefixtures("low_threshold")
def test_a_code_assigned_during_the_tier_up_compile_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Assigned while LLVM works (the compile-ahead thread's llvmlite calls let the program run): kept too."""
    from fastimport import compiler

    fast = compile_module(SRC)
    assert fast.add(1, 2) == 3
    state = state_of(fast.add)
    compile_specialization = compiler.compile_specialization

    compiled = []

    def assigning(*args: object, **kwargs: object) -> object:
        compiled.append(args[2])
        fast.add.__code__ = fast.positive.__code__
        return compile_specialization(*args, **kwargs)

    monkeypatch.setattr(compiler, "compile_specialization", assigning)
    for _ in range(THRESHOLD + 1):
        fast.add(1, 2)
    ahead._wait()
    assert len(compiled) == int(TIERS)  # (3.11: no tier-up, nothing compiled, nothing assigned)
    assert (fast.add.__code__ is fast.positive.__code__) is TIERS
    assert state.record.tiered_up == []
    plain = plain_module(SRC)
    if TIERS:
        plain.add.__code__ = plain.positive.__code__
    assert same_outcome(call(fast.add, -3), call(plain.add, -3))


@pytest.mark.usefixtures("low_threshold")
def test_a_rebound_global_is_seen_by_the_tiered_vectorcall() -> None:
    """A unit that reads a global checks it in its own vectorcall too."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    for _ in range(THRESHOLD + 1):
        fast.offset(1)
    ahead._wait()
    assert bool(_newest(fast.offset).code_slot) is TIERS
    for value in (10, 2.5, "s"):
        fast.K = plain.K = value
        assert same_outcome(call(fast.offset, 1), call(plain.offset, 1))


@pytest.mark.usefixtures("low_threshold")
def test_only_the_newest_entry_tiers_up() -> None:
    """An older specialization is not the function's vectorcall: it is disarmed, and its tier-up declines."""
    fast, plain = compile_module(SRC), plain_module(SRC)
    assert fast.add(1, 2) == 3
    assert fast.add(1.5, 2.5) == 4.0  # a second specialization, newest now
    state = state_of(fast.add)
    older, newest = state.entries
    assert older.data.tier_at == NEVER
    assert (newest.data.tier_at != NEVER) is TIERS
    assert state.tier_up(older) is False
    for _ in range(THRESHOLD + 1):
        assert same_outcome(call(fast.add, 1, 2), call(plain.add, 1, 2))  # the older one's calls: no tier-up
    ahead._wait()
    assert state.entries[-1] is newest


@pytest.mark.usefixtures("low_threshold")
def test_no_tier_up_without_the_compile_ahead_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """FASTIMPORT_AHEAD=0 (no compiling on a thread): entries are never armed."""
    monkeypatch.setattr(config_module, "_active", config_module.active_config().replace(ahead=False))
    fast = compile_module(SRC)
    for _ in range(THRESHOLD + 1):
        fast.add(1, 2)
    entry = _newest(fast.add)
    assert entry.data.tier_at == NEVER
    ahead._wait()
    assert _newest(fast.add) is entry


@pytest.mark.usefixtures("low_threshold")
def test_no_tier_up_in_a_run_that_has_not_loaded_llvm(monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm run (units from a `.pym`, LLVM never imported) does not import it for a tier-up."""
    fast = compile_module(SRC)
    assert fast.add(1, 2) == 3
    entry = _newest(fast.add)
    monkeypatch.delitem(sys.modules, "llvmlite.binding")  # (as in a process that never compiled)
    for _ in range(THRESHOLD + 1):
        fast.add(1, 2)
    ahead._wait()
    assert _newest(fast.add) is entry
    assert entry.data.tier_at == NEVER  # asked once, declined
    assert "llvmlite.binding" not in sys.modules


def test_a_hook_that_raises_makes_the_call_raise_before_any_of_it_runs() -> None:
    """The check comes before the kernel: a KeyboardInterrupt delivered in the hook is the call's.

    (3.11 makes no tier-ups, and its entry code has no check: the hook is never called there.)
    """
    fast = compile_module(SRC)
    assert fast.add(1, 2) == 3
    entry = _newest(fast.add)
    seen = []

    def hook() -> None:
        seen.append(entry.data.calls)
        entry.data.tier_at = NEVER
        raise KeyboardInterrupt

    entry.keepalive.append(hook)
    entry.data.tier_hook, entry.data.tier_at = id(hook), entry.data.calls
    if not TIERS:
        assert fast.add(1, 2) == 3
        assert seen == []
        return
    with pytest.raises(KeyboardInterrupt):
        fast.add(1, 2)
    assert seen == [1]
    assert record_of(fast.add).native_calls == 1
    assert fast.add(2, 3) == 5  # once: the hook is not called again
    assert seen == [1]


@pytest.mark.usefixtures("low_threshold")
def test_a_tiered_unit_is_cached_with_its_vectorcall() -> None:
    """The tier-up's unit replaces the first one in the `.pym`; the next process loads it, vectorcall and all."""
    from fastimport.runtime import artifacts as store

    name = f"fi_tier_cache_{os.getpid()}"
    source = "def add(a, b):\n    return a + b\n\ndef neg(x):\n    return -x\n"
    first = compile_module(source, name=name)
    for _ in range(THRESHOLD + 1):
        assert (first.add(2, 3), first.neg(2.5)) == (5, -2.5)
    ahead._wait()
    store.flush()
    store._DECODED.clear()  # read the file again, as another process would
    again, plain = compile_module(source, name=name), plain_module(source)
    assert again.add(2, 3) == 5
    entry = _newest(again.add)
    assert entry.origin == "cache"
    assert entry.leaf is True
    assert bool(entry.code_slot) is TIERS  # (3.11 never tiers up: its unit is the first one)
    assert entry.data.tier_at == NEVER  # (tiered: nothing to ask for; 3.11: never armed)
    for a, b in [(1, 2), (2**62, 2**62), (1.5, 2), (True, 3), (300, -44)]:
        assert same_outcome(call(again.add, a, b), call(plain.add, a, b))
        assert same_outcome(call(lambda x, y: next(map(again.add, [x], [y])), a, b), call(plain.add, a, b))
    again.add.__code__, plain.add.__code__ = again.neg.__code__, plain.neg.__code__  # its own code only
    assert same_outcome(call(again.add, 4), call(plain.add, 4))
    assert list(map(again.add, [1, 2.5])) == list(map(plain.add, [1, 2.5]))


def test_fastimport_compile_ships_leaves_with_their_own_vectorcall(tmp_path: Path) -> None:
    """`fastimport compile` has no compile latency to save: a leaf is shipped tiered up, and loaded so."""
    (tmp_path / "mod.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n", encoding="utf-8")
    main = """
        import mod
        from fastimport.runtime.dispatch import state_of
        from fastimport.runtime.native import NEVER

        print(mod.add(2, 3), mod.add(2**70, 1) == 2**70 + 1)
        entry = state_of(mod.add).entries[-1]
        print(entry.origin, entry.leaf, bool(entry.code_slot), entry.data.tier_at == NEVER)
    """
    (tmp_path / "main.py").write_text(textwrap.dedent(main), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE": "0"}
    for args in (["compile", "mod.py"], ["main.py"]):
        result = subprocess.run(
            [sys.executable, "-m", "fastimport", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    own = code_way() is not None
    assert result.stdout.split("\n") == ["5 True", f"shipped True {own} True", ""]
