"""Write ``tests/fixtures/reference_predictions.npz``: every shipped model's probabilities
on a few fixed clips, so a refactor can be checked to change no prediction.

Run it only when a model's weights or card change on purpose::

    python tests/make_reference_predictions.py

The clips are made here from a seed (no corpus audio is stored): a vowel-like
harmonic tone with a pitch glide, the same with noise, and a noise burst.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_core.config import SAMPLE_RATE
from ser_core.inference import Predictor
from ser_core.models import shipped

OUT = Path(__file__).resolve().parent / "fixtures" / "reference_predictions.npz"


def reference_clips(seed: int = 0) -> dict[str, np.ndarray]:
    """Three 3-s clips at the corpus rate, made from ``seed`` (shape ``(n_samples,)`` each)."""
    rng = np.random.default_rng(seed)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    f0 = 140 + 60 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 2.5 * t)) ** 2
    glide = 0.1 * voiced * envelope / np.abs(voiced).max()
    noisy = glide + 0.01 * rng.standard_normal(t.size)
    burst = 0.05 * rng.standard_normal(t.size) * (np.abs(t - 1.5) < 0.8)
    return {k: v.astype(np.float32) for k, v in {"glide": glide, "noisy": noisy, "burst": burst}.items()}


def main() -> None:
    clips = reference_clips()
    out = {}
    for model_name in shipped():
        pred = Predictor.load(model_name)
        for clip, y in clips.items():
            out[f"{model_name}/{clip}"] = pred.predict(y)
        print(model_name, {c: out[f"{model_name}/{c}"].round(3).tolist() for c in clips})
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **out)


if __name__ == "__main__":
    main()
