"""End-to-end prediction speed: PyTorch eager vs ONNX Runtime vs ONNX INT8.

What the predictor page does for an upload, timed per clip with the model
already loaded: decode the bytes, resample to 16 kHz, pad/trim to 3 s, log-mel
features, the network, calibrated softmax.  Inputs are 3-s clips made from
real nEMO clips (``$NEMO_DIR``; generated audio without the corpus), encoded
as 48 kHz 16-bit WAV (a typical browser or phone recording: resampling is part
of the work) and as the corpus's own 16 kHz FLAC.  Then a 10-minute upload
(corpus clips tiled, 48 kHz WAV, ~58 MB): decode + sliding-window timeline.

Targets (issue: predictor page, 2-core CPU machine):
  * 3-s clip end to end with the mel ResNet: p50 <= 25 ms
  * 3-s clip end to end with the ensemble (``--model ensemble``): p50 <= 150 ms
  * 10-minute upload's timeline: <= 20 s

For a single model the dynamically quantised INT8 ONNX copy is timed as well
(``python -m ser_core export`` reports its accuracy change).

With ``--calibrate SECONDS`` a speaker-normalised model is first adapted to a
voice profile of that much of the clips' audio, and timed with its test-time
voice warps and without them, and (from ``adapt.ADABN_SECONDS``, 20 s) with
AdaBN as well, the predictor's default once calibrated (its networks run in
PyTorch).  From ``adapt.INFOMAX_SECONDS`` (60 s) it also times adapting with
information maximisation (an ensemble's members too, which the app leaves out);
the tuned network has the AdaBN network's shape, so its latency is that row's.

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/bench_predict.py [--model NAME]
      [--clips 200] [--threads N] [--no-long] [--calibrate 30]

Without a shipped model it times an untrained ResNet-18 (width 32) on the mel
spectrogram, the architecture of ``resnet18_mel``: speed does not depend on
the weights.  Prints figures only; no assertion.  Other processes on the
machine (training) slow it down: the load average is printed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from ser_core import audio, data, models
from ser_core.config import DEFAULT_CONFIG
from ser_core.inference import Predictor

SR = DEFAULT_CONFIG.sr
UPLOAD_SR = 48_000


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def flac_bytes(y: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), sr, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def source_clips(n: int) -> tuple[list[np.ndarray], str]:
    """``n`` mono 16 kHz waveforms: random nEMO clips, or generated speech-like audio."""
    rng = np.random.default_rng(0)
    if data.corpus_available():
        meta = data.load_metadata()
        paths = meta.path.to_numpy()[rng.choice(len(meta), size=min(n, len(meta)), replace=False)]
        return [audio.load_audio(p) for p in paths], f"{len(paths)} random nEMO clips"
    t = np.arange(3 * SR) / SR
    ys = []
    for _ in range(n):
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        y = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
        ys.append((0.1 * y + 0.005 * rng.standard_normal(t.shape)).astype(np.float32))
    return ys, f"{n} generated clips (no corpus: set NEMO_DIR)"


def model_dir(model_name: str | None) -> tuple[Path, str, str]:
    """Folder and name of the model to time (a temp untrained ResNet when none is shipped)."""
    names = models.shipped()
    if names:
        from ser_core.inference import best_model_name

        model_name = model_name or best_model_name()
        return models.models_dir(), model_name, f"shipped model {model_name!r}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-model-"))
    m = models.create("resnet18", in_chans=1, width=32)
    card = {
        "architecture": {"name": "resnet18", "kwargs": {"in_chans": 1, "width": 32}},
        "input": {"kind": "features", "name": "mel", "feature_config": {}},
        "normalization": {"kind": "none"},
        "calibration": {"temperature": 1.0},
    }
    models.save(m, card, "untrained_resnet18_mel", directory=tmp)
    return tmp, "untrained_resnet18_mel", "untrained ResNet-18 (width 32) on mel: no shipped model"


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.median(a):6.1f} ms   p95 {np.percentile(a, 95):6.1f} ms   max {a.max():6.1f} ms"


def end_to_end(pred: Predictor, blobs: list[bytes], name: str) -> tuple[list[float], dict]:
    """Per-clip wall time of bytes -> probabilities, and the p50 of each stage."""
    from ser_core.inference import EnsemblePredictor
    from ser_core.metrics import softmax

    for b in blobs[:5]:  # warm-up: filter banks, ORT arenas, torch kernels
        pred.predict(audio.load_audio(b, name=name))
    ens = isinstance(pred, EnsemblePredictor)
    total, stages = (
        [],
        (
            {"decode + resample": [], "features + member networks": [], "combine": []}
            if ens
            else {"decode + resample": [], "features": [], "network + softmax": []}
        ),
    )
    for b in blobs:
        t0 = time.perf_counter()
        y = audio.load_audio(b, name=name, sr=SR)
        t1 = time.perf_counter()
        y3 = audio.pad_or_trim(y, n_samples=pred.cfg.n_samples)[None]
        if ens:
            lp = pred.member_log_probs(y3)
            t2 = time.perf_counter()
            pred.combine(lp)
        elif pred._views():  # voice warps: features and network once per warped copy
            pred.predict_batch(y3)
            t2 = time.perf_counter()
        else:
            x = pred.inputs(y3)
            t2 = time.perf_counter()
            softmax(pred.logits(x), temperature=pred.temperature)
        t3 = time.perf_counter()
        total.append(1000 * (t3 - t0))
        for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2)):
            stages[k].append(1000 * v)
    return total, {k: float(np.median(v)) for k, v in stages.items()}


def long_upload(ys: list[np.ndarray], minutes: float = 10.0) -> bytes:
    """``minutes`` of audio from the clips tiled end to end, as a 48 kHz WAV upload."""
    need = int(minutes * 60 * SR)
    reps = int(np.ceil(need / sum(len(y) for y in ys)))
    y = np.concatenate(ys * reps)[:need]
    return wav_bytes(audio.resample(y, orig_sr=SR, sr=UPLOAD_SR), UPLOAD_SR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="shipped model name (default: the best)")
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch and ONNX Runtime intra-op threads (default: their own)",
    )
    ap.add_argument("--no-long", action="store_true", help="skip the 10-minute timeline")
    ap.add_argument(
        "--calibrate",
        type=float,
        default=None,
        metavar="SECONDS",
        help="adapt a speaker-normalised model to SECONDS of the clips' audio first; "
        "time it with and without its voice warps",
    )
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import torch

    directory, model_name, what = model_dir(args.model)
    os.environ.setdefault("SER_ONNX_CACHE", tempfile.mkdtemp(prefix="bench-onnx-"))
    print(f"model: {what}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
        f"(other processes slow this down); torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads"
    )
    ys, source = source_clips(args.clips)
    clips3 = [audio.pad_or_trim(y, n_samples=DEFAULT_CONFIG.n_samples) for y in ys]
    inputs = {
        "3-s clip, 48 kHz 16-bit WAV": (
            [wav_bytes(audio.resample(y, orig_sr=SR, sr=UPLOAD_SR), UPLOAD_SR) for y in clips3],
            "clip.wav",
        ),
        "3-s clip, 16 kHz FLAC": ([flac_bytes(y, SR) for y in clips3], "clip.flac"),
    }
    print(f"clips: {source}, each padded/trimmed to 3 s\n")

    preds = {}
    for backend in ("torch", "onnx"):
        t0 = time.perf_counter()
        preds[backend] = Predictor.load(
            model_name, directory=directory, backend=backend, threads=args.threads
        )
        print(
            f"{backend:>5}: loaded in {time.perf_counter() - t0:.1f} s"
            + (" (incl. the one-off ONNX export)" if backend == "onnx" else "")
        )
    if preds["torch"].kind == "features":  # the dynamically quantised copy of the same model
        from ser_core.export import OnnxModel, quantize_int8
        from ser_core.inference import _onnx_copy

        src = _onnx_copy(preds["torch"].loaded)
        q = quantize_int8(src, src.with_name(src.stem + ".int8.onnx"))
        int8 = Predictor(preds["torch"].loaded, backend="torch")
        int8._onnx, int8.backend = OnnxModel(q, threads=args.threads), "int8"
        preds["int8"] = int8
        print(
            f" int8: quantised {q.stat().st_size / 1e6:.1f} MB (fp32 ONNX {src.stat().st_size / 1e6:.1f} MB)"
        )
    if args.calibrate:
        from ser_core import adapt

        if not preds["torch"].speaker_normalised:
            sys.exit(
                f"--calibrate: {model_name!r} uses corpus-level normalisation and cannot adapt to a voice"
            )
        t0 = time.perf_counter()
        prof = adapt.voice_profile(
            np.concatenate(ys)[: int(args.calibrate * SR)],
            representations=preds["torch"].profile_representations(),
        )
        print(
            f"voice profile of {prof.seconds:.0f} s ({len(prof.stats)} representations, voice warps "
            f"included) in {time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        adabn = preds["torch"].adapted(prof, infomax=False)
        if adabn.adabn:
            print(
                f"AdaBN (batch-norm statistics of {len(prof.windows)} windows, each voice warp its own) "
                f"in {time.perf_counter() - t0:.1f} s"
            )
        t0 = time.perf_counter()
        if preds["torch"].adapted(prof, infomax=True).infomax:  # same network shape: same latency
            print(
                f"AdaBN after information maximisation ({adapt.INFOMAX_EPOCHS} passes over the windows) "
                f"in {time.perf_counter() - t0:.1f} s"
            )
        preds = {
            "torch": preds["torch"].adapted(prof, batchnorm=False),
            "onnx": preds["onnx"].adapted(prof, batchnorm=False),
            "torch, no warps": preds["torch"].adapted(prof, warps=False, batchnorm=False),
            **({"torch, AdaBN": adabn} if adabn.adabn else {}),
        }
    y0 = clips3[0]
    for other in [b for b in preds if b != "torch" and "AdaBN" not in b]:
        diff = np.abs(preds["torch"].predict(y0) - preds[other].predict(y0)).max()
        print(f"  largest probability difference torch vs {other} on one clip: {diff:.2e}")
    print()

    print("end to end, bytes -> 6 probabilities (model loaded, one clip at a time):")
    for label, (blobs, fname) in inputs.items():
        print(f"  {label} ({len(blobs)} clips):")
        for backend, pred in preds.items():
            total, stages = end_to_end(pred, blobs, fname)
            st = "   ".join(f"{k} {v:.1f}" for k, v in stages.items())
            print(f"    {backend:>5}: {percentiles(total)}   [p50 ms: {st}]")
    print("  target: p50 <= 25 ms for the mel ResNet, <= 150 ms for the ensemble\n")

    if args.no_long:
        return
    blob = long_upload(ys)
    print(
        f"10-minute upload (tiled clips, 48 kHz WAV, {len(blob) / 1e6:.0f} MB): decode + timeline "
        "(3-s windows, 1-s hop):"
    )
    for backend, pred in preds.items():
        if backend == "int8":
            continue
        t0 = time.perf_counter()
        y = audio.load_audio(blob, name="long.wav", sr=SR)
        t1 = time.perf_counter()
        tl = pred.timeline(y)
        t2 = time.perf_counter()
        print(
            f"    {backend:>5}: {t2 - t0:5.1f} s in all (decode + resample {t1 - t0:.1f} s, "
            f"timeline of {len(tl.starts)} windows {t2 - t1:.1f} s)"
        )
    print("  target: <= 20 s")


if __name__ == "__main__":
    main()
