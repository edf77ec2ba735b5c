"""Commands that score shipped models: evaluate (one handler per report), models, export."""

from __future__ import annotations

import argparse
import json
import sys

from .. import data, evaluate, inputs, models
from ..crosscorpus import XCORPUS_EXPERIMENT
from ..errors import DatasetError
from ..inference import Predictor, best_adaptable_model, best_model_name
from .base import arguments, command, corpus_arg
from .conditions import add_condition_args, evaluate_conditions

# the LOSO report's keys that --update-card writes into the card's metrics
CARD_KEYS = (
    "accuracy",
    "accuracy_std",
    "macro_f1",
    "macro_f1_std",
    "macro_precision",
    "macro_recall",
    "n_folds",
    "worst_speaker",
    "worst_accuracy",
    "folds",
    "most_confused",
    "recipe",
)
ADAPTATION_KEYS = ("adaptation", "adabn", "voice_warps", "voice_warps_adabn", "voice_warps_adabn_infomax")
#: The training settings whose difference between the LOSO folds and the shipped weights the card notes.
SCHEDULE_KEYS = ("width", "epochs", "freq_warp", "time_stretch", "ema", "distill")
LOSO_NOTE = (
    "one model per held-out speaker, trained with this "
    "model's recipe (see the MLflow runs); the shipped "
    "weights are the seed-split model"
)


@command("export", "export a shipped model to ONNX and INT8; compare them on the seed test part")
@arguments(
    lambda p: (
        corpus_arg(p),
        p.add_argument("--model", default=None),
        p.add_argument("--dest", default=".cache/onnx-export", help="output folder"),
        p.add_argument("--json", action="store_true"),
    )
)
def _export(a: argparse.Namespace) -> int:
    report = evaluate.int8_report(a.model or best_model_name(), data.load_metadata(a.nemo_dir), dest=a.dest)
    if a.json:
        print(json.dumps(report, indent=2))
        return 0
    acc, d, size = report["accuracy"], report["max_abs_logit_diff"], report["size_mb"]
    print(
        f"{report['model']}: ONNX {size['onnx_fp32']} MB, INT8 {size['onnx_int8']} MB "
        f"(safetensors fp16 {size['safetensors_fp16']} MB) in {a.dest}"
    )
    print(f"  largest |logit| difference vs PyTorch: ONNX {d['onnx']:.1e}, INT8 {d['int8']:.1e}")
    print(
        f"  {report['protocol']} test accuracy ({report['n_test']} clips): PyTorch {acc['torch']:.2%}, "
        f"ONNX {acc['onnx']:.2%}, INT8 {acc['int8']:.2%} (change {100 * report['int8_accuracy_change']:+.2f} "
        f"points; INT8 agrees with PyTorch on {report['int8_label_agreement']:.1%} of the labels)"
    )
    return 0


@command("models", "list the architectures and the shipped models")
@arguments(
    lambda p: (
        corpus_arg(p),
        p.add_argument("--json", action="store_true"),
        p.add_argument(
            "--store-speakers",
            action="store_true",
            help="write every shipped speaker-normalised model's seed "
            "training-speaker statistics to artifacts/models/speakers/ "
            "(scoring it then needs only the test clips' features)",
        ),
    )
)
def _models(a: argparse.Namespace) -> int:
    if a.store_speakers:
        meta = data.load_metadata(a.nemo_dir)
        for n in models.shipped():
            pred = Predictor.load(n)
            if pred.speaker_normalised and pred.kind != "members":
                print(f"stored {models.save_speakers(inputs.training_speakers(pred, meta), n)}")
    ship = []
    for n, card in models.shipped_cards().items():
        ship.append(
            {
                "name": n,
                "architecture": card["architecture"]["name"],
                "input": card["input"]["name"],
                "metrics": {k: v.get("accuracy") for k, v in card["metrics"].items()},
            }
        )
    if a.json:
        print(json.dumps({"architectures": list(models.MODELS), "shipped": ship}, indent=2))
        return 0
    print("architectures:")
    for spec in models.MODELS.values():
        print(f"  {spec.name:<14} input={spec.input:<9} {spec.description}")
    print("shipped models:" if ship else "shipped models: none yet")
    for s in ship:
        acc = ", ".join(f"{k} {v:.1%}" for k, v in s["metrics"].items() if v is not None)
        print(f"  {s['name']:<24} {s['architecture']} on {s['input']}  ({acc})")
    return 0


@command("evaluate", "evaluate a shipped model on a protocol's test part")
@arguments(
    lambda p: (
        corpus_arg(p),
        p.add_argument(
            "--model",
            default=None,
            help="a shipped model (default: the best on new voices); with --conditions also a recipe "
            "never shipped, ARCHITECTURE/INPUT as the leaderboard names it (logreg/egemaps-spk+cond)",
        ),
        p.add_argument(
            "--protocol",
            default="seed",
            choices=["seed", "loso", "xcorpus"],
            help="seed: the shipped weights on the seed test part; "
            "loso: the recipe's 9 held-out-speaker runs from MLflow; "
            "xcorpus: the shipped weights on RAVDESS's 24 actors (six shared emotions)",
        ),
        p.add_argument(
            "--calibrate",
            nargs="?",
            const="30",
            default=None,
            metavar="SECONDS|all",
            help="xcorpus: also score each actor calibrated to their voice from SECONDS "
            "(default 30) of their own unlabelled clips, or all of them",
        ),
        p.add_argument("--ravdess-dir", default=None, help="xcorpus: RAVDESS (default: $RAVDESS_DIR)"),
        p.add_argument(
            "--no-mlflow", action="store_true", help="xcorpus, --conditions: do not log to MLflow"
        ),
        p.add_argument(
            "--update-card", action="store_true", help="loso: write the result into the model card's metrics"
        ),
        p.add_argument(
            "--adabn",
            action="store_true",
            help="loso, speaker-normalised models: also score each fold's "
            "weights with batch-norm statistics re-estimated on half "
            "of the new speaker's clips (AdaBN)",
        ),
        p.add_argument(
            "--voice-warps",
            action="store_true",
            help="loso, speaker-normalised models: also score each fold's "
            "weights averaged over the new voice warped by ±16 %% "
            "(test-time augmentation, as the predictor does once "
            "adapted to a voice); with --adabn, also the two together",
        ),
        p.add_argument(
            "--infomax",
            action="store_true",
            help="with --voice-warps --adabn: also tune the batch-norm scales "
            "and shifts to the new speaker by information maximisation "
            "(unlabelled; adapt.tune_to_voice), as the predictor does "
            "from adapt.INFOMAX_SECONDS of calibration speech",
        ),
        p.add_argument(
            "--seconds",
            type=float,
            nargs="+",
            default=[10.0, 30.0],
            metavar="S",
            help="with --voice-warps: the calibration lengths "
            "scored besides all of the speaker's clips (default: 10 30)",
        ),
        add_condition_args(p),
        p.add_argument("--json", action="store_true"),
    )
)
def _evaluate(a: argparse.Namespace) -> int:
    if a.infomax and not (a.adabn and a.voice_warps):
        print("--infomax tunes on top of --voice-warps --adabn: use the three together", file=sys.stderr)
        return 2
    if a.conditions is not None and a.protocol != "loso":
        print("--conditions re-scores the LOSO folds: use it with --protocol loso", file=sys.stderr)
        return 2
    if a.protocol == "loso":
        return _evaluate_loso(a)
    if a.protocol == "xcorpus":
        return _evaluate_xcorpus(a)
    if a.calibrate is not None:
        print("--calibrate scores RAVDESS's actors: use it with --protocol xcorpus", file=sys.stderr)
        return 2
    for flag in ("adabn", "voice_warps", "infomax"):
        if getattr(a, flag):
            print(
                f"--{flag.replace('_', '-')} scores the LOSO folds: use it with --protocol loso",
                file=sys.stderr,
            )
            return 2
    return _evaluate_seed(a)


def _evaluate_seed(a: argparse.Namespace) -> int:
    """The shipped weights on the protocol's test part."""
    meta = data.load_metadata(a.nemo_dir)
    report = evaluate.evaluate_shipped(a.model, meta, protocol=a.protocol)
    if a.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{report['model']} on {report['protocol']} test ({report['n_test']} clips): accuracy "
        f"{report['accuracy']:.2%}, macro F1 {report['macro_f1']:.2%}, ECE {report['ece']:.3f}"
    )
    for e, v in report["per_class"].items():
        print(f"  {e:<10} F1 {v['f1']:.2%}  precision {v['precision']:.2%}  recall {v['recall']:.2%}")
    _print_confused(report)
    return 0


def _evaluate_xcorpus(a: argparse.Namespace) -> int:
    """The shipped weights on RAVDESS's actors, uncalibrated and calibrated per actor."""
    if a.calibrate is not None and a.calibrate != "all":
        try:
            float(a.calibrate)
        except ValueError:
            print(f"--calibrate takes seconds or 'all', not {a.calibrate!r}", file=sys.stderr)
            return 2
    seconds = None if a.calibrate == "all" else float(a.calibrate or 0)
    name = a.model or (best_adaptable_model() if a.calibrate is not None else best_model_name())
    meta = data.load_ravdess_metadata(a.ravdess_dir)
    report = evaluate.xcorpus_report(
        name,
        meta,
        calibrate=a.calibrate is not None,
        seconds=seconds,
        progress=lambda i, n, actor: print(
            f"\r{i}/{n} actors ({actor})", end="", file=sys.stderr, flush=True
        ),
    )
    print(file=sys.stderr)
    if not a.no_mlflow:
        report["mlflow_run"] = evaluate.log_xcorpus(report)
    if a.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_xcorpus(report)
    return 0


def _budget(seconds) -> str:
    return "all" if seconds == "all" else f"{seconds:g} s"


def _print_xcorpus(report: dict) -> None:
    conds = [c for c in ("uncalibrated", "calibrated") if c in report]
    cal = report.get("calibration", {})
    print(
        f"{report['model']} on RAVDESS ({report['n_test']} clips, {report['n_actors']} actors, "
        f"nEMO's six emotions; trained on nEMO)"
        + (
            f"; calibrated per actor from {_budget(cal['seconds'])} of their own unlabelled clips"
            if cal
            else ""
        )
    )
    for c in conds:
        r = report[c]
        print(
            f"  {c:<12} accuracy {r['accuracy']:.2%}, UA {r['ua']:.2%}, macro F1 {r['macro_f1']:.2%}; "
            f"per actor {r['actor_mean']:.2%} ± {r['actor_std']:.2%} (worst {r['worst_actor']})"
        )
    print("  actor  " + "".join(f"{c:>14}" for c in conds))
    for row in report["actors"]:
        vals = [row["accuracy"], *([row["calibrated"]] if "calibrated" in report else [])]
        print(f"  {row['actor']:<6} " + "".join(f"{v:>14.1%}" for v in vals))
    for c in conds:
        print(
            f"  {c} confusion (rows true, columns predicted: {' '.join(e[:4] for e in report['emotions'])})"
        )
        for e, line in zip(report["emotions"], report[c]["confusion"]):
            print(f"    {e:<10}" + "".join(f"{v:>6d}" for v in line))
    if "mlflow_run" in report:
        print(f"  logged to MLflow (experiment {XCORPUS_EXPERIMENT}, run {report['mlflow_run']})")


def _evaluate_loso(a: argparse.Namespace) -> int:
    """The recipe's held-out-speaker runs, with the adaptation reports the flags ask for."""
    if a.conditions is not None:
        return evaluate_conditions(a)
    model_name = a.model or best_model_name()
    try:
        report = evaluate.loso_report(model_name)
    except DatasetError as exc:
        if a.update_card:  # the card then says why it has no new-voice figure
            _mark_loso_missing(model_name, f"not measured: {exc}")
        raise
    meta = data.load_metadata(a.nemo_dir) if a.adabn or a.voice_warps else None
    if a.adabn:
        report["adabn"] = evaluate.adabn_report(report["model"], meta)
    if a.voice_warps:
        _add_voice_warps(report, meta, budgets=tuple(a.seconds), adabn=a.adabn, infomax=a.infomax)
    if a.update_card:
        n_folds = data.n_folds("loso")
        if report["n_folds"] < n_folds:  # a card's figure is over every speaker, never a few
            reason = f"only {report['n_folds']} of the {n_folds} LOSO folds have finished runs"
            _mark_loso_missing(report["model"], f"not measured: {reason}")
            raise DatasetError(f"{reason}; the card is not updated until all have")
        _update_card(report)
    if a.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_loso_folds(report)
    _print_adaptation(report)
    _print_voice_warps(report)
    _print_by_seconds(report)
    return 0


def _add_voice_warps(report: dict, meta, *, budgets: tuple[float, ...], adabn: bool, infomax: bool) -> None:
    """The voice-warp reports: alone, with AdaBN, and with information maximisation too."""
    report["voice_warps"] = evaluate.voice_warp_report(report["model"], meta, budgets=budgets)
    if adabn:  # the two together: every warped copy with its own batch-norm statistics
        report["voice_warps_adabn"] = evaluate.voice_warp_report(
            report["model"], meta, budgets=budgets, batchnorm=True
        )
        if infomax:  # and the batch-norm scales and shifts tuned to the voice
            report["voice_warps_adabn_infomax"] = evaluate.voice_warp_report(
                report["model"], meta, budgets=budgets, batchnorm=True, infomax=True
            )


def _update_card(report: dict) -> None:
    """Write the LOSO report into the model card's metrics (``--update-card``)."""
    card = models.read_card(report["model"])
    before = card.setdefault("metrics", {}).get("loso", {})
    card["metrics"]["loso"] = {k: report[k] for k in CARD_KEYS if k in report}
    for key in ADAPTATION_KEYS:
        if key in report and key.startswith("voice_warps"):  # per-member detail stays in --json
            card["metrics"]["loso"][key] = {
                **report[key],
                "folds": [{k: v for k, v in f.items() if k != "members"} for f in report[key]["folds"]],
            }
        elif key in report or key in before:  # what this run did not score is kept
            card["metrics"]["loso"][key] = report.get(key, before.get(key))
    card["metrics"]["loso"]["note"] = (
        LOSO_NOTE + _schedule_note(card, report["recipe"]) + _search_note(report)
    )
    card["metrics"].pop("loso_missing", None)
    models.save_card(card, report["model"])


def _mark_loso_missing(model_name: str, reason: str) -> None:
    """Write why a card has no LOSO figure (``metrics.loso_missing``), unless it has one."""
    card = models.read_card(model_name)
    if "loso" not in card.setdefault("metrics", {}):
        card["metrics"]["loso_missing"] = reason
        models.save_card(card, model_name)


def _schedule_note(card: dict, recipe: dict) -> str:
    """``"; its folds ran a different schedule (width 16, epochs 14, ema 0; the shipped
    weights: width 32, epochs 50, ema 0.998)"`` when the LOSO runs' schedule differs from
    the shipped weights' training, else ``""``."""
    training = card.get("training", {})
    keys = [k for k in SCHEDULE_KEYS if k in training and float(recipe.get(k, 0)) != float(training[k] or 0)]
    if not keys:
        return ""
    folds = ", ".join(f"{k} {recipe.get(k, 0)}" for k in keys)
    shipped = ", ".join(f"{k} {training[k]}" for k in keys)
    if training.get("train_on_val") and not recipe.get("train_on_val"):
        shipped += ", also trained on the validation clips"
    return f"; its folds ran a different schedule ({folds}; the shipped weights: {shipped})"


def _search_note(report: dict) -> str:
    """``"; its folds ran …"`` for an ensemble whose folds kept different members (a weight
    search per held-out speaker), else ``""``."""
    kept = [f["members"] for f in report["folds"] if "members" in f]
    chosen_from = report["recipe"].get("members") or []
    if not kept or all(set(k) == set(chosen_from) for k in kept):
        return ""
    return (
        f"; its folds ran the members' own LOSO runs (their cards give the schedule), weighted "
        f"by a search on each fold's validation speaker among {', '.join(chosen_from)} that kept "
        f"{sum(map(len, kept)) / len(kept):.1f} members on average (each fold's are listed), where the "
        "shipped weights were searched once on the seed split's validation clips"
    )


def _print_confused(report: dict) -> None:
    for c in report["most_confused"]:
        print(f"  confused: {c['true']} -> {c['predicted']} ({c['count']})")


def _amount(seconds: str) -> str:
    return "half of their clips" if seconds == "all" else f"{seconds} s of their audio"


def _print_loso_folds(report: dict) -> None:
    r = report["recipe"]
    print(
        f"{report['model']} recipe ({r['architecture']} on {r['input']}), leave one speaker out "
        f"over {report['n_folds']} folds: accuracy {report['accuracy']:.2%} ± {report['accuracy_std']:.2%}, "
        f"macro F1 {report['macro_f1']:.2%} ± {report['macro_f1_std']:.2%}; "
        f"worst speaker {report['worst_speaker']} ({report['worst_accuracy']:.2%})"
    )
    for f in report["folds"]:
        print(
            f"  fold {f['fold']} (speaker {f['speaker']}): accuracy {f['accuracy']:.2%}, "
            f"macro F1 {f['macro_f1']:.2%}"
        )
    _print_confused(report)


def _print_adaptation(report: dict) -> None:
    for c in report.get("adaptation", []):
        print(
            f"  adapted to the new speaker with {_amount(c['seconds'])}: {c['accuracy']:.2%} ± {c['std']:.2%}"
        )


def _print_voice_warps(report: dict) -> None:
    if "voice_warps" in report:
        v = report["voice_warps"]
        print(
            f"  averaged over {len(v['warps'])} voice warps ({min(v['warps']):g}–{max(v['warps']):g}): "
            f"{v['accuracy']:.2%} ± {v['accuracy_std']:.2%} (without: {v['without']:.2%} "
            f"± {v['without_std']:.2%})"
        )
        for t, by in v["by_member"].items() if len(v["by_member"]) > 1 else ():
            print(
                f"    member {t}: "
                + ", ".join(
                    f"{'all clips' if b == 'all' else b + ' s'} {d['without']:.1%} -> {d['accuracy']:.1%}"
                    for b, d in by.items()
                )
            )
    if "voice_warps_adabn" in report:
        v = report["voice_warps_adabn"]
        print(
            f"  voice warps and AdaBN together: {v['accuracy']:.2%} ± {v['accuracy_std']:.2%} "
            f"(AdaBN without the warps: {v['without']:.2%} ± {v['without_std']:.2%})"
        )
    if "voice_warps_adabn_infomax" in report:
        v = report["voice_warps_adabn_infomax"]
        print(
            f"  voice warps, AdaBN and information maximisation: {v['accuracy']:.2%} "
            f"± {v['accuracy_std']:.2%} (without the warps: {v['without']:.2%} ± {v['without_std']:.2%})"
        )


def _print_by_seconds(report: dict) -> None:
    for key, what in (
        ("adabn", "with AdaBN (batch-norm statistics too)"),
        ("voice_warps", "with voice warps"),
        ("voice_warps_adabn", "with voice warps and AdaBN"),
        ("voice_warps_adabn_infomax", "with voice warps, AdaBN and information maximisation"),
    ):
        for c in report.get(key, {}).get("by_seconds", []):
            print(
                f"  {what}, adapted to {_amount(c['seconds'])}: {c['accuracy']:.2%} "
                f"± {c['accuracy_std']:.2%} (without: {c['without']:.2%})"
            )
