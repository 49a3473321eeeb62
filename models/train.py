"""Train the type predictor on models/data and write it as ONNX.

    python models/train.py                       # -> src/fastimport/predict/type_predictor.onnx
    python models/train.py --data DIR --out PATH --candidates logistic

Candidates are compared by cross-validation grouped by package, on the training packages only
(dataset.HELD_OUT never takes part in any choice); the best is fitted on all of them and
exported with skl2onnx, its metadata naming the feature version, the hashing width and the
label list, which the serving side checks (predict/predictor.py). Everything is seeded: the
same data gives the same model. The choice and the cross-validated accuracies are written
to models/metrics_train.json.

Dependencies: the `train` optional group (scikit-learn, skl2onnx, onnx).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset

from fastimport.predict import features, labels
from fastimport.predict.predictor import MODEL_FILE

SEED = 0
FOLDS = 4


def candidates() -> dict[str, object]:
    """The model families tried, each with settings fixed here.

    Gradient-boosted trees (HistGradientBoostingClassifier) were tried too: on 4096 hashed
    columns and 27 labels they trained ~10x slower than a logistic regression and scored
    lower in grouped cross-validation (0.51 against 0.56 on the first 4 packages), so they
    are not among the defaults.
    """
    from sklearn.linear_model import LogisticRegression

    return {
        "logistic": LogisticRegression(C=0.5, max_iter=3000, random_state=SEED),
        "logistic_c2": LogisticRegression(C=2.0, max_iter=3000, random_state=SEED),
    }


def cross_validate(name: str, examples: list[dataset.Example], folds: int = FOLDS) -> float:
    """Top-1 accuracy of `name` on the served examples, averaged over folds that each hold out whole packages.

    Served examples (dataset.Example.served) are parameters of functions like those the
    predictor is asked about: the choice is made on them, the fit uses every example.
    """
    from sklearn.base import clone

    packages = sorted({e.package for e in examples})
    if len(packages) < 2:  # noqa: PLR2004 - one package cannot be split by package
        return float("nan")
    scores = []
    for fold in range(min(folds, len(packages))):
        test_packages = set(packages[fold :: min(folds, len(packages))])
        train = [e for e in examples if e.package not in test_packages]
        test = [e for e in examples if e.package in test_packages]
        if not train or not test:
            continue
        x, y, w = dataset.arrays(train)
        model = clone(candidates()[name])
        model.fit(x, y, sample_weight=w)
        test = [e for e in test if e.served]
        if not test:
            continue
        xt, yt, _ = dataset.arrays(test)
        scores.append(float(np.mean(model.predict(xt) == yt)))
    return float(np.mean(scores)) if scores else float("nan")


def fit(name: str, examples: list[dataset.Example]) -> object:
    """`name` fitted on `examples`, every label of the set known to it (absent ones get no data)."""
    from sklearn.base import clone

    x, y, w = dataset.arrays(examples)
    # Every label must be a class of the model, so that its output has one column per label:
    # labels without examples get one all-zero row of negligible weight.
    missing = [i for i in range(len(labels.LABELS)) if i not in set(y.tolist())]
    if missing:
        x = np.vstack([x, np.zeros((len(missing), x.shape[1]), dtype=x.dtype)])
        y = np.concatenate([y, np.array(missing, dtype=y.dtype)])
        w = np.concatenate([w, np.full(len(missing), 1e-6)])
    model = clone(candidates()[name])
    model.fit(x, y, sample_weight=w)
    return model


def export(model: object, path: Path, extra: dict[str, str]) -> None:
    """Write `model` as ONNX: input "features" (n, DIM) float32, outputs label and probabilities."""
    import onnx
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, features.DIM]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    meta = {
        "feature_version": str(features.FEATURE_VERSION),
        "dim": str(features.DIM),
        "labels": ",".join(labels.LABELS),
        **extra,
    }
    del onx.metadata_props[:]
    for key, value in sorted(meta.items()):
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    onx.producer_name = "fastimport models/train.py"
    onx.producer_version = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(onx, str(path))


def main(argv: list[str] | None = None) -> int:
    """Train, choose, export; print what was chosen and why."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=dataset.DATA_DIR)
    parser.add_argument("--held-out", nargs="+", default=list(dataset.HELD_OUT), help="packages kept for evaluation")
    parser.add_argument("--out", type=Path, default=Path(MODEL_FILE))
    parser.add_argument("--metrics", type=Path, default=Path(__file__).resolve().parent / "metrics_train.json")
    parser.add_argument("--candidates", nargs="+", default=None, help="model families to compare (default: all)")
    args = parser.parse_args(argv)

    examples = dataset.load(args.data)
    train, held_out = dataset.split(examples, tuple(args.held_out))
    if not train:
        parser.error(f"no training examples in {args.data}")
    names = args.candidates or list(candidates())
    unknown = sorted(set(names) - set(candidates()))
    if unknown:
        parser.error(f"unknown candidates {unknown}; known: {sorted(candidates())}")
    scores = {name: cross_validate(name, train) for name in names}
    for name, score in scores.items():
        print(f"{name:>14}: grouped-CV top-1 {score:.3f}")
    chosen = max(names, key=lambda n: (np.nan_to_num(scores[n], nan=-1.0), -names.index(n)))
    model = fit(chosen, train)
    export(model, args.out, {"model": chosen, "training_examples": str(len(train))})
    counts = {lb: sum(1 for e in train if e.label == lb) for lb in labels.LABELS}
    report = {
        "chosen": chosen,
        "cv_top1": scores,
        "training_examples": len(train),
        "training_packages": sorted({e.package for e in train}),
        "held_out_examples": len(held_out),
        "held_out_packages": sorted({e.package for e in held_out}),
        "training_label_counts": counts,
        "model_bytes": args.out.stat().st_size,
    }
    args.metrics.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"chose {chosen}: {len(train)} examples, wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
