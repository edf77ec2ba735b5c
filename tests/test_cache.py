"""ser_core.cache: build, reuse, invalidation, order, statistics."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ser_core import audio, cache, data, features
from ser_core.config import DEFAULT_CONFIG
from ser_core.errors import DatasetError


@pytest.fixture
def tiny(tmp_path, tiny_corpus):
    meta = data.load_metadata(tiny_corpus)
    return meta, tmp_path / "cache"


def test_build_load_and_values(tiny):
    meta, root = tiny
    dirs = cache.build(meta, ["mel", "zcr"], root=root, workers=1, progress=False)
    assert set(dirs) == {"mel", "zcr"}
    x = cache.load("mel", meta, root=root)
    assert x.shape == (len(meta), 1, 128, 188) and x.dtype == np.float16
    direct = features.compute(audio.load_audio(meta.path[3]), "mel")
    np.testing.assert_allclose(x[3].astype(np.float32), direct, atol=0.06)  # float16 storage
    assert (dirs["mel"] / "meta.json").exists() and not list(root.rglob("*.partial.npy"))
    assert not list(root.rglob("*.pkl")) and not list(root.rglob("*.pickle"))


def test_features_of_a_sample_without_a_cache_equal_the_cached_ones(tiny):
    meta, root = tiny
    sample = meta.iloc[[3, 0]]
    computed = cache.features_of(sample, "mel", corpus=meta, root=root)
    assert not cache.is_cached("mel", list(meta["file_id"]), root=root)  # nothing was written
    cache.build(meta, ["mel"], root=root, workers=1, progress=False)
    cached = cache.features_of(sample, "mel", corpus=meta, root=root)
    assert computed.dtype == cached.dtype == np.float16
    np.testing.assert_array_equal(computed, cached)
    pooled = cache.features_of(meta.iloc[:6], "mel", corpus=meta.iloc[:0], root=root, workers=2)
    np.testing.assert_array_equal(pooled, cache.load("mel", meta.iloc[:6], root=root))  # two workers


def test_array_of_a_sample_reads_a_complete_entry_or_computes_the_sample(tiny):
    meta, root = tiny
    seen = []

    def length(path):  # a per-clip array outside the registry (here: the clip's file name length)
        seen.append(path)
        return np.array([len(str(path))], np.float32)

    sample = meta.iloc[[3, 0]]
    alone = cache.array_of("len-x", sample, length, corpus=meta, root=root, workers=1)
    assert len(seen) == 2 and not (root / "len-x").exists()  # the sample only, nothing written
    cache.array_entry("len-x", meta, length, root=root)
    seen.clear()
    np.testing.assert_array_equal(cache.array_of("len-x", sample, length, corpus=meta, root=root), alone)
    assert seen == []  # read from the entry, in the sample's order


def test_a_kept_part_is_read_next_time_and_dropped_once_the_entry_is_built(tiny):
    meta, root = tiny
    sample = meta.iloc[[5, 1, 2]]
    first = cache.features_of(sample, "rms", corpus=meta, root=root, keep=True)
    parts = cache.entry_dir("rms", root=root) / cache.PARTS
    assert len(list(parts.iterdir())) == 1 and not cache.is_cached("rms", list(meta.file_id), root=root)
    again = cache.features_of(sample, "rms", corpus=meta, root=root)  # read, not computed
    assert isinstance(again, np.memmap)
    np.testing.assert_array_equal(again, first)
    other = cache.features_of(meta.iloc[[1, 5, 2]], "rms", corpus=meta, root=root)  # another order
    np.testing.assert_array_equal(other, first[[1, 0, 2]])
    cache.build(meta, ["rms"], root=root, workers=1, progress=False)
    assert not parts.exists()  # the whole entry supersedes its parts
    np.testing.assert_array_equal(cache.features_of(sample, "rms", corpus=meta, root=root), first)
    seen = []

    def length(path):
        seen.append(path)
        return np.array([len(str(path))], np.float32)

    kept = cache.array_of("len-y", sample, length, corpus=meta, root=root, keep=True, workers=1)
    np.testing.assert_array_equal(cache.array_of("len-y", sample, length, corpus=meta, root=root), kept)
    assert len(seen) == 3  # computed once


def test_parallel_build_equals_serial(tiny, tmp_path):
    meta, root = tiny
    cache.build(meta, ["mfcc"], root=root, workers=1, progress=False)
    cache.build(meta, ["mfcc"], root=tmp_path / "par", workers=2, progress=False)
    np.testing.assert_array_equal(
        cache.load("mfcc", meta, root=root), cache.load("mfcc", meta, root=tmp_path / "par")
    )


def test_changing_a_parameter_invalidates_only_that_representation(tiny):
    meta, root = tiny
    names = ["mel", "mfcc", "delta_mfcc", "chroma"]
    cache.build(meta, names, root=root, workers=1, progress=False)
    stamps = {n: cache.entry_dir(n, root=root).joinpath("features.npy").stat().st_mtime_ns for n in names}
    # up to date: nothing rebuilt
    cache.build(meta, names, root=root, workers=1, progress=False)
    assert all(
        cache.entry_dir(n, root=root).joinpath("features.npy").stat().st_mtime_ns == stamps[n] for n in names
    )
    cfg = DEFAULT_CONFIG.replace(n_mfcc=20)
    assert {n for n in names if not cache.is_cached(n, list(meta.file_id), cfg=cfg, root=root)} == {
        "mfcc",
        "delta_mfcc",
    }
    cache.build(meta, names, cfg=cfg, root=root, workers=1, progress=False)
    assert cache.load("mfcc", meta, cfg=cfg, root=root).shape[2] == 20
    assert cache.load("mfcc", meta, root=root).shape[2] == 40  # the old entry is untouched
    for n in ("mel", "chroma"):
        assert cache.entry_dir(n, cfg=cfg, root=root) == cache.entry_dir(n, root=root)
        assert cache.entry_dir(n, root=root).joinpath("features.npy").stat().st_mtime_ns == stamps[n]


def test_load_in_another_order_and_missing_clips(tiny):
    meta, root = tiny
    cache.build(meta, ["rms"], root=root, workers=1, progress=False)
    full = np.asarray(cache.load("rms", meta, root=root))
    sub = meta.iloc[[5, 0, 2]]
    np.testing.assert_array_equal(cache.load("rms", sub, root=root), full[[5, 0, 2]])
    with pytest.raises(DatasetError, match="no feature cache"):
        cache.load("mel", meta, root=root)
    other = meta.copy()
    other.loc[0, "file_id"] = "ZZ0_anger_9"
    with pytest.raises(DatasetError, match="lacks 1 clips"):
        cache.load("rms", other, root=root)
    # a different clip list is not "cached"
    assert not cache.is_cached("rms", list(other.file_id), root=root)


def test_norm_stats_use_training_part_only(tmp_path):
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=3, seconds=0.5))
    root = tmp_path / "cache"
    cache.build(meta, ["mel"], root=root, workers=1, progress=False)
    splits = tmp_path / "splits"
    data.save_splits(meta, directory=splits)
    st = cache.norm_stats("mel", meta, protocol="loso", fold=0, root=root, splits_dir=splits)
    s = data.split_indices(meta, "loso", fold=0, directory=splits)
    x = cache.load("mel", meta, root=root).astype(np.float64)
    np.testing.assert_allclose(st.mean[..., 0], x[s.train].mean((0, 3)), atol=1e-3)
    assert not np.allclose(st.mean[..., 0], x.mean((0, 3)), atol=1e-3)
    assert (cache.entry_dir("mel", root=root) / "stats-loso-0.npz").exists()
    again = cache.norm_stats("mel", meta, protocol="loso", fold=0, root=root, splits_dir=splits)
    np.testing.assert_array_equal(again.mean, st.mean)
    (cache.entry_dir("mel", root=root) / "stats-loso-0.npz").write_bytes(b"PK damaged")
    again = cache.norm_stats("mel", meta, protocol="loso", fold=0, root=root, splits_dir=splits)
    np.testing.assert_array_equal(again.mean, st.mean)  # recomputed and rewritten
    np.testing.assert_array_equal(
        np.load(cache.entry_dir("mel", root=root) / "stats-loso-0.npz")["mean"], st.mean
    )


def test_a_damaged_cache_entry_is_rebuilt_not_read(tiny):
    """A truncated features.npy (a full disk, a bad copy) is not "cached": reading it says
    how to rebuild it, features_of computes the clips instead, and build replaces it."""
    meta, root = tiny
    cache.build(meta, ["rms"], root=root, workers=1, progress=False)
    good = np.array(cache.load("rms", meta, root=root))
    f = cache.entry_dir("rms", root=root) / "features.npy"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    assert not cache.is_cached("rms", list(meta.file_id), root=root)
    with pytest.raises(DatasetError, match=r"cache at .*features.npy is damaged .*--representation rms"):
        cache.load("rms", meta, root=root)
    np.testing.assert_array_equal(cache.features_of(meta.iloc[:2], "rms", corpus=meta, root=root), good[:2])
    cache.build(meta, ["rms"], root=root, workers=1, progress=False)
    np.testing.assert_array_equal(cache.load("rms", meta, root=root), good)
    # the same for an array outside the registry
    entry = root / "len-x"
    cache.array_entry("len-x", meta, _path_length, root=root)
    (entry / "features.npy").write_bytes(b"\x93NUMPY damaged")
    assert cache.array_entry("len-x", meta, _path_length, root=root).shape == (len(meta), 1)


def _path_length(path) -> np.ndarray:
    return np.array([len(str(path))], np.float32)


def test_real_corpus_subset(meta, tmp_path):
    sub = meta.groupby("emotion").head(3)
    cache.build(sub, root=tmp_path, workers=2, progress=False)
    for n in features.names():
        x = cache.load(n, sub, root=tmp_path)
        assert x.shape[0] == len(sub) and np.isfinite(x.astype(np.float32)).all(), n


_HELD = threading.Lock()


def _take_held_lock(_: int) -> bool:
    return _HELD.acquire(timeout=5)


def test_pool_workers_do_not_inherit_locks_other_threads_hold():
    """A worker forked from this process would start with ``_HELD`` locked (another thread
    holds it) and wait forever on locks like it; the pool's workers come from a fork server."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _HELD:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        with cache.process_pool(1) as pool:
            assert list(pool.map(_take_held_lock, [0])) == [True]
    finally:
        release.set()
        holder.join()
