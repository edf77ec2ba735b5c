"""Does balancing a new voice's predicted classes help?  (LOSO, from held-out logits)

On a held-out speaker a model often leans towards a few classes (the mel
ResNet calls most of SM0's clips angry or surprised).  nEMO's speakers
recorded every emotion about equally often, so one transductive fix is a
per-speaker bias on the log-probabilities that makes the mean predicted
distribution over the speaker's *unlabelled* clips uniform (the prior half of
Sinkhorn balancing).  The bias is fitted on all of the speaker's clips, on a
random half (the other half scored, 10 draws), or on 12 clips (about 30 s,
the rest scored).  Prints mean ± std over the 9 speakers; needs no corpus
(``artifacts/predictions/<recipe>-loso-fold<k>.npz``).

    .venv/bin/python benchmarks/prior_balance.py
"""

from __future__ import annotations

import argparse

import numpy as np

from ser_core import data, metrics, runs

RECIPES = (
    "resnet18-mel-spk",
    "resnet18-mfcc-spk",
    "resnet18-delta_mfcc-spk",
    "logreg-egemaps-spk",
    "logreg-compare-spk",
)


def balancing_bias(log_probs: np.ndarray, *, iters: int = 200) -> np.ndarray:
    """Bias ``(k,)`` such that ``softmax(log_probs + bias)`` averages to uniform over the rows."""
    bias = np.zeros(log_probs.shape[1])
    for _ in range(iters):
        bias -= np.log(metrics.softmax(log_probs + bias).mean(0) * log_probs.shape[1])
    return bias


def scores(log_probs: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> dict[str, float]:
    """Accuracy without balancing, and balanced from all clips / half / 12 clips."""
    acc = lambda lp, rows, bias: float(((lp[rows] + bias).argmax(1) == y[rows]).mean())  # noqa: E731
    every = np.arange(len(y))
    half, few = [], []
    for _ in range(10):
        perm = rng.permutation(len(y))
        half.append(acc(log_probs, perm[len(y) // 2 :], balancing_bias(log_probs[perm[: len(y) // 2]])))
        few.append(acc(log_probs, perm[12:], balancing_bias(log_probs[perm[:12]])))
    return {
        "none": acc(log_probs, every, 0.0),
        "all": acc(log_probs, every, balancing_bias(log_probs)),
        "half": float(np.mean(half)),
        "12 clips": float(np.mean(few)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES))
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    folds: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for r in a.recipes:
        folds[r] = []
        for k in range(data.n_folds("loso")):
            z = np.load(runs.predictions_dir() / f"{r}-loso-fold{k}.npz")
            folds[r].append(
                (
                    np.log(metrics.softmax(z["test_logits"], temperature=float(z["temperature"]))),
                    z["test_labels"],
                )
            )
    ens = [
        (np.log(np.mean([np.exp(folds[r][k][0]) for r in a.recipes], 0)), folds[a.recipes[0]][k][1])
        for k in range(data.n_folds("loso"))
    ]
    for name, per_fold in [*folds.items(), ("equal-weight average of all", ens)]:
        rows = [scores(lp, y, rng=rng) for lp, y in per_fold]
        cells = "  ".join(
            f"{key} {100 * np.mean([r[key] for r in rows]):.1f} ± "
            f"{100 * np.std([r[key] for r in rows], ddof=1):.1f}"
            for key in rows[0]
        )
        print(f"{name:30s} {cells}")


if __name__ == "__main__":
    main()
