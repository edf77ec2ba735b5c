"""RAVDESS, a second corpus: English speech of 24 actors, for voices the models never heard.

The Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone &
Russo 2018, CC BY-NC-SA 4.0), speech audio only: 1440 clips, two fixed
sentences, each said twice, by 24 actors (odd numbers male), in eight emotions.
The corpus is found at an explicit path, else ``$RAVDESS_DIR``, else
``<project>/data/RAVDESS``.  Two copies are read, in upstream's folder layout
``[Audio_Speech_Actors_01-24/]Actor_XX/MM-VV-EE-II-SS-RR-AA.<ext>``:
upstream's 48 kHz WAV tree and the 16 kHz Ogg/Opus copy (``.ogg``, same stems).
Audio is never copied into the project.

Emotions
    nEMO's six map onto RAVDESS as anger = 05, fear = 06, happiness = 03,
    neutral = 01, sadness = 04, surprised = 08.  Calm (02) and disgust (07)
    have no nEMO counterpart and are left out by default (``emotions="shared"``:
    1056 clips, 44 per actor); ``emotions="all"`` keeps them with ``label`` -1.

The leave-actors-out protocol (:func:`make_lao_split`) lives here; the protocols
mixing both corpora are in :mod:`ser_core.data`, which re-exports this module's API.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .config import EMOTION_TO_INDEX, cache_dir, project_root
from .errors import DatasetError, DatasetNotFoundError, UnknownNameError
from .i18n import N_

__all__ = [
    "RAVDESS_ENV",
    "RAVDESS_AUDIO_SUFFIXES",
    "RAVDESS_EMOTIONS",
    "RAVDESS_HOW_TO_GET",
    "find_ravdess",
    "ravdess_available",
    "load_ravdess_metadata",
    "make_lao_split",
    "ravdess_cache_root",
]

RAVDESS_ENV = "RAVDESS_DIR"
#: Upstream's lossless WAV first: when both copies of a clip sit side by side, the WAV is read.
RAVDESS_AUDIO_SUFFIXES = (".wav", ".ogg")
#: The emotion code (``EE``) of every RAVDESS emotion; nEMO's names for the six shared ones.
RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprised",
}
_INTENSITY = {"01": "normal", "02": "strong"}
_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_TOP = "Audio_Speech_Actors_01-24"
_ACTOR = re.compile(r"^Actor_\d\d$")

RAVDESS_HOW_TO_GET = N_(
    "Get RAVDESS speech audio (CC BY-NC-SA 4.0) from Zenodo (doi:10.5281/zenodo.1188976, "
    "Audio_Speech_Actors_01-24.zip), unpack it, and point the RAVDESS_DIR environment variable "
    "at the folder that holds the Actor_XX/ folders (or Audio_Speech_Actors_01-24/ itself), "
    "or place it at data/RAVDESS."
)


def _candidates(path: str | os.PathLike | None) -> list[Path]:
    if path is not None:
        return [Path(path)]
    out = [Path(os.environ[RAVDESS_ENV])] if os.environ.get(RAVDESS_ENV) else []
    return [*out, project_root() / "data" / "RAVDESS"]


def _actor_dirs(p: Path) -> list[Path]:
    return sorted(d for d in p.iterdir() if d.is_dir() and _ACTOR.match(d.name)) if p.is_dir() else []


def find_ravdess(path: str | os.PathLike | None = None) -> Path:
    """Locate the folder holding RAVDESS's ``Actor_XX/`` folders.

    Parameters
    ----------
    path : path, optional
        The corpus folder, or the one above ``Audio_Speech_Actors_01-24/``
        (default: ``$RAVDESS_DIR``, then ``<project>/data/RAVDESS``).

    Returns
    -------
    Path
        The folder whose subfolders are ``Actor_01`` ... ``Actor_24``.

    Raises
    ------
    DatasetNotFoundError
        With the places looked at and how to get the corpus.
    """
    tried = _candidates(path)
    for p in tried:
        for q in (p, p / _TOP):
            if _actor_dirs(q):
                return q.resolve()
    where = ", ".join(repr(str(p)) for p in tried)
    raise DatasetNotFoundError(  # the second sentence is RAVDESS_HOW_TO_GET
        N_(
            "no RAVDESS corpus (Actor_XX/ folders) at {where}. Get RAVDESS speech audio (CC BY-NC-SA 4.0) "
            "from Zenodo (doi:10.5281/zenodo.1188976, Audio_Speech_Actors_01-24.zip), unpack it, and point "
            "the RAVDESS_DIR environment variable at the folder that holds the Actor_XX/ folders (or "
            "Audio_Speech_Actors_01-24/ itself), or place it at data/RAVDESS."
        ),
        where=where,
    )


def ravdess_available(path: str | os.PathLike | None = None) -> bool:
    """True when :func:`find_ravdess` would succeed."""
    try:
        find_ravdess(path)
    except DatasetNotFoundError:
        return False
    return True


def _clip_row(p: Path) -> dict | None:
    """Metadata of one audio file from its name, None for a song or audio-visual clip."""
    m = _NAME.match(p.stem)
    if m is None:
        raise DatasetError(N_("{path} is not named MM-VV-EE-II-SS-RR-AA as RAVDESS's clips are"), path=str(p))
    modality, channel, emo, intensity, statement, rep, actor = m.groups()
    if modality != "03" or channel != "01":  # audio-only speech; song and video are not read
        return None
    if emo not in RAVDESS_EMOTIONS or intensity not in _INTENSITY or statement not in _STATEMENTS:
        raise DatasetError(
            N_("{path}: unknown emotion, intensity or statement code in {stem!r}"), path=str(p), stem=p.stem
        )
    n = int(actor)
    return {
        "file_id": p.stem,
        "path": str(p),
        "emotion": RAVDESS_EMOTIONS[emo],
        "speaker": f"A{actor}",
        "gender": "male" if n % 2 else "female",
        "age": -1,
        "sentence_id": int(statement) - 1,
        "text": _STATEMENTS[statement].lower(),
        "raw_text": _STATEMENTS[statement],
        "intensity": _INTENSITY[intensity],
        "repetition": int(rep),
    }


def load_ravdess_metadata(path: str | os.PathLike | None = None, *, emotions: str = "shared") -> pd.DataFrame:
    """RAVDESS's speech clips from their file names, one row per clip, sorted by ``file_id``.

    Parameters
    ----------
    path : path, optional
        As for :func:`find_ravdess`.
    emotions : {"shared", "all"}
        ``"shared"``: nEMO's six emotions only (calm and disgust left out);
        ``"all"``: the eight, calm and disgust with ``label`` -1.

    Returns
    -------
    pandas.DataFrame with columns
        ``file_id`` (stem, e.g. ``"03-01-05-02-01-01-12"``), ``path`` (absolute),
        ``emotion`` (nEMO's name), ``label`` (index into :data:`~ser_core.config.EMOTIONS`),
        ``speaker`` (``"A01"`` ... ``"A24"``), ``gender``, ``age`` (-1: not published
        per clip), ``sentence_id`` (0 or 1), ``text`` (lower case), ``raw_text``,
        ``intensity`` (``"normal"``/``"strong"``), ``repetition`` (1 or 2),
        ``corpus`` (``"ravdess"``).

    Raises
    ------
    DatasetNotFoundError
        No corpus at the path.
    DatasetError
        A misnamed audio file, no speech clip at all, or an unknown ``emotions``.
    """
    if emotions not in ("shared", "all"):
        raise UnknownNameError(f"unknown emotions {emotions!r}; choose 'shared' or 'all'")
    root = find_ravdess(path)
    found: dict[str, Path] = {}
    for actor in _actor_dirs(root):
        for p in actor.iterdir():
            suffix = p.suffix.lower()
            if suffix in RAVDESS_AUDIO_SUFFIXES and (
                p.stem not in found or RAVDESS_AUDIO_SUFFIXES.index(suffix) < _rank(found[p.stem])
            ):
                found[p.stem] = p
    rows = [r for p in found.values() if (r := _clip_row(p)) is not None]
    if not rows:
        raise DatasetError(
            N_("no RAVDESS speech clips (03-01-*.wav or .ogg) under {folder}"), folder=str(root)
        )
    df = pd.DataFrame(rows)
    df["label"] = df["emotion"].map(EMOTION_TO_INDEX).fillna(-1).astype(int)
    if emotions == "shared":
        df = df[df["label"] >= 0]
    df["corpus"] = "ravdess"
    cols = [
        "file_id",
        "path",
        "emotion",
        "label",
        "speaker",
        "gender",
        "age",
        "sentence_id",
        "text",
        "raw_text",
        "intensity",
        "repetition",
        "corpus",
    ]
    return df[cols].sort_values("file_id", ignore_index=True)


def _rank(p: Path) -> int:
    return RAVDESS_AUDIO_SUFFIXES.index(p.suffix.lower())


def make_lao_split(meta: pd.DataFrame, *, n_folds: int = 6) -> pd.DataFrame:
    """Leave-actors-out folds on RAVDESS.

    The actors, in sorted order, are cut into ``n_folds`` consecutive groups
    (24 actors, 6 folds: 4 actors each, two male and two female).  Fold *k*
    tests on group *k*, validates on group *k + 1* (as ``loso`` does with the
    next speaker) and trains on the rest.

    Parameters
    ----------
    meta : DataFrame
        RAVDESS rows (``file_id``, ``emotion``, ``speaker``).
    n_folds : int
        Number of actor groups (at least 3, at most the number of actors).

    Returns
    -------
    DataFrame with ``file_id``, ``emotion``, ``speaker`` and one column
    ``fold<k>`` per group valued ``train`` / ``val`` / ``test``.

    Raises
    ------
    DatasetError
        When there are fewer actors than folds, or fewer than three folds.
    """
    actors = sorted(meta["speaker"].unique())
    if not 3 <= n_folds <= len(actors):
        raise DatasetError(
            f"cannot cut {len(actors)} actors into {n_folds} leave-actors-out folds (3 or more)"
        )
    groups = [list(g) for g in np.array_split(np.asarray(actors, dtype=object), n_folds)]
    out = meta[["file_id", "emotion", "speaker"]].copy()
    for k, test in enumerate(groups):
        val = groups[(k + 1) % n_folds]
        spk = meta["speaker"]
        out[f"fold{k}"] = np.where(spk.isin(test), "test", np.where(spk.isin(val), "val", "train"))
    return out


def ravdess_cache_root() -> Path:
    """Feature-cache root of RAVDESS: ``<cache_dir>/ravdess`` (an entry there is named as
    nEMO's are, ``<representation>-<key>``, but never replaces nEMO's entry)."""
    return cache_dir() / "ravdess"
