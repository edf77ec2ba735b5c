"""Does RAVDESS in training help nEMO's new voices?  Logistic regression on speaker-normalised eGeMAPS.

The cheap recipe (``train --model logreg --representation egemaps --norm speaker``)
under three protocols, each fold through :func:`ser_core.train.train`:

* ``loso``: nEMO's nine leave-one-speaker-out folds (the baseline; not logged,
  the recipe's LOSO runs are in MLflow already);
* ``both_loso``: the same folds with all 24 RAVDESS actors added to training;
* ``ravdess_lao``: six leave-four-actors-out folds on RAVDESS alone.

Prints every fold's test accuracy and the mean ± std (ddof 1) per protocol;
``--json`` writes them too.  RAVDESS's eGeMAPS are cached under
``<cache>/ravdess/`` (:func:`ser_core.data.ravdess_cache_root`).

    RAVDESS_DIR=../shared/ravdess NEMO_DIR=../shared/nemo \
        .venv/bin/python benchmarks/ravdess_logreg.py [--no-mlflow] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from ser_core import data
from ser_core.train import TrainConfig, train

PROTOCOLS = ("loso", "both_loso", "ravdess_lao")


def run_protocol(meta, protocol: str, *, log_mlflow: bool) -> list[dict]:
    """Per fold: ``fold``, ``speakers`` (held out), ``accuracy``, ``macro_f1``, ``val_accuracy``."""
    rows = []
    for k in range(data.n_folds(protocol)):
        tc = TrainConfig(model="logreg", representation="egemaps", norm="speaker", protocol=protocol, fold=k)
        res = train(tc, meta, log_mlflow=log_mlflow and protocol != "loso", progress=False)
        test = data.split_indices(meta, protocol, fold=k).test
        rows.append(
            {
                "fold": k,
                "speakers": ",".join(sorted(set(meta["speaker"].iloc[test]))),
                "accuracy": res.report["accuracy"],
                "macro_f1": res.report["macro_f1"],
                "val_accuracy": res.val_accuracy,
            }
        )
        print(f"  {protocol} fold {k} ({rows[-1]['speakers']}): {rows[-1]['accuracy']:.2%}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args()
    nemo = data.load_metadata()
    both = data.combined_metadata(nemo, data.load_ravdess_metadata())
    out = {}
    for protocol in a.protocols:
        folds = run_protocol(nemo if protocol == "loso" else both, protocol, log_mlflow=not a.no_mlflow)
        acc = np.array([f["accuracy"] for f in folds])
        out[protocol] = {"mean": float(acc.mean()), "std": float(acc.std(ddof=1)), "folds": folds}
        print(f"{protocol}: {acc.mean():.2%} ± {acc.std(ddof=1):.2%} over {len(acc)} folds", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
