"""The opt-in to float reassociation ([tool.fastimport] reassociate, FASTIMPORT_REASSOCIATE).

Off (the default), float arithmetic is CPython's bit for bit: no fast-math flag in the
LLVM IR, a float sum in Python's order. On, float `+ - *` carry LLVM's `reassoc` flag and
nothing else, float sums in versioned loops may be vectorized: results agree with
CPython's to rounding, keep their types, and `.pym` units compiled under one setting are
not loaded under the other.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastimport import config as config_module
from fastimport.runtime.dispatch import state_of
from fastimport.testing import compile_module, plain_module

SRC = """
def dot(a, b):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[i]
    return s


def total(a):
    s = 0.0
    for x in a:
        s += x
    return s


def scaled(a, k):
    out = 0
    for i in range(len(a)):
        out += a[i] * 3
    return out * k
"""


@pytest.fixture
def reassociating(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's configuration with `reassociate = true`."""
    monkeypatch.setattr(config_module, "_active", config_module.active_config().replace(reassociate=True))


def _llvm_dump(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], a: np.ndarray) -> str:
    """The LLVM IR FASTIMPORT_DEBUG=2 prints for `total`'s unit."""
    monkeypatch.setenv("FASTIMPORT_DEBUG", "2")
    fast = compile_module(SRC)
    capsys.readouterr()
    fast.total(a)
    err = capsys.readouterr().err
    monkeypatch.delenv("FASTIMPORT_DEBUG")
    assert "--- fastimport: LLVM" in err
    return err.split("--- fastimport: LLVM", 1)[1]


def test_off_by_default_no_fast_math_flag_at_all(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The default: the LLVM IR of a float sum has no fast-math flag."""
    assert config_module.active_config().reassociate is False
    llvm = _llvm_dump(monkeypatch, capsys, np.arange(8.0))
    assert "fadd double" in llvm
    assert "reassoc" not in llvm


@pytest.mark.usefixtures("reassociating")
def test_on_float_adds_carry_reassoc_and_no_other_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Opted in: `reassoc` on the float adds, and none of the flags that would change a single operation."""
    llvm = _llvm_dump(monkeypatch, capsys, np.arange(8.0))
    assert "fadd reassoc double" in llvm
    for other in ("nnan", "ninf", "nsz", "arcp", "contract", "afn", " fast "):
        assert other not in llvm


def test_the_environment_variable_and_the_file_key(tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch) -> None:
    """`reassociate` in [tool.fastimport] and FASTIMPORT_REASSOCIATE (which wins); a bad value names the key."""
    from pathlib import Path

    from fastimport.config import ConfigError, load_config

    root = Path(tmp_path)
    (root / "pyproject.toml").write_text("[tool.fastimport]\nreassociate = true\n", encoding="utf-8")
    assert load_config(root).reassociate is True
    monkeypatch.setenv("FASTIMPORT_REASSOCIATE", "0")
    assert load_config(root).reassociate is False
    monkeypatch.setenv("FASTIMPORT_REASSOCIATE", "maybe")
    with pytest.raises(ConfigError, match="FASTIMPORT_REASSOCIATE"):
        load_config(root)
    monkeypatch.delenv("FASTIMPORT_REASSOCIATE")
    (root / "pyproject.toml").write_text('[tool.fastimport]\nreassociate = "yes please"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="reassociate"):
        load_config(root)


FLOATS = hnp.arrays(np.float64, st.integers(0, 300), elements=st.floats(-1e6, 1e6))


@pytest.mark.usefixtures("reassociating")
@settings(max_examples=60, deadline=None)
@given(a=FLOATS, seed=st.integers(0, 2**32 - 1))
def test_on_sums_agree_with_cpython_to_rounding(a: np.ndarray, seed: int) -> None:
    """Values as CPython's to within the rounding of a reordered sum; the same types."""
    b = np.random.default_rng(seed).uniform(-1e6, 1e6, len(a))
    fast, plain = _modules()
    for name, args in (("dot", (a, b)), ("total", (a,))):
        got, want = getattr(fast, name)(*args), getattr(plain, name)(*args)
        assert type(got) is type(want)
        scale = float(np.sum(np.abs(a) * (np.abs(b) if name == "dot" else 1.0))) + 1.0
        assert math.isclose(got, want, rel_tol=0.0, abs_tol=1e-12 * scale)


@pytest.mark.usefixtures("reassociating")
def test_on_ints_are_untouched_and_exact() -> None:
    """Int arithmetic has nothing to reassociate: the same values and types."""
    fast, plain = _modules()
    a = np.arange(-50, 51, dtype=np.int64)
    for k in (3, -7, 2**40):
        assert fast.scaled(a, k) == plain.scaled(a, k)
        assert type(fast.scaled(a, k)) is type(plain.scaled(a, k))


_MODULES: dict[str, object] = {}


def _modules() -> tuple[object, object]:
    if not _MODULES:
        _MODULES["fast"], _MODULES["plain"] = compile_module(SRC), plain_module(SRC)
    return _MODULES["fast"], _MODULES["plain"]


@pytest.mark.parametrize("first", [False, True])
def test_cached_units_are_used_only_under_the_same_setting(first: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit compiled under one setting is compiled again under the other, and then cached for that one."""
    from fastimport.runtime import artifacts as store

    name = f"fi_reassoc_cache_{os.getpid()}_{first}"
    a = np.arange(20.0)

    def run(reassociate: bool) -> str:
        monkeypatch.setattr(config_module, "_active", config_module.active_config().replace(reassociate=reassociate))
        fast = compile_module(SRC, name=name)
        assert fast.total(a) == 190.0
        store.flush()
        store._DECODED.clear()  # read the file again, as another process would
        return state_of(fast.total).entries[-1].origin

    assert run(first) == "compiled"
    assert run(first) == "cache"
    assert run(not first) == "compiled"  # (and written over the first: the artifact keeps one unit a signature)
    assert run(not first) == "cache"
