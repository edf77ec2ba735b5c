"""Are non-linear models on speaker-normalised functionals better on a new voice than logistic regression?

Issue #25 lists "functionals models other than a linear one" as worth measuring.  For each
of nEMO's nine leave-one-speaker-out folds this script normalises the openSMILE functionals
with each speaker's own statistics (as ``train --norm speaker`` does), then fits

* ``logreg``: scikit-learn's logistic regression (the shipped recipe's model);
* ``svm``: an RBF support-vector machine;
* ``mlp``: a one-hidden-layer perceptron with early stopping;
* ``lda``: shrinkage linear discriminant analysis;

each over a small grid whose point is chosen on the fold's **validation speaker**, on
eGeMAPS, ComParE and both concatenated.  The held-out speaker is then scored once per
(model, set).  Which model is better is decided on the mean validation accuracy over the
folds, never on the test speakers; the test figures are printed beside it, per speaker.

    NEMO_DIR=../shared/nemo OMP_NUM_THREADS=1 .venv/bin/python benchmarks/functionals_models.py \
        [--sets egemaps compare both] [--models logreg svm mlp lda] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from ser_core import adapt, data, inputs

SETS = {"egemaps": ["egemaps"], "compare": ["compare"], "both": ["egemaps", "compare"]}


def _logreg(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000)


def _svm(c: float):
    from sklearn.svm import SVC

    return SVC(C=c, kernel="rbf", gamma="scale")


def _mlp(alpha: float):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(256,), alpha=alpha, early_stopping=True, max_iter=300, random_state=0
    )


def _lda(shrinkage: float):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)


#: model -> (factory, the grid validation chooses from)
MODELS: dict[str, tuple[Callable, tuple[float, ...]]] = {
    "logreg": (_logreg, (1e-4, 1e-3, 1e-2, 1e-1)),
    "svm": (_svm, (0.3, 1.0, 3.0, 10.0)),
    "mlp": (_mlp, (1e-2, 1.0, 10.0)),
    "lda": (_lda, (0.1, 0.5, 0.9)),
}


def fold_inputs(meta, x_all: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """``(x_tr, y_tr, x_va, y_va, x_te, y_te)`` of LOSO fold ``k``, each speaker normalised
    with its own statistics (the held-out ones with their own unlabelled clips)."""
    split = data.split_indices(meta, "loso", fold=k)
    spk = meta["speaker"].astype(str).to_numpy()
    y = meta["label"].to_numpy().astype(np.int64)
    stats = inputs.split_speaker_stats(x_all, spk, split.train, split.val, split.test)
    parts = (split.train, split.val, split.test)
    out: list[np.ndarray] = []
    for rows in parts:
        out += [adapt.speaker_normalise(x_all[rows], spk[rows], stats), y[rows]]
    return tuple(out)


def fit_on_validation(name: str, x_tr, y_tr, x_va, y_va) -> tuple[object, float, float]:
    """The grid point of ``name`` best on validation: ``(fitted model, its value, val accuracy)``."""
    factory, grid = MODELS[name]
    best = None
    for value in grid:
        clf = factory(value).fit(x_tr, y_tr)
        acc = float((clf.predict(x_va) == y_va).mean())
        if best is None or acc > best[2]:
            best = (clf, value, acc)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args()
    meta = data.load_metadata()
    speakers = [data.split_indices(meta, "loso", fold=k) for k in range(data.n_folds("loso"))]
    held_out = [str(meta["speaker"].iloc[s.test[0]]) for s in speakers]
    out: dict[str, dict] = {}
    for set_name in a.sets:
        x_all = np.concatenate(
            [np.asarray(inputs.model_inputs(meta, "functionals", s), np.float32) for s in SETS[set_name]], 1
        )
        folds = [fold_inputs(meta, x_all, k) for k in range(len(speakers))]
        for name in a.models:
            t0 = time.time()
            rows = []
            for k, (x_tr, y_tr, x_va, y_va, x_te, y_te) in enumerate(folds):
                clf, value, val_acc = fit_on_validation(name, x_tr, y_tr, x_va, y_va)
                rows.append(
                    {
                        "speaker": held_out[k],
                        "chosen": value,
                        "val_accuracy": val_acc,
                        "accuracy": float((clf.predict(x_te) == y_te).mean()),
                    }
                )
            val = np.array([r["val_accuracy"] for r in rows])
            test = np.array([r["accuracy"] for r in rows])
            key = f"{name} on {set_name}"
            out[key] = {
                "val_mean": float(val.mean()),
                "mean": float(test.mean()),
                "std": float(test.std(ddof=1)),
                "seconds": time.time() - t0,
                "folds": rows,
            }
            per = " ".join(f"{r['speaker']} {r['accuracy']:.1%}" for r in rows)
            print(
                f"{key}: validation {val.mean():.1%}; held-out {test.mean():.1%} ± {test.std(ddof=1):.1%} "
                f"({out[key]['seconds']:.0f} s) | {per}",
                flush=True,
            )
    best = max(out, key=lambda k: out[k]["val_mean"])
    print(f"best on validation speakers: {best} (held-out {out[best]['mean']:.1%} ± {out[best]['std']:.1%})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
