"""``evaluate --protocol loso --conditions ...``: the LOSO folds under recording conditions."""

from __future__ import annotations

import argparse
import json
import sys

from .. import data, robustness
from ..inference import best_model_name
from ..leaderboard import CONDITIONS_EXPERIMENT

__all__ = ["add_condition_args", "evaluate_conditions"]


def add_condition_args(p: argparse.ArgumentParser) -> None:
    """The options of :func:`evaluate_conditions` on the ``evaluate`` command."""
    p.add_argument(
        "--conditions",
        nargs="+",
        default=None,
        metavar="NAME|all",
        help="loso: re-score each fold's weights on the held-out speaker's clips played through these "
        "recording conditions (ser_core.conditions; 'all': every one; clean is always added) and log "
        f"one MLflow run per condition to the {CONDITIONS_EXPERIMENT!r} experiment",
    )
    p.add_argument(
        "--max-clips",
        type=int,
        default=None,
        metavar="N",
        help="with --conditions: at most N clips per held-out speaker (stratified by emotion)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="with --conditions: draws the clips, rooms, noises and babble (default 0)",
    )
    p.add_argument(
        "--part",
        choices=robustness.PARTS,
        default="test",
        help="with --conditions: score each fold's held-out speaker (test, default) or its validation "
        "speaker (val: for choosing between recipes; printed, never logged)",
    )


def evaluate_conditions(a: argparse.Namespace) -> int:
    """Score, print and (unless ``--no-mlflow``) log the conditions report."""
    if a.max_clips is not None and a.max_clips < 1:
        print(f"--max-clips takes a positive number of clips, not {a.max_clips}", file=sys.stderr)
        return 2
    names = robustness.resolve_conditions(a.conditions)  # an unknown name fails before any work
    report = robustness.conditions_report(
        a.model or best_model_name(),
        data.load_metadata(a.nemo_dir),
        conditions=names,
        seed=a.seed,
        max_clips=a.max_clips,
        part=a.part,
        progress=lambda i, n, spk: print(f"\rfold {i + 1}/{n} ({spk})", end="", file=sys.stderr, flush=True),
    )
    print(file=sys.stderr)
    if not a.no_mlflow and a.part == "test":
        report["mlflow_runs"] = robustness.log_conditions(report)
    if a.json:
        print(json.dumps(report, indent=2))
        return 0
    print_conditions(report)
    return 0


def print_conditions(report: dict) -> None:
    """The table: condition, mean ± std over folds, drop against clean, worst speaker."""
    r = report["recipe"]
    clips = f"at most {report['max_clips']} clips" if report["max_clips"] else "every clip"
    whose = "held-out" if report.get("part", "test") == "test" else "validation"
    print(
        f"{report['model']} recipe ({r['architecture']} on {r['input']}), leave one speaker out over "
        f"{report['n_folds']} folds, {clips} per {whose} speaker, seed {report['seed']}:"
    )
    print(f"  {'condition':<22}{'accuracy':>18}{'drop (points)':>15}   worst speaker")
    for name in report["order"]:
        c = report["conditions"][name]
        acc = f"{c['accuracy']:.1%} ± {c['accuracy_std']:.1%}"
        print(
            f"  {name:<22}{acc:>18}{100 * c['drop']:>15.1f}   "
            f"{c['worst_speaker']} ({c['worst_accuracy']:.1%})"
        )
    if "mlflow_runs" in report:
        print(f"  logged to MLflow (experiment {CONDITIONS_EXPERIMENT}, {len(report['mlflow_runs'])} runs)")
