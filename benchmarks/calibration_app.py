"""A new voice calibrated exactly as the app calibrates it, on every LOSO fold.

``evaluate --protocol loso --voice-warps --adabn`` scores calibration on whole
clips (the statistics and batch-norm passes of the clips themselves).  The app
instead gets one recording: it cuts it into 3-s windows 1.5 s apart, drops the
silent ones (``adapt.voice_profile``) and adapts a :class:`Predictor` to them
(``Predictor.adapted``).  This script does that for each held-out speaker:

* the fold's logged weights (as ``evaluate --protocol loso`` loads them) become a
  ``Predictor``; for an ensemble, every member's fold weights, combined with the
  shipped ensemble's weights and temperature;
* the speaker's clips are shuffled (seed 0) and whole clips are taken until
  ``--seconds`` of audio; joined, they are the calibration recording;
* the speaker's other clips are predicted from their audio (padded to 3 s, as
  an upload is) with the input statistics only, with the voice warps, with
  AdaBN, with both (the app's default from ``adapt.ADABN_SECONDS``), and with both
  after information maximisation (``infomax``: the app's default from
  ``adapt.INFOMAX_SECONDS``; this script applies it at every length it is asked for).

Prints the accuracy of each mode, mean ± std over the speakers, and per speaker.

    NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/calibration_app.py \
        --model resnet18_mel_spk --seconds 20 30
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from ser_core import adapt, data, evaluate
from ser_core.audio import load_audio, pad_or_trim
from ser_core.inference import EnsemblePredictor, Predictor

#: ``(warps, batchnorm, infomax)`` of each mode.
MODES = {
    "input": (False, False, False),
    "warps": (True, False, False),
    "adabn": (False, True, False),
    "both": (True, True, False),
    "infomax": (True, True, True),
}


def fold_predictor(model_name: str, fold: int, member_runs: dict) -> Predictor:
    """The shipped model ``model_name`` with the weights of its LOSO fold ``fold`` runs."""

    def one(tag: str) -> Predictor:
        loaded, _, temperature = evaluate._fold_model(member_runs[tag].loc[fold])
        pred = Predictor(loaded)
        pred.temperature = temperature
        return pred

    shipped = Predictor.load(model_name)
    if not isinstance(shipped, EnsemblePredictor):
        return one(evaluate._input_tag(shipped.loaded.card))
    card = shipped.loaded.card
    tags = dict(zip(card["input"]["members"], card["input"]["representations"]))
    out = copy.copy(shipped)
    out.members = [one(tags[m.model_name]) for m in shipped.members]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", default="resnet18_mel_spk", help="a shipped speaker-normalised model or ensemble of such"
    )
    ap.add_argument("--seconds", type=float, nargs="+", default=[20.0, 30.0])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--folds", type=int, nargs="+", default=None, help="these LOSO folds only (default: all)")
    a = ap.parse_args()
    adapt.INFOMAX_SECONDS = 0.0  # the infomax mode at every length asked for (the app: from 60 s)
    meta = data.load_metadata()
    labels = meta["label"].to_numpy()
    _, member_runs, folds = evaluate._member_fold_runs(a.model, what="the app's calibration")
    folds = [k for k in folds if a.folds is None or k in a.folds]
    res = {(s, m): [] for s in a.seconds for m in a.modes}
    speakers = []
    t0 = time.perf_counter()
    for k in folds:
        rows = np.random.default_rng(0).permutation(data.split_indices(meta, "loso", fold=k).test)
        pred = fold_predictor(a.model, k, member_runs)
        cfg = pred.cfg
        audio = {int(i): load_audio(meta["path"].iloc[i], sr=cfg.sr) for i in rows}
        speakers.append(str(meta["speaker"].iloc[rows[0]]))
        for s in a.seconds:
            lengths = np.array([len(audio[int(i)]) / cfg.sr for i in rows])
            n_cal = int(np.searchsorted(np.cumsum(lengths), s)) + 1  # whole clips until s seconds
            profile = adapt.voice_profile(
                np.concatenate([audio[int(i)] for i in rows[:n_cal]]),
                representations=pred.profile_representations(),
                cfg=cfg,
            )
            scored = rows[n_cal:]
            ys = np.stack(
                [pad_or_trim(audio[int(i)], n_samples=cfg.n_samples, align=cfg.align) for i in scored]
            )
            for m in a.modes:
                warps, batchnorm, infomax = MODES[m]
                ad = pred.adapted(profile, warps=warps, batchnorm=batchnorm, infomax=infomax)
                if batchnorm and not ad.adabn:
                    raise SystemExit(
                        f"{s:g} s gave {profile.seconds:.1f} s of speech: no AdaBN "
                        f"(it needs {adapt.ADABN_SECONDS:g} s)"
                    )
                probs = np.concatenate([ad.predict_batch(ys[i : i + 64]) for i in range(0, len(ys), 64)])
                res[(s, m)].append(float((probs.argmax(1) == labels[scored]).mean()))
        done = ", ".join(f"{s:g} s {m} {100 * res[(s, m)][-1]:.1f}" for s in a.seconds for m in a.modes)
        print(f"fold {k} ({speakers[-1]}): {done}  [{time.perf_counter() - t0:.0f} s]", flush=True)
    print(
        f"\n{a.model}: accuracy (%) on a new voice calibrated as the app does, mean ± std over "
        f"{len(folds)} speakers"
    )
    for s in a.seconds:
        print(
            f"  {s:g} s: "
            + ", ".join(
                f"{m} {100 * np.mean(res[(s, m)]):.1f} ± {100 * np.std(res[(s, m)], ddof=1):.1f}"
                for m in a.modes
            )
        )
    print("  per speaker (" + ", ".join(speakers) + "):")
    for (s, m), v in res.items():
        print(f"    {s:g} s {m:>6}: " + " ".join(f"{100 * x:.1f}" for x in v))


if __name__ == "__main__":
    main()
