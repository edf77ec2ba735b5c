"""How the emotions of the calibration speech change accuracy on a new voice.

For every LOSO fold of a speaker-normalised recipe (the weights its MLflow runs
logged, as ``python -m ser_core evaluate --protocol loso --adabn`` loads them),
the held-out speaker's statistics come from 30 s of their clips of one emotion
(or of randomly mixed clips); the rest of that speaker is scored.  Prints the
mean ± std over the 9 speakers.

    NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/calibration_emotion.py
"""

from __future__ import annotations

import argparse

import numpy as np

from ser_core import adapt, data, evaluate, functionals, inputs, models
from ser_core import leaderboard as lb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--recipe",
        action="append",
        default=None,
        help="model/input, e.g. logreg/compare-spk (default: that and resnet18/mel-spk)",
    )
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    meta = data.load_metadata()
    y, emo = meta["label"].to_numpy(), meta["emotion"].to_numpy()
    secs = adapt.clip_seconds(meta["path"].to_numpy(), limit=3.0)
    runs = lb.load_runs()
    for recipe in a.recipe or ["logreg/compare-spk", "resnet18/mel-spk"]:
        arch, tag = recipe.split("/")
        base = tag.removesuffix("-spk")
        x = inputs.model_inputs(meta, functionals.input_kind(base), base)
        sel = evaluate._fold_runs(runs, arch, tag).set_index("fold")
        res: dict[str, list[float]] = {"mixed": [], "neutral": [], "anger": []}
        for k in range(data.n_folds("loso")):
            rows = data.split_indices(meta, "loso", fold=k).test
            loaded = evaluate._run_weights(sel.loc[k]["run_id"])
            rng = np.random.default_rng(0)
            for kind in res:
                pool = rng.permutation(rows if kind == "mixed" else rows[emo[rows] == kind])
                pool = pool[: int(np.searchsorted(np.cumsum(secs[pool]), a.seconds)) + 1]
                scored = np.setdiff1d(rows, pool)
                stats = adapt.voice_stats(x[pool], prior=evaluate._corpus_stats(loaded.card))
                z = models.predict_logits(loaded.module, stats.apply(np.asarray(x[scored], np.float32)))
                res[kind].append(float((z.argmax(1) == y[scored]).mean()))
        print(
            f"{recipe}, {a.seconds:g} s of calibration: "
            + ", ".join(
                f"{kind} {100 * np.mean(v):.1f} ± {100 * np.std(v, ddof=1):.1f} %" for kind, v in res.items()
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
