"""A tiny shipped model for tests of the predictor: train it once, point env vars at it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import make_corpus

TINY = "tiny_mel"


def ship_tiny_model(root: Path, *, name: str = TINY, unsure_below: float | None = None) -> Path:
    """Train a width-8 mel ResNet for one epoch on a synthetic corpus and ship it.

    Returns the artifacts folder (``root/artifacts``, holding ``models/<name>.*``),
    for ``$SER_ARTIFACTS``.  Takes a few seconds on two cores.
    """
    import json

    from ser_core import data, models, train

    meta = data.load_metadata(make_corpus(root / "corpus", per_emotion=5, seconds=0.8))
    splits = root / "splits"
    data.save_splits(meta, directory=splits)
    old = {k: os.environ.get(k) for k in ("SER_CACHE_DIR", "SER_ARTIFACTS")}
    os.environ["SER_CACHE_DIR"] = str(root / "cache")
    os.environ["SER_ARTIFACTS"] = str(root / "artifacts")
    try:
        res = train.train(
            train.TrainConfig(epochs=1, width=8, batch_size=8),
            meta,
            splits_dir=splits,
            log_mlflow=False,
            progress=False,
        )
        card = train.model_card(res)
        if unsure_below is not None:
            card["decision"]["unsure_below"] = unsure_below
        models.save(res.model, card, name)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    models_dir = root / "artifacts" / "models"
    json.loads((models_dir / f"{name}.json").read_text())  # written and readable
    return root / "artifacts"


def ship_tiny_ensemble(
    root: Path, *, name: str = "tiny_ensemble", weights: tuple[float, float] = (0.7, 0.3)
) -> Path:
    """Ship two tiny members (mel and chroma ResNets) and a WeightedEnsemble of them.

    Returns the artifacts folder, like :func:`ship_tiny_model`.
    """
    import json

    import numpy as np
    import torch

    from ser_core import models

    artifacts = ship_tiny_model(root, name="tiny_mel")
    mel_card = json.loads((artifacts / "models" / "tiny_mel.json").read_text())
    # the second member: the same tiny training on chroma (one epoch, width 8)
    from ser_core import data, train

    meta = data.load_metadata(root / "corpus")
    old = {k: os.environ.get(k) for k in ("SER_CACHE_DIR",)}
    os.environ["SER_CACHE_DIR"] = str(root / "cache")
    try:
        res = train.train(
            train.TrainConfig(representation="chroma", epochs=1, width=8, batch_size=8),
            meta,
            splits_dir=root / "splits",
            log_mlflow=False,
            progress=False,
        )
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    models.save(res.model, train.model_card(res), "tiny_chroma", directory=artifacts / "models")
    ens = models.create("weighted_ensemble", n_members=2)
    with torch.no_grad():
        ens.raw.copy_(torch.tensor(weights))
        ens.log_t.fill_(float(np.log(1.2)))
    card = {
        "architecture": {"name": "weighted_ensemble", "kwargs": {"n_members": 2}},
        "input": {
            "kind": "members",
            "name": "ensemble",
            "members": ["tiny_mel", "tiny_chroma"],
            "representations": ["mel", "chroma"],
        },
        "classes": mel_card["classes"],
        "calibration": {"temperature": 1.0},
        "decision": {"unsure_below": 0.5},
        "ensemble": {"weights": {"mel": weights[0] / sum(weights), "chroma": weights[1] / sum(weights)}},
        "metrics": {"seed": {"accuracy": 0.0}},
    }
    models.save(ens, card, name, directory=artifacts / "models")
    return artifacts


def ship_tiny_spk_model(
    root: Path, *, name: str = "tiny_spk", accuracy: float | None = None, representation: str = "mel"
) -> Path:
    """Ship a width-8 mel ResNet trained one epoch on **speaker-normalised** features
    (card normalization kind "speaker": it can be adapted to a voice).

    Uses ``root/corpus`` when :func:`ship_tiny_model` already made it there.  ``accuracy``
    overrides the card's seed accuracy (to make it the page's default model).  Returns the
    artifacts folder.
    """
    import json

    from ser_core import data, models, train

    corpus = root / "corpus"
    if not (corpus / "data.tsv").exists():
        make_corpus(corpus, per_emotion=5, seconds=0.8)
    meta = data.load_metadata(corpus)
    splits = root / "splits"
    if not splits.exists():
        data.save_splits(meta, directory=splits)
    old = {k: os.environ.get(k) for k in ("SER_CACHE_DIR",)}
    os.environ["SER_CACHE_DIR"] = str(root / "cache")
    try:
        res = train.train(
            train.TrainConfig(representation=representation, epochs=1, width=8, batch_size=8, norm="speaker"),
            meta,
            splits_dir=splits,
            log_mlflow=False,
            progress=False,
        )
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    card = train.model_card(res)
    assert card["normalization"]["kind"] == "speaker"
    if accuracy is not None:
        card["metrics"]["seed"]["accuracy"] = accuracy
    models.save(res.model, card, name, directory=root / "artifacts" / "models")
    json.loads((root / "artifacts" / "models" / f"{name}.json").read_text())
    return root / "artifacts"
