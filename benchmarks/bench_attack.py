"""Speed of one slider move on the adversarial page: attack, reconstruction, re-prediction.

What ``pages/4_adversarial.py`` computes when the epsilon slider moves to a value
not yet cached for the clip (:func:`ser_core.attacks.attack_clip`): the clip's
log-mel and clean prediction, the attack (one forward + backward pass for FGSM,
``steps`` of them for PGD), Griffin-Lim of the adversarial spectrogram
(spectrogram attacks, 32 iterations) and the full pipeline's prediction for the
adversarial audio after 16-bit WAV encoding.  The once-per-clip Griffin-Lim of the
clean spectrogram is timed separately.

Target (issue #6, 2-core CPU machine): a slider move on a 3-s clip <= 1 s.

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/bench_attack.py [--model resnet18_mel]
      [--clips 20] [--threads 2] [--backend auto]

Inputs are 3-s windows of random nEMO clips (generated speech-like audio without
the corpus).  Prints figures only; no assertion.  Other processes on the machine
(training) slow it down: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from bench_predict import source_clips as clips  # a sibling: the script's folder is on sys.path

from ser_core import attacks, features
from ser_core.config import DEFAULT_CONFIG
from ser_core.inference import Predictor

SR = DEFAULT_CONFIG.sr
#: (attack, epsilon) pairs timed: typical slider positions of each attack.
CASES = [("fgsm", 0.01), ("fgsm", 0.05), ("pgd", 0.01), ("fgsm_wave", 1e-4), ("pgd_wave", 1e-4)]


def pct(v: list[float]) -> str:
    a = np.asarray(v)
    return f"p50 {np.percentile(a, 50):6.0f} ms   p95 {np.percentile(a, 95):6.0f} ms   max {a.max():6.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18_mel")
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (page: 2 cores)")
    ap.add_argument("--backend", default="auto", help="re-prediction back end (the page: auto)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pred = Predictor.load(a.model, backend=a.backend)
    ys, what = clips(a.clips)
    print(
        f"model {pred.model_name} (re-prediction in {pred.backend}), torch threads {a.threads}, {what}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    warm = ys[0]
    for attack, eps in CASES:  # warm-up: first calls allocate and JIT-free paths settle
        attacks.attack_clip(warm, predictor=pred, attack=attack, settings=attacks.AttackSettings(epsilon=eps))

    ref = []
    for y in ys:
        S = features.compute(y, "mel", cfg=pred.cfg)
        t0 = time.perf_counter()
        attacks.reconstruct(S, predictor=pred, n_iter=32)
        ref.append(1000 * (time.perf_counter() - t0))
    print(f"\nonce per clip: Griffin-Lim of the clean log-mel + its prediction   {pct(ref)}")

    print("\nslider move (a new epsilon for the clip), end to end:")
    for attack, eps in CASES:
        total, stages = [], {}
        for y in ys:
            t0 = time.perf_counter()
            res = attacks.attack_clip(
                y, predictor=pred, attack=attack, settings=attacks.AttackSettings(epsilon=eps, steps=10)
            )
            total.append(1000 * (time.perf_counter() - t0))
            for k, v in res.timings_ms.items():
                stages.setdefault(k, []).append(v)
        parts = ", ".join(f"{k} {np.median(v):.0f}" for k, v in stages.items())
        print(f"  {attack:<10} eps {eps:<7g} {pct(total)}   (medians, ms: {parts})")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
