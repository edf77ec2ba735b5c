"""Conditioned training copies: each training clip as a room, a microphone, a noise or a
codec would deliver it, featurised once and cached (``train --conditions``).

For a run with conditions ``(c_1, ..., c_m)``, ``copies`` K and seed ``s``, copy ``k`` of
the clip ``f`` (its ``file_id``) is:

* rendered under the condition ``c_j`` drawn by ``default_rng([s, crc32(f), k, 1])``;
* with the render seed ``SeedSequence([s, crc32(f), k])`` (:func:`ser_core.conditions.render`),
  which does not depend on the list, so a copy is shared by every list that draws its
  condition.

The clip enters by its ``file_id``, not its row: rows shift when a frame is filtered or
combined with another corpus, a clip's name does not.

Copies are cached under ``<cache>/conditioned/<condition>-s<seed>[-b<pool>]/<input key>/``,
one ``<file_id>-<k>.npy`` per copy (float16 for representations, float32 for functionals,
as the clean cache holds them).  The input key is the clean cache's (representation and
feature configuration), ``-b<pool>`` identifies the babble pool of a babble condition
(the fold's excluded speakers, the seed and the corpus), so the copies are reused by
every fold and run that asks for them and never collide with clean features.

>>> x, names = conditioned_inputs(meta, split.train, kind="features", representation="mel",
...                               conditions=("pink_10db", "telephone"), copies=2, seed=0,
...                               exclude_speakers=["SB0", "SM0"])
>>> x.shape, names.shape  # (n, 2, C, F, T), (n, 2)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import adapt, cache, data, features, functionals
from . import conditions as cond
from .audio import load_audio
from .config import DEFAULT_CONFIG, FeatureConfig, cache_dir
from .inputs import waveform_input

__all__ = [
    "KINDS",
    "SWAP_STREAM",
    "copy_plan",
    "entry_dir",
    "conditioned_inputs",
    "group_keys",
    "training_copies",
    "swap_copies",
]

#: Model input kinds conditioned copies exist for.
KINDS = ("features", "functionals")
#: Subfolder of the cache root holding the copies.
FOLDER = "conditioned"
#: Stream of a run's seed that draws which examples are swapped for a copy
#: (``default_rng([seed, SWAP_STREAM])``: a generator of its own, so a run without
#: conditions draws exactly as before).
SWAP_STREAM = 0xC0D


def _clip_code(file_id: str) -> int:
    return zlib.crc32(str(file_id).encode())


def copy_plan(
    file_ids: Sequence[str], *, conditions: Sequence[str], copies: int, seed: int
) -> list[list[tuple[str, int]]]:
    """The ``(condition, render seed)`` of each copy of each clip.

    Parameters
    ----------
    file_ids : sequence of str, length n
    conditions : sequence of str
        Names of :data:`ser_core.conditions.CONDITIONS` to draw from.
    copies : int
        Copies per clip (K).
    seed : int
        The run's seed.

    Returns
    -------
    list of n lists of K ``(condition, seed)`` pairs
    """
    out = []
    for f in file_ids:
        code = _clip_code(f)
        row = []
        for k in range(copies):
            pick = np.random.default_rng([seed, code, k, 1]).integers(len(conditions))
            render_seed = int(np.random.SeedSequence([seed, code, k]).generate_state(1)[0])
            row.append((conditions[int(pick)], render_seed))
        out.append(row)
    return out


def _input_key(kind: str, representation: str, cfg: FeatureConfig) -> str:
    """The clean cache's key of an input (a representation's entry name), or a digest of a
    functional set's parameters and the whole feature configuration."""
    if kind == "features":
        return cache.entry_dir(representation, cfg=cfg, root=Path(".")).name
    params = json.dumps(functionals.get(representation).params(), sort_keys=True)
    return f"{representation}-{cfg.digest(salt=representation + params)}"


def _pool_key(meta: pd.DataFrame, exclude_speakers: Iterable[str], seed: int) -> str:
    blob = json.dumps([sorted(map(str, exclude_speakers)), seed, data.clips_digest(meta["file_id"])])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def entry_dir(
    condition: str,
    *,
    kind: str,
    representation: str,
    seed: int,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    pool: str | None = None,
    root: Path | None = None,
) -> Path:
    """Folder of the copies of one condition, run seed and input (``pool``: the babble
    pool's key, for a babble condition)."""
    name = f"{condition}-s{seed}" + (f"-b{pool}" if pool else "")
    return Path(root or cache_dir()) / FOLDER / name / _input_key(kind, representation, cfg)


def _copy_file(d: Path, file_id: str, k: int) -> Path:
    return d / f"{str(file_id).replace('/', '__')}-{k}.npy"


def _render_input(
    job: tuple[str, str, int],
    *,
    kind: str,
    representation: str,
    cfg: FeatureConfig,
    babble: np.ndarray | None,
) -> np.ndarray:
    """One copy's input: the clip rendered under the condition, then featurised as the
    clean cache featurises a clip (picklable for worker processes)."""
    path, condition, seed = job
    y = load_audio(path, sr=cfg.sr)
    needs = cond.get(condition).needs_babble
    y = cond.render(y, condition, sr=cfg.sr, seed=seed, babble=babble if needs else None)
    x = waveform_input(y, kind=kind, representation=representation, cfg=cfg)
    return x.astype(cache.CACHE_DTYPE) if kind == "features" else np.asarray(x, np.float32)


def _save(path: Path, x: np.ndarray) -> None:
    """Write ``x`` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        np.save(fh, x)
    os.replace(tmp, path)


def conditioned_inputs(
    meta: pd.DataFrame,
    rows: np.ndarray,
    *,
    kind: str,
    representation: str,
    conditions: Sequence[str],
    copies: int,
    seed: int,
    exclude_speakers: Iterable[str],
    cfg: FeatureConfig = DEFAULT_CONFIG,
    root: Path | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Un-normalised inputs of ``copies`` conditioned copies of each clip ``rows`` of ``meta``.

    Cached copies are read; the others are rendered, featurised (in a worker pool when
    there are enough, :func:`ser_core.cache.clip_map`) and cached.  A babble condition
    mixes in :func:`ser_core.conditions.babble_pool` of ``meta`` without the
    ``exclude_speakers`` (the fold's validation and test speakers), drawn with ``seed``.

    Parameters
    ----------
    meta : pandas.DataFrame
        The corpus (``file_id``, ``path``, ``speaker``).
    rows : np.ndarray of int, shape (n,)
        The clips (row positions of ``meta``).
    kind : {"features", "functionals"}
    representation : str
        The representation or functional set.
    conditions : sequence of str
        The conditions each copy's is drawn from (:func:`copy_plan`).
    copies : int
    seed : int
        The run's seed.
    exclude_speakers : iterable of str
        Voices the babble pool must not contain.

    Returns
    -------
    x : np.ndarray, shape (n, copies, C, F, T) float16, or (n, copies, dim) float32
    names : np.ndarray of str, shape (n, copies)
        Each copy's condition.
    """
    exclude = sorted(set(map(str, exclude_speakers)))
    pool = _pool_key(meta, exclude, seed)
    dirs = {
        c: entry_dir(
            c,
            kind=kind,
            representation=representation,
            seed=seed,
            cfg=cfg,
            pool=pool if cond.get(c).needs_babble else None,
            root=root,
        )
        for c in dict.fromkeys(conditions)
    }
    ids, paths = meta["file_id"].to_numpy()[rows], meta["path"].to_numpy()[rows]
    plan = copy_plan(ids, conditions=list(conditions), copies=copies, seed=seed)
    files = [[_copy_file(dirs[c], f, k) for k, (c, _) in enumerate(p)] for f, p in zip(ids, plan)]
    todo = [(i, k) for i in range(len(ids)) for k in range(copies) if not files[i][k].exists()]
    _compute(
        todo,
        paths=paths,
        plan=plan,
        files=files,
        babble=_babble(meta, exclude, seed, cfg) if _needs_babble(todo, plan) else None,
        fn=dict(kind=kind, representation=representation, cfg=cfg),
        workers=workers,
        progress=progress,
    )
    x = np.stack([np.stack([np.load(f) for f in row]) for row in files])
    return x, np.array([[c for c, _ in p] for p in plan], dtype=str)


def _needs_babble(todo: list[tuple[int, int]], plan: list[list[tuple[str, int]]]) -> bool:
    return any(cond.get(plan[i][k][0]).needs_babble for i, k in todo)


def _babble(meta: pd.DataFrame, exclude: list[str], seed: int, cfg: FeatureConfig) -> np.ndarray:
    nemo = meta[meta["corpus"] == "nemo"] if "corpus" in meta else meta  # nEMO voices only
    return cond.babble_pool(nemo, exclude_speakers=exclude, seed=seed, sr=cfg.sr)


def _compute(
    todo: list[tuple[int, int]],
    *,
    paths: np.ndarray,
    plan: list[list[tuple[str, int]]],
    files: list[list[Path]],
    babble: np.ndarray | None,
    fn: dict,
    workers: int | None,
    progress: bool,
) -> None:
    """Render, featurise and cache the copies ``todo`` (``(clip, copy)`` positions)."""
    if not todo:
        return
    jobs = [(str(paths[i]), *plan[i][k]) for i, k in todo]
    bar = tqdm(total=len(jobs), desc="conditioned copies", unit="copy") if progress else None
    try:
        with cache.clip_map(partial(_render_input, babble=babble, **fn), jobs, workers=workers) as results:
            for (i, k), x in zip(todo, results):
                _save(files[i][k], x)
                if bar:
                    bar.update()
    finally:
        if bar:
            bar.close()


def group_keys(speakers: np.ndarray, names: np.ndarray) -> np.ndarray:
    """``"<speaker>|<condition>"`` of each copy: the groups a speaker-normalised run takes
    statistics over (each training speaker under each condition).

    Parameters
    ----------
    speakers : np.ndarray of str, shape (n,)
    names : np.ndarray of str, shape (n, copies)

    Returns
    -------
    np.ndarray of str, shape (n, copies)
    """
    return np.char.add(np.char.add(np.asarray(speakers, str)[:, None], "|"), np.asarray(names, str))


def training_copies(
    meta: pd.DataFrame,
    rows: np.ndarray,
    *,
    split: data.Split,
    kind: str,
    representation: str,
    conditions: Sequence[str],
    copies: int,
    seed: int,
    norm: features.NormStats | None,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    progress: bool = False,
) -> np.ndarray:
    """The conditioned copies of a fold's training clips, normalised as a run normalises them.

    Babble comes from voices outside the fold's validation and test parts.  With corpus
    statistics ``norm`` (those of the clean training clips), every copy is normalised
    with them; with ``norm=None`` (speaker normalisation) each training speaker's copies
    under a condition are normalised with that speaker's statistics under that condition,
    taken over those copies: a voice is normalised with statistics of its own audio in
    its own room, as a held-out speaker under a condition
    (:func:`ser_core.robustness.conditions_report`) and a new voice calibrating in its room
    are, while the clean test clips keep their clean statistics.

    Parameters
    ----------
    meta : pandas.DataFrame
    rows : np.ndarray of int, shape (n,)
        The training clips.
    split : ser_core.data.Split
        The fold (its ``val`` and ``test`` speakers are kept out of the babble).
    kind, representation, conditions, copies, seed
        As :func:`conditioned_inputs`.
    norm : NormStats or None
        Corpus statistics, or None for per-speaker-and-condition statistics.

    Returns
    -------
    np.ndarray, shape (n, copies, C, F, T) float16, or (n, copies, dim) float32
    """
    spk = meta["speaker"].astype(str).to_numpy()
    x, names = conditioned_inputs(
        meta,
        rows,
        kind=kind,
        representation=representation,
        conditions=conditions,
        copies=copies,
        seed=seed,
        exclude_speakers=set(spk[split.val]) | set(spk[split.test]),
        cfg=cfg,
        progress=progress,
    )
    flat = x.reshape(-1, *x.shape[2:])
    if norm is None:
        keys = group_keys(spk[rows], names).ravel()
        parts = [(np.flatnonzero(keys == g), st) for g, st in adapt.speaker_stats(flat, keys).items()]
    else:
        parts = [(np.arange(len(flat)), norm)]
    out = np.empty(flat.shape, np.float16 if kind == "features" else np.float32)
    for idx, st in parts:
        for c in range(0, len(idx), 256):  # in chunks: float32 copies of all would double the memory
            out[idx[c : c + 256]] = st.apply(np.asarray(flat[idx[c : c + 256]], np.float32))
    return out.reshape(x.shape)


def swap_copies(x: np.ndarray, copies: np.ndarray, *, prob: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` with each example replaced, with probability ``prob``, by one of its copies.

    Parameters
    ----------
    x : np.ndarray, shape (n, ...)
        The examples (a fresh array: it is written to).
    copies : np.ndarray, shape (n, K, ...)
        Their conditioned copies, normalised alike.
    prob : float
    rng : np.random.Generator
        Draws which examples are replaced, then by which copy.

    Returns
    -------
    np.ndarray, shape (n, ...), dtype of ``x``
    """
    hit = rng.random(len(x)) < prob
    pick = rng.integers(copies.shape[1], size=len(x))
    rows = np.flatnonzero(hit)
    x[rows] = copies[rows, pick[rows]]
    return x
