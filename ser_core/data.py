"""The nEMO corpus: finding it, its cleaned metadata, and evaluation protocols.

The corpus is found at an explicit path, else ``$NEMO_DIR``, else
``<project>/data/nEMO``.  Both layouts are read: upstream (``data.tsv`` +
``samples/*.wav`` at 24 kHz) and the 16 kHz FLAC copy (``samples/*.flac``).
Audio is never copied into the project (licence CC BY-NC-SA 4.0).

Protocols (saved as CSV under ``artifacts/splits/`` so every number can be
reproduced without re-deriving them):

``seed``
    The research project's stratified random 64/16/20 split: scikit-learn
    ``train_test_split`` holds out 20 % for test, then 20 % of the rest for
    validation, stratified by emotion, ``random_state=42``.
``loso``
    Nine leave-one-speaker-out folds.  Fold *k* tests on speaker *k*, validates
    on the next speaker in sorted order and trains on the other seven, so
    early stopping never sees the test voice and validation is itself a new
    voice.

The second corpus, RAVDESS (:mod:`ser_core.ravdess`, re-exported here), adds
three protocols over a frame of both corpora (:func:`combined_metadata`),
derived from the saved ``seed`` and ``loso`` splits and RAVDESS's actors
(:func:`cross_split_table`; nothing more is saved):

``xcorpus``
    Trained on nEMO (the ``seed`` split's training and validation parts, so the
    shipped seed models are scored under it), tested on every RAVDESS actor.
``ravdess_lao``
    Six leave-actors-out folds on RAVDESS alone (four actors each; validation
    on the next fold's actors, as ``loso``).
``both_loso``
    nEMO's nine ``loso`` folds with every RAVDESS actor added to training.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import EMOTION_TO_INDEX, EMOTIONS, artifacts_dir, project_root
from .errors import DatasetError, DatasetNotFoundError, DownloadError, UnknownNameError
from .i18n import N_
from .ravdess import (
    RAVDESS_EMOTIONS,
    RAVDESS_ENV,
    find_ravdess,
    load_ravdess_metadata,
    make_lao_split,
    ravdess_available,
    ravdess_cache_root,
)

__all__ = [
    "NEMO_ENV",
    "NEMO_URL",
    "AUDIO_SUFFIXES",
    "find_corpus",
    "corpus_available",
    "load_metadata",
    "clip_path",
    "PROTOCOLS",
    "Split",
    "make_seed_split",
    "make_loso_split",
    "save_splits",
    "load_split",
    "split_indices",
    "clips_digest",
    "download",
    "HOW_TO_GET",
    "RAVDESS_ENV",
    "RAVDESS_EMOTIONS",
    "find_ravdess",
    "ravdess_available",
    "load_ravdess_metadata",
    "ravdess_cache_root",
    "make_lao_split",
    "CROSS_PROTOCOLS",
    "RAVDESS_LAO_FOLDS",
    "combined_metadata",
    "cross_split_table",
]

NEMO_ENV = "NEMO_DIR"
NEMO_URL = "https://github.com/amu-cai/nEMO/archive/refs/heads/main.zip"
AUDIO_SUFFIXES = (".flac", ".wav")
PROTOCOLS = ("seed", "loso")
#: Protocols over both corpora (:func:`cross_split_table`), not saved as CSV files.
CROSS_PROTOCOLS = ("xcorpus", "ravdess_lao", "both_loso")
#: Folds of ``ravdess_lao``: 24 actors in groups of four.
RAVDESS_LAO_FOLDS = 6

HOW_TO_GET = N_(
    "Get nEMO (CC BY-NC-SA 4.0) from GitHub (amu-cai/nEMO) or the Hugging Face hub "
    "(amu-cai/nEMO), or run `python -m ser_core download`; then point the NEMO_DIR "
    "environment variable at the folder that holds data.tsv and samples/ "
    "(or place it at data/nEMO)."
)


def _candidates(path: str | os.PathLike | None) -> list[Path]:
    if path is not None:
        return [Path(path)]
    out = []
    if os.environ.get(NEMO_ENV):
        out.append(Path(os.environ[NEMO_ENV]))
    out.append(project_root() / "data" / "nEMO")
    return out


def _is_corpus(p: Path) -> bool:
    return (p / "data.tsv").is_file() and (p / "samples").is_dir()


def find_corpus(path: str | os.PathLike | None = None) -> Path:
    """Locate the corpus folder (holding ``data.tsv`` and ``samples/``).

    Raises
    ------
    DatasetNotFoundError
        With the places looked at and how to get the corpus.
    """
    tried = _candidates(path)
    for p in tried:
        if _is_corpus(p):
            return p.resolve()
        # a folder one level up from an unpacked upstream archive (nEMO-main/)
        if p.is_dir():
            for sub in sorted(p.iterdir()):
                if sub.is_dir() and _is_corpus(sub):
                    return sub.resolve()
    where = ", ".join(repr(str(p)) for p in tried)
    raise DatasetNotFoundError(  # the second sentence is HOW_TO_GET
        N_(
            "no nEMO corpus (data.tsv + samples/) at {where}. Get nEMO (CC BY-NC-SA 4.0) from GitHub "
            "(amu-cai/nEMO) or the Hugging Face hub (amu-cai/nEMO), or run `python -m ser_core download`; "
            "then point the NEMO_DIR environment variable at the folder that holds data.tsv and samples/ "
            "(or place it at data/nEMO)."
        ),
        where=where,
    )


def corpus_available(path: str | os.PathLike | None = None) -> bool:
    """True when :func:`find_corpus` would succeed."""
    try:
        find_corpus(path)
    except DatasetNotFoundError:
        return False
    return True


def clip_path(root: Path, file_id: str) -> Path:
    """Audio path of a clip stem in either layout (FLAC copy or upstream WAV)."""
    for suf in AUDIO_SUFFIXES:
        p = root / "samples" / f"{file_id}{suf}"
        if p.exists():
            return p
    raise DatasetError(
        N_("clip {clip!r} listed in data.tsv has no audio under {folder}"),
        clip=file_id,
        folder=str(root / "samples"),
    )


def load_metadata(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The corpus metadata, cleaned, one row per clip, sorted by ``file_id``.

    Returns
    -------
    pandas.DataFrame with columns
        ``file_id`` (stem, e.g. ``"EB0_anger_1"``), ``path`` (absolute audio
        path), ``emotion``, ``label`` (index into :data:`EMOTIONS`),
        ``speaker`` (stripped of upstream's leading spaces), ``gender``,
        ``age`` (int), ``sentence_id`` (int, the same text in every emotion),
        ``text`` (normalised transcript), ``raw_text``.
    """
    root = find_corpus(path)
    tsv = root / "data.tsv"
    try:
        df = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(N_("cannot read {path}: {error}"), path=str(tsv), error=str(exc)) from exc
    need = {"file_id", "emotion", "speaker_id", "gender", "age"}
    if missing := need - set(df.columns):
        raise DatasetError(
            N_("{path} lacks columns {columns}; is this nEMO's data.tsv?"),
            path=str(tsv),
            columns=sorted(missing),
        )
    df = df.apply(lambda c: c.str.strip())
    df["file_id"] = df["file_id"].str.replace(r"\.(wav|flac)$", "", regex=True)
    bad = set(df["emotion"]) - set(EMOTIONS)
    if bad:
        raise DatasetError(N_("{path} has unknown emotions {emotions}"), path=str(tsv), emotions=sorted(bad))
    df = df.rename(columns={"speaker_id": "speaker", "normalized_text": "text"})
    for col in ("text", "raw_text"):
        if col not in df:
            df[col] = ""
    df["age"] = pd.to_numeric(df["age"], errors="coerce").fillna(-1).astype(int)
    df["label"] = df["emotion"].map(EMOTION_TO_INDEX).astype(int)
    texts = sorted(set(df["text"]))
    df["sentence_id"] = df["text"].map({t: i for i, t in enumerate(texts)}).astype(int)
    # resolve audio paths in one directory listing (fast on 4481 files)
    present = {}
    for p in (root / "samples").iterdir():
        if p.suffix.lower() in AUDIO_SUFFIXES:
            present.setdefault(p.stem, p)
            if p.suffix.lower() == ".flac":
                present[p.stem] = p
    missing_audio = [f for f in df["file_id"] if f not in present]
    if missing_audio:
        raise DatasetError(
            N_("{n} clips in data.tsv have no audio under {folder}, e.g. {examples}"),
            n=len(missing_audio),
            folder=str(root / "samples"),
            examples=missing_audio[:3],
        )
    df["path"] = [str(present[f]) for f in df["file_id"]]
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
    ]
    return df[cols].sort_values("file_id", ignore_index=True)


# ----------------------------------------------------------------- protocols
@dataclass(frozen=True)
class Split:
    """Row indices (into :func:`load_metadata`'s frame) of one fold."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    name: str = ""


def make_seed_split(meta: pd.DataFrame, *, random_state: int = 42) -> pd.DataFrame:
    """The stratified random 64/16/20 split.

    Returns
    -------
    DataFrame with columns ``file_id``, ``emotion``, ``speaker``, ``split``
    (``train`` / ``val`` / ``test``), one row per clip.
    """
    from sklearn.model_selection import train_test_split  # sklearn: a cold path (making splits)

    idx = np.arange(len(meta))
    try:
        rest, test = train_test_split(idx, test_size=0.2, stratify=meta["emotion"], random_state=random_state)
        train, val = train_test_split(
            rest, test_size=0.2, stratify=meta["emotion"].iloc[rest], random_state=random_state
        )
    except ValueError as exc:
        raise DatasetError(f"cannot make a stratified 64/16/20 split of {len(meta)} clips: {exc}") from exc
    split = np.empty(len(meta), dtype=object)
    split[train], split[val], split[test] = "train", "val", "test"
    out = meta[["file_id", "emotion", "speaker"]].copy()
    out["split"] = split
    return out


def make_loso_split(meta: pd.DataFrame) -> pd.DataFrame:
    """Nine leave-one-speaker-out folds.

    Returns
    -------
    DataFrame with ``file_id``, ``emotion``, ``speaker`` and one column
    ``fold<k>`` per speaker (sorted order) valued ``train`` / ``val`` / ``test``.
    """
    speakers = sorted(meta["speaker"].unique())
    out = meta[["file_id", "emotion", "speaker"]].copy()
    for k, spk in enumerate(speakers):
        val_spk = speakers[(k + 1) % len(speakers)]
        col = np.where(meta["speaker"] == spk, "test", np.where(meta["speaker"] == val_spk, "val", "train"))
        out[f"fold{k}"] = col
    return out


def _splits_dir() -> Path:
    return artifacts_dir() / "splits"


def save_splits(meta: pd.DataFrame, *, directory: Path | None = None) -> dict[str, Path]:
    """Write ``seed.csv`` and ``loso.csv`` (sorted by ``file_id``)."""
    d = Path(directory or _splits_dir())
    d.mkdir(parents=True, exist_ok=True)
    paths = {}
    for protocol, frame in (("seed", make_seed_split(meta)), ("loso", make_loso_split(meta))):
        p = d / f"{protocol}.csv"
        frame.sort_values("file_id").to_csv(p, index=False)
        paths[protocol] = p
    return paths


def load_split(protocol: str, *, directory: Path | None = None) -> pd.DataFrame:
    """Read a saved protocol CSV (``seed`` or ``loso``)."""
    if protocol not in PROTOCOLS:
        raise UnknownNameError(
            N_("unknown protocol {protocol!r}; choose one of {protocols}"),
            protocol=protocol,
            protocols=PROTOCOLS,
        )
    p = Path(directory or _splits_dir()) / f"{protocol}.csv"
    if not p.exists():
        raise DatasetError(N_("no split file {path}; run `python -m ser_core splits`"), path=str(p))
    return pd.read_csv(p, dtype=str)


def n_folds(protocol: str) -> int:
    """1 for ``seed`` and ``xcorpus``, the number of speakers (9) for ``loso`` and ``both_loso``,
    :data:`RAVDESS_LAO_FOLDS` for ``ravdess_lao``."""
    if protocol in ("seed", "xcorpus"):
        return 1
    if protocol == "ravdess_lao":
        return RAVDESS_LAO_FOLDS
    return len(
        [c for c in load_split("loso" if protocol == "both_loso" else protocol) if c.startswith("fold")]
    )


def split_indices(
    meta: pd.DataFrame, protocol: str, *, fold: int = 0, directory: Path | None = None
) -> Split:
    """Indices into ``meta`` of the train/val/test parts of a protocol fold.

    For the protocols over both corpora (:data:`CROSS_PROTOCOLS`), ``meta`` is
    :func:`combined_metadata`'s frame (``ravdess_lao``: RAVDESS's alone will do).
    """
    if protocol in CROSS_PROTOCOLS:
        table = cross_split_table(meta, protocol, directory=directory)
    else:
        table = load_split(protocol, directory=directory)
    col = "split" if protocol == "seed" else f"fold{fold}"
    if col not in table:
        raise UnknownNameError(N_("protocol {protocol!r} has no fold {fold}"), protocol=protocol, fold=fold)
    lookup = dict(zip(table["file_id"], table[col]))
    missing = [f for f in meta["file_id"] if f not in lookup]
    if missing:
        raise DatasetError(
            N_(
                "{n} clips are not in the {protocol} split file, e.g. {examples}; "
                "the corpus differs from the one the splits were made for"
            ),
            n=len(missing),
            protocol=protocol,
            examples=missing[:3],
        )
    part = meta["file_id"].map(lookup).to_numpy()
    return Split(*(np.flatnonzero(part == s) for s in ("train", "val", "test")), name=f"{protocol}/{fold}")


def combined_metadata(nemo: pd.DataFrame, ravdess: pd.DataFrame) -> pd.DataFrame:
    """Both corpora in one frame: nEMO's rows, then RAVDESS's.

    Parameters
    ----------
    nemo : DataFrame
        :func:`load_metadata`'s frame.
    ravdess : DataFrame
        :func:`load_ravdess_metadata`'s frame (the six shared emotions).

    Returns
    -------
    DataFrame
        RAVDESS's columns; nEMO's rows with ``corpus`` ``"nemo"``,
        ``intensity`` ``""`` and ``repetition`` -1.

    Raises
    ------
    DatasetError
        When a clip name is in both, or RAVDESS holds emotions nEMO lacks.
    """
    if (ravdess["label"] < 0).any():
        raise DatasetError(
            "combine RAVDESS's six shared emotions only (load_ravdess_metadata(emotions='shared'))"
        )
    if clash := set(nemo["file_id"]) & set(ravdess["file_id"]):
        raise DatasetError(f"{len(clash)} clip names are in both corpora, e.g. {sorted(clash)[:3]}")
    left = nemo.assign(intensity="", repetition=-1, corpus="nemo")
    return pd.concat([left, ravdess], ignore_index=True)[list(ravdess.columns)]


def cross_split_table(meta: pd.DataFrame, protocol: str, *, directory: Path | None = None) -> pd.DataFrame:
    """The folds of a protocol over both corpora, row for row with ``meta``.

    Parameters
    ----------
    meta : DataFrame
        :func:`combined_metadata`'s frame (a frame without a ``corpus`` column is nEMO).
    protocol : {"xcorpus", "ravdess_lao", "both_loso"}
        See the module's docstring.
    directory : Path, optional
        Where the saved ``seed`` and ``loso`` splits are (default ``artifacts/splits``).

    Returns
    -------
    DataFrame with ``file_id``, ``emotion``, ``speaker``, ``corpus`` and one column
    ``fold<k>`` per fold valued ``train`` / ``val`` / ``test``, or ``""`` for a clip
    the fold does not use.

    Raises
    ------
    UnknownNameError
        For another protocol.
    DatasetError
        When ``meta`` lacks the corpus the protocol tests on, or a nEMO clip is not
        in the saved split.
    """
    if protocol not in CROSS_PROTOCOLS:
        raise UnknownNameError(f"unknown protocol {protocol!r}; choose one of {CROSS_PROTOCOLS}")
    corpus = meta["corpus"] if "corpus" in meta else pd.Series("nemo", index=meta.index)
    is_rav = (corpus == "ravdess").to_numpy()
    out = meta[["file_id", "emotion", "speaker"]].assign(corpus=corpus.to_numpy())
    if not is_rav.any():
        raise DatasetError(f"protocol {protocol!r} needs RAVDESS's clips in the frame (combined_metadata)")
    if protocol == "ravdess_lao":
        lao = make_lao_split(meta[is_rav], n_folds=RAVDESS_LAO_FOLDS)
        for col in (c for c in lao if c.startswith("fold")):
            out[col] = ""
            out.loc[is_rav, col] = lao[col].to_numpy()
        return out
    nemo_ids = out.loc[~is_rav, "file_id"]
    saved = load_split("seed" if protocol == "xcorpus" else "loso", directory=directory)
    cols = ["split"] if protocol == "xcorpus" else [c for c in saved if c.startswith("fold")]
    for k, col in enumerate(cols):
        part = nemo_ids.map(dict(zip(saved["file_id"], saved[col])))
        if part.isna().any():
            raise DatasetError(
                f"{int(part.isna().sum())} nEMO clips are not in the saved {col!r} split, "
                f"e.g. {list(nemo_ids[part.isna()][:3])}"
            )
        if protocol == "xcorpus":  # nEMO's seed test part is not used; RAVDESS is the test
            part = part.replace("test", "")
        out[f"fold{k}"] = "test" if protocol == "xcorpus" else "train"
        out.loc[~is_rav, f"fold{k}"] = part.to_numpy()
    return out


def clips_digest(file_ids, *, ordered: bool = False) -> str:
    """A short fingerprint (16 hex digits) of a set of clips (``ordered``: of a sequence).

    Records which clips something was computed from (a speaker-normalised
    model's training part, a stored part of the feature cache) so that it is
    reused only for exactly those.
    """
    ids = list(map(str, file_ids))
    return hashlib.sha256("\n".join(ids if ordered else sorted(ids)).encode()).hexdigest()[:16]


# ------------------------------------------------------------------ download
def download(
    dest: str | os.PathLike | None = None,
    *,
    url: str = NEMO_URL,
    timeout: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download and unpack nEMO from upstream (needs internet).

    Parameters
    ----------
    dest : path, optional
        Target folder (default ``<project>/data/nEMO``).
    url : str
        Zip archive of the upstream repository.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)``.

    Returns
    -------
    Path of the corpus folder (holding ``data.tsv`` and ``samples/``).

    Raises
    ------
    DownloadError
        Offline, refused, or not a corpus archive; nothing partial is left.
    """
    dest = Path(dest or project_root() / "data" / "nEMO")
    if _is_corpus(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        archive = Path(tmp) / "nemo.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(archive, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"could not download nEMO from {url}: {reason}. Are you online? Otherwise: {HOW_TO_GET}"
            ) from exc
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{url} did not return a zip archive: {exc}") from exc
        found = [p.parent for p in Path(tmp).rglob("data.tsv") if (p.parent / "samples").is_dir()]
        if not found:
            raise DownloadError(f"the archive from {url} holds no data.tsv with samples/")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(found[0]), dest)
    return dest
