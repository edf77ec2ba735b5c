"""Training of the model zoo on a protocol fold.

``python -m ser_core train --model resnet18 --representation mel --protocol seed``

One run: load the cached features of the fold, normalise with statistics of
the training part, train with AdamW + one-cycle schedule + label smoothing (+
mixup and the representation's augmentations; with ``conditions``, recorded-condition
copies of the training clips, :mod:`ser_core.conditioned`), stop early on validation
accuracy (or, with ``train_on_val``, train on validation too and keep the last
epoch), fit a temperature on validation, evaluate on test, log everything
to MLflow and write fp16 safetensors weights with a JSON model card.

The run's configuration, result, card and predictions file are in
:mod:`ser_core.runs`; :func:`train` is made of the named steps below.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import adapt, augment, conditioned, data, evaluate, features, inputs, metrics, models, tracking
from .adversary import SpeakerAdversary, adversary_scale
from .config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig
from .errors import ConfigError
from .inference import Predictor
from .runs import (
    FOLD_TEACHER,
    LOGREG_CS,
    RunResult,
    TrainConfig,
    borrowed_calibration,
    input_params,
    model_card,
    model_kwargs,
    parse_fold_teacher,
)

__all__ = [
    "TrainConfig",
    "RunResult",
    "WeightEMA",
    "SpeakerAdversary",
    "train",
    "resolve_device",
    "model_card",
    "teacher_probabilities",
    "teacher_digests",
    "distillation_loss",
    "adversary_scale",
    "embed",
]

#: Learning rate of the speaker adversary relative to the network's (``speaker_adversary``).
ADVERSARY_LR_FACTOR = 5.0


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _subsample(idx: np.ndarray, labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= len(idx):
        return idx
    rng = np.random.default_rng(seed)
    per = max(1, n // len(EMOTIONS))
    out = [rng.permutation(idx[labels[idx] == k])[:per] for k in range(len(EMOTIONS))]
    return np.sort(np.concatenate(out))


class WeightEMA:
    """Exponential moving average of a model's parameters and buffers.

    After each optimiser step, ``ema = d * ema + (1 - d) * weights`` with
    ``d = min(decay, (1 + k) / (10 + k))`` at update ``k`` (the warm-up keeps
    the random initialisation from lingering); integer buffers are copied.

    Parameters
    ----------
    model : nn.Module
        The model being trained (copied; the copy is :attr:`module`).
    decay : float
        Decay per optimiser step, e.g. 0.998 (a horizon of about 500 steps).
    """

    def __init__(self, model: nn.Module, *, decay: float) -> None:
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, m in zip(self.module.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.lerp_(m.detach(), 1 - d)
            else:
                e.copy_(m)


class _Batches:
    """Minimal in-memory batch iterator with per-sample augmentation."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        batch_size: int,
        shuffle: bool,
        aug: Callable | None,
        seed: int,
        copies: np.ndarray | None = None,
        copy_prob: float = 0.0,
        **extras: np.ndarray | None,
    ) -> None:
        self.x, self.y, self.bs, self.shuffle, self.aug = x, y, batch_size, shuffle, aug
        # per-clip arrays batched alongside (teacher probabilities "soft" (n, 6), "speaker"
        # indices (n,)), yielded third as a dict of tensors
        self.extras = {k: v for k, v in extras.items() if v is not None}
        self.rng = np.random.default_rng(seed)
        # conditions: (n, K, ...) copies of each example, one of which replaces it with
        # probability copy_prob each time it is drawn
        self.copies, self.copy_prob = copies, copy_prob
        self.copy_rng = np.random.default_rng([seed, conditioned.SWAP_STREAM]) if copies is not None else None

    def __len__(self) -> int:
        return (len(self.x) + self.bs - 1) // self.bs

    def __iter__(self):
        order = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for i in range(0, len(order), self.bs):
            j = order[i : i + self.bs]
            xb = self.x[j]
            if self.copies is not None:
                xb = conditioned.swap_copies(xb, self.copies[j], prob=self.copy_prob, rng=self.copy_rng)
            if self.aug is not None:
                xb = np.stack([self.aug(s, rng=self.rng) for s in xb])
            yield (
                torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)),
                torch.from_numpy(self.y[j]),
                {k: torch.from_numpy(v[j]) for k, v in self.extras.items()},
            )


def embed(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled embedding ``(B, dim)`` and logits ``(B, 6)`` of a CNN with ``features``,
    ``pool`` and ``head`` (the logits equal ``model(x)``)."""
    pooled = model.pool(model.features(x))
    return pooled.flatten(1), model.head(pooled)


def teacher_probabilities(
    teacher: str,
    meta: pd.DataFrame,
    index: np.ndarray,
    *,
    protocol: str = "seed",
    fold: int = 0,
    tau: float = 2.0,
    splits_dir: Path | None = None,
) -> np.ndarray:
    """A teacher's softened probabilities ``(len(index), 6)`` on training clips.

    The teacher scores the clean clips of the split's training and validation
    parts once (its calibrated probabilities); ``tau`` then softens them as
    ``p ** (1 / tau)``, renormalised, which is ``softmax(logits / tau)``.
    ``index`` are corpus row indices, all inside those two parts.

    ``teacher`` is a shipped model's name, or ``fold:<model>/<input>`` (e.g.
    ``fold:logreg/compare-spk``): that recipe trained here on this fold's
    training part alone, so under ``loso`` it never hears the test speaker.

    Returns
    -------
    numpy.ndarray
        ``(len(index), 6)`` float32, rows summing to 1.
    """
    split = data.split_indices(meta, protocol, fold=fold, directory=splits_dir)
    rows = np.concatenate([split.train, split.val])
    row = {int(i): k for k, i in enumerate(rows)}
    missing = [int(i) for i in index if int(i) not in row]
    if missing:
        raise ConfigError(
            f"teacher targets exist for training and validation clips only; "
            f"{len(missing)} clips are outside them (first: row {missing[0]})"
        )
    if teacher.startswith(FOLD_TEACHER):
        probs = _fold_teacher(teacher, meta, rows, protocol=protocol, fold=fold, splits_dir=splits_dir)
    else:
        pred = Predictor.load(teacher)
        probs = np.concatenate(
            [
                evaluate.test_probabilities(
                    pred, meta, protocol=protocol, fold=fold, part=p, splits_dir=splits_dir
                )[0]
                for p in ("train", "val")
            ]
        )
    soft = np.maximum(probs[[row[int(i)] for i in index]], 1e-12) ** (1.0 / tau)
    return (soft / soft.sum(1, keepdims=True)).astype(np.float32)


def _fold_teacher(
    teacher: str, meta: pd.DataFrame, rows: np.ndarray, *, protocol: str, fold: int, splits_dir: Path | None
) -> np.ndarray:
    """Calibrated probabilities ``(len(rows), 6)`` of a recipe trained on this fold's training
    part (its own validation for early stopping or its L2 strength), never logged."""
    arch, representation, norm = parse_fold_teacher(teacher)
    tc = TrainConfig(model=arch, representation=representation, norm=norm, protocol=protocol, fold=fold)
    res = train(tc, meta, splits_dir=splits_dir, log_mlflow=False, progress=False)
    x = inputs.normalised_inputs(
        inputs.model_inputs(meta, tc.input_kind, tc.input_name),
        rows,
        meta=meta,
        split=data.split_indices(meta, protocol, fold=fold, directory=splits_dir),
        speaker=norm == "speaker",
        norm=res.norm,
    )
    return metrics.softmax(models.predict_logits(res.model, x), temperature=res.temperature)


def teacher_digests(teacher: str) -> dict[str, str]:
    """SHA-256 of a shipped teacher's weight files (an ensemble's members too), by name.

    A card records them because a shipped name (``ensemble``) can later point
    at other weights; the digests identify the version in the history.
    """
    d = models.models_dir()
    names = [teacher, *models.read_card(teacher, directory=d)["input"].get("members", [])]
    return {n: hashlib.sha256((d / f"{n}.safetensors").read_bytes()).hexdigest() for n in names}


def distillation_loss(logits: torch.Tensor, soft: torch.Tensor, *, tau: float = 2.0) -> torch.Tensor:
    """Hinton's distillation term ``tau^2 * KL(soft || softmax(logits / tau))``, batch mean.

    Parameters
    ----------
    logits : torch.Tensor
        Student logits ``(batch, 6)``.
    soft : torch.Tensor
        Teacher probabilities ``(batch, 6)``, already softened at ``tau``.
    """
    logq = nn.functional.log_softmax(logits / tau, dim=1)
    return tau * tau * nn.functional.kl_div(logq, soft, reduction="batchmean")


# ------------------------------------------------------------------ the run
@dataclass
class _Fold:
    """One fold's clips (corpus row indices), labels and inputs, normalised for training."""

    tr: np.ndarray
    va: np.ndarray
    te: np.ndarray
    labels: np.ndarray  # (n_corpus,) int64, every clip's
    x_all: np.ndarray  # every clip's un-normalised input (a memmap for representations)
    x_tr: np.ndarray
    x_va: np.ndarray
    x_te: np.ndarray
    norm: features.NormStats | None  # corpus statistics (speaker norm: the fallback)
    speakers: models.TrainingSpeakers | None = None  # speaker norm: the training speakers'
    copies: np.ndarray | None = None  # conditions: (len(tr), K, ...) normalised as x_tr


def _prepare_fold(
    tc: TrainConfig, meta: pd.DataFrame, *, cfg: FeatureConfig, splits_dir: Path | None
) -> _Fold:
    """Step 1, data: the fold's parts (subsampled with ``max_clips``) and their inputs,
    normalised with training-part statistics (corpus) or each speaker's own."""
    split = data.split_indices(meta, tc.protocol, fold=tc.fold, directory=splits_dir)
    labels = meta["label"].to_numpy().astype(np.int64)
    tr = _subsample(split.train, labels, tc.max_clips, tc.seed)
    va = _subsample(split.val, labels, tc.max_clips and max(6, tc.max_clips // 4), tc.seed)
    te = _subsample(split.test, labels, tc.max_clips and max(6, tc.max_clips // 4), tc.seed)
    if tc.train_on_val:
        tr = np.union1d(tr, va)
    x_all = inputs.model_inputs(meta, tc.input_kind, tc.input_name, cfg=cfg)
    x_tr = np.asarray(x_all[tr], dtype=np.float32)
    norm = inputs.fit_norm(x_tr, kind=tc.input_kind)
    if tc.norm == "speaker":
        spk = meta["speaker"].astype(str).to_numpy()
        stats = inputs.split_speaker_stats(x_all, spk, tr, va, te)
        known = models.TrainingSpeakers.of(stats, speakers=spk[tr], file_ids=meta["file_id"].to_numpy()[tr])
        x_tr = adapt.speaker_normalise(x_tr, spk[tr], stats)
        x_va = adapt.speaker_normalise(x_all[va], spk[va], stats)
        x_te = adapt.speaker_normalise(x_all[te], spk[te], stats)
        return _Fold(tr, va, te, labels, x_all, x_tr, x_va, x_te, norm, known)
    prep = (
        (lambda a: norm.apply(np.asarray(a, dtype=np.float32)))
        if norm
        else (lambda a: np.asarray(a, dtype=np.float32))
    )
    return _Fold(tr, va, te, labels, x_all, prep(x_tr), prep(x_all[va]), prep(x_all[te]), norm)


def _conditioned_copies(
    tc: TrainConfig,
    fold: _Fold,
    meta: pd.DataFrame,
    *,
    cfg: FeatureConfig,
    splits_dir: Path | None,
    progress: bool,
) -> np.ndarray:
    """Step 1b, conditions: the training clips' conditioned copies, normalised like them
    (:func:`ser_core.conditioned.training_copies`)."""
    return conditioned.training_copies(
        meta,
        fold.tr,
        split=data.split_indices(meta, tc.protocol, fold=tc.fold, directory=splits_dir),
        kind=tc.input_kind,
        representation=tc.input_name,
        conditions=tc.conditions,
        copies=tc.condition_copies,
        seed=tc.seed,
        norm=None if tc.norm == "speaker" else fold.norm,
        cfg=cfg,
        progress=progress,
    )


@dataclass
class _Setup:
    """What one run trains: the network, its optimiser and the batches it sees."""

    model: nn.Module
    net: nn.Module  # what is validated, tested and shipped (the average with ``ema``)
    ema: WeightEMA | None
    adversary: SpeakerAdversary | None
    batches: _Batches
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    loss_fn: nn.Module
    rng: np.random.Generator  # mixup's
    teacher_weights: dict[str, str] | None


def _setup(
    tc: TrainConfig,
    fold: _Fold,
    meta: pd.DataFrame,
    *,
    cfg: FeatureConfig,
    device: torch.device,
    splits_dir: Path | None,
) -> _Setup:
    """Step 2: network, augmentation, weight average, teacher targets, speaker adversary,
    batches and optimiser (in this order: it is the order the seeded generators are drawn in)."""
    model = models.create(tc.model, **model_kwargs(tc, fold.x_tr.shape[1])).to(device)
    aug = (
        augment.make(tc.representation, freq_warp=tc.freq_warp, time_stretch=tc.time_stretch, cfg=cfg)
        if (tc.augment and tc.input_kind == "features")
        else None
    )
    ema = WeightEMA(model, decay=tc.ema) if tc.ema > 0 else None
    soft, teacher_weights = None, None
    if tc.teacher:  # the digests now: the teacher's files may change while this trains
        teacher_weights = None if tc.teacher.startswith(FOLD_TEACHER) else teacher_digests(tc.teacher)
        soft = teacher_probabilities(
            tc.teacher,
            meta,
            fold.tr,
            protocol=tc.protocol,
            fold=tc.fold,
            tau=tc.distill_tau,
            splits_dir=splits_dir,
        )
    adversary, speakers = None, None
    if tc.speaker_adversary:
        speakers = np.unique(meta["speaker"].astype(str).to_numpy()[fold.tr], return_inverse=True)[1]
        speakers = speakers.astype(np.int64)
        with torch.no_grad():
            dim = embed(model.eval(), torch.from_numpy(fold.x_tr[:1]).to(device))[0].shape[1]
        adversary = SpeakerAdversary(dim, int(speakers.max()) + 1).to(device)
    batches = _Batches(
        fold.x_tr,
        fold.labels[fold.tr],
        batch_size=tc.batch_size,
        shuffle=True,
        aug=aug,
        seed=tc.seed,
        copies=fold.copies,
        copy_prob=tc.condition_prob,
        soft=soft,
        speaker=speakers,
    )
    groups = [{"params": list(model.parameters()), "lr": tc.lr}]
    if adversary:  # the adversary learns faster than the features it is trained against
        groups.append({"params": list(adversary.parameters()), "lr": ADVERSARY_LR_FACTOR * tc.lr})
    opt = torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
    # (at least 10 steps: OneCycleLR divides by zero on a one- or two-step schedule)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in groups], pct_start=0.2, total_steps=max(tc.epochs * len(batches), 10)
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)
    net = ema.module if ema else model
    rng = np.random.default_rng(tc.seed)
    return _Setup(model, net, ema, adversary, batches, opt, sched, loss_fn, rng, teacher_weights)


@dataclass
class _Reporter:
    """Where each epoch's row goes: MLflow, the caller's ``on_epoch`` and the progress bar."""

    run: Any = None
    on_epoch: Callable[[dict[str, float]], None] | None = None
    bar: Any = None

    def __call__(self, row: dict[str, float], **postfix: str) -> None:
        if self.run is not None:
            import mlflow  # optional heavy dependency: only when a run is logged

            mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
        if self.on_epoch:
            self.on_epoch(row)
        if self.bar:
            self.bar.set_postfix(**postfix)
            self.bar.update()


def _train_epoch(
    tc: TrainConfig, s: _Setup, *, device: torch.device, step: int, n_steps: int
) -> tuple[float, float, int]:
    """Step 3, one epoch: ``(mean emotion loss, speaker accuracy of the adversary, step)``."""
    s.model.train()
    if s.adversary:
        s.adversary.train()
    total, n, spk_hits = 0.0, 0, 0.0
    for xb, yb, extra in s.batches:
        xb, yb = xb.to(device), yb.to(device)
        extra = {k: v.to(device) for k, v in extra.items()}
        lam, perm = 1.0, None
        if tc.mixup > 0 and tc.input_kind == "features":
            lam = float(s.rng.beta(tc.mixup, tc.mixup))
            perm = torch.randperm(xb.shape[0], device=device)
            xb = lam * xb + (1 - lam) * xb[perm]
        # a mixed batch's targets (labels, teacher's, speakers) are mixed alike
        mixed = (lambda f, t: f(t)) if perm is None else (lambda f, t: lam * f(t) + (1 - lam) * f(t[perm]))
        if s.adversary:
            emb, out = embed(s.model, xb)
            spk_logits = s.adversary(
                emb, scale=adversary_scale(step / max(n_steps, 1), strength=tc.speaker_adversary)
            )
        else:
            out = s.model(xb)
        loss = mixed(lambda t: s.loss_fn(out, t), yb)
        if "soft" in extra:
            loss = (1 - tc.distill) * loss + tc.distill * distillation_loss(
                out, mixed(lambda t: t, extra["soft"]), tau=tc.distill_tau
            )
        total += float(loss.detach()) * len(yb)  # the emotion loss
        n += len(yb)
        if s.adversary:
            loss = loss + mixed(lambda t: nn.functional.cross_entropy(spk_logits, t), extra["speaker"])
            spk_hits += float((spk_logits.argmax(1) == extra["speaker"]).sum())
        step += 1
        s.opt.zero_grad(set_to_none=True)
        loss.backward()
        s.opt.step()
        s.sched.step()
        if s.ema:
            s.ema.update(s.model)
    return total / max(n, 1), spk_hits / max(n, 1), step


def _validate(net: nn.Module, fold: _Fold, *, device: torch.device) -> tuple[float, float]:
    """``(loss, accuracy)`` of the network on the validation part."""
    y = fold.labels[fold.va]
    val_logits = models.predict_logits(net, fold.x_va, device=device)
    val_loss = float(nn.functional.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(y)))
    return val_loss, float((val_logits.argmax(1) == y).mean())


@dataclass
class _EarlyStopping:
    """Keeps the best validation epoch's weights; stops after ``patience`` epochs without
    a better one (``train_on_val``: validation is training data, the last epoch is kept)."""

    patience: int
    keep_last: bool
    best_acc: float = -1.0
    best_epoch: int = 0
    stale: int = 0
    best_state: dict | None = None

    def stop(self, val_acc: float, epoch: int, net: nn.Module) -> bool:
        if self.keep_last:
            self.best_acc, self.best_epoch = val_acc, epoch
        elif val_acc > self.best_acc:
            self.best_acc, self.best_epoch, self.stale = val_acc, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            self.stale += 1
            return self.stale >= self.patience
        return False


def _fit_network(
    tc: TrainConfig, fold: _Fold, s: _Setup, *, device: torch.device, report: _Reporter
) -> tuple[list[dict[str, float]], float, int]:
    """Step 3: the epochs, each validated, with early stopping; ``(history, best validation
    accuracy, best epoch)``, the network left with the best epoch's weights."""
    history: list[dict[str, float]] = []
    stopping = _EarlyStopping(tc.patience, keep_last=tc.train_on_val)
    step, n_steps = 0, tc.epochs * len(s.batches)
    for epoch in range(1, tc.epochs + 1):
        train_loss, spk_acc, step = _train_epoch(tc, s, device=device, step=step, n_steps=n_steps)
        val_loss, val_acc = _validate(s.net, fold, device=device)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "lr": s.sched.get_last_lr()[0],
        }
        if s.adversary:  # how well the speakers can still be told apart (chance 1/7)
            row["speaker_accuracy"] = spk_acc
        history.append(row)
        report(row, loss=f"{row['train_loss']:.3f}", val=f"{val_acc:.3f}")
        if stopping.stop(val_acc, epoch, s.net):
            break
    if stopping.best_state is not None:
        s.net.load_state_dict(stopping.best_state)
    return history, stopping.best_acc, stopping.best_epoch


def _fit_closed_form(
    tc: TrainConfig, fold: _Fold, net: nn.Module, *, report: _Reporter
) -> tuple[list[dict[str, float]], float, int]:
    """Step 3 for functionals: logistic regression in closed form, the L2 strength chosen
    on validation; ``(history, best validation accuracy, its row)``."""
    y = fold.labels
    x_tr = fold.x_tr
    if fold.copies is not None:  # one fit, so one draw of the swapped examples
        rng = np.random.default_rng([tc.seed, conditioned.SWAP_STREAM])
        x_tr = conditioned.swap_copies(x_tr.copy(), fold.copies, prob=tc.condition_prob, rng=rng)
    fitted, history = models.fit_logreg(x_tr, y[fold.tr], fold.x_va, y[fold.va], cs=LOGREG_CS, seed=tc.seed)
    net.load_state_dict(fitted.state_dict())
    best = max(history, key=lambda r: (r["val_accuracy"], -r["C"]))
    for row in history:
        report(row, C=f"{row['C']:g}", val=f"{row['val_accuracy']:.3f}")
    return history, best["val_accuracy"], best["epoch"]


def _calibrate_and_test(
    tc: TrainConfig,
    fold: _Fold,
    net: nn.Module,
    *,
    borrowed: tuple[float, float] | None,
    device: torch.device,
) -> dict[str, Any]:
    """Step 4: temperature and unsure threshold on validation (or borrowed), the test report."""
    y_va, y_te = fold.labels[fold.va], fold.labels[fold.te]
    val_logits = models.predict_logits(net, fold.x_va, device=device)
    temperature = borrowed[0] if borrowed else metrics.fit_temperature(val_logits, y_va)
    test_logits = models.predict_logits(net, fold.x_te, device=device)
    return {
        "val_logits": val_logits,
        "test_logits": test_logits,
        "temperature": temperature,
        "report": metrics.classification_report(y_te, test_logits.argmax(1)),
        "ece_before": metrics.expected_calibration_error(metrics.softmax(test_logits), y_te),
        "ece_after": metrics.expected_calibration_error(
            metrics.softmax(test_logits, temperature=temperature), y_te
        ),
        "unsure": borrowed[1]
        if borrowed
        else metrics.unsure_threshold(metrics.softmax(val_logits, temperature=temperature), y_va),
    }


def _adaptation_curve(
    tc: TrainConfig, fold: _Fold, net: nn.Module, meta: pd.DataFrame, *, cfg: FeatureConfig, device
) -> dict[str, float] | None:
    """Step 4 under ``loso`` with speaker norm: test accuracy against seconds of adaptation."""
    if not (tc.norm == "speaker" and tc.protocol == "loso"):
        return None
    secs = np.zeros(len(meta))
    secs[fold.te] = adapt.clip_seconds(meta["path"].to_numpy()[fold.te], limit=cfg.duration)
    return adapt.adaptation_curve(
        fold.x_all,
        fold.te,
        logits_fn=lambda a: models.predict_logits(net, a, device=device),
        labels=fold.labels,
        seconds=secs,
        fallback=fold.norm,
        seed=tc.seed,
    )


def _result(
    tc: TrainConfig, fold: _Fold, s: _Setup, test: dict[str, Any], *, history, best_acc, seconds, curve
) -> RunResult:
    """The :class:`RunResult` of the finished steps (the network moved to the CPU)."""
    result = RunResult(
        tc,
        test["report"],
        best_acc,
        test["temperature"],
        test["ece_before"],
        test["ece_after"],
        len(history),
        seconds,
        history,
        s.net.cpu().eval(),
        fold.norm,
        unsure_below=test["unsure"],
        predictions={
            "val_index": fold.va,
            "val_labels": fold.labels[fold.va],
            "val_logits": test["val_logits"],
            "test_index": fold.te,
            "test_labels": fold.labels[fold.te],
            "test_logits": test["test_logits"],
            "temperature": np.float32(test["temperature"]),
        },
    )
    result.teacher_weights = s.teacher_weights
    if tc.norm == "speaker":
        result.speakers = fold.speakers
    if curve is not None:
        result.adaptation = curve
        result.predictions["adapt_seconds"] = np.array(list(curve), dtype=str)
        result.predictions["adapt_accuracy"] = np.array(list(curve.values()))
    return result


def _start_run(tc: TrainConfig, fold: _Fold, s: _Setup, *, cfg: FeatureConfig, device: torch.device):
    """An MLflow run with the run's parameters logged, tagged with this host and process (so
    that the leaderboard can tell a live run from one whose process died)."""
    import mlflow  # optional heavy dependency: only when a run is logged

    exp = tracking.experiment_id()
    run = mlflow.start_run(experiment_id=exp, run_name=tc.run_name(), tags=tracking.liveness_tags())
    mlflow.log_params(
        {
            **dataclasses.asdict(tc),
            "input": tc.tag,
            "parameters": models.count_parameters(s.model),
            "device": str(device),
            "n_train": len(fold.tr),
            "n_val": len(fold.va),
            "n_test": len(fold.te),
            "feature_params": json.dumps(input_params(tc, cfg)),
        }
    )
    return run


def _log_result(run, result: RunResult, *, best_epoch: int, cfg: FeatureConfig) -> None:
    """Step 5, saving: metrics, tags and the weights with their card as the run's artifacts."""
    import mlflow  # optional heavy dependency: only when a run is logged

    tracking.log_report(result.report)
    mlflow.log_metrics(
        {
            "best_val_accuracy": result.val_accuracy,
            "best_epoch": best_epoch,
            "temperature": result.temperature,
            "ece_before": result.ece_before,
            "ece_after": result.ece_after,
            "train_seconds": result.seconds,
        }
    )
    mlflow.set_tag("most_confused", json.dumps(result.report["most_confused"]))
    if result.adaptation:
        mlflow.log_metrics({f"adapt_accuracy_{k}": v for k, v in result.adaptation.items()})
    result.run_id = run.info.run_id
    with tempfile.TemporaryDirectory() as tmp:  # the weights (fp16) + card as artifacts
        models.save(
            result.model, model_card(result, cfg=cfg), "model", speakers=result.speakers, directory=Path(tmp)
        )
        mlflow.log_artifacts(tmp, artifact_path="model")


def _end_run(status: str | None = None) -> None:
    import mlflow  # optional heavy dependency: only when a run is logged

    mlflow.end_run() if status is None else mlflow.end_run(status=status)


def train(
    tc: TrainConfig,
    meta: pd.DataFrame,
    *,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    splits_dir: Path | None = None,
    log_mlflow: bool = True,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> RunResult:
    """Train one model on one protocol fold and evaluate it on its test part.

    The steps: the fold's data (:func:`_prepare_fold`), the network and its
    optimiser (:func:`_setup`), the epochs with validation and early stopping
    (:func:`_fit_network`; functionals: :func:`_fit_closed_form`), calibration and
    the test (:func:`_calibrate_and_test`, :func:`_adaptation_curve`), and with
    ``log_mlflow`` the MLflow run (:func:`_start_run`, :func:`_log_result`).

    Parameters
    ----------
    tc : TrainConfig
        The recipe.
    meta : pd.DataFrame
        The corpus metadata (:func:`ser_core.data.load_metadata`).
    on_epoch : callable, optional
        Called with each epoch's row (``epoch``, ``train_loss``, ``val_loss``,
        ``val_accuracy``, ``lr``; functionals: one row per L2 strength).

    Returns
    -------
    RunResult
    """
    _seed_everything(tc.seed)
    device = resolve_device(tc.device)
    borrowed = borrowed_calibration(tc.calibration_from) if tc.calibration_from else None
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    fold = _prepare_fold(tc, meta, cfg=cfg, splits_dir=splits_dir)
    if tc.conditions:
        fold.copies = _conditioned_copies(tc, fold, meta, cfg=cfg, splits_dir=splits_dir, progress=progress)
    s = _setup(tc, fold, meta, cfg=cfg, device=device, splits_dir=splits_dir)
    run = _start_run(tc, fold, s, cfg=cfg, device=device) if log_mlflow else None
    closed_form = tc.input_kind == "functionals"
    bar = (
        tqdm(
            total=len(LOGREG_CS) if closed_form else tc.epochs,
            desc=tc.run_name(),
            unit="C" if closed_form else "epoch",
        )
        if progress
        else None
    )
    report = _Reporter(run, on_epoch, bar)
    t0 = time.time()
    try:
        if closed_form:
            history, best_acc, best_epoch = _fit_closed_form(tc, fold, s.net, report=report)
        else:
            history, best_acc, best_epoch = _fit_network(tc, fold, s, device=device, report=report)
        seconds = time.time() - t0
        test = _calibrate_and_test(tc, fold, s.net, borrowed=borrowed, device=device)
        curve = _adaptation_curve(tc, fold, s.net, meta, cfg=cfg, device=device)
        result = _result(tc, fold, s, test, history=history, best_acc=best_acc, seconds=seconds, curve=curve)
        if run is not None:
            _log_result(run, result, best_epoch=best_epoch, cfg=cfg)
        return result
    except BaseException:
        if run is not None:  # a crashed or interrupted run is marked as such in MLflow
            _end_run("FAILED" if not isinstance(sys.exc_info()[1], KeyboardInterrupt) else "KILLED")
            run = None
        raise
    finally:
        if bar:
            bar.close()
        if run is not None:
            _end_run()
