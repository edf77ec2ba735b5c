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


def loso_metrics(acc: float, worst: float = 0.2) -> dict:
    """A card's ``metrics.loso`` over two folds: mean ``acc``, the worst speaker AA0 at ``worst``."""
    folds = [{"fold": 0, "speaker": "AA0", "accuracy": worst}, {"fold": 1, "speaker": "BB0", "accuracy": acc}]
    return {"accuracy": acc, "accuracy_std": 0.1, "n_folds": 2, "folds": folds}


def ship_disagreeing_cards(root: Path) -> Path:
    """The tiny network shipped under three names whose cards disagree: ``seed_star`` is the
    best on the seed split (0.99) but has no LOSO figure, ``new_voice`` the best on new voices
    (LOSO 0.61, seed 0.80), ``weak`` neither (0.35, 0.90).  Returns the artifacts folder."""
    import json
    import shutil

    artifacts = ship_tiny_model(root)
    d = artifacts / "models"
    card = json.loads((d / f"{TINY}.json").read_text())
    for name, seed, loso in (("seed_star", 0.99, None), ("new_voice", 0.80, 0.61), ("weak", 0.90, 0.35)):
        metrics = {"seed": {**card["metrics"]["seed"], "accuracy": seed}}
        if loso is not None:
            metrics["loso"] = loso_metrics(loso)
        (d / f"{name}.json").write_text(json.dumps({**card, "metrics": metrics}))
        shutil.copy(d / f"{TINY}.safetensors", d / f"{name}.safetensors")
    (d / f"{TINY}.json").unlink()
    (d / f"{TINY}.safetensors").unlink()
    return artifacts
