"""Faithfulness under silencing: every explainer's top bins kept alone, and removed, *as
heard* (the mask a magnitude gain, removed bins silenced), on seed-split test clips.

``xai-eval`` replaces a removed bin with the training mean (0 in the normalised input),
the perturbation LIME is fitted on.  What the explain page plays is different: the mask
multiplies the clip's STFT, so a removed bin is silent.  This benchmark scores every
method that way, with :func:`ser_core.explain.lmac.apply_mask` (the log-mel of the
masked clip as the front end computes it): for each map's top ``--top-k`` bins (and
L-MAC's own soft mask), the share of clips whose kept part still gives the predicted
class, the share whose rest no longer does, and the mean probabilities.

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/xai_audible.py [--clips 60] [--top-k 0.2]

Prints a table only (no file); the clips are the first of ``xai-eval``'s stratified
sample (same seed).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time

import numpy as np
import torch

from ser_core import data, explain, features, models
from ser_core.config import FeatureConfig
from ser_core.explain.benchmark import _sample_inputs

L = importlib.import_module("ser_core.explain.lmac")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet18_mel")
    p.add_argument("--clips", type=int, default=60)
    p.add_argument("--top-k", type=float, default=0.2)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    loaded = models.load(a.model)
    model = loaded.module.eval()
    bundle = L.decoder_for(model)
    card = loaded.card
    cfg = FeatureConfig(**card["input"]["feature_config"])
    norm = features.NormStats.from_dict(card["normalization"])
    mean, std = torch.tensor(norm.mean, dtype=torch.float32), torch.tensor(norm.std, dtype=torch.float32)
    meta = data.load_metadata()
    test = np.asarray(data.split_indices(meta, "seed").test)
    rows = test[explain.stratified_sample(meta["emotion"].to_numpy()[test], a.clips, seed=0)]
    methods = list(explain.explainer_names(model=model))
    stats: dict[str, list] = {m: [] for m in [*methods, "random"] + (["lmac (own mask)"] if bundle else [])}
    t0, load = time.time(), os.getloadavg()[0]
    for __, __, x in _sample_inputs(meta, rows, representation="mel", cfg=cfg, norm=norm):
        target = explain.predicted_class(x, model=model)
        maps = explain.explain_all(x, model=model, target=target, methods=methods)
        maps["random"] = explain.random_relevance(x.shape, seed=0)
        masks = {m: explain.top_k_mask(r, a.top_k)[None].astype(np.float32) for m, r in maps.items()}
        if bundle:
            masks["lmac (own mask)"] = np.clip(maps["lmac"][:1], 0, 1)
        xt = torch.from_numpy(x)[None]
        for m, mk in masks.items():
            g = torch.from_numpy(mk)[None]
            with torch.no_grad():
                logits = model(
                    torch.cat(
                        [L.apply_mask(xt, mk_, mean=mean, std=std, top_db=cfg.top_db) for mk_ in (g, 1 - g)]
                    )
                )
            p_in, p_out = (logits / loaded.temperature).softmax(1)
            stats[m].append(
                (
                    int(p_in.argmax()) == target,
                    int(p_out.argmax()) != target,
                    float(p_in[target]),
                    float(p_out[target]),
                )
            )
    print(
        f"{a.model}: {len(rows)} seed test clips, top {a.top_k:.0%} of each map kept (or removed) as heard; "
        f"{time.time() - t0:.0f} s, load average {load:.1f} at the start"
    )
    print(f"{'method':<18}{'kept part keeps':>16}{'rest loses':>12}{'p(kept)':>9}{'p(rest)':>9}")
    for m, v in stats.items():
        k, r, pi, po = np.asarray(v, dtype=float).mean(0)
        print(f"{m:<18}{100 * k:>15.1f}%{100 * r:>11.1f}%{100 * pi:>8.1f}%{100 * po:>8.1f}%")


if __name__ == "__main__":
    main()
