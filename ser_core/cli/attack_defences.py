"""``attack-eval --defences ... / --per-emotion``: the defences against the naive and the
adaptive attacker, and per emotion the attacks' success against their SNR (the flags
and the run; :mod:`.benchmarks` registers the command)."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time

import numpy as np
import pandas as pd

from .. import attacks, audio, data, models
from ..attacks import defence_eval
from ..config import EMOTIONS
from ..torch_frontend import WaveformClassifier, prepare_waveform
from .base import command_line

#: Waveform epsilons of the margin table: from barely audible to clearly audible.
MARGIN_EPSILONS = (1e-4, 3e-4, 1e-3, 3e-3)


def add_defence_args(p: argparse.ArgumentParser) -> None:
    """The flags of the defence and margin runs (without them attack-eval does what it did)."""
    g = p.add_argument_group("defences and perceptual margin (waveform attacks)")
    g.add_argument(
        "--defences",
        default=None,
        help="comma-separated defences before the model, e.g. mp3,opus,resample,median,quantise "
        "(name:value sets the parameter, name:random draws one per clip and call); "
        "--epsilons are then in sample amplitude (default 0,2e-4,5e-4,1e-3,2e-3)",
    )
    g.add_argument("--adaptive", action="store_true", help="also the adaptive attacker (EOT + BPDA PGD)")
    g.add_argument("--eot", type=int, default=8, help="draws of a randomised defence per adaptive step")
    g.add_argument(
        "--per-emotion",
        action="store_true",
        help="success against the SNR of the perturbation, per emotion, for fgsm_wave, pgd_wave "
        "and imperceptible (when registered)",
    )
    g.add_argument("--margin-epsilons", default=None, help="waveform epsilons of --per-emotion")
    g.add_argument(
        "--margin-attacks",
        default="fgsm_wave,pgd_wave,imperceptible",
        help="attacks of --per-emotion (imperceptible runs at its own epsilon)",
    )
    g.add_argument(
        "--n",
        type=int,
        default=102,
        help="seed test clips, as many per emotion (those of the imperceptible benchmark)",
    )
    g.add_argument("--seed", type=int, default=0, help="the sample's and the defences' seed")


def wants_defences(a: argparse.Namespace) -> bool:
    """Whether ``a`` asks for the defence or margin run."""
    return bool(a.defences) or bool(a.per_emotion)


def pick_clips(meta, n: int, *, seed: int = 0, protocol: str = "seed"):
    """``n`` test clips, as equal a number per emotion as possible: the sample of
    ``benchmarks/imperceptible_attack.py`` (``ceil(n / 6)`` per emotion drawn with
    ``random_state=seed``, sorted by emotion and file id, the first ``n``), so that the
    defences and the imperceptible attack are measured on the same clips."""
    test = meta.iloc[data.split_indices(meta, protocol).test]
    per = int(np.ceil(n / len(EMOTIONS)))
    parts = [g.sample(n=min(per, len(g)), random_state=seed) for __, g in test.groupby("emotion", sort=True)]
    return pd.concat(parts).sort_values(["emotion", "file_id"]).head(n)


def sample_waveforms(meta, *, model_name: str, n: int, seed: int = 0, protocol: str = "seed"):
    """The stratified test sample: ``(clf, rows, y (b, samples), labels (b,))``."""
    clf = WaveformClassifier.from_loaded(models.load(model_name))
    rows = pick_clips(meta, n, seed=seed, protocol=protocol)
    cfg = clf.frontend.cfg
    y = np.stack([prepare_waveform(audio.load_audio(p, sr=cfg.sr), cfg=cfg) for p in rows["path"]])
    return clf, rows, y, rows["label"].to_numpy()


def _progress(t0: float, what: str):
    def progress(done: int, total: int) -> None:
        el = time.time() - t0
        print(f"\r{what}: {done}/{total} clips, {el:.0f} s", end="", file=sys.stderr, flush=True)

    return progress


def run_defences(a: argparse.Namespace) -> int:
    """Run the requested defence curves and/or margin table, print and save them."""
    meta = data.load_metadata(a.nemo_dir)
    clf, rows, y, labels = sample_waveforms(meta, model_name=a.model, n=a.n, seed=a.seed)
    steps = a.steps
    curves = margin = None
    paths, info = [], {"model": a.model, "n_clips": len(y), "steps": steps, "command": command_line(a)}
    if a.defences:
        specs = attacks.parse_defences(a.defences)
        eps = attacks.parse_epsilons(a.epsilons) if a.epsilons else defence_eval.DEFENCE_EPSILONS
        t0 = time.time()
        curves = defence_eval.defence_curves(
            y, labels, model=clf, defences=specs, epsilons=eps, adaptive=a.adaptive, steps=steps,
            eot=a.eot, seed=a.seed, progress=_progress(t0, "defences"),
        )  # fmt: skip
        print(file=sys.stderr)
        curves.insert(0, "model", a.model)
        info.update(
            defences=",".join(s.label for s in specs), eot=a.eot, defence_seconds=round(time.time() - t0)
        )
        _print_curves(curves, seconds=time.time() - t0)
        paths.append(defence_eval.save_table(curves, a.out or defence_eval.defences_path()))
    if a.per_emotion:
        eps = attacks.parse_epsilons(a.margin_epsilons) if a.margin_epsilons else MARGIN_EPSILONS
        wanted = [m.strip() for m in a.margin_attacks.split(",") if m.strip()]
        plan = {m: [e for e in eps if e > 0] for m in wanted if m in ("fgsm_wave", "pgd_wave")}
        if "imperceptible" in wanted and "imperceptible" in attacks.ATTACKS:
            fn = attacks.get_attack("imperceptible").fn  # its own epsilon: the masking threshold bounds it
            plan["imperceptible"] = [inspect.signature(fn).parameters["epsilon"].default]
        elif "imperceptible" in wanted:
            print("note: the attack 'imperceptible' is not registered; left out of --per-emotion")
        t0 = time.time()
        per_clip = defence_eval.margin_success(
            y, labels, model=clf, attacks=plan, steps=steps, progress=_progress(t0, "margin")
        )
        print(file=sys.stderr)
        per_clip.insert(0, "model", a.model)
        margin = defence_eval.summarise_margin(per_clip)
        margin.insert(0, "model", a.model)
        info.update(margin_attacks=",".join(plan), margin_seconds=round(time.time() - t0))
        _print_margin(margin, seconds=time.time() - t0)
        out = defence_eval.margin_path() if not a.out else defence_eval.Path(a.out).with_name("margin.csv")
        keys = ("model", "attack")
        paths.append(defence_eval.save_table(margin, out, keys=keys))
        paths.append(defence_eval.save_table(per_clip, out.with_name("margin_clips.csv"), keys=keys))
    info_path = paths[0].with_name("defences.json" if a.defences else f"margin_{'_'.join(plan)}.json")
    info_path.write_text(json.dumps(info, indent=2))
    for p in (*paths, info_path):
        print(f"wrote {p}")
    if not a.no_mlflow:
        run = defence_eval.log_defences(
            curves, margin, params={k: v for k, v in info.items() if k != "command"}, artifacts=paths
        )
        print(f"mlflow run {run}")
    return 0


def _print_curves(df, *, seconds: float) -> None:
    print(
        f"defences of {df['model'].iloc[0]} on {int(df['n'].iloc[0])} seed test clips ({seconds:.0f} s); accuracy"
    )
    wide = df.pivot_table(
        index=["defence", "attacker", "attack"], columns="epsilon", values="accuracy", sort=False
    )
    print(wide.to_string(float_format=lambda v: f"{v:.3f}"))


def _print_margin(df, *, seconds: float) -> None:
    print(f"success against the SNR of the perturbation ({seconds:.0f} s); clips right when clean")
    wide = df[df["emotion"] == "all"].pivot_table(
        index="attack", columns="snr_bin", values="success", sort=False
    )
    print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
    per = df.pivot_table(index=["attack", "snr_bin"], columns="emotion", values="success", sort=False)
    print(
        per[[c for c in ("all", *EMOTIONS) if c in per.columns]].to_string(float_format=lambda v: f"{v:.2f}")
    )
