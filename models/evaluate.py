"""Evaluate the type predictor honestly: held-out packages, a rule baseline, real first calls.

    python models/evaluate.py                    # the shipped model; writes models/metrics.json
    python models/evaluate.py --model PATH --data DIR --no-programs

1. Held-out packages (dataset.HELD_OUT, never trained on): top-1 and top-3 accuracy, and
   precision/recall per label, for the model and for the rule baseline (models/baseline.py).
2. First calls: every function of examples/*.py and benchmarks/kernels/*.py is run as plain
   CPython (the examples with small arguments, the kernels on their "tiny" inputs), and the
   types of its first guarded call (`first_calls`), as the dispatcher's guards see them, are
   compared with the signature predicted from its module's source (its call sites and its
   code). A hit is a first call that a
   specialization compiled ahead from the prediction would take.
3. Call sites (predict/callsites.py): over every package's modules (models/sources.py unpacks
   them), how often a label read off a module's call sites is the one seen most at run time,
   apart for the training and the held-out packages: the precision predictor.CALL_SITES_EVERY
   and CALL_SITES_SOME stand for, and the held-out top-1 of the predictor as served (each
   whole module through `predictor.predict`, as the hook asks: call sites, flows, else the
   model). Skipped, with a message, for packages not unpacked.
4. Serving cost: milliseconds per function of `predictor.predict` on those files' functions,
   batched per module as the import hook does, with the session made; the session's creation
   (onnxruntime imported) is given apart.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import runpy
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import baseline  # noqa: E402 - models/ is a folder of scripts
import dataset  # noqa: E402
import sources  # noqa: E402

from fastimport.predict import features, labels, predictor  # noqa: E402

EXAMPLE_ARGS = {"fib.py": "20", "integrate.py": "1000", "nbody.py": "100", "nbody_lists.py": "100", "primes.py": "1000"}
EXAMPLE_ARGS["signal_stats.py"] = "300"
EXAMPLE_ARGS["pipeline.py"] = "2000"


def held_out_metrics(model: predictor.Model, examples: list[dataset.Example]) -> dict:
    """Accuracy and per-label precision/recall of the model and the baseline on `examples`."""
    probs = model.probabilities(features.vectorize([e.features for e in examples]))
    truth = [e.label for e in examples]
    ranked = np.argsort(-probs, axis=1)
    predicted = [labels.LABELS[i] for i in ranked[:, 0]]
    top3 = float(np.mean([labels.INDEX[t] in ranked[i, :3] for i, t in enumerate(truth)])) if examples else 0.0
    guessed = [baseline.guess(e.features) for e in examples]
    packages = sorted({e.package for e in examples})
    return {
        "examples": len(examples),
        "packages": {p: sum(1 for e in examples if e.package == p) for p in packages},
        "model": {"top1": _accuracy(predicted, truth), "top3": top3, "per_label": _per_label(predicted, truth)},
        "baseline": {"top1": _accuracy(guessed, truth), "per_label": _per_label(guessed, truth)},
        "per_package_top1": {
            p: {
                "model": _accuracy(*_where(predicted, truth, examples, p)),
                "baseline": _accuracy(*_where(guessed, truth, examples, p)),
            }
            for p in packages
        },
    }


def _where(predicted: list[str], truth: list[str], examples: list[dataset.Example], package: str) -> tuple[list, list]:
    keep = [i for i, e in enumerate(examples) if e.package == package]
    return [predicted[i] for i in keep], [truth[i] for i in keep]


def _accuracy(predicted: list[str], truth: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])) if truth else 0.0


def _per_label(predicted: list[str], truth: list[str]) -> dict[str, dict[str, float]]:
    result = {}
    for label in labels.LABELS:
        tp = sum(1 for p, t in zip(predicted, truth, strict=True) if p == t == label)
        n_pred = sum(1 for p in predicted if p == label)
        n_true = sum(1 for t in truth if t == label)
        if n_pred or n_true:
            result[label] = {
                "precision": tp / n_pred if n_pred else 0.0,
                "recall": tp / n_true if n_true else 0.0,
                "support": n_true,
            }
    return result


# Call sites.


def read_modules(
    model: predictor.Model, data_dir: Path
) -> tuple[dict[tuple[str, str, str], tuple[str, bool]], dict[tuple[str, str, str], str], list[str]]:
    """What the predictor serves for the recorded module-level functions, read from their whole modules.

    Returns ({(package, module.qualname, param): (label the call sites tell, every site told)},
    {(package, module.qualname, param): the label predictor.predict serves, one batch per
    module with its evidence, as the import hook asks}, the packages not unpacked).
    """
    told: dict[tuple[str, str, str], tuple[str, bool]] = {}
    served: dict[tuple[str, str, str], str] = {}
    missing = []
    for path in sorted(data_dir.glob("*.jsonl.gz")):
        by_file: dict[str, list[dict]] = {}
        with gzip.open(path, "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        root = sources.unpacked(records[0]["package"], data_dir) if records else None
        if root is None:
            missing.extend(r["package"] for r in records[:1])
            continue
        for record in records:
            if not record.get("is_method") and "." not in record["qualname"]:
                by_file.setdefault(record["file"], []).append(record)
        for file, in_file in by_file.items():
            _read_module(model, (root / file).read_bytes(), in_file, told, served)
    return told, served, missing


def _read_module(model: predictor.Model, source: bytes, records: list[dict], told: dict, served: dict) -> None:
    from fastimport.predict import callsites

    evidence = predictor.module_evidence(source)
    try:
        nodes = callsites.module_functions(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return
    batch = predictor.predict([(n, False) for n in nodes.values()], model, evidence)
    guesses = dict(zip(nodes, batch, strict=True))
    for record in records:
        function = f"{record['module']}.{record['qualname']}"
        for param, seen in evidence.sites.get(record["qualname"], {}).items():
            key = (record["package"], function, param)
            if (label := callsites.agreed(seen)) is not None:
                told[key] = (label, True)
            elif (label := callsites.agreed([s for s in seen if s is not None])) is not None:
                told[key] = (label, False)
        for guess in guesses.get(record["qualname"], []):
            served[(record["package"], function, guess.param)] = guess.label


def call_site_metrics(examples: list[dataset.Example], told: dict, held_out: tuple[str, ...]) -> dict:
    """Precision of call-site labels (every site told / some), for the training and the held-out packages."""
    result = {}
    for part, keep in (("training", lambda p: p not in held_out), ("held_out", lambda p: p in held_out)):
        rows = [(e, told.get((e.package, e.function, e.param))) for e in examples if keep(e.package)]
        row: dict[str, float] = {"parameters": len(rows)}
        for tier, every in (("every", True), ("some", False)):
            hit = [label == e.label for e, (label, all_told) in ((e, t) for e, t in rows if t) if all_told is every]
            row[f"told_{tier}"] = len(hit)
            row[f"precision_{tier}"] = sum(hit) / len(hit) if hit else 0.0
        result[part] = row
    return result


def served_top1(model: predictor.Model, examples: list[dataset.Example], served: dict) -> float:
    """Top-1 of the predictor as the hook serves it (read_modules), the model alone where no module was read."""
    probs = model.probabilities(features.vectorize([e.features for e in examples]))
    best = [labels.LABELS[i] for i in np.argmax(probs, axis=1)]
    guessed = [served.get((e.package, e.function, e.param), b) for e, b in zip(examples, best, strict=True)]
    return _accuracy(guessed, [e.label for e in examples])


# First calls.


def first_calls(path: Path, run: object) -> dict[str, tuple]:
    """{function name: argument types of its first guarded call} for the functions defined in `path`.

    A guarded call comes from outside the file's functions, or from its `main` (a driver
    that prints: bytecode under fastimport). A call from another function of the file is
    left out: under fastimport that caller is native and calls the callee's native code
    directly, for the caller's own types, past every guard.
    """
    from fastimport.runtime.dispatch import _value_type

    seen: dict[str, tuple] = {}
    target = str(path)
    functions = {n.name for n in program_functions(path)} - {"main"}

    def profile(frame: object, event: str, _arg: object) -> None:
        code = frame.f_code  # type: ignore[attr-defined]
        if event == "call" and code.co_filename == target and code.co_name not in seen and code.co_name[0] != "<":
            caller = frame.f_back.f_code  # type: ignore[attr-defined]
            if caller.co_filename == target and caller.co_name in functions:
                return
            n = code.co_argcount + code.co_kwonlyargcount
            values = [frame.f_locals[v] for v in code.co_varnames[:n]]  # type: ignore[attr-defined]
            seen[code.co_name] = tuple(_value_type(v) for v in values)

    sys.setprofile(profile)
    try:
        run()  # type: ignore[operator]
    finally:
        sys.setprofile(None)
    return seen


def program_functions(path: Path) -> list[ast.FunctionDef]:
    """The module-level functions of `path` (what the import hook would consider)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in tree.body if isinstance(n, ast.FunctionDef)]


def programs() -> list[tuple[Path, object]]:
    """(path, a callable that runs it as the check runs it): the examples, then the kernels."""
    from benchmarks.suite import KERNELS

    examples = sorted(p for p in (ROOT / "examples").glob("*.py") if p.name in EXAMPLE_ARGS)
    result = [(path, _script_runner(path, EXAMPLE_ARGS[path.name])) for path in examples]
    return result + [(kernel.path, _kernel_runner(kernel)) for kernel in KERNELS]


def _script_runner(path: Path, arg: str) -> object:
    def run() -> None:
        import contextlib
        import io

        argv = sys.argv
        sys.argv = [str(path), arg]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                runpy.run_path(str(path), run_name="__main__")
        finally:
            sys.argv = argv

    return run


def _kernel_runner(kernel: object) -> object:
    def run() -> None:
        namespace: dict = {"__name__": f"kernel_{kernel.name}", "__file__": str(kernel.path)}  # type: ignore[attr-defined]
        exec(compile(kernel.source(), str(kernel.path), "exec"), namespace)  # type: ignore[attr-defined]  # noqa: S102
        namespace[kernel.entry](*kernel.make_args("tiny"))  # type: ignore[attr-defined]

    return run


def first_call_metrics(model: predictor.Model) -> dict:
    """How many first calls a predicted signature would have caught, per file and in all."""
    import gc

    files, hits, total, timings = {}, 0, 0, []
    # The evaluation's own heap (every example's features) would make each garbage collection
    # during the timed reading and predicting walk it: a program being served holds no such heap.
    gc.collect()
    gc.freeze()
    for path, run in programs():
        nodes = program_functions(path)
        start = time.perf_counter()
        evidence = predictor.module_evidence(path.read_bytes())
        guesses = predictor.predict([(n, False) for n in nodes], using=model, evidence=evidence)
        timings.append(((time.perf_counter() - start) * 1000, len(nodes)))
        called = first_calls(path, run)
        rows = {}
        for node, guess in zip(nodes, guesses, strict=True):
            if node.name not in called or not guess:
                continue  # never called through a guard, or no parameters (nothing to predict)
            actual = called[node.name]
            predicted = predictor.signature(guess)
            if predictor.confidence(guess) < predictor.MIN_CONFIDENCE:
                predicted = None  # (not compiled ahead: the first call compiles its own)
            hit = predicted == actual
            rows[node.name] = {"hit": hit, "predicted": predictor.shown(guess), "actual": _shown(actual)}
            hits += hit
            total += 1
        files[str(path.relative_to(ROOT))] = rows
    gc.unfreeze()
    ms = sum(t for t, _ in timings)
    n = sum(k for _, k in timings)
    return {
        "hits": hits,
        "calls": total,
        "rate": hits / total if total else 0.0,
        "ms_per_function": ms / n,
        "files": files,
    }


def _shown(types: tuple) -> str:
    return "(" + ", ".join("?" if t is None else str(t) for t in types) + ")"


def main(argv: list[str] | None = None) -> int:
    """Print the figures and write them to models/metrics.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path(predictor.MODEL_FILE))
    parser.add_argument("--data", type=Path, default=dataset.DATA_DIR)
    parser.add_argument("--held-out", nargs="+", default=list(dataset.HELD_OUT), help="packages kept for evaluation")
    parser.add_argument("--out", type=Path, default=HERE / "metrics.json")
    parser.add_argument("--no-programs", action="store_true", help="skip the first-call check on examples and kernels")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    model = predictor.Model(str(args.model))
    session_ms = (time.perf_counter() - start) * 1000
    examples = dataset.load(args.data)
    _, held_out = dataset.split(examples, tuple(args.held_out))
    report = {
        "model": str(args.model),
        "session_ms": session_ms,
        "held_out": held_out_metrics(model, held_out),
        "held_out_served": held_out_metrics(model, [e for e in held_out if e.served]),
    }
    told, served, missing = read_modules(model, args.data)
    if missing:
        print(f"call sites: not measured for {', '.join(missing)} (run models/sources.py)", file=sys.stderr)
    report["call_sites"] = call_site_metrics(examples, told, tuple(args.held_out))
    report["call_sites"]["not_measured"] = missing
    report["held_out"]["with_call_sites_top1"] = served_top1(model, held_out, served)
    served_held_out = [e for e in held_out if e.served]
    report["held_out_served"]["with_call_sites_top1"] = served_top1(model, served_held_out, served)
    for part, row in report["call_sites"].items():
        if part != "not_measured":
            print(
                f"call sites, {part} packages: {row['parameters']} parameters; every site told "
                f"{row['told_every']} (precision {row['precision_every']:.3f}), some told {row['told_some']} "
                f"(precision {row['precision_some']:.3f})"
            )
    print(
        f"  (served as predictor.CALL_SITES_EVERY = {predictor.CALL_SITES_EVERY}, "
        f"CALL_SITES_SOME = {predictor.CALL_SITES_SOME})"
    )
    served = report["held_out_served"]
    print(
        f"held-out, served functions only (not methods, with a loop or a call): {served['examples']} parameters: "
        f"model top-1 {served['model']['top1']:.3f}, with call sites {served['with_call_sites_top1']:.3f}, "
        f"baseline {served['baseline']['top1']:.3f}"
    )
    ho = report["held_out"]
    print(f"held-out: {ho['examples']} parameters of {', '.join(ho['packages'])}")
    print(f"  model    top-1 {ho['model']['top1']:.3f}  top-3 {ho['model']['top3']:.3f}")
    print(f"  model with call sites (as served) top-1 {ho['with_call_sites_top1']:.3f}")
    print(f"  baseline top-1 {ho['baseline']['top1']:.3f}")
    print(f"  {'label':<22} {'support':>7}  model P/R      baseline P/R")
    for label, m in ho["model"]["per_label"].items():
        b = ho["baseline"]["per_label"].get(label, {"precision": 0.0, "recall": 0.0})
        print(
            f"  {label:<22} {m['support']:>7}  {m['precision']:.2f}/{m['recall']:.2f}    "
            f"{b['precision']:.2f}/{b['recall']:.2f}"
        )
    if not args.no_programs:
        fc = first_call_metrics(model)
        report["first_calls"] = fc
        print(
            f"first calls on examples and kernels: {fc['hits']}/{fc['calls']} hit a predicted guard ({fc['rate']:.0%})"
        )
        for file, rows in fc["files"].items():
            for name, row in rows.items():
                if not row["hit"]:
                    print(f"  miss {file}:{name}: predicted {row['predicted']}, called with {row['actual']}")
        print(f"serving: {fc['ms_per_function']:.3f} ms per function (session created in {session_ms:.0f} ms)")
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
