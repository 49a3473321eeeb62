"""predict/constraints.py: the array dimensions a function's own code requires, and how the predictor uses them."""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

from fastimport.predict import constraints, labels, predictor

ANY = constraints._NO_LIMIT  # ("no upper bound")


def _ndims(source: str) -> dict[str, tuple[int, int]]:
    node = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(node, ast.FunctionDef)
    return constraints.ndims(node)


CASES = {
    "shape unpacked into three names": ("def f(a):\n    nx, ny, nz = a.shape\n    return nx", {"a": (3, 3)}),
    "shape unpacked with a star": ("def f(a):\n    n, *rest = a.shape\n    return n", {"a": (1, ANY)}),
    "a tuple of two indices": ("def f(a, i):\n    return a[i, 0:2]", {"a": (2, ANY)}),
    "shape[2] and shape[-2]": ("def f(a, b):\n    return a.shape[2] + b.shape[-2]", {"a": (3, ANY), "b": (2, ANY)}),
    "chained int indices": (
        "def f(a):\n    s = 0\n    for i in range(3):\n        for j in range(i):\n            s += a[i][j]\n",
        {"a": (2, ANY)},
    ),
    "both facts, agreeing": ("def f(a):\n    n, m = a.shape\n    return a[n - 1, m - 1]", {"a": (2, 2)}),
    # what may hold on one path only, or is about another value: no facts
    "reads .ndim (dispatches)": ("def f(a):\n    if a.ndim == 2:\n        return a[0, 0]\n    return a[0]", {}),
    "len(a.shape)": ("def f(a):\n    if len(a.shape) == 3:\n        x, y, z = a.shape\n    return 0", {}),
    "rebound": ("def f(a):\n    a = a.reshape(-1, 3)\n    return a[0, 1]", {}),
    "indexed with ...": ("def f(a, key):\n    return a[key, ...] if key else a[:, key]", {}),
    "indexed with np.newaxis": ("import numpy as np\ndef f(a):\n    return a[:, np.newaxis]", {}),
    "indexed with None": ("def f(a):\n    return a[None, 0]", {}),
    "disagreeing uses": ("def f(a):\n    n, m = a.shape\n    return a[0, 0, 0]", {}),
    "chained indices that may be arrays": ("def f(a, idx):\n    return a[idx][0]", {}),
    "a one-index subscript says nothing": ("def f(a, i):\n    return a[i]", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ndim_facts(case: str) -> None:
    """Each use that requires a number of dimensions, and each that must not be taken as a fact."""
    source, expected = CASES[case]
    if source.startswith("import"):  # (the def after an import)
        tree = ast.parse(source)
        assert constraints.ndims(tree.body[1]) == expected  # type: ignore[arg-type]
        return
    assert _ndims(source) == expected


def test_only_array_labels_are_ruled_out() -> None:
    """Bounds rule out arrays of other ndims, nothing else."""
    assert constraints.allowed("ndarray:float64:3", (3, 3))
    assert not constraints.allowed("ndarray:float64:1", (3, 3))
    assert not constraints.allowed("ndarray:int64:2", (3, ANY))
    for label in ("int", "float", "other", "tuple", "list[float]"):  # (`d[i, j]` may be a dict)
        assert constraints.allowed(label, (3, 3))


def test_the_predictor_drops_ruled_out_labels_and_renormalizes() -> None:
    """A ruled-out label's weight goes to the others in proportion; a parameter without facts is untouched."""
    node = ast.parse("def f(a, n):\n    x, y, z = a.shape\n    return n").body[0]
    uniform = np.full((2, len(labels.LABELS)), 1 / len(labels.LABELS), dtype=np.float32)
    probs = predictor._constrained([(node, False)], uniform.copy())  # type: ignore[list-item]
    kept = {labels.LABELS[i] for i in np.flatnonzero(probs[0])}
    assert kept == {lb for lb in labels.LABELS if not lb.startswith("ndarray:") or lb.endswith(":3")}
    assert probs[0].sum() == pytest.approx(1.0)
    assert np.array_equal(probs[1], uniform[1])  # `n`: no facts, untouched


def test_a_belief_with_nothing_left_is_kept() -> None:
    """If the model gave all its weight to ruled-out labels, its own belief stays (never all zeros)."""
    node = ast.parse("def f(a):\n    x, y, z = a.shape").body[0]
    row = np.zeros((1, len(labels.LABELS)), dtype=np.float32)
    row[0, labels.INDEX["ndarray:float64:1"]] = 1.0
    probs = predictor._constrained([(node, False)], row.copy())  # type: ignore[list-item]
    assert np.array_equal(probs, row)
