"""The predictor's examples: one per parameter of a recorded function, with its features and label.

    examples = load("models/data")            # every package's .jsonl.gz (models/collect.py)
    train, held_out = split(examples)         # by package: HELD_OUT packages are never trained on
    X, y, w = arrays(train)                   # hashed features, label indices, weights

A record of models/data holds a function's source and, per parameter, how often each label
of fastimport.predict.labels was seen at run time. An example's label is the one seen most
(ties: the first in label order); the first parameter of a method (self, cls) is left out,
since its answer is trivially "other" and would flatter the accuracy. A function whose
source appears in two packages (vendored code) is kept once, in the first package by name.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastimport.predict import features, labels
from fastimport.runtime.ahead import worth_compiling_ahead

DATA_DIR = Path(__file__).resolve().parent / "data"
# Whole packages kept out of training, for the evaluation: chosen before any model was
# trained, for their mix (ndarrays: scikit-learn; scalars and objects: mpmath; small
# numeric functions: numpy-financial).
HELD_OUT = ("mpmath", "scikit-learn", "numpy-financial")


@dataclass(frozen=True)
class Example:
    """One parameter of one recorded function."""

    package: str
    function: str  # module.qualname
    param: str
    label: str
    seen: dict[str, int]  # every label seen for it, with counts
    features: dict[str, float]
    # Of a function like those the predictor serves: not a method, with a loop or a call
    # (runtime/ahead.py asks predictions for module-level functions it would compile ahead).
    served: bool = False


def load(data_dir: Path = DATA_DIR) -> list[Example]:
    """The examples of every `<package>.jsonl.gz` in `data_dir`, in a fixed order."""
    examples: list[Example] = []
    seen_sources: set[str] = set()
    for path in sorted(data_dir.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                examples.extend(from_record(json.loads(line), seen_sources))
    return examples


def from_record(record: dict, seen_sources: set[str] | None = None) -> list[Example]:
    """The examples of one recorded function (none if its source does not parse as one def)."""
    source = textwrap.dedent(record["source"])
    digest = hashlib.sha256(source.encode()).hexdigest()
    if seen_sources is not None:
        if digest in seen_sources:
            return []
        seen_sources.add(digest)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    node = tree.body[0]
    is_method = bool(record.get("is_method"))
    served = not is_method and worth_compiling_ahead(node)
    rows = features.parameter_features(node, is_method=is_method)
    recorded = {p["name"]: p["labels"] for p in record["params"]}
    result = []
    for position, (param, row) in enumerate(zip(features.params_of(node), rows, strict=True)):
        seen = recorded.get(param.arg)
        if not seen or (is_method and position == 0):
            continue
        label = max(labels.LABELS, key=lambda lb: (seen.get(lb, 0), -labels.INDEX[lb]))
        function = f"{record['module']}.{record['qualname']}"
        result.append(Example(record["package"], function, param.arg, label, seen, row, served))
    return result


def split(examples: list[Example], held_out: tuple[str, ...] = HELD_OUT) -> tuple[list[Example], list[Example]]:
    """(training examples, held-out examples), by package."""
    train = [e for e in examples if e.package not in held_out]
    test = [e for e in examples if e.package in held_out]
    return train, test


def arrays(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashed features, label indices and sample weights.

    Each package weighs as the square root of its size: sympy's thousands of functions
    must not drown pyperformance's numeric kernels, nor a tiny package count as much as a big one.
    """
    x = features.vectorize([e.features for e in examples])
    y = np.array([labels.INDEX[e.label] for e in examples], dtype=np.int64)
    sizes: dict[str, int] = {}
    for e in examples:
        sizes[e.package] = sizes.get(e.package, 0) + 1
    w = np.array([1.0 / np.sqrt(sizes[e.package]) for e in examples], dtype=np.float64)
    return x, y, w * (len(examples) / w.sum())
