"""Explanation speed: the maps (four, five with L-MAC) plus the deletion curves of one 3-s clip.

What the explain page computes for a new clip with the model already loaded:
Grad-CAM, LRP, SmoothGrad, LIME (for the predicted class) and the deletion
curves of the four maps and of a random ordering.  Clips are real nEMO test
clips (``$NEMO_DIR``; a generated tone without the corpus), cut/padded to 3 s.

Target (issue #5, 2-core CPU machine): all methods + the deletion curves
in <= 10 s per clip, with LIME's sample budget a setting (default 256); issue #29:
the L-MAC mask of one clip in <= 50 ms.
The page caches every map per clip, model, method and target, so moving a
display slider costs nothing; that is not timed here.

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/bench_xai.py [--model NAME]
      [--clips 3] [--threads 2] [--lime-samples 256] [--steps 20]

Prints figures only; no assertion.  Other processes on the machine (training)
slow it down: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from ser_core import audio, data, explain, models
from ser_core.inference import Predictor


def clips(n: int, sr: int) -> tuple[list[np.ndarray], str]:
    try:
        meta = data.load_metadata()
        test = meta.iloc[data.split_indices(meta, "seed").test]
        rows = test.sample(n, random_state=0)
        return [audio.load_audio(p, sr=sr) for p in rows["path"]], "nEMO seed-test clips"
    except Exception as exc:  # noqa: BLE001 - no corpus: generated audio
        t = np.arange(3 * sr) / sr
        y = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        return [y] * n, f"a generated tone (no corpus: {exc})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet18_mel")
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lime-samples", type=int, default=explain.XAIOptions().lime_samples)
    p.add_argument("--steps", type=int, default=explain.XAIOptions().deletion_steps)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    opts = explain.XAIOptions(lime_samples=a.lime_samples, deletion_steps=a.steps)
    if a.model in models.shipped():
        pred = Predictor.load(a.model, backend="torch")
    else:
        print(f"{a.model} is not shipped: timing an untrained ResNet-18 (width 32) on mel")
        pred = Predictor(
            models.LoadedModel(
                a.model,
                models.create("resnet18").eval(),
                {"input": {"kind": "features", "name": "mel"}, "architecture": {"name": "resnet18"}},
            )
        )
    ys, what = clips(a.clips, pred.cfg.sr)
    print(
        f"model {pred.model_name}, {a.threads} torch threads, {a.clips} x {what}; LIME "
        f"{opts.lime_samples} samples, SmoothGrad {opts.smoothgrad_samples} samples, "
        f"{len(explain.deletion_fractions(opts.deletion_steps))} deletion points x 5 orderings; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    # warm-up (captum imports, first-call allocations)
    x0 = pred.inputs(audio.pad_or_trim(ys[0], n_samples=pred.cfg.n_samples)[None])[0]
    explain.explain_all(
        x0, model=pred.module, options=explain.XAIOptions(lime_samples=8, smoothgrad_samples=2)
    )
    rows = []
    for y in ys:
        w = audio.pad_or_trim(y, n_samples=pred.cfg.n_samples, align=pred.cfg.align)
        t0 = time.perf_counter()
        x = pred.inputs(w[None])[0]
        target = explain.predicted_class(x, model=pred.module)
        times = {"features": time.perf_counter() - t0}
        maps = {}
        for m in explain.explainer_names(model=pred.module):  # L-MAC where a decoder was trained
            t = time.perf_counter()
            maps[m] = explain.explain(x, m, model=pred.module, target=target, options=opts)
            times[m] = time.perf_counter() - t
        t = time.perf_counter()
        explain.deletion_test(
            x, maps, model=pred.module, target=target, temperature=pred.temperature, options=opts
        )
        times["deletion"] = time.perf_counter() - t
        times["total"] = time.perf_counter() - t0
        rows.append(times)
    keys = list(rows[0])
    print(
        f"{'step':<12}" + "".join(f"{'clip ' + str(i + 1):>9}" for i in range(len(rows))) + f"{'median':>9}"
    )
    for k in keys:
        v = [r[k] for r in rows]
        print(f"{k:<12}" + "".join(f"{s:>8.2f}s" for s in v) + f"{np.median(v):>8.2f}s")
    if "lmac" in rows[0]:
        lm = 1000 * float(np.median([r["lmac"] for r in rows]))
        print(
            f"L-MAC mask: median {lm:.1f} ms per clip (target <= 50 ms): {'OK' if lm <= 50 else 'over target'}"
        )
    med = float(np.median([r["total"] for r in rows]))
    print(f"median total per clip: {med:.2f} s (target <= 10 s): {'OK' if med <= 10 else 'over target'}")


if __name__ == "__main__":
    main()
