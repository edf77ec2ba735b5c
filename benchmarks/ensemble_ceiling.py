"""How far re-combining the trained seed models can go: an oracle ceiling for the ensemble.

Every equal-weight average of the calibrated probabilities of 2 to 5 models
(held-out logits in ``artifacts/predictions/<run>-seed.npz``, the ensemble's
input) is scored on the validation and on the test split.  The subset chosen on
validation is what a fair search can pick; the subset chosen on the *test* split
itself is an upper bound no fair search of these members reaches.  Needs no
corpus.

    .venv/bin/python benchmarks/ensemble_ceiling.py [--candidates resnet18-mel resnet18-hpss ...]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from ser_core import metrics, runs

CANDIDATES = (
    "resnet18-mel",
    "resnet18-hpss",
    "resnet18-cqt",
    "resnet18-mfcc",
    "wave_cnn-waveform",
    "logreg-compare",
    "resnet18-mel-spk",
    "resnet18-hpss-spk",
    "vgg16-mel",
    "resnet18-delta_mfcc",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--candidates",
        nargs="+",
        default=list(CANDIDATES),
        help="run names without -seed (artifacts/predictions/<name>-seed.npz)",
    )
    ap.add_argument("--max-size", type=int, default=5)
    a = ap.parse_args()
    probs, y = {}, {}
    for name in a.candidates:
        z = np.load(runs.predictions_dir() / f"{name}-seed.npz")
        t = float(z["temperature"])
        probs[name] = {p: metrics.softmax(z[f"{p}_logits"], temperature=t) for p in ("val", "test")}
        for p in ("val", "test"):
            if p in y and not np.array_equal(y[p], z[f"{p}_labels"]):
                raise SystemExit(f"{name}: its {p} clips differ from the others'")
            y[p] = z[f"{p}_labels"]
        print(f"{name:32s} test {100 * (probs[name]['test'].argmax(1) == y['test']).mean():.2f} %")
    scored = []
    for k in range(2, a.max_size + 1):
        for subset in itertools.combinations(a.candidates, k):
            acc = {
                p: float((np.mean([probs[n][p] for n in subset], 0).argmax(1) == y[p]).mean())
                for p in ("val", "test")
            }
            scored.append((acc["val"], acc["test"], subset))
    for label, key in (("chosen on validation", 0), ("chosen on test (oracle)", 1)):
        v, t, subset = max(scored, key=lambda r: (r[key], r[1 - key]))
        print(f"{label:24s} val {100 * v:.2f} %  test {100 * t:.2f} %  {' + '.join(subset)}")


if __name__ == "__main__":
    main()
