"""The predict command: audio files in, emotions out (optionally adapted to a voice)."""

from __future__ import annotations

import argparse
import json
import sys

from ..adapt import profile_from_source
from ..errors import ConfigError
from ..inference import Predictor, best_adaptable_model, model_scores, predict_files
from .base import arguments, command


@command("predict", "predict the emotion of audio files (one JSON object per line with --json)")
@arguments(
    lambda p: (
        p.add_argument(
            "paths", nargs="+", metavar="PATH", help="audio files, or folders (every audio file in them)"
        ),
        p.add_argument(
            "--model",
            default=None,
            help="shipped model (default: the best on new voices, the LOSO mean; with "
            "--calibrate, the best of those that can adapt)",
        ),
        p.add_argument(
            "--calibrate",
            metavar="FILE_OR_DIR",
            default=None,
            help="unlabelled speech of the speaker (20-120 s, any emotion; "
            "10 s at least): normalise with their own statistics and, "
            "from 20 s, re-estimate batch-norm statistics on it (AdaBN); "
            "from 60 s, also tune the network to it (information "
            "maximisation)",
        ),
        p.add_argument(
            "--no-adabn", action="store_true", help="with --calibrate, adapt the input statistics only"
        ),
        p.add_argument(
            "--no-infomax", action="store_true", help="with --calibrate, no information maximisation"
        ),
        p.add_argument("--json", action="store_true", help="JSON lines output"),
    )
)
def _predict(a: argparse.Namespace) -> int:
    pred = Predictor.load(a.model or (best_adaptable_model() if a.calibrate else None))
    if a.calibrate:
        if not pred.speaker_normalised:
            raise ConfigError(
                f"model {pred.model_name!r} uses corpus-level normalisation and cannot "
                "adapt to a voice; leave out --model to use the best one that can"
            )
        pred = pred.adapted(
            profile_from_source(a.calibrate, representations=pred.profile_representations(), cfg=pred.cfg),
            batchnorm=not a.no_adabn,
            infomax=not a.no_infomax,
        )
        print(f"calibrated: {pred.adaptation()}", file=sys.stderr)
    elif not a.model:
        print(f"model: {pred.model_name} ({_scores_line(pred)})", file=sys.stderr)
    failed = done = 0
    for res in predict_files(a.paths, pred):
        failed, done = failed + ("error" in res), done + 1
        if a.json:
            print(json.dumps(res, ensure_ascii=False), flush=True)
        elif "error" in res:
            print(f"{res['path']}: error: {res['error']}", flush=True)
        else:
            top = sorted(res["probabilities"].items(), key=lambda kv: -kv[1])[:3]
            print(
                f"{res['path']}: {res['label']}  (" + ", ".join(f"{e} {p:.0%}" for e, p in top) + ")",
                flush=True,
            )
    return 1 if failed == done else 0


def _scores_line(pred: Predictor) -> str:
    """``"66.3 % on new voices (LOSO), 90.9 % on the seed split"`` from the model's card."""
    sc = model_scores(pred.loaded.card)
    new = f"{sc.loso:.1%} on new voices (LOSO)" if sc.has_loso else "new voices not measured"
    return new if sc.seed is None else f"{new}, {sc.seed:.1%} on the seed split"
