"""Speed of the 13 representations and of the corpus feature cache.

Targets (issue #2, on the 2-core CPU machine):
  * all 13 representations of one 3-s clip: <= 250 ms
  * the feature cache of all 13 for the 4481 clips: <= 8 min with 2 workers

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/bench_features.py            # per clip
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/bench_features.py --cache    # + full cache build

Prints figures only; no assertion.  Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ser_core import audio, cache, data, features


def per_clip(meta, n: int) -> None:
    cache.limit_threads()  # one thread, as a cache worker runs
    rng = np.random.default_rng(0)
    paths = meta.path.to_numpy()[rng.choice(len(meta), size=min(n, len(meta)), replace=False)]
    ys = [audio.load_audio(p) for p in paths]
    features.compute_all(ys[0])  # warm-up (numba, filter banks)
    totals, per_rep = [], {k: [] for k in features.names()}
    for y in ys:
        t0 = time.perf_counter()
        features.compute_all(y)
        totals.append(time.perf_counter() - t0)
    for y in ys[: min(50, len(ys))]:
        for k in features.names():
            t0 = time.perf_counter()
            features.compute(y, k)
            per_rep[k].append(time.perf_counter() - t0)
    ms = lambda a: 1000 * np.asarray(a)  # noqa: E731
    print(f"all 13 representations of one 3-s clip, {len(ys)} nEMO clips, one thread:")
    print(
        f"  p50 {np.median(ms(totals)):.1f} ms   p95 {np.percentile(ms(totals), 95):.1f} ms   "
        f"max {ms(totals).max():.1f} ms   (target <= 250 ms)"
    )
    print("  each alone (p50, ms; shared STFT work is repeated here):")
    for k, v in per_rep.items():
        print(f"    {k:<18}{np.median(ms(v)):7.1f}")
    t0 = time.perf_counter()
    for p in paths[:50]:
        audio.load_audio(p)
    print(f"  decoding a FLAC clip: {1000 * (time.perf_counter() - t0) / min(50, len(paths)):.1f} ms")


def full_cache(meta, workers: int, clips: int | None) -> None:
    sub = meta if clips is None else meta.iloc[:clips]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cache.build(sub, root=Path(tmp), workers=workers, progress=False)
        dt = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*.npy")) / 1e9
    label = "the whole corpus" if clips is None else f"{len(sub)} clips"
    print(
        f"feature cache of all 13 for {label} with {workers} workers: {dt:.1f} s "
        f"({dt / 60:.2f} min; {len(sub) / dt:.1f} clips/s; {size:.2f} GB float16)   "
        f"(target <= 8 min for 4481 clips)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200, help="clips for the per-clip timing")
    ap.add_argument("--cache", action="store_true", help="also time a full cache build")
    ap.add_argument("--cache-clips", type=int, default=None, help="limit the cache build")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    meta = data.load_metadata()
    print(f"machine: {os.cpu_count()} cores; corpus {data.find_corpus()} ({len(meta)} clips)")
    per_clip(meta, a.clips)
    if a.cache:
        full_cache(meta, a.workers, a.cache_clips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
