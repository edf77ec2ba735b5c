"""Command line: ``python -m ser_core <command> [options]``.

Every command turns a :class:`~ser_core.errors.SERError` into a one-line
message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import SERError

if TYPE_CHECKING:
    from . import ensemble as ensemble_mod

COMMANDS: dict[
    str, tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None], str]
] = {}


def command(name: str, help: str):
    """Register ``fn(args) -> exit code``; the decorated function's ``.args``
    attribute (set with :func:`arguments`) adds its options."""

    def deco(fn):
        COMMANDS[name] = (fn, getattr(fn, "_add_args", lambda p: None), help)
        return fn

    return deco


def arguments(add: Callable[[argparse.ArgumentParser], None]):
    def deco(fn):
        fn._add_args = add
        return fn

    return deco


def _corpus_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nemo-dir", default=None, help="corpus folder (default: $NEMO_DIR or data/nEMO)")


# ---------------------------------------------------------------- commands
@command("representations", "list the 13 acoustic representations")
@arguments(lambda p: p.add_argument("--json", action="store_true", help="machine-readable output"))
def _representations(a: argparse.Namespace) -> int:
    from . import features

    rows = []
    for rep in features.REGISTRY.values():
        rows.append(
            {
                "name": rep.name,
                "title": rep.title,
                "family": rep.family,
                "shape": list(features.output_shape(rep.name)),
                "key": rep.cache_key(),
                "description": rep.description,
            }
        )
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<18}{'family':<10}{'shape (C, F, T)':<18}description")
    for r in rows:
        print(f"{r['name']:<18}{r['family']:<10}{str(tuple(r['shape'])):<18}{r['description']}")
    return 0


@command("info", "show where the corpus, cache and artifacts are")
@arguments(_corpus_arg)
def _info(a: argparse.Namespace) -> int:
    from . import cache, data, features
    from .config import artifacts_dir, cache_dir

    print(f"ser_core {__version__}")
    print(f"artifacts: {artifacts_dir()}")
    print(f"feature cache: {cache_dir()}")
    try:
        meta = data.load_metadata(a.nemo_dir)
    except SERError as exc:
        print(f"corpus: not found ({exc})")
        return 0
    print(f"corpus: {data.find_corpus(a.nemo_dir)} ({len(meta)} clips, {meta.speaker.nunique()} speakers)")
    ids = list(meta.file_id)
    for n in features.names():
        print(f"  cache {n:<18} {'ready' if cache.is_cached(n, ids) else 'missing'}")
    return 0


@command("splits", "write the seed and loso protocol CSVs to artifacts/splits")
@arguments(_corpus_arg)
def _splits(a: argparse.Namespace) -> int:
    from . import data

    meta = data.load_metadata(a.nemo_dir)
    for p in data.save_splits(meta).values():
        print(f"wrote {p}")
    return 0


def _cache_args(p: argparse.ArgumentParser) -> None:
    _corpus_arg(p)
    p.add_argument(
        "--representation",
        "-r",
        action="append",
        default=None,
        help="one representation (repeat for several; default: all 13)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.add_argument(
        "--stats",
        action="store_true",
        help="also store normalisation statistics of every protocol fold's training part",
    )


@command("cache", "compute the feature cache of the whole corpus")
@arguments(_cache_args)
def _cache(a: argparse.Namespace) -> int:
    from . import cache, data

    meta = data.load_metadata(a.nemo_dir)
    t0 = time.time()
    dirs = cache.build(meta, a.representation, workers=a.workers, force=a.force)
    print(
        f"feature cache ready for {len(dirs)} representations, {len(meta)} clips in {time.time() - t0:.1f} s"
    )
    for n, d in dirs.items():
        print(f"  {n:<18} {d}")
    if a.stats:
        for n in dirs:
            for protocol in data.PROTOCOLS:
                for fold in range(data.n_folds(protocol)):
                    cache.norm_stats(n, meta, protocol=protocol, fold=fold)
        print(
            f"normalisation statistics stored for {len(dirs)} representations "
            f"(seed + {data.n_folds('loso')} loso folds, training parts only)"
        )
    return 0


@command("download", "download nEMO from upstream (needs internet)")
@arguments(
    lambda p: (
        p.add_argument("--dest", default=None, help="target folder (default: data/nEMO)"),
        p.add_argument("--url", default=None, help="archive URL (default: upstream)"),
    )
)
def _download(a: argparse.Namespace) -> int:
    from . import data

    kw = {"url": a.url} if a.url else {}
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.time() - last[0] > 1:
            last[0] = time.time()
            pct = f" ({100 * done / total:.0f}%)" if total else ""
            print(f"\r{done / 1e6:.1f} MB{pct}", end="", file=sys.stderr, flush=True)

    root = data.download(a.dest, progress=progress, **kw)
    print(f"\nnEMO is in {root}; set NEMO_DIR={root}")
    return 0


@command("eda-summary", "precompute the dataset page's summaries into artifacts/eda")
@arguments(
    lambda p: (
        _corpus_arg(p),
        p.add_argument("--workers", type=int, default=None),
        p.add_argument("--skip-descriptors", action="store_true", help="reuse the existing clip descriptors"),
    )
)
def _eda_summary(a: argparse.Namespace) -> int:
    from . import data, eda

    meta = data.load_metadata(a.nemo_dir)
    for p in eda.build_summaries(meta, workers=a.workers, descriptors=not a.skip_descriptors):
        print(f"wrote {p}")
    return 0


def _train_args(p: argparse.ArgumentParser) -> None:
    from .train import TrainConfig

    _corpus_arg(p)
    d = TrainConfig()
    p.add_argument("--model", default=d.model, help="architecture (python -m ser_core models)")
    p.add_argument("--representation", default=d.representation)
    p.add_argument("--protocol", default=d.protocol, choices=["seed", "loso"])
    p.add_argument("--fold", type=int, default=d.fold, help="loso fold (speaker index 0-8)")
    for name in ("width", "epochs", "batch_size", "patience", "seed", "max_clips"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "weight_decay", "dropout", "label_smoothing", "mixup"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    p.add_argument(
        "--freq-warp",
        type=float,
        default=d.freq_warp,
        help="scale frequencies by up to 1 + this (VTLP-like voice perturbation of "
        "mel, STFT, CQT and HPSS inputs; 0: off)",
    )
    p.add_argument(
        "--time-stretch",
        type=float,
        default=d.time_stretch,
        help="stretch time by up to 1 + this (speaking rate; 0: off)",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=d.ema,
        help="decay per step of an exponential moving average of the weights, which "
        "is then validated, tested and shipped (e.g. 0.998; 0: off)",
    )
    p.add_argument(
        "--teacher",
        metavar="NAME",
        default=None,
        help="distil from this shipped model (e.g. ensemble; seed protocol only), or "
        "from a recipe fitted here on this fold's training part, "
        "fold:<model>/<input> (e.g. fold:logreg/egemaps-spk; loso too): its "
        "probabilities on the training clips become soft targets",
    )
    p.add_argument(
        "--distill",
        type=float,
        default=None,
        help="weight of the distillation term against the label loss (0-1; with --teacher; default 0.5 then)",
    )
    p.add_argument(
        "--distill-tau",
        type=float,
        default=d.distill_tau,
        help="distillation temperature (softens teacher and student alike)",
    )
    p.add_argument(
        "--speaker-adversary",
        type=float,
        default=d.speaker_adversary,
        help="strength of speaker-adversarial training: a speaker classifier on the "
        "pooled embedding behind a gradient reversal (e.g. 0.3; 0: off)",
    )
    p.add_argument("--no-augment", action="store_true")
    p.add_argument(
        "--norm",
        default=d.norm,
        choices=["corpus", "speaker"],
        help="feature normalisation: training-part statistics or each speaker's own",
    )
    p.add_argument(
        "--train-on-val",
        action="store_true",
        help="train on the validation part too (no early stopping: the last epoch is "
        "kept; validation accuracy and temperature are then in-sample)",
    )
    p.add_argument(
        "--calibration-from",
        metavar="NAME",
        default=None,
        help="with --train-on-val: take the temperature and unsure threshold from "
        "the held-out run of the same recipe: a shipped model, or its "
        "predictions (artifacts/predictions/<run>.npz)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    p.add_argument(
        "--ship", metavar="NAME", default=None, help="write artifacts/models/NAME.safetensors + NAME.json"
    )
    p.add_argument(
        "--ship-dir",
        metavar="DIR",
        default=None,
        help="write the shipped files here instead of artifacts/models (e.g. "
        "artifacts/heldout for a LOSO fold model, which the app does not list)",
    )
    p.add_argument("--no-mlflow", action="store_true")
    p.add_argument(
        "--no-predictions",
        action="store_true",
        help="do not write artifacts/predictions/<run>.npz (held-out logits)",
    )


@command("train", "train one model on one protocol fold (logged to MLflow)")
@arguments(_train_args)
def _train(a: argparse.Namespace) -> int:
    from . import data, models
    from .train import TrainConfig, model_card, train

    tc = TrainConfig(
        model=a.model,
        representation=a.representation,
        protocol=a.protocol,
        fold=a.fold,
        width=a.width,
        epochs=a.epochs,
        batch_size=a.batch_size,
        patience=a.patience,
        seed=a.seed,
        max_clips=a.max_clips,
        lr=a.lr,
        weight_decay=a.weight_decay,
        dropout=a.dropout,
        label_smoothing=a.label_smoothing,
        mixup=a.mixup,
        augment=not a.no_augment,
        device=a.device,
        norm=a.norm,
        train_on_val=a.train_on_val,
        calibration_from=a.calibration_from,
        freq_warp=a.freq_warp,
        time_stretch=a.time_stretch,
        ema=a.ema,
        teacher=a.teacher,
        distill=a.distill if a.distill is not None else 0.5 if a.teacher else 0.0,
        distill_tau=a.distill_tau,
        speaker_adversary=a.speaker_adversary,
    )
    if tc.train_on_val and not tc.calibration_from:
        print(
            "note: --train-on-val without --calibration-from fits the temperature and the unsure "
            "threshold on clips it trained on (overconfident); pass the held-out run of this recipe "
            "(a shipped model or its artifacts/predictions/<run>.npz)",
            file=sys.stderr,
        )
    meta = data.load_metadata(a.nemo_dir)
    res = train(tc, meta, log_mlflow=not a.no_mlflow)
    r = res.report
    print(
        json.dumps(
            {
                "run": tc.run_name(),
                "accuracy": r["accuracy"],
                "macro_f1": r["macro_f1"],
                "val_accuracy": res.val_accuracy,
                "epochs": res.epochs_run,
                "seconds": round(res.seconds, 1),
                "temperature": res.temperature,
                "ece_before": res.ece_before,
                "ece_after": res.ece_after,
                "mlflow_run_id": res.run_id,
                **({"adaptation": res.adaptation} if res.adaptation else {}),
            }
        )
    )
    if not a.no_predictions and tc.max_clips is None:
        from .train import save_predictions

        print(f"predictions {save_predictions(res)}")
    if a.ship:
        path = models.save(
            res.model,
            model_card(res, command=_command_line(a)),
            a.ship,
            speakers=res.speakers,
            directory=Path(a.ship_dir) if a.ship_dir else None,
        )
        print(f"shipped {path}")
    return 0


@command(
    "ensemble",
    "tune a weighted ensemble of the AudioResNets with Optuna (5-fold CV "
    "over their held-out predictions) and log it to MLflow",
)
@arguments(
    lambda p: (
        p.add_argument("--trials", type=int, default=200),
        p.add_argument("--folds", type=int, default=5),
        p.add_argument("--seed", type=int, default=0),
        p.add_argument(
            "--representation",
            "-r",
            action="append",
            default=None,
            help="candidate members (default: every trained one; "
            "speaker-normalised ones like mel-spk only when named "
            "or under loso)",
        ),
        p.add_argument(
            "--protocol",
            choices=["seed", "loso"],
            default="seed",
            help="loso: one search per held-out speaker on that fold's "
            "member predictions, then mean and std over speakers",
        ),
        p.add_argument(
            "--fold", type=int, action="append", default=None, help="loso folds to run (default: all 9)"
        ),
        p.add_argument(
            "--equal-weights",
            action="store_true",
            help="no search: every member weighs the same, only the "
            "temperature is fitted (transfers better to a new "
            "speaker than weights searched on another one)",
        ),
        p.add_argument(
            "--refit",
            action="store_true",
            help="score (and ship) the members retrained on train + "
            "validation (train --train-on-val: <run>-trainval.npz, "
            "shipped as resnet18_<representation>_trainval; with "
            "--seed S too, <run>-sS-trainval.npz and _trainval_sS "
            "join as a seed bag sharing the member's weight); "
            "weights and temperatures stay fitted on the held-out runs",
        ),
        p.add_argument(
            "--ship", metavar="NAME", default=None, help="write artifacts/models/NAME.safetensors + NAME.json"
        ),
        p.add_argument("--no-mlflow", action="store_true"),
        p.add_argument("--json", action="store_true"),
    )
)
def _ensemble(a: argparse.Namespace) -> int:
    from . import ensemble, models
    from .errors import ConfigError

    if a.protocol == "loso":
        if a.ship or a.refit:
            raise ConfigError(
                "--ship and --refit take a seed-protocol ensemble; a loso search "
                "makes one ensemble per held-out speaker"
            )
        return _ensemble_loso(a)
    preds = ensemble.load_member_predictions(representations=a.representation)
    res = _fit_ensemble(a, preds)
    if a.refit:
        res = ensemble.refit(res, preds)
    run_id = (
        None if a.no_mlflow else ensemble.log_search(res, run_name=f"{a.ship}-seed" if a.ship else None)
    )  # the shipped name tells runs apart
    card = ensemble.ensemble_card(res, run_id=run_id, command=_command_line(a))
    if a.json:
        print(json.dumps({k: card[k] for k in ("input", "ensemble", "metrics")}, indent=2))
    else:
        print(ensemble.summary(res))
    if a.ship:
        missing = [m for m in card["input"]["members"] if m not in models.shipped()]
        if missing:
            raise ConfigError(
                f"cannot ship: members {missing} are not in artifacts/models "
                "(train them with --ship resnet18_<representation>, or "
                "logreg_<functional set> for a logistic regression; a refit with "
                "--train-on-val --ship resnet18_<representation>_trainval)"
            )
        print(f"shipped {models.save(res.shipped_module, card, a.ship)}")
    return 0


def _fit_ensemble(a: argparse.Namespace, preds: dict) -> ensemble_mod.SearchResult:
    """Equal weights (``--equal-weights``) or the Optuna search, on member predictions."""
    from . import ensemble

    if a.equal_weights:
        return ensemble.equal_weights(preds, folds=a.folds, seed=a.seed)
    return ensemble.search(preds, trials=a.trials, folds=a.folds, seed=a.seed)


def _ensemble_loso(a: argparse.Namespace) -> int:
    """One ensemble search per LOSO fold (weights fit on the validation speaker only)."""
    import numpy as np

    from . import data, ensemble

    rows = []
    for k in a.fold or range(data.n_folds("loso")):
        preds = ensemble.load_member_predictions(protocol="loso", fold=k, representations=a.representation)
        res = _fit_ensemble(a, preds)
        run_id = None if a.no_mlflow else ensemble.log_search(res, protocol="loso", fold=k)
        rows.append(
            {
                "fold": k,
                "accuracy": res.report["accuracy"],
                "macro_f1": res.report["macro_f1"],
                "weights": res.weights,
                "single": res.single_best,
                "mlflow_run_id": run_id,
            }
        )
        if not a.json:
            print(
                f"fold {k}: {res.report['accuracy']:.2%} ("
                + ", ".join(f"{m} {w:.2f}" for m, w in res.weights.items())
                + "; members alone "
                + ", ".join(f"{m} {v:.2%}" for m, v in res.single_best.items())
                + ")",
                flush=True,
            )
    acc = np.array([r["accuracy"] for r in rows])
    out = {
        "protocol": "loso",
        "n_folds": len(rows),
        "accuracy": float(acc.mean()),
        "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
        "folds": rows,
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"LOSO ensemble: {out['accuracy']:.2%} ± {out['accuracy_std']:.2%} over {len(rows)} speakers")
    return 0


@command("export", "export a shipped model to ONNX and INT8; compare them on the seed test part")
@arguments(
    lambda p: (
        _corpus_arg(p),
        p.add_argument("--model", default=None),
        p.add_argument("--dest", default=".cache/onnx-export", help="output folder"),
        p.add_argument("--json", action="store_true"),
    )
)
def _export(a: argparse.Namespace) -> int:
    from . import data
    from .export import int8_report
    from .inference import best_model_name

    rep = int8_report(a.model or best_model_name(), data.load_metadata(a.nemo_dir), dest=a.dest)
    if a.json:
        print(json.dumps(rep, indent=2))
        return 0
    acc, d, size = rep["accuracy"], rep["max_abs_logit_diff"], rep["size_mb"]
    print(
        f"{rep['model']}: ONNX {size['onnx_fp32']} MB, INT8 {size['onnx_int8']} MB "
        f"(safetensors fp16 {size['safetensors_fp16']} MB) in {a.dest}"
    )
    print(f"  largest |logit| difference vs PyTorch: ONNX {d['onnx']:.1e}, INT8 {d['int8']:.1e}")
    print(
        f"  {rep['protocol']} test accuracy ({rep['n_test']} clips): PyTorch {acc['torch']:.2%}, "
        f"ONNX {acc['onnx']:.2%}, INT8 {acc['int8']:.2%} (change {100 * rep['int8_accuracy_change']:+.2f} "
        f"points; INT8 agrees with PyTorch on {rep['int8_label_agreement']:.1%} of the labels)"
    )
    return 0


@command("models", "list the architectures and the shipped models")
@arguments(
    lambda p: (
        _corpus_arg(p),
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
    from . import models

    if a.store_speakers:
        from . import data
        from .evaluate import training_speakers
        from .inference import Predictor

        meta = data.load_metadata(a.nemo_dir)
        for n in models.shipped():
            pred = Predictor.load(n)
            if pred.speaker_normalised and pred.kind != "members":
                print(f"stored {models.save_speakers(training_speakers(pred, meta), n)}")
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


@command("predict", "predict the emotion of audio files (one JSON object per line with --json)")
@arguments(
    lambda p: (
        p.add_argument(
            "paths", nargs="+", metavar="PATH", help="audio files, or folders (every audio file in them)"
        ),
        p.add_argument(
            "--model",
            default=None,
            help="shipped model (default: best; with --calibrate, the best one that can adapt)",
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
    from .inference import Predictor, best_adaptable_model, predict_files

    pred = Predictor.load(a.model or (best_adaptable_model() if a.calibrate else None))
    if a.calibrate:
        from .adapt import profile_from_source
        from .errors import ConfigError

        if not pred.speaker_normalised:
            raise ConfigError(
                f"model {pred.name!r} uses corpus-level normalisation and cannot "
                "adapt to a voice; leave out --model to use the best one that can"
            )
        pred = pred.adapted(
            profile_from_source(a.calibrate, representations=pred.profile_representations(), cfg=pred.cfg),
            batchnorm=not a.no_adabn,
            infomax=not a.no_infomax,
        )
        print(f"calibrated: {pred.adaptation()}", file=sys.stderr)
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


@command("evaluate", "evaluate a shipped model on a protocol's test part")
@arguments(
    lambda p: (
        _corpus_arg(p),
        p.add_argument("--model", default=None),
        p.add_argument(
            "--protocol",
            default="seed",
            choices=["seed", "loso"],
            help="seed: the shipped weights on the seed test part; "
            "loso: the recipe's 9 held-out-speaker runs from MLflow",
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
        p.add_argument("--json", action="store_true"),
    )
)
def _evaluate(a: argparse.Namespace) -> int:
    from . import data
    from .evaluate import evaluate_shipped, loso_report

    if a.infomax and not (a.adabn and a.voice_warps):
        print("--infomax tunes on top of --voice-warps --adabn: use the three together", file=sys.stderr)
        return 2
    if a.protocol == "loso":
        from .inference import best_model_name

        rep = loso_report(a.model or best_model_name())
        meta = data.load_metadata(a.nemo_dir) if a.adabn or a.voice_warps else None
        if a.adabn:
            from .evaluate import adabn_report

            rep["adabn"] = adabn_report(rep["model"], meta)
        if a.voice_warps:
            from .evaluate import voice_warp_report

            budgets = tuple(a.seconds)
            rep["voice_warps"] = voice_warp_report(rep["model"], meta, budgets=budgets)
            if a.adabn:  # the two together: every warped copy with its own batch-norm statistics
                rep["voice_warps_adabn"] = voice_warp_report(
                    rep["model"], meta, budgets=budgets, batchnorm=True
                )
                if a.infomax:  # and the batch-norm scales and shifts tuned to the voice
                    rep["voice_warps_adabn_infomax"] = voice_warp_report(
                        rep["model"], meta, budgets=budgets, batchnorm=True, infomax=True
                    )
        if a.update_card:
            from . import models

            card = models.read_card(rep["model"])
            before = card.setdefault("metrics", {}).get("loso", {})
            card["metrics"]["loso"] = {
                k: rep[k]
                for k in (
                    "accuracy",
                    "accuracy_std",
                    "macro_f1",
                    "macro_f1_std",
                    "macro_precision",
                    "macro_recall",
                    "n_folds",
                    "folds",
                    "most_confused",
                    "recipe",
                )
                if k in rep
            }
            for key in (
                "adaptation",
                "adabn",
                "voice_warps",
                "voice_warps_adabn",
                "voice_warps_adabn_infomax",
            ):
                if key in rep and key.startswith("voice_warps"):  # per-member detail stays in --json
                    card["metrics"]["loso"][key] = {
                        **rep[key],
                        "folds": [{k: v for k, v in f.items() if k != "members"} for f in rep[key]["folds"]],
                    }
                elif key in rep or key in before:  # what this run did not score is kept
                    card["metrics"]["loso"][key] = rep.get(key, before.get(key))
            card["metrics"]["loso"]["note"] = (
                "one model per held-out speaker, trained with this "
                "model's recipe (see the MLflow runs); the shipped "
                "weights are the seed-split model"
            )
            models.save_card(card, rep["model"])
        if a.json:
            print(json.dumps(rep, indent=2))
            return 0
        r = rep["recipe"]
        print(
            f"{rep['model']} recipe ({r['architecture']} on {r['input']}), leave one speaker out "
            f"over {rep['n_folds']} folds: accuracy {rep['accuracy']:.2%} ± {rep['accuracy_std']:.2%}, "
            f"macro F1 {rep['macro_f1']:.2%} ± {rep['macro_f1_std']:.2%}"
        )
        for f in rep["folds"]:
            print(
                f"  fold {f['fold']} (speaker {f['speaker']}): accuracy {f['accuracy']:.2%}, "
                f"macro F1 {f['macro_f1']:.2%}"
            )
        for c in rep["most_confused"]:
            print(f"  confused: {c['true']} -> {c['predicted']} ({c['count']})")

        def amount(seconds: str) -> str:
            return "half of their clips" if seconds == "all" else f"{seconds} s of their audio"

        for c in rep.get("adaptation", []):
            print(
                f"  adapted to the new speaker with {amount(c['seconds'])}: {c['accuracy']:.2%} "
                f"± {c['std']:.2%}"
            )
        if "voice_warps" in rep:
            v = rep["voice_warps"]
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
        if "voice_warps_adabn" in rep:
            v = rep["voice_warps_adabn"]
            print(
                f"  voice warps and AdaBN together: {v['accuracy']:.2%} ± {v['accuracy_std']:.2%} "
                f"(AdaBN without the warps: {v['without']:.2%} ± {v['without_std']:.2%})"
            )
        if "voice_warps_adabn_infomax" in rep:
            v = rep["voice_warps_adabn_infomax"]
            print(
                f"  voice warps, AdaBN and information maximisation: {v['accuracy']:.2%} "
                f"± {v['accuracy_std']:.2%} (without the warps: {v['without']:.2%} ± {v['without_std']:.2%})"
            )
        for key, what in (
            ("adabn", "with AdaBN (batch-norm statistics too)"),
            ("voice_warps", "with voice warps"),
            ("voice_warps_adabn", "with voice warps and AdaBN"),
            ("voice_warps_adabn_infomax", "with voice warps, AdaBN and information maximisation"),
        ):
            for c in rep.get(key, {}).get("by_seconds", []):
                print(
                    f"  {what}, adapted to {amount(c['seconds'])}: {c['accuracy']:.2%} "
                    f"± {c['accuracy_std']:.2%} (without: {c['without']:.2%})"
                )
        return 0
    for flag in ("adabn", "voice_warps", "infomax"):
        if getattr(a, flag):
            print(
                f"--{flag.replace('_', '-')} scores the LOSO folds: use it with --protocol loso",
                file=sys.stderr,
            )
            return 2
    meta = data.load_metadata(a.nemo_dir)
    rep = evaluate_shipped(a.model, meta, protocol=a.protocol)
    if a.json:
        print(json.dumps(rep, indent=2))
        return 0
    print(
        f"{rep['model']} on {rep['protocol']} test ({rep['n_test']} clips): accuracy "
        f"{rep['accuracy']:.2%}, macro F1 {rep['macro_f1']:.2%}, ECE {rep['ece']:.3f}"
    )
    for e, v in rep["per_class"].items():
        print(f"  {e:<10} F1 {v['f1']:.2%}  precision {v['precision']:.2%}  recall {v['recall']:.2%}")
    for c in rep["most_confused"]:
        print(f"  confused: {c['true']} -> {c['predicted']} ({c['count']})")
    return 0


@command("feedback", "feedback store: `feedback export DIR` writes donations in nEMO's layout")
@arguments(
    lambda p: (
        p.add_argument("action", choices=["export", "stats"]),
        p.add_argument("dest", nargs="?", default=None, help="export folder"),
        p.add_argument(
            "--data-dir",
            default=None,
            help="feedback data folder (default: $SER_DATA_DIR or ~/.local/share/nemo-ser)",
        ),
    )
)
def _feedback(a: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .feedback import FeedbackStore

    store = FeedbackStore(a.data_dir)
    rows = store.rows()
    if a.action == "stats":
        donated = sum(1 for r in rows if r["donation"])
        right = sum(1 for r in rows if r["correct"] and r["correct"] == r["predicted"])
        judged = sum(1 for r in rows if r["correct"])
        print(
            f"{len(rows)} feedback rows in {store.db}; {donated} donated recordings; "
            f"model right in {right} of {judged} judged predictions"
        )
        return 0
    if not a.dest:
        raise ConfigError("feedback export needs a destination folder: feedback export DIR")
    out = store.export_nemo(a.dest)
    n = len((out / "data.tsv").read_text().splitlines()) - 1
    print(f"exported {n} labelled donations to {out} (data.tsv + samples/)")
    return 0


# ---------------------------------------------------------------- explanations (xai-eval)
def _xai_eval_args(p: argparse.ArgumentParser) -> None:
    from .xai import XAIOptions

    d = XAIOptions()
    _corpus_arg(p)
    p.add_argument("--model", default="resnet18_mel", help="shipped spectrogram model")
    p.add_argument(
        "--n",
        type=int,
        default=300,
        help="clips from the seed test split, stratified by emotion (default 300)",
    )
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated explainers (default: all: gradcam,lrp,smoothgrad,lime)",
    )
    p.add_argument("--lime-samples", type=int, default=d.lime_samples)
    p.add_argument("--smoothgrad-samples", type=int, default=d.smoothgrad_samples)
    p.add_argument("--smoothgrad-noise", type=float, default=d.smoothgrad_noise)
    p.add_argument("--steps", type=int, default=d.deletion_steps, help="deletion steps to 100 %%")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", default=None, help="result file (default: artifacts/xai/deletion.json)")
    p.add_argument("--no-mlflow", action="store_true")


@command("xai-eval", "deletion test of the explanations on a stratified seed-test sample")
@arguments(_xai_eval_args)
def _xai_eval(a: argparse.Namespace) -> int:
    from . import data, xai

    methods = [m.strip() for m in a.methods.split(",") if m.strip()] if a.methods else None
    for m in methods or []:
        xai.get_explainer(m)
    opts = xai.XAIOptions(
        lime_samples=a.lime_samples,
        smoothgrad_samples=a.smoothgrad_samples,
        smoothgrad_noise=a.smoothgrad_noise,
        deletion_steps=a.steps,
        seed=a.seed,
    )
    meta = data.load_metadata(a.nemo_dir)
    t0 = time.time()

    def progress(done: int, total: int) -> None:
        el = time.time() - t0
        print(
            f"\r{done}/{total} clips, {el:.0f} s (about {el / done * (total - done):.0f} s left)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    scores, info = xai.deletion_benchmark(
        meta, model=a.model, n=a.n, options=opts, methods=methods, progress=progress
    )
    print(file=sys.stderr)
    summary = xai.summarise_deletion(scores)
    info = {
        **info,
        "seconds": round(time.time() - t0, 1),
        "command": _command_line(a),
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    path = xai.save_deletion_table(summary, info, a.out)
    overall = summary[summary["emotion"] == "all"]
    print(
        f"deletion test of {a.model} on {info['n_clips']} seed test clips "
        f"({info['seconds']:.0f} s); AUC lower is better, drops higher are better"
    )
    print(f"{'method':<12}{'AUC':>8}{'drop@10%':>10}{'drop@20%':>10}")
    for r in overall.itertuples():
        print(f"{r.method:<12}{r.auc:>8.3f}{r.drop10:>10.3f}{r.drop20:>10.3f}")
    print(f"wrote {path}")
    if not a.no_mlflow:
        import mlflow

        from .tracking import experiment_id

        with mlflow.start_run(
            experiment_id=experiment_id(xai.XAI_EXPERIMENT),
            run_name=f"xai-eval {a.model} n={info['n_clips']}",
        ):
            mlflow.log_params(
                {"model": a.model, "n_clips": info["n_clips"], **{k: v for k, v in info["options"].items()}}
            )
            mlflow.log_metrics(
                {
                    f"{r.method}_{k}{'' if r.emotion == 'all' else '_' + r.emotion}": float(getattr(r, k))
                    for r in summary.itertuples()
                    for k in ("auc", "drop10", "drop20")
                }
            )
            mlflow.log_artifact(str(path))
        print("logged to MLflow (experiment nemo-ser-xai)")
    return 0


# (end of the explanation commands)


# ---------------------------------------------------------------- attacks (attack-eval)
def _attack_eval_args(p: argparse.ArgumentParser) -> None:
    _corpus_arg(p)
    p.add_argument("--model", default="resnet18_mel", help="shipped model on the mel representation")
    p.add_argument("--attack", default="fgsm", help="spectrogram attack: fgsm or pgd")
    p.add_argument(
        "--epsilons",
        default=None,
        help="comma-separated, in normalised input units (default: 0 to 0.1, 13 values)",
    )
    p.add_argument("--steps", type=int, default=10, help="iterations of pgd")
    p.add_argument("--max-clips", type=int, default=None, help="random subset of the test clips")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default=None, help="CSV (default: artifacts/attacks/robustness.csv)")
    p.add_argument("--no-mlflow", action="store_true")


@command("attack-eval", "test accuracy against the epsilon of an adversarial attack (MLflow-logged)")
@arguments(_attack_eval_args)
def _attack_eval(a: argparse.Namespace) -> int:
    from . import attacks, data
    from .config import EMOTIONS

    eps = attacks.parse_epsilons(a.epsilons) if a.epsilons else attacks.DEFAULT_EPSILONS
    meta = data.load_metadata(a.nemo_dir)
    t0 = time.time()

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} clips, {time.time() - t0:.0f} s", end="", file=sys.stderr, flush=True)

    df = attacks.evaluate_shipped(
        a.model,
        meta,
        attack=a.attack,
        epsilons=eps,
        steps=a.steps,
        max_clips=a.max_clips,
        batch_size=a.batch_size,
        progress=progress,
    )
    print(file=sys.stderr)
    path = attacks.save_robustness(df, a.out)
    first = df.iloc[0]
    print(
        f"{a.model} · {a.attack} on the {first['protocol']} test split ({int(first['n'])} clips, "
        f"{time.time() - t0:.0f} s)"
    )
    cols = ["epsilon", "accuracy", "snr_db", *EMOTIONS]
    print(
        df[cols].to_string(
            index=False, float_format=lambda v: f"{v:.3f}", formatters={"epsilon": lambda v: f"{v:g}"}
        )
    )
    print(f"wrote {path}")
    if not a.no_mlflow:
        print(f"mlflow run {attacks.log_robustness(df, artifact=path)}")
    return 0


# (end of the attack commands)


# ---------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ser_core",
        description="Speech emotion recognition on nEMO: data, features, models.",
    )
    parser.add_argument("--version", action="version", version=f"ser_core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (fn, add, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(_fn=fn)
    return parser


def _command_line(a: argparse.Namespace) -> str:
    """The command that produced ``a`` (for model cards: how to reproduce them)."""
    argv = getattr(a, "_argv", None) or []
    return "python -m ser_core " + " ".join(argv) if argv else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "_fn", None):
        parser.print_help()
        return 1
    try:
        return int(args._fn(args) or 0)
    except SERError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
