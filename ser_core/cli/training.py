"""Commands that train: one model on one protocol fold, and the weighted ensemble."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .. import data, ensemble, models
from ..errors import ConfigError
from ..runs import TrainConfig, model_card, save_predictions
from ..train import train
from .base import arguments, command, command_line, corpus_arg


def _train_args(p: argparse.ArgumentParser) -> None:
    corpus_arg(p)
    d = TrainConfig()
    p.add_argument("--model", default=d.model, help="architecture (python -m ser_core models)")
    p.add_argument("--representation", default=d.representation)
    p.add_argument(
        "--protocol",
        default=d.protocol,
        choices=["seed", "loso", *data.CROSS_PROTOCOLS],
        help="xcorpus, ravdess_lao, both_loso: with RAVDESS too (see ser_core.data)",
    )
    p.add_argument("--fold", type=int, default=d.fold, help="loso fold (speaker index 0-8)")
    p.add_argument("--ravdess-dir", default=None, help="RAVDESS (default: $RAVDESS_DIR)")
    for field in ("width", "epochs", "batch_size", "patience", "seed", "max_clips"):
        p.add_argument(f"--{field.replace('_', '-')}", type=int, default=getattr(d, field))
    for field in ("lr", "weight_decay", "dropout", "label_smoothing", "mixup"):
        p.add_argument(f"--{field.replace('_', '-')}", type=float, default=getattr(d, field))
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
    p.add_argument(
        "--conditions",
        nargs="+",
        metavar="NAME",
        default=list(d.conditions),
        help="recording conditions as augmentation (ser_core.conditions, e.g. reverb_medium "
        "babble_10db; babble needs held-out speakers: loso): each training clip gets "
        "--condition-copies copies under conditions drawn from these, rendered once and cached",
    )
    p.add_argument(
        "--condition-prob",
        type=float,
        default=d.condition_prob,
        help="with --conditions: chance that a training example is replaced by one of its copies, each epoch",
    )
    p.add_argument(
        "--condition-copies",
        type=int,
        default=d.condition_copies,
        help="with --conditions: conditioned copies per training clip",
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
        conditions=tuple(a.conditions),
        condition_prob=a.condition_prob,
        condition_copies=a.condition_copies,
    )
    if tc.train_on_val and not tc.calibration_from:
        print(
            "note: --train-on-val without --calibration-from fits the temperature and the unsure "
            "threshold on clips it trained on (overconfident); pass the held-out run of this recipe "
            "(a shipped model or its artifacts/predictions/<run>.npz)",
            file=sys.stderr,
        )
    meta = data.load_metadata(a.nemo_dir)
    if tc.protocol in data.CROSS_PROTOCOLS:  # both corpora in one frame
        meta = data.combined_metadata(meta, data.load_ravdess_metadata(a.ravdess_dir))
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
        print(f"predictions {save_predictions(res)}")
    if a.ship:
        path = models.save(
            res.model,
            model_card(res, command=command_line(a)),
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
            "--weights-from",
            metavar="NAME",
            default=None,
            help="no search: the weights and temperature of the shipped ensemble NAME "
            "(e.g. to refit its members with other --refit-seeds)",
        ),
        p.add_argument(
            "--refit-seeds",
            type=int,
            nargs="+",
            default=None,
            metavar="S",
            help="with --refit, the training seeds of each member's refits to bag (default: "
            "every refit found). Fix them before looking at any test score: the refits "
            "trained on validation clips too, so no validation can choose among them",
        ),
        p.add_argument(
            "--ship", metavar="NAME", default=None, help="write artifacts/models/NAME.safetensors + NAME.json"
        ),
        p.add_argument("--no-mlflow", action="store_true"),
        p.add_argument("--json", action="store_true"),
    )
)
def _ensemble(a: argparse.Namespace) -> int:
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
        res = ensemble.refit(res, preds, seeds=a.refit_seeds)
    run_id = (
        None if a.no_mlflow else ensemble.log_search(res, run_name=f"{a.ship}-seed" if a.ship else None)
    )  # the shipped name tells runs apart
    card = ensemble.ensemble_card(res, run_id=run_id, command=command_line(a))
    if getattr(a, "weights_from", None):  # where the reused weights were searched
        source = models.read_card(a.weights_from)
        card["ensemble"]["weights_from"] = source["ensemble"].get("weights_from") or {
            "model": a.weights_from,
            "reproduce": source.get("reproduce", ""),
            "mlflow_run_id": source["ensemble"].get("mlflow_run_id"),
        }
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


def _fit_ensemble(a: argparse.Namespace, preds: dict) -> ensemble.SearchResult:
    """A shipped card's weights (``--weights-from``), equal weights (``--equal-weights``) or
    the Optuna search, on member predictions."""
    if getattr(a, "weights_from", None):
        return ensemble.from_card(models.read_card(a.weights_from), preds)
    if a.equal_weights:
        return ensemble.equal_weights(preds, folds=a.folds, seed=a.seed)
    return ensemble.search(preds, trials=a.trials, folds=a.folds, seed=a.seed)


def _ensemble_loso(a: argparse.Namespace) -> int:
    """One ensemble search per LOSO fold (weights fit on the validation speaker only)."""
    rows = []
    for k in a.fold or range(data.n_folds("loso")):
        preds = ensemble.load_member_predictions(protocol="loso", fold=k, representations=a.representation)
        res = _fit_ensemble(a, preds)
        run_id = (
            None if a.no_mlflow else ensemble.log_search(res, candidates=list(preds), protocol="loso", fold=k)
        )
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


def _train_lmac_args(p: argparse.ArgumentParser) -> None:
    from ..explain.lmac import LossWeights  # (the explain package pulls captum: only for this command)
    from ..explain.lmac_training import LMACSettings

    corpus_arg(p)
    d, w = LMACSettings(), LossWeights()
    p.add_argument("--model", default="resnet18_mel", help="shipped resnet18 on the mel spectrogram")
    for name in ("epochs", "batch_size", "hidden", "seed"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "second_class"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    for name in ("out", "l1", "tv"):
        p.add_argument(f"--{name}", type=float, default=getattr(w, name), help=f"weight of the {name} term")
    p.add_argument(
        "--max-clips", type=int, default=None, help="at most this many clips per part (a quick check)"
    )
    p.add_argument("--clips-per-epoch", type=int, default=None, help="training clips drawn afresh each epoch")
    p.add_argument("--val-clips", type=int, default=None, help="validation clips that choose the epoch")
    p.add_argument(
        "--no-test", action="store_true", help="do not read the test clips (while choosing settings)"
    )
    p.add_argument("--dir", default=None, help="where to write the decoder (default: artifacts/xai)")


@command("train-lmac", "train an L-MAC decoder (listenable explanations) on a frozen shipped classifier")
@arguments(_train_lmac_args)
def _train_lmac(a: argparse.Namespace) -> int:
    from ..explain.lmac import LossWeights
    from ..explain.lmac_training import LMACSettings, save_lmac, train_lmac

    settings = LMACSettings(
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        hidden=a.hidden,
        second_class=a.second_class,
        weights=LossWeights(out=a.out, l1=a.l1, tv=a.tv),
        seed=a.seed,
        clips_per_epoch=a.clips_per_epoch,
        val_clips=a.val_clips,
    )
    result = train_lmac(
        data.load_metadata(a.nemo_dir),
        model_name=a.model,
        settings=settings,
        max_clips=a.max_clips,
        test=not a.no_test,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(json.dumps(result.card["metrics"], indent=1))
    print(f"wrote {save_lmac(result, directory=Path(a.dir) if a.dir else None)}")
    return 0
