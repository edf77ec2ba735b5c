"""Speed of listening to a map: the clip's own phase against Griffin-Lim (issue #29).

What the explain page computes when the top-k slider or the listened map changes
(:func:`ser_core.explain.listen`): the top-k mask of a relevance map, then either the
mask spread over the clip's STFT bins and inverted with the original phase
(``phase="original"``, :func:`ser_core.sonify.masked_audio`), or the log-mel of the
window, masked, through 32 Griffin-Lim iterations (``phase="griffin-lim"``).  The map's
values do not change the cost, so each clip gets a random map (top 20 %).  Also prints
the SNR of the original-phase inversion of an all-ones mask against the model's window
(the test asks for >= 40 dB).

Target (issue #29): original-phase playback of any map <= 100 ms per clip.

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/phase_playback.py [--clips 20] [--repeats 3]

Inputs are random nEMO clips, each cut to the model's 3-s window as the features cut it
(generated speech-like audio without the corpus).  Prints figures only; no assertion.
Other processes on the machine slow it down: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from bench_predict import source_clips as clips  # a sibling: the script's folder is on sys.path

from ser_core import explain
from ser_core.audio import pad_or_trim
from ser_core.config import DEFAULT_CONFIG as CFG


def stats(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"median {np.median(a):7.1f} ms   p95 {np.percentile(a, 95):7.1f} ms   max {a.max():7.1f} ms"


def best_of(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in ms (the least disturbed by other processes)."""
    times = []
    for __ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return min(times)


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    ref, est = ref.astype(np.float64), est.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-30)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3, help="calls per clip and path; the fastest counts")
    ap.add_argument("--top-k", type=float, default=0.2)
    a = ap.parse_args()
    ys, what = clips(a.clips)
    print(f"{what}, top {100 * a.top_k:.0f} % of a random map, load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    ones = np.ones((1, CFG.n_mels, CFG.n_frames))
    explain.listen(ys[0], ones, top_k=1.0)  # warm-up: filterbank weights, FFT plans
    explain.listen(ys[0], ones, top_k=1.0, phase="griffin-lim", n_iter=2)
    times: dict[str, list[float]] = {p: [] for p in explain.PHASES}
    snrs = []
    for y in ys:
        rel = rng.random((1, CFG.n_mels, CFG.n_frames))
        for phase in explain.PHASES:
            times[phase].append(
                best_of(lambda: explain.listen(y, rel, top_k=a.top_k, phase=phase), a.repeats)
            )
        window = pad_or_trim(y, n_samples=CFG.n_samples, align=CFG.align)
        snrs.append(snr_db(window, explain.listen(y, ones, top_k=1.0)))
    print(f"original phase (STFT mask, istft)   {stats(times['original'])}")
    print(f"Griffin-Lim, 32 iterations           {stats(times['griffin-lim'])}")
    ratio = np.median(times["griffin-lim"]) / np.median(times["original"])
    print(f"median ratio Griffin-Lim / original phase: {ratio:.1f}x")
    print(f"all-ones mask, original phase: SNR min {min(snrs):.1f} dB, median {np.median(snrs):.1f} dB")


if __name__ == "__main__":
    main()
