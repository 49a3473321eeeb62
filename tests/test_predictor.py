"""The type predictor: labels, features, the shipped ONNX model, training and evaluation, and its use at import."""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fastimport.frontend.types import Ty
from fastimport.predict import features, labels, predictor
from fastimport.runtime.dispatch import _value_type

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


class Int(int):
    """A subclass: the guards take exact types only, and so do the labels."""


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (3, "int"),
        (-0.0, "float"),
        (True, "bool"),
        ("s", "str"),
        (None, "None"),
        ((1, 2.0), "tuple"),
        ([1, 2], "list[int]"),
        ([1.0, 2.5], "list[float]"),
        ([], "other"),
        ([1, 2.0], "other"),
        ([True], "other"),
        ([[1, 2], [3]], "list[list[int]]"),
        ([[1.0], [2.5, 0.5]], "list[list[float]]"),
        ([[1], [2.0]], "other"),
        ([[[1]]], "other"),
        (np.zeros((2, 3)), "ndarray:float64:2"),
        (np.zeros(4, dtype=np.int32), "ndarray:int32:1"),
        (np.zeros((1, 1, 1), dtype=np.bool_), "ndarray:bool:3"),
        (np.zeros((1, 1, 1, 1)), "other"),
        (np.zeros(3, dtype=np.uint8), "other"),
        (np.float64(1.5), "float"),
        (np.int64(2), "int"),
        (np.bool_(True), "bool"),
        (Int(3), "other"),
        (1j, "other"),
        ({"a": 1}, "other"),
    ],
)
def test_label_of(value: object, label: str) -> None:
    """Every value gets one label of the set, by its exact type."""
    assert labels.label_of(value) == label
    assert label in labels.INDEX


@pytest.mark.parametrize(
    "value",
    [
        3,
        2.5,
        False,
        [1, 2],
        [0.5],
        [[1.0, 2.0], [3.0]],
        [[1], [2]],
        np.zeros(3),
        np.zeros((2, 2), dtype=np.float32),
        np.zeros((2, 2, 2), dtype=np.int64),
    ],
)
def test_a_compilable_label_is_the_type_the_guards_check(value: object) -> None:
    """to_type(label_of(v)) is what the dispatcher's guard computes for v: a right guess is a guard hit."""
    assert labels.to_type(labels.label_of(value)) == _value_type(value)


def test_the_label_set_covers_what_the_issue_asks() -> None:
    """int, float, bool, str, None, ndarrays by (dtype, ndim 1-3), list[int], list[float], tuple, other."""
    for label in ("int", "float", "bool", "str", "None", "list[int]", "list[float]", "tuple", "other"):
        assert label in labels.INDEX
    for dtype in ("float64", "float32", "int64", "int32", "bool"):
        assert {f"ndarray:{dtype}:{n}" for n in (1, 2, 3)} <= set(labels.LABELS)
    assert labels.to_type("str") is None
    assert labels.to_type("other") is None


# --- features ----------------------------------------------------------------------------------

USAGE = """
def kernel(n, x, grid, name, flag=True, *, scale=0.5):
    total = 0.0
    for i in range(n):
        total += grid[i, 0] * 2.5 + x / 3
    if flag:
        total = -total
    print(name.upper(), grid.shape)
    return total
"""


def _facts() -> dict[str, dict[str, float]]:
    node = ast.parse(USAGE).body[0]
    assert isinstance(node, ast.FunctionDef)
    return {p.arg: f for p, f in zip(features.params_of(node), features.parameter_features(node), strict=True)}


def test_features_say_how_each_parameter_is_used() -> None:
    """range(n), a[i, 0], .shape, x / 3, truth tests, str methods, defaults: each leaves its fact."""
    facts = _facts()
    assert {"arg_of=range", "name=n", "pos=0"} <= set(facts["n"])
    assert {"binop:Div", "binop:Div:int_lit", "in_arith:Add"} <= set(facts["x"])
    assert {"subscripted:2", "attr=shape", "subscript_item:int_lit", "indexed_by_range_loop"} <= set(facts["grid"])
    assert {"attr=upper", "has_attr"} <= set(facts["name"])
    assert {"truth", "default=bool_lit"} <= set(facts["flag"])
    assert {"unused", "default=float_lit"} <= set(facts["scale"])
    for f in facts.values():  # facts about the function as a whole, on every parameter
        assert {"fn=kernel", "fn_loop", "n_params=6"} <= set(f)


def test_features_hash_the_same_in_every_process() -> None:
    """Columns come from CRC-32, not hash(): a model trained in one process serves in another."""
    keys = ["name=n", "arg_of=range", "attr=shape", "fn_tok=kernel"]
    code = f"from fastimport.predict.features import column; print([column(k) for k in {keys!r}])"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [features.column(k) for k in keys]
    rows = list(_facts().values())
    matrix = features.vectorize(rows)
    assert matrix.shape == (len(rows), features.DIM)
    assert matrix.dtype == np.float32
    assert (features.vectorize(rows) == matrix).all()


def test_features_of_every_function_in_the_standard_library_modules() -> None:
    """Real code of every shape (lambdas, nested defs, walrus, match, async...) is featurized without an error."""
    import email.message
    import json.decoder
    import statistics
    import typing

    count = 0
    for module in (statistics, typing, json.decoder, email.message, ast):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                rows = features.parameter_features(node)
                assert len(rows) == len(features.params_of(node))
                count += 1
    assert count > 300


# --- the shipped model -------------------------------------------------------------------------


def _functions(path: Path) -> list[tuple[ast.FunctionDef, bool]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n, False) for n in tree.body if isinstance(n, ast.FunctionDef)]


def test_the_shipped_model_loads_and_predicts_on_the_examples() -> None:
    """One guess per parameter, from the label set, with ranked alternatives and probabilities."""
    assert Path(predictor.MODEL_FILE).is_file()
    model = predictor.Model()
    for path in sorted((ROOT / "examples").glob("*.py")):
        functions = _functions(path)
        for (node, _), guesses in zip(functions, predictor.predict(functions, using=model), strict=True):
            assert [g.param for g in guesses] == [p.arg for p in features.params_of(node)]
            for g in guesses:
                assert g.label in labels.INDEX
                assert 0.0 <= g.probability <= 1.0
                assert g.ranked[0] == (g.label, g.probability)
                assert [p for _, p in g.ranked] == sorted((p for _, p in g.ranked), reverse=True)


def test_a_batch_predicts_what_each_function_alone_predicts() -> None:
    """Batching per module changes nothing (the model sees one row per parameter)."""
    functions = _functions(ROOT / "examples" / "signal_stats.py")
    together = predictor.predict(functions)
    alone = [predictor.predict([f])[0] for f in functions]
    assert [[g.label for g in gs] for gs in together] == [[g.label for g in gs] for gs in alone]


def test_a_model_trained_on_other_features_is_refused(tmp_path: Path) -> None:
    """A model whose metadata names another feature version, or no such file, is refused with PredictorError."""
    import onnx

    model = onnx.load(predictor.MODEL_FILE)
    for entry in model.metadata_props:
        if entry.key == "feature_version":
            entry.value = "999"
    onnx.save(model, str(tmp_path / "other.onnx"))
    with pytest.raises(predictor.PredictorError, match="features v999"):
        predictor.Model(str(tmp_path / "other.onnx"))
    with pytest.raises(predictor.PredictorError, match="cannot load"):
        predictor.Model(str(tmp_path / "missing.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(predictor.PredictorError):
        predictor.Model(str(tmp_path / "junk.onnx"))


def test_signatures_from_guesses() -> None:
    """A signature only when every parameter's best guess is compilable; () for no parameters."""
    g = predictor.Guess
    assert predictor.signature([g("n", "int", 0.9, ()), g("a", "ndarray:float64:1", 0.8, ())]) == (
        Ty.INT,
        _value_type(np.zeros(1)),
    )
    assert predictor.signature([g("n", "int", 0.9, ()), g("s", "str", 0.8, ())]) is None
    assert predictor.signature([]) == ()
    # Compiled ahead only when more likely right than wrong, all parameters together.
    assert predictor.confidence([g("n", "int", 0.9, ()), g("x", "float", 0.5, ())]) == pytest.approx(0.45)
    assert predictor.confidence([]) == 1.0


# --- training and evaluation -------------------------------------------------------------------


def _tiny_dataset(tmp: Path, per_package: int = 60) -> list[str]:
    """The first records of three packages of models/data: real data, small enough to train in seconds."""
    packages = sorted(p for p in MODELS.glob("data/*.jsonl.gz"))[:3]
    assert len(packages) == 3, "models/data holds the training data"
    (tmp / "data").mkdir()
    for path in packages:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = [line for _, line in zip(range(per_package), f, strict=False)]
        with gzip.open(tmp / "data" / path.name, "wt", encoding="utf-8") as f:
            f.writelines(lines)
    return [json.loads(lines[0])["package"] for lines in [_first(tmp / "data" / p.name) for p in packages]]


def _first(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [f.readline()]


@pytest.mark.slow
def test_training_runs_end_to_end_and_reproduces_its_model(tmp_path: Path) -> None:
    """models/train.py on a tiny dataset: a model that serves, the same bytes twice; evaluate.py reads it."""
    pytest.importorskip("sklearn", reason="the tests group installs scikit-learn")
    packages = _tiny_dataset(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    common = ["--data", str(tmp_path / "data"), "--held-out", packages[-1]]
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.onnx"
        subprocess.run(
            [
                sys.executable,
                str(MODELS / "train.py"),
                *common,
                "--out",
                str(out),
                "--metrics",
                str(tmp_path / "t.json"),
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    model = predictor.Model(str(tmp_path / "a.onnx"))
    guesses = predictor.predict(_functions(ROOT / "examples" / "nbody.py"), using=model)
    assert all(g.label in labels.INDEX for gs in guesses for g in gs)
    trained = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert trained["held_out_packages"] == [packages[-1]]
    assert packages[-1] not in trained["training_packages"]

    metrics = tmp_path / "metrics.json"
    evaluate = [
        str(MODELS / "evaluate.py"),
        "--model",
        str(tmp_path / "a.onnx"),
        "--out",
        str(metrics),
        "--no-programs",
    ]
    subprocess.run(
        [sys.executable, *evaluate, *common],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(metrics.read_text(encoding="utf-8"))["held_out"]
    assert list(report["packages"]) == [packages[-1]]
    assert report["examples"] == sum(v["support"] for v in report["model"]["per_label"].values())
    for who in ("model", "baseline"):
        assert 0.0 <= report[who]["top1"] <= 1.0


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """models/evaluate.py's metrics for the shipped model, run once."""
    metrics = tmp_path_factory.mktemp("evaluation") / "metrics.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [sys.executable, str(MODELS / "evaluate.py"), "--out", str(metrics)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(metrics.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_evaluation_checks_first_calls_of_the_examples_and_kernels(evaluation: dict) -> None:
    """evaluate.py runs every example and kernel under plain CPython and compares first calls with predictions."""
    calls = evaluation["first_calls"]
    rows = [row for file in calls["files"].values() for row in file.values()]
    assert calls["calls"] == len(rows) >= 25
    assert calls["hits"] == sum(row["hit"] for row in rows)
    assert "examples/nbody.py" in calls["files"]
    assert "benchmarks/kernels/matmul.py" in calls["files"]
    told = [row for row in rows if "call sites" in row["predicted"]]
    assert told, "no example's call sites told a label"


TOLD = """
import math
import sys


def integrate(a, b, n):
    h = (b - a) / n
    s = 0.0
    for i in range(n):
        s += math.sin(a + (i + 0.5) * h)
    return s * h


def main():
    print(round(integrate(0.0, math.pi, 1000), 9))
    print(sorted(m for m in sys.modules if m.startswith("onnxruntime")))
"""


@pytest.mark.slow
def test_types_the_call_sites_tell_are_compiled_ahead_without_the_model(tmp_path: Path) -> None:
    """Every parameter told by the module's own calls: compiled ahead from that, onnxruntime never imported."""
    (tmp_path / "told.py").write_text(TOLD, encoding="utf-8")
    plain = _plain_main(TOLD)
    stdout, records = _run_module(tmp_path, "told", FASTIMPORT_PREDICT="1")
    assert stdout == plain
    assert stdout.splitlines()[-1] == "[]"  # (no onnxruntime module in the process)
    [record] = [r for r in records if r["qualname"] == "integrate"]
    assert record["signatures"] == ["(float, float, int) -> float (predicted: compiled ahead)"]
    assert "call sites" in record["predicted"]


KERN = """
def smooth(x, w):
    s = 0.0
    for i in range(w):
        s += x[i]
    return s / w
"""

IMPORTS_KERN = """
import time

import numpy as np

import kern
from fastimport.runtime import ahead

deadline = time.monotonic() + 120
while time.monotonic() < deadline and (ahead._worker is not None or ahead._queue):
    time.sleep(0.01)  # (a test's stand-in for a program busy with other work meanwhile)
print(kern.smooth(np.arange(10.0), 5))
"""


@pytest.mark.slow
def test_the_main_script_s_calls_of_an_imported_module_tell_its_types(tmp_path: Path) -> None:
    """A script with no function of its own calls kern.smooth(array, int): kern's smooth is compiled ahead for it."""
    (tmp_path / "kern.py").write_text(KERN, encoding="utf-8")
    (tmp_path / "main.py").write_text(IMPORTS_KERN, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE_DIR": str(tmp_path / "cache")}
    plain = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    report = tmp_path / "report.json"
    fast = subprocess.run(
        [sys.executable, "-m", "fastimport", "main.py"],
        cwd=tmp_path,
        env={**env, "FASTIMPORT_PREDICT": "1", "FASTIMPORT_REPORT": str(report)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert fast.stdout == plain.stdout
    [record] = [r for r in json.loads(report.read_text(encoding="utf-8")) if r["qualname"] == "smooth"]
    assert record["signatures"] == ["(float64[:], int) -> float|float64 (predicted: compiled ahead)"]
    assert "x: ndarray:float64:1 0.97 call sites" in record["predicted"]


SWITCHING = """
import sys
import time

{before}
import kern
from fastimport.runtime import ahead

seen = set()
deadline = time.monotonic() + 120
while time.monotonic() < deadline and (ahead._worker is not None or ahead._queue):
    seen.add(sys.getswitchinterval())
    time.sleep(0.001)
print(sorted(round(s, 6) for s in seen), sys.getswitchinterval())
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("before", "during", "after"),
    [("", [0.0002, 0.005], 0.005), ("sys.setswitchinterval(0.01)", [0.01], 0.01)],
    ids=["default", "program's own"],
)
def test_the_thread_switches_faster_while_it_compiles(
    tmp_path: Path, before: str, during: list[float], after: float
) -> None:
    """While compiling ahead the interval is FAST_SWITCH_S, then CPython's again; a program's own interval stays.

    (The program may look before the thread has switched: 0.005 among what it saw, by default.)
    """
    from fastimport.runtime.ahead import FAST_SWITCH_S

    assert during[0] == FAST_SWITCH_S or before
    (tmp_path / "kern.py").write_text(KERN, encoding="utf-8")
    (tmp_path / "main.py").write_text(SWITCHING.format(before=before), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE_DIR": str(tmp_path / "cache")}
    fast = subprocess.run(
        [sys.executable, "-m", "fastimport", "main.py"],
        cwd=tmp_path,
        env={**env, "FASTIMPORT_PREDICT": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    seen, now = fast.stdout.rsplit(" ", 1)
    assert float(now) == after
    assert set(ast.literal_eval(seen)) <= set(during)
    assert during[0] in ast.literal_eval(seen)


TOY_MODULE = """
def kernel(x, n):
    s = 0.0
    for i in range(n):
        s += x * i
    return s


kernel(0.5, 3)
kernel(1.5, 4)
"""


def test_the_evaluation_measures_call_site_labels_on_whole_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """evaluate.py reads each recorded function's whole module (models/sources.py): call-site labels, served guesses."""
    monkeypatch.syspath_prepend(str(MODELS))
    import dataset
    import evaluate
    import sources

    monkeypatch.setattr(sources, "SOURCES_DIR", tmp_path / "sources")
    (tmp_path / "data").mkdir()
    source = TOY_MODULE.split("\n\n\n", maxsplit=1)[0].strip() + "\n"
    for package, seen in (("toy", {"float": 2}), ("toy2", {"int": 2})):  # (toy2 is not unpacked)
        params = [{"name": "x", "kind": "arg", "labels": seen}, {"name": "n", "kind": "arg", "labels": {"int": 2}}]
        record = {"package": package, "version": "1.0", "module": "toy.mod", "qualname": "kernel"}
        record |= {"file": "toy/mod.py", "lineno": 2, "source": source, "params": params, "returns": {}}
        with gzip.open(tmp_path / "data" / f"{package}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    root = sources.SOURCES_DIR / "toy-1.0"
    (root / "toy").mkdir(parents=True)
    (root / "toy" / "mod.py").write_text(TOY_MODULE, encoding="utf-8")
    (root / ".complete").write_text("toy-1.0-py3-none-any.whl\n", encoding="utf-8")

    told, served, missing = evaluate.read_modules(predictor.model(), tmp_path / "data")
    assert told == {("toy", "toy.mod.kernel", "x"): ("float", True), ("toy", "toy.mod.kernel", "n"): ("int", True)}
    assert served == {("toy", "toy.mod.kernel", "x"): "float", ("toy", "toy.mod.kernel", "n"): "int"}
    assert missing == ["toy2"]
    examples = dataset.load(tmp_path / "data")
    metrics = evaluate.call_site_metrics(examples, told, held_out=("toy2",))
    assert metrics["training"] == {
        "parameters": 2,
        "told_every": 2,
        "precision_every": 1.0,
        "told_some": 0,
        "precision_some": 0.0,
    }
    assert metrics["held_out"]["told_every"] == 0


@pytest.mark.slow
def test_ninety_percent_of_first_calls_hit_a_predicted_guard_on_the_examples_and_kernels(evaluation: dict) -> None:
    """The issue's target, over the examples and the benchmark kernels."""
    assert evaluation["first_calls"]["rate"] >= 0.9


# --- at import: compiled ahead from predictions -------------------------------------------------

WAIT = """
import importlib, sys, time
sys.path.insert(0, {dir!r})
module = importlib.import_module({name!r})  # its import end queues its functions for the compile-ahead thread
from fastimport.runtime import ahead
deadline = time.monotonic() + 120
while time.monotonic() < deadline and (ahead._worker is not None or ahead._queue):
    time.sleep(0.01)  # (a test's stand-in for a program busy with other work meanwhile)
sys.argv = [{name!r}, {arg!r}]
module.main()
"""


def _run_ahead(tmp: Path, example: str, arg: str, **env: str) -> tuple[str, list[dict]]:
    """Import examples/<example> under the hook, let the thread finish, run its main(); (stdout, report)."""
    shutil.copy(ROOT / "examples" / example, tmp / example)
    return _run_module(tmp, example.removesuffix(".py"), arg, **env)


def _run_module(tmp: Path, name: str, arg: str = "", **env: str) -> tuple[str, list[dict]]:
    """`WAIT` for module `name` in `tmp` under `python -m fastimport`, its cache in tmp/cache: (stdout, report)."""
    (tmp / "run.py").write_text(WAIT.format(dir=str(tmp), name=name, arg=arg), encoding="utf-8")
    report = tmp / "report.json"
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "FASTIMPORT_CACHE_DIR": str(tmp / "cache"),
        "FASTIMPORT_REPORT": str(report),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "fastimport", "run.py"],
        cwd=tmp,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(report.read_text(encoding="utf-8"))


def _plain_main(program: str) -> str:
    """What `program` followed by a call of its main() prints under plain CPython."""
    return subprocess.run(
        [sys.executable, "-c", program + "\nmain()"], capture_output=True, text=True, check=True
    ).stdout


# The examples with a main() (signal_stats.py runs at import, before its functions are queued).
EXAMPLES = [("fib.py", "20"), ("integrate.py", "1000"), ("nbody.py", "100"), ("nbody_lists.py", "100")]
EXAMPLES += [("primes.py", "1000"), ("pipeline.py", "2000")]


def _first_call_hits(tmp_path: Path, examples: list[tuple[str, str]]) -> dict[str, bool]:
    """{function: its first call from Python hit a predicted guard}, over `examples` run as the hook runs them."""
    hits = {}
    for example, arg in examples:
        work = tmp_path / example
        work.mkdir()
        plain = subprocess.run(
            [sys.executable, str(ROOT / "examples" / example), arg], capture_output=True, text=True, check=True
        ).stdout
        stdout, records = _run_ahead(work, example, arg, FASTIMPORT_PREDICT="1")
        assert stdout == plain
        for record in records:
            own = [s for s in record["signatures"] if "called from native code" not in s]
            if not record["native_calls"] or record["qualname"] == "main":
                continue  # never called from Python (inlined into its caller), or the driver
            # A first call that missed the predicted guard compiled its own signature (no mark).
            hits[f"{example}:{record['qualname']}"] = all(s.endswith("(predicted: compiled ahead)") for s in own)
    return hits


@pytest.mark.slow
def test_predicted_signatures_make_first_calls_native(tmp_path: Path) -> None:
    """fib.py and primes.py (int parameters, guessed right): every first call from Python runs predicted code."""
    hits = _first_call_hits(tmp_path, [("fib.py", "20"), ("primes.py", "1000")])
    assert len(hits) >= 5
    assert all(hits.values()), hits


@pytest.mark.slow
def test_ninety_percent_of_first_calls_hit_a_predicted_guard_on_the_examples(tmp_path: Path) -> None:
    """No annotations, no earlier run: 90% or more of the functions called from Python hit a predicted guard first.

    (The scripts' own call sites tell most of it: predict/callsites.py.)
    """
    hits = _first_call_hits(tmp_path, EXAMPLES)
    assert len(hits) >= 10
    assert sum(hits.values()) / len(hits) >= 0.9, hits


@pytest.mark.slow
def test_predictions_are_on_by_default_and_off_with_the_setting(tmp_path: Path) -> None:
    """Unset, FASTIMPORT_PREDICT means on: the thread compiles guesses; =0 leaves first calls to compile."""
    env = {k: v for k, v in os.environ.items() if k != "FASTIMPORT_PREDICT"}
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "environ", env)
        _, records = _run_ahead(tmp_path / "on", "integrate.py", "1000")
    assert any(s.endswith("(predicted: compiled ahead)") for r in records for s in r["signatures"])
    _, records = _run_ahead(tmp_path / "off", "integrate.py", "1000", FASTIMPORT_PREDICT="0")
    assert not any("predicted" in s for r in records for s in r["signatures"])
    assert all(r["predicted"] is None for r in records)


WRONG = """
def count(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def main():
    print(count(True), count(False), count(7))
"""


@pytest.mark.slow
def test_a_wrong_prediction_costs_a_specialization_never_a_result(tmp_path: Path) -> None:
    """`n` in range(n) is predicted int; called with bools first: a guard miss, a specialization, CPython's results."""
    (tmp_path / "wrong.py").write_text(WRONG, encoding="utf-8")
    plain = _plain_main(WRONG)
    stdout, records = _run_module(tmp_path, "wrong", FASTIMPORT_PREDICT="1")
    assert stdout == plain == "0 0 91\n"
    (record,) = [r for r in records if r["qualname"] == "count"]
    assert record["signatures"][0] == "(int) -> int (predicted: compiled ahead)"
    assert "(bool) -> int" in record["signatures"]
    assert record["predicted"].startswith("(n: int ")


NOT_WORTH = """
def add(a, b):
    return a + b * 2.0


def main():
    print(add(1.5, 2.5))
"""


@pytest.mark.slow
def test_a_straight_line_function_is_left_to_its_first_call(tmp_path: Path) -> None:
    """No loop, no call: not worth the thread; the report says what was predicted and why it was left."""
    (tmp_path / "flat.py").write_text(NOT_WORTH, encoding="utf-8")
    _, records = _run_module(tmp_path, "flat", FASTIMPORT_PREDICT="1")
    (record,) = [r for r in records if r["qualname"] == "add"]
    assert record["predicted"].endswith("left to the first call (no loop, no call)")
    assert record["signatures"] == ["(float, float) -> float"]


def test_the_worth_rule() -> None:
    """Loops and calls go to the thread; straight-line arithmetic does not."""
    from fastimport.runtime.ahead import worth_compiling_ahead

    def node(src: str) -> ast.FunctionDef:
        tree = ast.parse(textwrap.dedent(src)).body[0]
        assert isinstance(tree, ast.FunctionDef)
        return tree

    assert worth_compiling_ahead(node("def f(n):\n    for i in range(n):\n        pass"))
    assert worth_compiling_ahead(node("def f(x):\n    while x > 1:\n        x /= 2\n    return x"))
    assert worth_compiling_ahead(node("def f(x):\n    return g(x) + 1"))
    assert not worth_compiling_ahead(node("def f(a, b):\n    return a * b + 1.0 if a > b else b"))


SHOUT = """
def shout(word, times):
    out = ""
    for _ in range(times):
        out += word.upper()
    return out
"""
STRINGS = (
    SHOUT
    + """

def main():
    print(shout("ab", 2), shout(None or "c", 1))
"""
)


@pytest.mark.slow
def test_types_seen_on_the_bytecode_path_stop_a_prediction_next_run(tmp_path: Path) -> None:
    """Called with a str: the bytecode call is recorded, and the next cold run compiles no guess for it."""
    (tmp_path / "words.py").write_text(STRINGS, encoding="utf-8")
    for predict in ("0", "1"):
        stdout, records = _run_module(tmp_path, "words", FASTIMPORT_PREDICT=predict)
        assert stdout == "ABAB C\n"
    import sqlite3

    (store,) = (tmp_path / "cache").glob("*/observed.sqlite3")
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT function, shown, ret FROM observed").fetchall()
    assert ("shout", "(str, int)", None) in rows
    (record,) = [r for r in records if r["qualname"] == "shout"]
    assert record["predicted"] is None  # (the second run asked no prediction of it)
    assert record["signatures"] == []


KERNELS = (
    """
def total(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
"""
    + SHOUT
    + """

def main():
    print(total(10), shout("a", 2))


if __name__ == "__main__":
    main()
"""
)


@pytest.mark.slow
def test_fastimport_compile_uses_predictions_last_and_says_so(tmp_path: Path) -> None:
    """Nothing annotated, listed or observed: `fastimport compile` ships the predicted signature, marked [predicted]."""
    (tmp_path / "kern.py").write_text(KERNELS, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE_DIR": str(tmp_path / "cache")}

    def compile_kern(predict: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "fastimport", "compile", "kern.py"],
            cwd=tmp_path,
            env={**env, "FASTIMPORT_PREDICT": predict},
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    assert "unsigned: total" in compile_kern("0")  # predictions off: nothing to go on
    out = compile_kern("1")
    assert "total(int) [predicted]" in out
    assert "shout" not in out.partition("compiled:")[2].partition("\n")[0]  # (a str is nothing we compile)
    # main() (no parameters) is a guess that does not compile (print): dropped, not a failure.
    assert "dropped: main() [predicted]: " in out
    assert "failed:" not in out
    assert "0 not compilable" in out
    assert "(1 predicted signature(s) dropped: not compilable)" in out
    # A run sees shout called with a str (the bytecode path); total's observation now wins over the guess.
    subprocess.run([sys.executable, "-m", "fastimport", "kern.py"], cwd=tmp_path, env=env, check=True)
    out = compile_kern("1")
    assert "total(int) [observed]" in out
    assert "[predicted]" not in out


def test_a_failure_recording_a_bytecode_call_never_reaches_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    """The miss path records the labels of a call no specialization takes; if that fails, the call is CPython's."""
    from fastimport.predict import observed
    from fastimport.testing import compile_module, plain_module

    def broken(*_args: object) -> None:
        raise RuntimeError("the store is broken")

    monkeypatch.setattr(observed, "note_bytecode", broken)
    source = "def add(a, b):\n    return a + b\n"
    fast, plain = compile_module(source), plain_module(source)
    assert fast.add(1, 2) == plain.add(1, 2) == 3  # compiled for (int, int)
    # Run as bytecode, their types recorded (here: the recording fails), and CPython's results.
    assert fast.add("a", "b") == plain.add("a", "b") == "ab"
    assert fast.add([1], [2]) == plain.add([1], [2]) == [1, 2]
    with pytest.raises(TypeError) as expected:
        plain.add(None, 1)
    with pytest.raises(TypeError, match=re.escape(str(expected.value))):
        fast.add(None, 1)


REBOUND = """
SCALE = 2


def scaled_sum(n):
    s = 0
    for i in range(n):
        s += i * SCALE
    return s


def main():
    global SCALE
    before = scaled_sum(10)
    SCALE = 0.5  # rebound after scaled_sum was compiled ahead for (int) with SCALE an int
    after = scaled_sum(10)
    print(before, after, type(after).__name__)
"""


@pytest.mark.slow
def test_a_global_rebound_after_compiling_ahead_is_seen(tmp_path: Path) -> None:
    """Compiled ahead from a guess at import, then a global it reads is rebound to a float: CPython's results."""
    (tmp_path / "rebound.py").write_text(REBOUND, encoding="utf-8")
    plain = _plain_main(REBOUND)
    stdout, records = _run_module(tmp_path, "rebound", FASTIMPORT_PREDICT="1")
    assert stdout == plain == "90 22.5 float\n"
    (record,) = [r for r in records if r["qualname"] == "scaled_sum"]
    assert record["signatures"][0] == "(int) -> int (predicted: compiled ahead)"
