"""The type predictor, served by onnxruntime: parameter types guessed from a function's code.

    predictions = predict([(node, is_method), ...])   one batch for a module's functions
    predictions[0] -> [Guess("n", "int", 0.97, (("int", 0.97), ("float", 0.02), ...)), ...]
    signature(predictions[0]) -> (Ty.INT, Ty.FLOAT) or None (some parameter is nothing we compile)
    predict(nodes, evidence=module_evidence(source))   the module's call sites first, where they tell

The model (type_predictor.onnx beside this file, trained by models/train.py) maps the hashed
features of one parameter (predict/features.py) to a probability for each label of
predict/labels.py. The session is created once, lazily, on the thread that first asks
(the compile-ahead thread): a run that predicts nothing never imports onnxruntime (~120 ms).
It runs on one thread (intra-op 1): the batches are small, and the program's own threads
must not compete with a pool of ours.

Where the module's own call sites tell a parameter's label (predict/callsites.py: `mean(signal)`
after `signal = make_signal(...)` returning `np.empty(n)`), that label is the guess, with the
precision models/evaluate.py measured for such labels on the training packages' modules; the
model's ranking is kept beside it for the report.

A model whose feature version or label list is not ours is refused with PredictorError
(the caller goes without predictions), as is a missing or damaged file.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass

from fastimport.predict import callsites, constraints, features, labels

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast

    import numpy as np

    from fastimport.frontend.types import Type

MODEL_FILE = os.path.join(os.path.dirname(__file__), "type_predictor.onnx")
TOP = 3  # alternatives kept per parameter (for the report and `fastimport compile --explain`)


class PredictorError(Exception):
    """The model cannot be used (missing, damaged, or trained on other features or labels)."""


@dataclass(frozen=True)
class Guess:
    """The predicted label of one parameter, its probability, and the best alternatives."""

    param: str
    label: str
    probability: float
    ranked: tuple[tuple[str, float], ...]  # the model's best labels (also when the call sites decided)
    source: str = "model"  # or "call sites"


class Model:
    """An onnxruntime session over the model file, with what its metadata promises checked."""

    def __init__(self, path: str = MODEL_FILE) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - a runtime dependency
            raise PredictorError(f"onnxruntime is not importable: {e}") from e
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise PredictorError(f"cannot load the type predictor {path}: {e}") from e
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("feature_version") != str(features.FEATURE_VERSION) or meta.get("dim") != str(features.DIM):
            raise PredictorError(
                f"{path} was trained on features v{meta.get('feature_version')} x {meta.get('dim')}, "
                f"not v{features.FEATURE_VERSION} x {features.DIM}"
            )
        if meta.get("labels", "").split(",") != list(labels.LABELS):
            raise PredictorError(f"{path} predicts other labels than fastimport.predict.labels")
        self.input = self.session.get_inputs()[0].name
        self.output = next(o.name for o in self.session.get_outputs() if "prob" in o.name)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """(n, DIM) hashed features -> (n, len(LABELS)) probabilities."""
        import numpy as np

        if not len(matrix):
            return np.zeros((0, len(labels.LABELS)), dtype=np.float32)
        (probs,) = self.session.run([self.output], {self.input: matrix})
        return np.asarray(probs)


_lock = threading.Lock()


@functools.cache
def _model() -> Model:
    return Model()


def model() -> Model:
    """The shared model (created at the first call, by whichever thread makes it)."""
    with _lock:
        return _model()


# How often a label read off a module's call sites is the one seen most at run time, measured
# by models/evaluate.py (metrics.json "call_sites", over the 12 training packages' modules;
# 360 and 168 labels): when every call site tells it, and when some call sites do not tell
# but those that do agree. (On the held-out packages: 0.95 over 59, 0.95 over 58.)
CALL_SITES_EVERY = 0.97
CALL_SITES_SOME = 0.90
# A module longer than this is not read for call sites: the reading runs on the compile-ahead
# thread and holds the GIL (over the packages' modules of 2-64 KB: 0.23 ms per KB at the
# median, 1.1 at the 99th percentile, ~4 at worst), and a big library module rarely calls
# its functions with telling arguments.
CALL_SITES_MAX_BYTES = 64_000


def module_evidence(
    source: bytes | str | None, importer: bytes | str | None = None, name: str = ""
) -> callsites.Evidence:
    """What a module's source says of its functions' parameters (nothing if too long or not Python).

    With the source of a module that imports it (the main script) and its module `name`, that
    module's calls of its functions count as call sites too (callsites.read).
    """
    import ast

    if source is None or len(source) > CALL_SITES_MAX_BYTES:
        return callsites.Evidence()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return callsites.Evidence()
    other = None
    if importer is not None and name and len(importer) <= CALL_SITES_MAX_BYTES:
        try:
            other = ast.parse(importer)
        except (SyntaxError, ValueError, RecursionError):
            other = None
    return callsites.read(tree, other, name)


def predict(
    functions: list[tuple[ast.FunctionDef, bool]],
    using: Model | None = None,
    evidence: callsites.Evidence | None = None,
) -> list[list[Guess]]:
    """A guess for every parameter of every (function node, is_method), in one batch.

    `evidence` (module_evidence) is read for module-level functions (is_method False), by name:
    a label the call sites agree on is the guess; a parameter passed unchanged to another
    function of the batch gets the product of both parameters' probabilities (renormalized).
    A batch whose every parameter the call sites tell needs no model (onnxruntime is not
    imported for it); its guesses rank only the told label.
    """
    names = [[p.arg for p in features.params_of(node)] for node, _ in functions]
    if evidence is not None and all(not is_method and told_everywhere(node, evidence) for node, is_method in functions):
        return [_told_guesses(node, evidence) for node, _ in functions]
    rows: list[dict[str, float]] = []
    for node, is_method in functions:
        rows.extend(features.parameter_features(node, is_method=is_method))
    probs = _constrained(functions, (using or model()).probabilities(features.vectorize(rows)))
    if evidence is not None and evidence.flows:
        probs = _joined(functions, names, probs, evidence.flows)
    result, at = [], 0
    for (node, is_method), params in zip(functions, names, strict=True):
        sites = {} if is_method or evidence is None else evidence.sites.get(node.name, {})
        guesses = []
        for name in params:
            row = probs[at]
            order = row.argsort()[::-1][:TOP]
            ranked = tuple((labels.LABELS[i], float(row[i])) for i in order)
            told = _told(sites.get(name, []))
            if told is not None:
                guesses.append(Guess(name, told[0], told[1], ranked, "call sites"))
            else:
                guesses.append(Guess(name, ranked[0][0], ranked[0][1], ranked))
            at += 1
        result.append(guesses)
    return result


def told_everywhere(node: ast.FunctionDef, evidence: callsites.Evidence) -> bool:
    """Whether the module's call sites tell a label for every parameter of `node` (no model needed)."""
    sites = evidence.sites.get(node.name, {})
    return all(_told(sites.get(p.arg, [])) is not None for p in features.params_of(node))


def _told_guesses(node: ast.FunctionDef, evidence: callsites.Evidence) -> list[Guess]:
    sites = evidence.sites.get(node.name, {})
    guesses = []
    for p in features.params_of(node):
        label, probability = _told(sites[p.arg])  # type: ignore[misc] - told_everywhere
        guesses.append(Guess(p.arg, label, probability, ((label, probability),), "call sites"))
    return guesses


def _constrained(functions: list[tuple[ast.FunctionDef, bool]], probs: np.ndarray) -> np.ndarray:
    """The model's probabilities without the array labels a function's own code rules out (predict/constraints.py).

    Measured on the held-out packages (models/evaluate.py, as served): see models/README.md.
    """
    at = 0
    for node, _ in functions:
        bounds = constraints.ndims(node)
        for name in features.params_of(node):
            if (fact := bounds.get(name.arg)) is not None:
                row = probs[at]
                if (mask := _ALLOWED.get(fact)) is None:
                    mask = _ALLOWED[fact] = _allowed_mask(fact)
                kept = row * mask
                if (total := kept.sum()) > 0:  # (nothing left: keep the model's own belief)
                    probs[at] = kept / total
            at += 1
    return probs


_ALLOWED: dict[tuple[int, int], np.ndarray] = {}  # ndim bounds -> 1.0 for the labels they allow


def _allowed_mask(bounds: tuple[int, int]) -> np.ndarray:
    import numpy as np

    return np.array([1.0 if constraints.allowed(label, bounds) else 0.0 for label in labels.LABELS], dtype=np.float32)


def _joined(
    functions: list[tuple[ast.FunctionDef, bool]],
    names: list[list[str]],
    probs: np.ndarray,
    flows: dict[str, dict[str, list[tuple[str, str]]]],
) -> np.ndarray:
    """Each parameter's probabilities times those of the parameters it is passed to unchanged.

    Measured on the held-out packages' modules (models/evaluate.py): of 394 parameters so
    passed, 218 are right this way against 212 by their own code alone.
    """
    rows: dict[tuple[str, str], int] = {}
    at = 0
    for (node, is_method), params in zip(functions, names, strict=True):
        for name in params:
            if not is_method:
                rows[(node.name, name)] = at
            at += 1
    joined = probs.copy()
    for (function, param), row in rows.items():
        for target in flows.get(function, {}).get(param, ()):
            if (other := rows.get(target)) is not None:
                joined[row] *= probs[other]
        if (total := joined[row].sum()) > 0:
            joined[row] /= total
        else:  # (disjoint beliefs: keep the parameter's own)
            joined[row] = probs[row]
    return joined


def _told(seen: list[str | None]) -> tuple[str, float] | None:
    """The call sites' label for one parameter, with its measured precision, or None."""
    label = callsites.agreed(seen)
    if label is not None:
        return label, CALL_SITES_EVERY
    label = callsites.agreed([s for s in seen if s is not None])
    return None if label is None else (label, CALL_SITES_SOME)


# A guessed signature is compiled ahead only when it is more likely right than wrong: the
# product of its parameters' probabilities (as if independent) at least this. Measured on
# examples/pipeline.py (benchmarks/NOTES.md): wrong guesses compiled on the thread cost the
# program more than right ones save, since our compiler's own Python work holds the GIL.
MIN_CONFIDENCE = 0.5


def confidence(guesses: list[Guess]) -> float:
    """The probability that every parameter's best guess is right (taken as independent)."""
    p = 1.0
    for g in guesses:
        p *= g.probability
    return p


def signature(guesses: list[Guess]) -> tuple[Type, ...] | None:
    """The argument types to compile for: every parameter's best guess, if fastimport compiles it; else None."""
    types = [labels.to_type(g.label) for g in guesses]
    return None if None in types else tuple(types)  # type: ignore[arg-type]


def shown(guesses: list[Guess]) -> str:
    """`(n: int 0.97, x: float 0.96 call sites)`: what the report says a prediction was."""
    return "(" + ", ".join(f"{g.param}: {g.label} {g.probability:.2f}{_from(g)}" for g in guesses) + ")"


def _from(guess: Guess) -> str:
    return "" if guess.source == "model" else f" {guess.source}"
