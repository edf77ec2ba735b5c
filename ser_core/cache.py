"""On-disk feature cache for the whole corpus.

Layout: ``<cache_dir>/<representation>-<key>/`` where ``key`` hashes the
:class:`~ser_core.config.FeatureConfig` fields the representation depends on
(and the feature code version).  Each folder holds

``features.npy``
    float16 array ``(n_clips, channels, bins, frames)`` aligned with
    ``clips.txt``; opened as a memmap.
``clips.txt``
    The ``file_id`` of each row.
``meta.json``
    Name, parameters, shape, dtype, build time.
``stats-<protocol>-<fold>.npz``
    Normalisation statistics of the training part of a protocol fold.

Files are ``.npy`` / ``.npz`` only (never pickle).  A build writes to a
temporary name and renames at the end, so an interrupted build leaves no
half-written cache.  Changing one parameter changes only the keys of the
representations that depend on it, so only those are rebuilt.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import features
from .audio import load_audio
from .config import DEFAULT_CONFIG, FeatureConfig, cache_dir
from .data import clips_digest, split_indices
from .errors import DatasetError

__all__ = [
    "entry_dir",
    "is_cached",
    "build",
    "load",
    "features_of",
    "norm_stats",
    "limit_threads",
    "process_pool",
    "clip_map",
    "array_entry",
    "array_of",
    "CACHE_DTYPE",
]

CACHE_DTYPE = np.float16


def entry_dir(representation: str, *, cfg: FeatureConfig = DEFAULT_CONFIG, root: Path | None = None) -> Path:
    """Cache folder of one representation under ``cfg``."""
    spec = features.get(representation)
    return Path(root or cache_dir()) / f"{representation}-{spec.cache_key(cfg)}"


def _clips_match(d: Path, file_ids: Sequence[str]) -> bool:
    f = d / "clips.txt"
    return f.exists() and f.read_text().split() == list(file_ids)


def _open(d: Path, file_ids: Sequence[str]) -> np.ndarray | None:
    """The array of entry ``d`` (a read-only memmap) when it is readable and holds a row
    for each of exactly these clips, else None (a truncated or damaged file is rebuilt,
    not read)."""
    f = d / "features.npy"
    if not (f.exists() and _clips_match(d, file_ids)):
        return None
    try:
        arr = np.load(f, mmap_mode="r")
    except (ValueError, OSError):
        return None
    return arr if arr.shape[0] == len(file_ids) else None


def is_cached(
    representation: str,
    file_ids: Sequence[str],
    *,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    root: Path | None = None,
) -> bool:
    """True when a complete, readable cache of ``representation`` exists for exactly these clips."""
    return _open(entry_dir(representation, cfg=cfg, root=root), file_ids) is not None


def limit_threads() -> None:
    """One BLAS/OpenMP thread per worker: the pool provides the parallelism.

    Without this each process's OpenBLAS threads spin against the other
    workers' and two workers run no faster than one.  Environment variables
    are too late here (numpy is already loaded), so threadpoolctl is used.
    """
    threadpool_limits(1)


#: Subfolder of an entry holding the stored parts (:func:`features_of` with ``keep``).
PARTS = "parts"

#: Below this many clips per core, ``workers=None`` computes in this process (:func:`clip_map`).
MIN_CLIPS_PER_WORKER = 32


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes with one BLAS thread each, forked from a fork server.

    Forking the caller itself (Linux's default start method before Python
    3.14) copies locks that its other threads (PyTorch's, MLflow's, a browser
    driver's) hold at that moment, and a worker can then wait on one forever: a
    clean-clone test run hung so, both workers asleep from the start.  The fork
    server is a fresh single-threaded process; jobs must be picklable
    module-level functions (or ``functools.partial`` of one), and a script
    that starts a pool needs the ``if __name__ == "__main__":`` guard.
    Starting one costs about 2 s (the workers import the library afresh).
    """
    return ProcessPoolExecutor(
        max_workers=workers, initializer=limit_threads, mp_context=multiprocessing.get_context("forkserver")
    )


@contextlib.contextmanager
def clip_map(fn: Callable, items: Sequence, *, workers: int | None, chunksize: int = 8):
    """``fn`` over ``items`` in order, in a :func:`process_pool` when it pays: a context
    yielding the iterator of results (the pool is shut down on leaving, pending jobs cancelled).

    ``workers=None`` means all cores once there are :data:`MIN_CLIPS_PER_WORKER`
    items per core (starting a pool costs about 2 s), else this process; a
    given number is used when each worker gets at least two items.
    """
    if workers is None:
        cores = os.cpu_count() or 1
        workers = cores if len(items) >= MIN_CLIPS_PER_WORKER * cores else 1
    if workers == 1 or len(items) < 2 * workers:
        with threadpool_limits(1):  # as a worker computes: the same numbers either way
            yield map(fn, items)
        return
    pool = process_pool(workers)
    try:
        yield pool.map(fn, items, chunksize=chunksize)
    finally:
        pool.shutdown(cancel_futures=True)


def _work(args: tuple[str, tuple[str, ...], FeatureConfig]) -> dict[str, np.ndarray]:
    path, names, cfg = args
    y = load_audio(path, sr=cfg.sr)
    return {n: x.astype(CACHE_DTYPE) for n, x in features.compute_all(y, names, cfg=cfg).items()}


def build(
    meta: pd.DataFrame,
    names: Iterable[str] | None = None,
    *,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    root: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Path]:
    """Compute and store representations for every clip of ``meta``.

    Parameters
    ----------
    meta : DataFrame
        From :func:`ser_core.data.load_metadata` (``file_id`` and ``path``).
    names : iterable of str, optional
        Representations to build (default: all 13).  Up-to-date ones are skipped.
    workers : int, optional
        Processes (default: all cores, or one for fewer than
        :data:`MIN_CLIPS_PER_WORKER` clips per core; :func:`clip_map`).  Each clip is decoded once and all pending representations are
        computed from one shared STFT.
    progress : bool
        Show a tqdm progress bar.
    force : bool
        Rebuild even when up to date.

    Returns
    -------
    dict of representation -> cache folder
    """
    names = list(names or features.names())
    for n in names:
        features.get(n)  # fail early on a typo
    file_ids = list(meta["file_id"])
    dirs = {n: entry_dir(n, cfg=cfg, root=root) for n in names}
    todo = [n for n in names if force or not is_cached(n, file_ids, cfg=cfg, root=root)]
    if not todo:
        return dirs
    shapes = {n: features.output_shape(n, cfg=cfg) for n in todo}
    arrays = {}
    for n in todo:
        dirs[n].mkdir(parents=True, exist_ok=True)
        arrays[n] = np.lib.format.open_memmap(
            dirs[n] / "features.partial.npy",
            mode="w+",
            dtype=CACHE_DTYPE,
            shape=(len(file_ids), *shapes[n]),
        )
    jobs = [(p, tuple(todo), cfg) for p in meta["path"]]
    t0 = time.time()
    bar = None
    if progress:
        bar = tqdm(total=len(jobs), desc=f"features ({', '.join(todo)})"[:70], unit="clip")
    try:
        with clip_map(_work, jobs, workers=workers) as results:
            for i, res in enumerate(results):
                for n, x in res.items():
                    arrays[n][i] = x
                if bar:
                    bar.update()
    except Exception as exc:
        raise DatasetError(f"building the feature cache failed: {exc}") from exc
    finally:
        if bar:
            bar.close()
    seconds = time.time() - t0
    for n in todo:
        arrays[n].flush()
        del arrays[n]
        d = dirs[n]
        for old in d.glob("stats-*.npz"):
            old.unlink()
        spec = features.get(n)
        (d / "meta.json").write_text(
            json.dumps(
                {
                    "name": n,
                    "key": spec.cache_key(cfg),
                    "params": spec.params(cfg),
                    "feature_version": features.FEATURE_VERSION,
                    "shape": [len(file_ids), *shapes[n]],
                    "dtype": np.dtype(CACHE_DTYPE).name,
                    "build_seconds": round(seconds, 1),
                    "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
                indent=2,
            )
        )
        _commit(d, file_ids)
    return dirs


def features_of(
    clips: pd.DataFrame,
    representation: str,
    *,
    corpus: pd.DataFrame,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    root: Path | None = None,
    workers: int | None = None,
    keep: bool = False,
) -> np.ndarray:
    """Features of some clips of a corpus, as the cache stores them.

    Read from the corpus's cache when it is complete; otherwise computed for
    these clips alone (in a worker pool when there are enough of them, see
    :func:`clip_map`), so a sample such as a test split does not pay for
    caching the whole corpus.

    Parameters
    ----------
    clips : DataFrame
        Rows of ``corpus`` (``file_id`` and ``path``).
    corpus : DataFrame
        The whole metadata the cache is built for.
    keep : bool
        Store the computed clips as a *part* of the entry (``parts/<digest>``,
        for exactly these clips in this order) and read them from there next
        time: for a protocol part (a test split) scored again and again.  Parts
        are removed once the whole entry is built.  False writes nothing.

    Returns
    -------
    np.ndarray, shape (len(clips), channels, bins, frames), float16
    """

    def compute() -> np.ndarray:
        out = np.zeros((len(clips), *features.output_shape(representation, cfg=cfg)), dtype=CACHE_DTYPE)
        with clip_map(
            _work, [(path, (representation,), cfg) for path in clips["path"]], workers=workers
        ) as results:
            for i, res in enumerate(results):
                out[i] = res[representation]
        return out

    return _rows(entry_dir(representation, cfg=cfg, root=root), clips, corpus, compute, keep=keep)


def _rows(
    d: Path, clips: pd.DataFrame, corpus: pd.DataFrame, compute: Callable[[], np.ndarray], *, keep: bool
) -> np.ndarray:
    """The rows of ``clips`` in entry ``d`` when it is complete for ``corpus`` (the memmap
    itself when they are all of it, in order), else ``compute()`` for them alone, read from
    or (with ``keep``) stored as a part of the entry (:func:`_part`)."""
    ids = list(corpus["file_id"])
    whole = _open(d, ids)
    if whole is None:
        return _part(d, clips, compute, keep=keep)
    wanted = list(clips["file_id"])
    if wanted == ids:
        return whole
    pos = {fid: i for i, fid in enumerate(ids)}
    return np.asarray(whole[[pos[f] for f in wanted]])


def _part(d: Path, clips: pd.DataFrame, compute: Callable[[], np.ndarray], *, keep: bool) -> np.ndarray:
    """``compute()`` of some clips of entry ``d``, read from / stored as its part for them."""
    ids = list(clips["file_id"])
    part = d / PARTS / clips_digest(ids, ordered=True)
    stored = _open(part, ids)
    if stored is not None:
        return stored
    out = compute()
    if keep:
        part.mkdir(parents=True, exist_ok=True)
        np.save(part / "features.partial.npy", out)
        _commit(part, ids)
    return out


def _commit(d: Path, file_ids: Sequence[str]) -> None:
    """Finish an entry: write its clip list, then rename the partial array into place
    (the whole entry supersedes any parts stored for some of its clips)."""
    (d / "clips.txt").write_text("\n".join(file_ids) + "\n")
    os.replace(d / "features.partial.npy", d / "features.npy")
    if d.parent.name != PARTS:
        shutil.rmtree(d / PARTS, ignore_errors=True)


def array_entry(
    key: str,
    meta: pd.DataFrame,
    compute: Callable[[str], np.ndarray],
    *,
    root: Path | None = None,
    workers: int | None = 1,
) -> np.ndarray:
    """A per-clip array outside the representation registry, cached like one.

    Parameters
    ----------
    key : str
        Folder name under the cache root; it must encode every parameter of
        ``compute`` (e.g. ``waveform-<config digest>``).
    compute : callable
        ``compute(audio_path) -> np.ndarray`` of one fixed shape (picklable, e.g. a
        ``functools.partial`` of a module-level function, when ``workers`` is not 1).
    workers : int, optional
        Processes computing clips side by side (None: all cores).

    Returns
    -------
    np.ndarray, shape (len(meta), ...)
        Memory-mapped when it was already cached for exactly these clips.
    """
    d = Path(root or cache_dir()) / key
    ids = list(meta["file_id"])
    stored = _open(d, ids)
    if stored is not None:
        return stored
    d.mkdir(parents=True, exist_ok=True)
    with clip_map(compute, list(meta["path"]), workers=workers) as results:
        arr = np.stack(list(results))
    np.save(d / "features.partial.npy", arr)
    _commit(d, ids)
    return arr


def array_of(
    key: str,
    clips: pd.DataFrame,
    compute: Callable[[str], np.ndarray],
    *,
    corpus: pd.DataFrame,
    root: Path | None = None,
    workers: int | None = None,
    keep: bool = False,
) -> np.ndarray:
    """Some clips' rows of an :func:`array_entry`, as :func:`features_of` gives representations:
    read from the corpus's entry when it is complete, otherwise computed for these clips
    alone (and with ``keep``, stored as a part of the entry).

    Returns
    -------
    np.ndarray, shape (len(clips), ...)
    """

    def run() -> np.ndarray:
        with clip_map(compute, list(clips["path"]), workers=workers) as results:
            return np.stack(list(results))

    return _rows(Path(root or cache_dir()) / key, clips, corpus, run, keep=keep)


def load(
    representation: str,
    meta: pd.DataFrame,
    *,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    root: Path | None = None,
    mmap: bool = True,
) -> np.ndarray:
    """Cached features of ``representation`` for the clips of ``meta``, in ``meta``'s order.

    Returns
    -------
    np.ndarray, shape (len(meta), channels, bins, frames), float16
        A read-only memmap when ``mmap`` and the order matches the cache.

    Raises
    ------
    DatasetError
        When the cache is missing or lacks some clips (say how to build it).
    """
    d = entry_dir(representation, cfg=cfg, root=root)
    f = d / "features.npy"
    if not f.exists():
        raise DatasetError(
            f"no feature cache for {representation!r} at {d}; build it with "
            f"`python -m ser_core cache --representation {representation}`"
        )
    try:
        arr = np.load(f, mmap_mode="r" if mmap else None)
    except (ValueError, OSError) as exc:
        raise DatasetError(
            f"the {representation!r} cache at {f} is damaged ({exc}); rebuild it with "
            f"`python -m ser_core cache --representation {representation}`"
        ) from exc
    cached = (d / "clips.txt").read_text().split()
    wanted = list(meta["file_id"])
    if cached == wanted:
        return arr
    pos = {fid: i for i, fid in enumerate(cached)}
    missing = [w for w in wanted if w not in pos]
    if missing:
        raise DatasetError(
            f"the {representation!r} cache lacks {len(missing)} clips (e.g. {missing[:3]}); rebuild it with "
            f"`python -m ser_core cache --representation {representation} --force`"
        )
    return np.asarray(arr[[pos[w] for w in wanted]])


def norm_stats(
    representation: str,
    meta: pd.DataFrame,
    *,
    protocol: str = "seed",
    fold: int = 0,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    root: Path | None = None,
    splits_dir: Path | None = None,
) -> features.NormStats:
    """Normalisation statistics of ``representation`` over the **training** part of a fold.

    Computed once from the cache and stored beside it as
    ``stats-<protocol>-<fold>.npz``.
    """
    d = entry_dir(representation, cfg=cfg, root=root)
    f = d / f"stats-{protocol}-{fold}.npz"
    if f.exists() and _clips_match(d, list(meta["file_id"])):
        try:
            with np.load(f) as z:
                return features.NormStats(z["mean"], z["std"])
        except (ValueError, OSError, KeyError, zipfile.BadZipFile):
            pass  # damaged: recomputed and rewritten below
    x = load(representation, meta, cfg=cfg, root=root)
    split = split_indices(meta, protocol, fold=fold, directory=splits_dir)
    stats = features.normalization_stats(x[np.sort(split.train)])
    if _clips_match(d, list(meta["file_id"])):
        np.savez(f, mean=stats.mean, std=stats.std)
    return stats
