"""Making a quiz: which models can take part, drawing the clips, the model's answers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import data
from ..audio import load_audio
from ..cards import models_dir, shipped_cards
from ..config import EMOTIONS, artifacts_dir
from ..errors import DatasetError, QuizError
from ..i18n import N_
from ..inference import Predictor
from .store import MAX_CLIPS, MIN_CLIPS, MODES, Quiz, store_quiz


# ------------------------------------------------------------------ which models
@dataclass(frozen=True)
class FoldModel:
    """A LOSO fold model: ``speaker`` was neither in its training nor its validation part."""

    model_name: str
    directory: Path
    fold: int
    speaker: str


def heldout_dir() -> Path:
    """``artifacts/heldout``: fold models the app does not list."""
    return artifacts_dir() / "heldout"


def heard_models(directory: Path | None = None) -> list[str]:
    """Shipped models trained on the seed split, best seed accuracy first.

    Only corpus-normalised models: a speaker-normalised one would predict the quiz clips
    with corpus statistics standing in for the speaker's (as for an unknown voice).
    """
    cards = shipped_cards(directory)
    picked = [
        n
        for n, c in cards.items()
        if (c.get("training") or {}).get("protocol") == "seed"
        and (c.get("normalization") or {}).get("kind") != "speaker"
    ]

    def seed_accuracy(name: str) -> float:
        return float(cards[name].get("metrics", {}).get("seed", {}).get("accuracy", 0.0))

    return sorted(picked, key=lambda n: (-seed_accuracy(n), n))


def _heldout_speaker(card: dict, fold: int, splits_dir: Path | None) -> str | None:
    if card.get("heldout_speaker"):
        return str(card["heldout_speaker"])
    try:
        loso = data.load_split("loso", directory=splits_dir)
    except DatasetError:
        return None
    test = loso.loc[loso.get(f"fold{fold}", pd.Series(dtype=str)) == "test", "speaker"].unique()
    return str(test[0]) if len(test) == 1 else None


def fold_models(
    *, directories: Sequence[Path] | None = None, splits_dir: Path | None = None
) -> dict[str, FoldModel]:
    """LOSO fold models, by the speaker each never heard (the first found per speaker).

    Parameters
    ----------
    directories : sequence of Path, optional
        Where to look (default: ``artifacts/models``, then :func:`heldout_dir`).
    splits_dir : Path, optional
        The saved splits (for a card that does not name its held-out speaker).

    Returns
    -------
    dict of str -> FoldModel, sorted by speaker
    """
    out: dict[str, FoldModel] = {}
    for d in directories or (models_dir(), heldout_dir()):
        for name, card in shipped_cards(Path(d)).items():
            training = card.get("training") or {}
            if training.get("protocol") != "loso":
                continue
            fold = int(training.get("fold", 0))
            speaker = _heldout_speaker(card, fold, splits_dir)
            if speaker is not None:
                out.setdefault(speaker, FoldModel(name, Path(d), fold, speaker))
    return dict(sorted(out.items()))


def pick_fold_model(speaker: str | None, found: dict[str, FoldModel]) -> FoldModel:
    """The fold model that never heard ``speaker`` (None: the first of ``found``).

    Raises
    ------
    QuizError
        None is shipped (the message says how to train one), or none for that speaker
        (the message lists the speakers that have one).
    """
    if not found:
        raise QuizError(
            N_(
                "No model that never heard a speaker is shipped, so a new-voice quiz cannot be "
                "made. Train a LOSO fold model into artifacts/heldout, e.g. `{command}`."
            ),
            command="python -m ser_core train --model resnet18 --representation mel --norm speaker "
            "--protocol loso --fold 0 --ship resnet18_mel_spk_fold0 --ship-dir artifacts/heldout",
        )
    if speaker is None:
        return next(iter(found.values()))
    if speaker not in found:
        available = ", ".join(f"{s} (`{m.model_name}`)" for s, m in found.items())
        raise QuizError(
            N_("No shipped model never heard speaker {speaker}; models exist for: {available}."),
            speaker=speaker,
            available=available,
        )
    return found[speaker]


# ------------------------------------------------------------------ making a quiz
def draw_clips(
    meta: pd.DataFrame, rows: np.ndarray, *, n_clips: int, seed: int, speaker: str | None = None
) -> pd.DataFrame:
    """Draw ``n_clips`` of the clips ``rows``, balanced by emotion, in a random order.

    Each emotion gets ``n_clips // 6`` clips; the remainder goes to emotions drawn at
    random.  The same arguments always give the same clips in the same order.

    Parameters
    ----------
    meta : pandas.DataFrame
        :func:`ser_core.data.load_metadata`'s frame.
    rows : np.ndarray, shape (n,)
        Row positions in ``meta`` to draw from (the seed split's test part).
    n_clips : int
    seed : int
    speaker : str, optional
        Draw only this speaker's clips.

    Returns
    -------
    pandas.DataFrame, ``n_clips`` rows
        ``meta``'s columns for the drawn clips, index 0..n_clips-1 (the quiz order).

    Raises
    ------
    QuizError
        Fewer clips of an emotion than it needs.
    """
    pool = meta.iloc[np.sort(np.asarray(rows, dtype=int))]
    if speaker is not None:
        pool = pool[pool["speaker"] == speaker]
    rng = np.random.default_rng(seed)
    base, extra = divmod(int(n_clips), len(EMOTIONS))
    plus = set(rng.choice(len(EMOTIONS), size=extra, replace=False).tolist())
    picked = []
    for k, emotion in enumerate(EMOTIONS):
        need = base + (k in plus)
        cand = pool[pool["emotion"] == emotion]
        if len(cand) < need:
            raise QuizError(
                N_("Only {have} test clips of {emotion} to draw {need} from; ask for fewer clips."),
                have=len(cand),
                emotion=emotion,
                need=need,
            )
        picked.append(cand.iloc[np.sort(rng.choice(len(cand), size=need, replace=False))])
    drawn = pd.concat(picked)
    return drawn.iloc[rng.permutation(len(drawn))].reset_index(drop=True)


def predict_clips(paths: Sequence[str], model_name: str, *, directory: Path | None = None) -> np.ndarray:
    """The model's probabilities on each clip, as the app predicts an upload.

    Returns
    -------
    np.ndarray, shape (len(paths), 6)
    """
    pred = Predictor.load(model_name, directory=directory)
    return np.stack([pred.verdict(load_audio(p, sr=pred.cfg.sr)).probs for p in paths]).astype(np.float32)


def create_quiz(
    *,
    n_clips: int,
    mode: str,
    seed: int | None = None,
    model_name: str | None = None,
    speaker: str | None = None,
    corpus: str | os.PathLike | None = None,
    splits_dir: Path | None = None,
    models_directory: Path | None = None,
    heldout_directories: Sequence[Path] | None = None,
    directory: str | os.PathLike | None = None,
) -> tuple[Quiz, str]:
    """Draw, predict and store a quiz.

    Parameters
    ----------
    n_clips : int
        Between :data:`MIN_CLIPS` and :data:`MAX_CLIPS`.
    mode : {"heard", "new_voice"}
    seed : int, optional
        Which clips are drawn (default: random; stored with the quiz).
    model_name : str, optional
        ``heard``: a seed-split model (default: the first of :func:`heard_models`).
    speaker : str, optional
        ``new_voice``: the speaker (default: the first of :func:`fold_models`).
    corpus, splits_dir : optional
        The corpus (:func:`ser_core.data.find_corpus`) and the saved splits.
    models_directory : Path, optional
        Where ``heard`` models are (default ``artifacts/models``).
    heldout_directories : sequence of Path, optional
        Where :func:`fold_models` looks.
    directory : path, optional
        The data folder of the database (default :func:`default_data_dir`).

    Returns
    -------
    quiz : Quiz
    token : str
        The lecturer's key: :func:`results`, :func:`close` and :func:`delete` need it.

    Raises
    ------
    QuizError
        Bad arguments, no model for the mode (the message says which models can do it).
    DatasetError
        No corpus or no split files.
    """
    if mode not in MODES:
        raise QuizError(N_("Unknown quiz mode {mode!r}; choose one of {modes}."), mode=mode, modes=MODES)
    if not MIN_CLIPS <= int(n_clips) <= MAX_CLIPS:
        raise QuizError(
            N_("A quiz has {low} to {high} clips, not {n}."), low=MIN_CLIPS, high=MAX_CLIPS, n=n_clips
        )
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    if mode == "heard":
        candidates = heard_models(models_directory)
        if model_name is None and not candidates:
            raise QuizError(N_("No seed-split model is shipped in artifacts/models."))
        model_name, model_dir, speaker = model_name or candidates[0], models_directory, None
    else:
        fold = pick_fold_model(speaker, fold_models(directories=heldout_directories, splits_dir=splits_dir))
        model_name, model_dir, speaker = fold.model_name, fold.directory, fold.speaker
    meta = data.load_metadata(corpus)
    test = data.split_indices(meta, "seed", directory=splits_dir).test
    clips = draw_clips(meta, test, n_clips=int(n_clips), seed=seed, speaker=speaker)
    probs = predict_clips(clips["path"].tolist(), model_name, directory=model_dir)
    return store_quiz(
        clips, probs, mode=mode, model_name=model_name, seed=seed, speaker=speaker, directory=directory
    )
