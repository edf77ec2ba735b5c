"""How much of the training speakers a CNN's embedding still holds (a linear probe).

A logistic regression learns to tell the training speakers of a LOSO fold apart
from the pooled embedding (:func:`ser_core.train.embed`) of 600 of their
training clips, each normalised as the model was trained (its speaker's own
statistics for ``-spk`` models, the card's corpus statistics otherwise);
5-fold cross-validated accuracy against chance (1 / speakers).  It is the
check behind the README's speaker-adversarial figures: a model whose adversary
works should score near chance.

    NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/speaker_probe.py --recipe resnet18/mel-spk --fold 3
    NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/speaker_probe.py --card some/dir/m.json --fold 3

``--recipe`` takes the latest MLflow run of that recipe's fold (the store the
leaderboard reads); ``--card`` a model saved with ``train --ship NAME --ship-dir DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ser_core import adapt, data, evaluate, inputs, models, train
from ser_core import leaderboard as lb


def probe(loaded: models.LoadedModel, meta, *, fold: int, n_clips: int = 600, seed: int = 0) -> float:
    """Cross-validated speaker accuracy of a probe on ``loaded``'s embedding of fold ``fold``'s
    training clips."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    card = loaded.card
    if card["input"]["kind"] != "features" or not hasattr(loaded.module, "features"):
        raise SystemExit(f"{loaded.model_name}: the probe needs a CNN on a representation")
    x_all = inputs.model_inputs(meta, "features", card["input"]["name"])
    spk = meta["speaker"].astype(str).to_numpy()
    split = data.split_indices(meta, "loso", fold=fold)
    rows = np.random.default_rng(seed).choice(split.train, min(n_clips, len(split.train)), replace=False)
    if card["training"].get("norm") == "speaker":
        stats = inputs.split_speaker_stats(x_all, spk, split.train, split.val, split.test)
        x = adapt.speaker_normalise(x_all[rows], spk[rows], stats)
    else:
        x = evaluate._corpus_stats(card).apply(np.asarray(x_all[rows], np.float32))
    net = loaded.module.float().eval()
    with torch.no_grad():
        emb = np.concatenate(
            [train.embed(net, torch.from_numpy(x[i : i + 64]))[0].numpy() for i in range(0, len(x), 64)]
        )
    emb = (emb - emb.mean(0)) / (emb.std(0) + 1e-6)
    return float(cross_val_score(LogisticRegression(max_iter=2000), emb, spk[rows], cv=5).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", action="append", default=[], help="model/input, e.g. resnet18/mel-spk")
    ap.add_argument("--card", action="append", default=[], help="a saved model's JSON card")
    ap.add_argument("--fold", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    meta = data.load_metadata()
    chance = 1 / (meta["speaker"].nunique() - 2)  # the test and validation speakers are out
    todo = [(Path(c).stem, lambda c=c: models.load(Path(c).stem, directory=Path(c).parent)) for c in a.card]
    if a.recipe:
        runs = lb.load_runs()
        for recipe in a.recipe:
            arch, tag = recipe.split("/")
            sel = evaluate._fold_runs(runs, arch, tag).set_index("fold")
            todo.append(
                (f"{recipe} fold {a.fold}", lambda rid=sel.loc[a.fold]["run_id"]: evaluate._run_weights(rid))
            )
    if not todo:
        ap.error("give --recipe or --card")
    for label, load in todo:
        acc = probe(load(), meta, fold=a.fold)
        print(f"{label}: speaker probe {100 * acc:.1f} % (chance {100 * chance:.1f} %)")


if __name__ == "__main__":
    main()
