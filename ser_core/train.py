"""Training and evaluation of the model zoo on a protocol fold.

``python -m ser_core train --model resnet18 --representation mel --protocol seed``

One run: load the cached features of the fold, normalise with statistics of
the training part, train with AdamW + one-cycle schedule + label smoothing (+
mixup and the representation's augmentations), stop early on validation
accuracy (or, with ``train_on_val``, train on validation too and keep the last
epoch), fit a temperature on validation, evaluate on test, log everything
to MLflow and write fp16 safetensors weights with a JSON model card.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import augment as augment_mod
from . import cache, data, features, functionals, metrics, models
from .config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig
from .errors import ConfigError, DatasetError

__all__ = [
    "TrainConfig",
    "RunResult",
    "WeightEMA",
    "train",
    "resolve_device",
    "model_inputs",
    "predict_logits",
    "save_predictions",
    "predictions_name",
    "TRAINVAL_SUFFIX",
    "predictions_dir",
    "borrowed_calibration",
    "teacher_probabilities",
    "teacher_digests",
    "distillation_loss",
    "normalised_inputs",
]


#: L2 strengths (scikit-learn's C) a ``logreg`` run tries; validation picks one.
LOGREG_CS = models.LOGREG_CS
#: Learning rate of the speaker adversary relative to the network's (``speaker_adversary``).
ADVERSARY_LR_FACTOR = 5.0
#: Feature normalisation schemes: training-part statistics, or per speaker (:mod:`ser_core.adapt`).
NORMS = ("corpus", "speaker")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run (logged as MLflow parameters)."""

    model: str = "resnet18"
    representation: str = "mel"
    protocol: str = "seed"
    fold: int = 0
    width: int = 32
    dropout: float = 0.3
    epochs: int = 40
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    mixup: float = 0.2
    augment: bool = True
    patience: int = 10
    seed: int = 0
    device: str = "auto"
    max_clips: int | None = None  # cap for quick runs / tests (stratified)
    norm: str = "corpus"  # "corpus": training-part statistics; "speaker": each speaker's own
    # train on the validation part too: no early stopping, the last epoch is kept, and the
    # validation figures (and the temperature fitted on them) are then in-sample
    train_on_val: bool = False
    # with train_on_val: take the temperature and the unsure threshold from this shipped model or
    # held-out predictions file (the held-out run of the same recipe) instead of fitting them on
    # in-sample validation
    calibration_from: str | None = None
    # voice-like perturbations (0: off): frequency warp up to a factor 1 + freq_warp (VTLP-like,
    # representations whose bins are frequencies) and speaking-rate stretch up to 1 + time_stretch
    freq_warp: float = 0.0
    time_stretch: float = 0.0
    # exponential moving average of the weights (0: off); validation, early stopping, the test
    # and the shipped weights then use the averaged model
    ema: float = 0.0
    # knowledge distillation (0: off): the loss is (1 - distill) * cross-entropy on the labels
    # + distill * tau^2 * KL(teacher || student) at temperature distill_tau, the teacher being a
    # shipped model (e.g. the ensemble) scored once on the clean training clips
    teacher: str | None = None
    distill: float = 0.0
    distill_tau: float = 2.0
    # speaker-adversarial training (0: off): a speaker classifier on the pooled embedding learns
    # the training speakers while a gradient reversal of this strength (ramped up over training)
    # pushes the embedding to forget them (Ganin & Lempitsky 2015); the adversary is not shipped
    speaker_adversary: float = 0.0

    def __post_init__(self) -> None:
        models.MODELS.get(self.model) or models.create(self.model)  # raises on unknown
        if models.MODELS[self.model].input == "members":
            raise ConfigError(
                f"{self.model!r} combines trained models: build it with "
                "`python -m ser_core ensemble`, not `train`"
            )
        if models.MODELS[self.model].input == "features":
            features.get(self.representation)
        if models.MODELS[self.model].input == "functionals":
            functionals.get(self.representation)
            if self.teacher or self.ema or self.freq_warp or self.time_stretch:
                raise ConfigError(
                    f"{self.model!r} is fitted in closed form on utterance "
                    "functionals: distillation, weight averaging and voice "
                    "perturbations do not apply"
                )
        if self.protocol not in data.PROTOCOLS:
            raise ConfigError(f"protocol must be one of {data.PROTOCOLS}, got {self.protocol!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.norm == "speaker" and self.input_kind not in ("features", "functionals"):
            raise ConfigError(
                f"speaker normalisation applies to representations and "
                f"functionals, not to {self.model!r} "
                f"({models.MODELS[self.model].input} input)"
            )
        if not (0 <= self.freq_warp < 1 and 0 <= self.time_stretch < 1):
            raise ConfigError(
                f"freq_warp and time_stretch must be within [0, 1), got "
                f"{self.freq_warp!r}, {self.time_stretch!r}"
            )
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema (a decay per step) must be within [0, 1), got {self.ema!r}")
        if not 0 <= self.distill <= 1 or self.distill_tau <= 0:
            raise ConfigError(
                f"distill must be within [0, 1] and distill_tau positive, got "
                f"{self.distill!r}, {self.distill_tau!r}"
            )
        if (self.distill > 0) != bool(self.teacher):
            raise ConfigError(
                f"distillation needs both a teacher and a weight distill > 0, got "
                f"teacher={self.teacher!r}, distill={self.distill!r}"
            )
        if self.teacher and self.teacher.startswith(FOLD_TEACHER):
            parse_fold_teacher(self.teacher)
        elif self.teacher and self.protocol != "seed":
            raise ConfigError(
                f"a shipped teacher ({self.teacher!r}) was trained on the seed split; "
                f"on {self.protocol!r} it would have seen the test speaker"
            )
        if self.speaker_adversary < 0:
            raise ConfigError(
                f"speaker_adversary (a gradient-reversal strength) must be >= 0, "
                f"got {self.speaker_adversary!r}"
            )
        if self.speaker_adversary and not hasattr(models.MODELS[self.model].cls, "features"):
            raise ConfigError(
                f"speaker-adversarial training needs a pooled embedding; {self.model!r} has none"
            )
        if self.calibration_from and not self.train_on_val:
            raise ConfigError(
                f"calibration_from ({self.calibration_from!r}) replaces a temperature "
                "fitted on in-sample validation: it goes with train_on_val"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(
                f"epochs and batch_size must be positive, got {self.epochs!r}, {self.batch_size!r}"
            )

    @property
    def input_kind(self) -> str:
        return models.MODELS[self.model].input

    @property
    def input_name(self) -> str:
        """The representation or functional set, or ``waveform`` / ``zcr_rms_frames`` for the
        1-D models."""
        return {
            "features": self.representation,
            "functionals": self.representation,
            "waveform": "waveform",
            "frames": "zcr_rms_frames",
        }[self.input_kind]

    @property
    def tag(self) -> str:
        """The input name, with ``-spk`` for speaker-normalised models (``mel-spk``)."""
        return self.input_name + ("-spk" if self.norm == "speaker" else "")

    def run_name(self) -> str:
        fold = f"-fold{self.fold}" if self.protocol == "loso" else ""
        return f"{self.model}-{self.tag}-{self.protocol}{fold}"


@dataclass
class RunResult:
    config: TrainConfig
    report: dict[str, Any]
    val_accuracy: float
    temperature: float
    ece_before: float
    ece_after: float
    epochs_run: int
    seconds: float
    history: list[dict[str, float]]
    model: nn.Module
    norm: features.NormStats | None
    run_id: str | None = None
    unsure_below: float = 0.5
    predictions: dict[str, np.ndarray] | None = None  # val/test indices, labels and logits
    adaptation: dict[str, float] | None = None  # loso + speaker norm: accuracy vs adaptation seconds
    teacher_weights: dict[str, str] | None = None  # distillation: sha256 of the teacher's weight files
    speakers: models.TrainingSpeakers | None = None  # speaker norm: each training speaker's statistics


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------- inputs
FRAME_WIN, FRAME_HOP = 400, 160  # 25 ms window, 10 ms hop at 16 kHz


def zcr_rms_frames(y: np.ndarray) -> np.ndarray:
    """Frame-level ZCR and log-RMS (25 ms window, 10 ms hop) of a 3-s clip.

    Returns
    -------
    np.ndarray, shape (2, 301), float32
    """
    import librosa

    from .audio import pad_or_trim

    y = pad_or_trim(y, n_samples=DEFAULT_CONFIG.n_samples)
    z = librosa.feature.zero_crossing_rate(y, frame_length=FRAME_WIN, hop_length=FRAME_HOP)[0]
    r = librosa.feature.rms(y=y, frame_length=FRAME_WIN, hop_length=FRAME_HOP)[0]
    return np.stack([z, np.log10(r + 1e-5)]).astype(np.float32)


def model_inputs(
    meta: pd.DataFrame, kind: str, name: str, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Inputs of every clip of ``meta`` for a model input kind.

    Returns
    -------
    features: the cached representation ``(n, C, F, T)`` (memmap, float16);
    functionals: ``(n, dim)`` float32 openSMILE functionals (cached as ``<set>-<key>``);
    waveform: ``(n, 1, samples)`` float16 (cached as ``waveform-<key>``);
    frames: ``(n, 2, 301)`` float32 (cached likewise).
    """
    if kind == "features":
        cache.build(meta, [name], cfg=cfg, progress=True)
        return cache.load(name, meta, cfg=cfg)
    key, compute = _array_input(kind, name, cfg=cfg)
    return cache.array_entry(key, meta, compute, workers=_array_workers(kind))


def part_inputs(
    meta: pd.DataFrame, rows: np.ndarray, kind: str, name: str, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Inputs of the clips ``rows`` of ``meta`` (a protocol part), as :func:`model_inputs`
    gives them, without caching the corpus: read from a complete cache, else computed
    for these clips alone and kept as a part of the cache entry for the next time
    (:func:`ser_core.cache.features_of`, :func:`ser_core.cache.array_of`).

    Returns
    -------
    np.ndarray, shape (len(rows), ...)
    """
    clips = meta.iloc[rows]
    if kind == "features":
        return cache.features_of(clips, name, corpus=meta, cfg=cfg, keep=True)
    key, compute = _array_input(kind, name, cfg=cfg)
    return cache.array_of(key, clips, compute, corpus=meta, workers=_array_workers(kind), keep=True)


def _array_input(kind: str, name: str, *, cfg: FeatureConfig) -> tuple[str, Callable[[str], np.ndarray]]:
    """Cache key and per-clip function of a non-representation input kind."""
    import functools

    salt = name + (
        json.dumps(functionals.get(name).params(), sort_keys=True) if kind == "functionals" else ""
    )
    key = cfg.digest(("sr", "duration", "align"), salt=salt)
    return f"{name}-{key}", functools.partial(_clip_input, kind=kind, name=name, cfg=cfg)


def _array_workers(kind: str) -> int | None:
    # openSMILE is the slow one (about 40 ms a clip): one process per core
    return None if kind == "functionals" else 1


def _clip_input(path: str, *, kind: str, name: str, cfg: FeatureConfig) -> np.ndarray:
    """One clip's input for the 1-D and functionals models (picklable for worker processes)."""
    from .audio import load_audio, pad_or_trim

    y = pad_or_trim(load_audio(path, sr=cfg.sr), n_samples=cfg.n_samples, align=cfg.align)
    if kind == "functionals":
        return functionals.compute(y, name, cfg=cfg)
    return y[None].astype(np.float16) if kind == "waveform" else zcr_rms_frames(y)


def _normalizer(x_train: np.ndarray, kind: str) -> features.NormStats | None:
    if kind == "waveform":
        return None  # raw audio is left as it is
    if kind == "functionals":
        return features.normalization_stats(x_train)  # per dimension, (dim,)
    if kind == "frames":
        m = x_train.mean(axis=(0, 2))[:, None]
        s = np.maximum(x_train.std(axis=(0, 2)), 1e-5)[:, None]
        return features.NormStats(m.astype(np.float32), s.astype(np.float32))
    return features.normalization_stats(x_train)


def split_speaker_stats(
    x_all: np.ndarray, speakers: np.ndarray, train: np.ndarray, val: np.ndarray, test: np.ndarray
) -> dict[str, features.NormStats]:
    """Speaker statistics for one fold, never mixing parts.

    A speaker with clips in the training part is normalised with statistics
    of those clips (for the ``seed`` protocol: the same speakers appear in
    validation and test, whose audio is then never used).  A speaker absent
    from training (the held-out speakers of ``loso``) gets statistics of its
    own unlabelled clips in the part it belongs to.
    """
    from . import adapt

    stats = adapt.speaker_stats(x_all, speakers, train)
    for part in (val, test):
        new = [i for i in part if speakers[i] not in stats]
        if new:
            stats.update(adapt.speaker_stats(x_all, speakers, new))
    return stats


def normalised_inputs(
    x_all: np.ndarray,
    rows: np.ndarray,
    *,
    meta: pd.DataFrame,
    split: data.Split,
    speaker: bool,
    norm: features.NormStats | None,
) -> np.ndarray:
    """The inputs of ``rows`` of a fold, normalised as its models were trained.

    ``speaker``: each clip with its speaker's statistics (:func:`split_speaker_stats`);
    otherwise the corpus statistics ``norm`` (None: as they are).

    Returns
    -------
    np.ndarray, float32, ``(len(rows), ...)``
    """
    if speaker:
        from . import adapt

        spk = meta["speaker"].astype(str).to_numpy()
        stats = split_speaker_stats(x_all, spk, split.train, split.val, split.test)
        return adapt.speaker_normalise(x_all[rows], spk[rows], stats)
    x = np.asarray(x_all[rows], dtype=np.float32)
    return norm.apply(x) if norm is not None else x


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
        import copy

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
        **extras: np.ndarray | None,
    ) -> None:
        self.x, self.y, self.bs, self.shuffle, self.aug = x, y, batch_size, shuffle, aug
        # per-clip arrays batched alongside (teacher probabilities "soft" (n, 6), "speaker"
        # indices (n,)), yielded third as a dict of tensors
        self.extras = {k: v for k, v in extras.items() if v is not None}
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return (len(self.x) + self.bs - 1) // self.bs

    def __iter__(self):
        order = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for i in range(0, len(order), self.bs):
            j = order[i : i + self.bs]
            xb = self.x[j]
            if self.aug is not None:
                xb = np.stack([self.aug(s, rng=self.rng) for s in xb])
            yield (
                torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)),
                torch.from_numpy(self.y[j]),
                {k: torch.from_numpy(v[j]) for k, v in self.extras.items()},
            )


class _GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``-scale`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


class SpeakerAdversary(nn.Module):
    """Speaker classifier behind a gradient reversal layer (domain-adversarial training).

    It learns to tell the training speakers apart from the pooled embedding
    ``(B, dim)``; the reversed gradient, scaled by ``scale``, trains the
    embedding to make that impossible (Ganin & Lempitsky, 2015).

    Parameters
    ----------
    dim : int
        Embedding size.
    n_speakers : int
        Training speakers.
    hidden : int
        Width of its hidden layer.
    """

    def __init__(self, dim: int, n_speakers: int, *, hidden: int = 128) -> None:
        super().__init__()
        # layer norm first: on a trained mel ResNet's embedding it learns the speakers about
        # twice as fast (46 % against 26 % of 7 after 50 steps), and a slow adversary is one the
        # features outrun (it then stays at chance while a probe still finds the speakers)
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, n_speakers)
        )

    def forward(self, emb: torch.Tensor, *, scale: float) -> torch.Tensor:
        """Speaker logits ``(B, n_speakers)``."""
        return self.net(_GradientReversal.apply(emb, scale))


def adversary_scale(progress: float, *, strength: float) -> float:
    """DANN's ramp ``strength * (2 / (1 + exp(-10 p)) - 1)`` at training progress ``p`` in [0, 1]."""
    return strength * (2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0)


def embed(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled embedding ``(B, dim)`` and logits ``(B, 6)`` of a CNN with ``features``,
    ``pool`` and ``head`` (the logits equal ``model(x)``)."""
    pooled = model.pool(model.features(x))
    return pooled.flatten(1), model.head(pooled)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: np.ndarray, *, batch_size: int = 64, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Logits ``(n, 6)`` of already-normalised inputs ``(n, ...)``."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size], dtype=np.float32))
        out.append(model(xb.to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(EMOTIONS)), np.float32)


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
    from .evaluate import test_probabilities
    from .inference import Predictor

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
                test_probabilities(pred, meta, protocol=protocol, fold=fold, part=p, splits_dir=splits_dir)[0]
                for p in ("train", "val")
            ]
        )
    soft = np.maximum(probs[[row[int(i)] for i in index]], 1e-12) ** (1.0 / tau)
    return (soft / soft.sum(1, keepdims=True)).astype(np.float32)


#: Prefix of a teacher trained on the student's own fold (``fold:logreg/compare-spk``).
FOLD_TEACHER = "fold:"


def parse_fold_teacher(teacher: str) -> tuple[str, str, str]:
    """``fold:logreg/compare-spk`` -> ``("logreg", "compare", "speaker")``."""
    try:
        arch, tag = teacher[len(FOLD_TEACHER) :].split("/")
    except ValueError:
        raise ConfigError(
            f"a fold teacher is written fold:<model>/<input> (e.g. fold:logreg/compare-spk), got {teacher!r}"
        ) from None
    spk = tag.endswith("-spk")
    return arch, tag.removesuffix("-spk"), "speaker" if spk else "corpus"


def _fold_teacher(
    teacher: str, meta: pd.DataFrame, rows: np.ndarray, *, protocol: str, fold: int, splits_dir: Path | None
) -> np.ndarray:
    """Calibrated probabilities ``(len(rows), 6)`` of a recipe trained on this fold's training
    part (its own validation for early stopping or its L2 strength), never logged."""
    arch, rep, norm = parse_fold_teacher(teacher)
    tc = TrainConfig(model=arch, representation=rep, norm=norm, protocol=protocol, fold=fold)
    res = train(tc, meta, splits_dir=splits_dir, log_mlflow=False, progress=False)
    x = normalised_inputs(
        model_inputs(meta, tc.input_kind, tc.input_name),
        rows,
        meta=meta,
        split=data.split_indices(meta, protocol, fold=fold, directory=splits_dir),
        speaker=norm == "speaker",
        norm=res.norm,
    )
    return metrics.softmax(predict_logits(res.model, x), temperature=res.temperature)


def teacher_digests(teacher: str) -> dict[str, str]:
    """SHA-256 of a shipped teacher's weight files (an ensemble's members too), by name.

    A card records them because a shipped name (``ensemble``) can later point
    at other weights; the digests identify the version in the history.
    """
    import hashlib

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


def _model_kwargs(tc: TrainConfig, in_chans: int) -> dict[str, Any]:
    if tc.input_kind == "functionals":
        return {"in_features": in_chans}  # the vector's length
    if tc.input_kind != "features":
        return {"dropout": tc.dropout}
    kw: dict[str, Any] = {"in_chans": in_chans, "dropout": tc.dropout}
    if tc.model in ("resnet18", "vgg16"):
        kw["width"] = tc.width
    return kw


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
    """Train one model on one protocol fold and evaluate it on its test part."""
    _seed_everything(tc.seed)
    device = resolve_device(tc.device)
    borrowed = borrowed_calibration(tc.calibration_from) if tc.calibration_from else None
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    split = data.split_indices(meta, tc.protocol, fold=tc.fold, directory=splits_dir)
    labels = meta["label"].to_numpy().astype(np.int64)
    tr = _subsample(split.train, labels, tc.max_clips, tc.seed)
    va = _subsample(split.val, labels, tc.max_clips and max(6, tc.max_clips // 4), tc.seed)
    te = _subsample(split.test, labels, tc.max_clips and max(6, tc.max_clips // 4), tc.seed)
    if tc.train_on_val:
        tr = np.union1d(tr, va)

    x_all = model_inputs(meta, tc.input_kind, tc.input_name, cfg=cfg)
    x_tr = np.asarray(x_all[tr], dtype=np.float32)
    norm = _normalizer(x_tr, tc.input_kind)
    if tc.norm == "speaker":
        from . import adapt

        spk = meta["speaker"].astype(str).to_numpy()
        stats = split_speaker_stats(x_all, spk, tr, va, te)
        train_speakers = models.TrainingSpeakers.of(
            stats, speakers=spk[tr], file_ids=meta["file_id"].to_numpy()[tr]
        )
        x_tr = adapt.speaker_normalise(x_tr, spk[tr], stats)
        x_va = adapt.speaker_normalise(x_all[va], spk[va], stats)
        x_te = adapt.speaker_normalise(x_all[te], spk[te], stats)
    else:
        prep = (
            (lambda a: norm.apply(np.asarray(a, dtype=np.float32)))
            if norm
            else (lambda a: np.asarray(a, dtype=np.float32))
        )
        x_tr = prep(x_tr)
        x_va, x_te = prep(x_all[va]), prep(x_all[te])

    in_chans = x_tr.shape[1]
    model = models.create(tc.model, **_model_kwargs(tc, in_chans)).to(device)
    aug = (
        augment_mod.make(tc.representation, freq_warp=tc.freq_warp, time_stretch=tc.time_stretch, cfg=cfg)
        if (tc.augment and tc.input_kind == "features")
        else None
    )
    ema = WeightEMA(model, decay=tc.ema) if tc.ema > 0 else None
    net = ema.module if ema else model  # what is validated, tested and shipped
    soft, teacher_weights = None, None
    if tc.teacher:  # the digests now: the teacher's files may change while this trains
        teacher_weights = None if tc.teacher.startswith(FOLD_TEACHER) else teacher_digests(tc.teacher)
        soft = teacher_probabilities(
            tc.teacher,
            meta,
            tr,
            protocol=tc.protocol,
            fold=tc.fold,
            tau=tc.distill_tau,
            splits_dir=splits_dir,
        )
    adversary, speakers = None, None
    if tc.speaker_adversary:
        speakers = np.unique(meta["speaker"].astype(str).to_numpy()[tr], return_inverse=True)[1].astype(
            np.int64
        )
        with torch.no_grad():
            dim = embed(model.eval(), torch.from_numpy(x_tr[:1]).to(device))[0].shape[1]
        adversary = SpeakerAdversary(dim, int(speakers.max()) + 1).to(device)
    batches = _Batches(
        x_tr,
        labels[tr],
        batch_size=tc.batch_size,
        shuffle=True,
        aug=aug,
        seed=tc.seed,
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
    rng = np.random.default_rng(tc.seed)

    run = None
    if log_mlflow:
        import mlflow

        from . import tracking

        exp = tracking.experiment_id()
        run = mlflow.start_run(experiment_id=exp, run_name=tc.run_name())
        mlflow.log_params(
            {
                **dataclasses.asdict(tc),
                "input": tc.tag,
                "parameters": models.count_parameters(model),
                "device": str(device),
                "n_train": len(tr),
                "n_val": len(va),
                "n_test": len(te),
                "feature_params": json.dumps(_input_params(tc, cfg)),
            }
        )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(LOGREG_CS) if tc.input_kind == "functionals" else tc.epochs,
            desc=tc.run_name(),
            unit="C" if tc.input_kind == "functionals" else "epoch",
        )
    history: list[dict[str, float]] = []
    best_acc, best_state, best_epoch, stale = -1.0, None, 0, 0
    t0 = time.time()
    try:
        if tc.input_kind == "functionals":  # closed form; the L2 strength chosen on validation
            fitted, history = models.fit_logreg(
                x_tr, labels[tr], x_va, labels[va], cs=LOGREG_CS, seed=tc.seed
            )
            net.load_state_dict(fitted.state_dict())
            best = max(history, key=lambda r: (r["val_accuracy"], -r["C"]))
            best_acc, best_epoch = best["val_accuracy"], best["epoch"]
            for row in history:
                if run is not None:
                    import mlflow

                    mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
                if on_epoch:
                    on_epoch(row)
                if bar:
                    bar.set_postfix(C=f"{row['C']:g}", val=f"{row['val_accuracy']:.3f}")
                    bar.update()
        else:
            step, n_steps = 0, tc.epochs * len(batches)
            for epoch in range(1, tc.epochs + 1):
                model.train()
                if adversary:
                    adversary.train()
                total, n, spk_hits = 0.0, 0, 0.0
                for xb, yb, extra in batches:
                    xb, yb = xb.to(device), yb.to(device)
                    extra = {k: v.to(device) for k, v in extra.items()}
                    lam, perm = 1.0, None
                    if tc.mixup > 0 and tc.input_kind == "features":
                        lam = float(rng.beta(tc.mixup, tc.mixup))
                        perm = torch.randperm(xb.shape[0], device=device)
                        xb = lam * xb + (1 - lam) * xb[perm]
                    # a mixed batch's targets (labels, teacher's, speakers) are mixed alike
                    mixed = (
                        (lambda f, t: f(t))
                        if perm is None
                        else (lambda f, t: lam * f(t) + (1 - lam) * f(t[perm]))
                    )
                    if adversary:
                        emb, out = embed(model, xb)
                        spk_logits = adversary(
                            emb, scale=adversary_scale(step / max(n_steps, 1), strength=tc.speaker_adversary)
                        )
                    else:
                        out = model(xb)
                    loss = mixed(lambda t: loss_fn(out, t), yb)
                    if "soft" in extra:
                        loss = (1 - tc.distill) * loss + tc.distill * distillation_loss(
                            out, mixed(lambda t: t, extra["soft"]), tau=tc.distill_tau
                        )
                    total += float(loss.detach()) * len(yb)  # the emotion loss
                    n += len(yb)
                    if adversary:
                        loss = loss + mixed(
                            lambda t: nn.functional.cross_entropy(spk_logits, t), extra["speaker"]
                        )
                        spk_hits += float((spk_logits.argmax(1) == extra["speaker"]).sum())
                    step += 1
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    if ema:
                        ema.update(model)
                val_logits = predict_logits(net, x_va, device=device)
                val_loss = float(
                    nn.functional.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(labels[va]))
                )
                val_acc = float((val_logits.argmax(1) == labels[va]).mean())
                row = {
                    "epoch": epoch,
                    "train_loss": total / max(n, 1),
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                    "lr": sched.get_last_lr()[0],
                }
                if adversary:  # how well the speakers can still be told apart (chance 1/7)
                    row["speaker_accuracy"] = spk_hits / max(n, 1)
                history.append(row)
                if run is not None:
                    import mlflow

                    mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)
                if on_epoch:
                    on_epoch(row)
                if bar:
                    bar.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{val_acc:.3f}")
                    bar.update()
                if tc.train_on_val:  # validation is training data: keep the last epoch
                    best_acc, best_epoch = val_acc, epoch
                elif val_acc > best_acc:
                    best_acc, best_epoch, stale = val_acc, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    stale += 1
                    if stale >= tc.patience:
                        break
        if best_state is not None:
            net.load_state_dict(best_state)
        seconds = time.time() - t0
        val_logits = predict_logits(net, x_va, device=device)
        temperature = borrowed[0] if borrowed else metrics.fit_temperature(val_logits, labels[va])
        test_logits = predict_logits(net, x_te, device=device)
        report = metrics.classification_report(labels[te], test_logits.argmax(1))
        ece_before = metrics.expected_calibration_error(metrics.softmax(test_logits), labels[te])
        ece_after = metrics.expected_calibration_error(
            metrics.softmax(test_logits, temperature=temperature), labels[te]
        )
        from .inference import unsure_threshold

        adapt_curve = None
        if tc.norm == "speaker" and tc.protocol == "loso":  # accuracy vs seconds of adaptation
            from . import adapt

            secs = np.zeros(len(meta))
            secs[te] = adapt.clip_seconds(meta["path"].to_numpy()[te], limit=cfg.duration)
            adapt_curve = adapt.adaptation_curve(
                x_all,
                te,
                logits_fn=lambda a: predict_logits(net, a, device=device),
                labels=labels,
                seconds=secs,
                fallback=norm,
                seed=tc.seed,
            )

        unsure = (
            borrowed[1]
            if borrowed
            else unsure_threshold(metrics.softmax(val_logits, temperature=temperature), labels[va])
        )
        result = RunResult(
            tc,
            report,
            best_acc,
            temperature,
            ece_before,
            ece_after,
            len(history),
            seconds,
            history,
            net.cpu().eval(),
            norm,
            unsure_below=unsure,
            predictions={
                "val_index": va,
                "val_labels": labels[va],
                "val_logits": val_logits,
                "test_index": te,
                "test_labels": labels[te],
                "test_logits": test_logits,
                "temperature": np.float32(temperature),
            },
        )
        result.teacher_weights = teacher_weights
        if tc.norm == "speaker":
            result.speakers = train_speakers
        if adapt_curve is not None:
            result.adaptation = adapt_curve
            result.predictions["adapt_seconds"] = np.array(list(adapt_curve), dtype=str)
            result.predictions["adapt_accuracy"] = np.array(list(adapt_curve.values()))
        if run is not None:
            import mlflow

            from . import tracking

            tracking.log_report(report)
            mlflow.log_metrics(
                {
                    "best_val_accuracy": best_acc,
                    "best_epoch": best_epoch,
                    "temperature": temperature,
                    "ece_before": ece_before,
                    "ece_after": ece_after,
                    "train_seconds": seconds,
                }
            )
            mlflow.set_tag("most_confused", json.dumps(report["most_confused"]))
            if result.adaptation:
                mlflow.log_metrics({f"adapt_accuracy_{k}": v for k, v in result.adaptation.items()})
            result.run_id = run.info.run_id
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:  # the weights (fp16) + card as artifacts
                models.save(
                    result.model,
                    model_card(result, cfg=cfg),
                    "model",
                    speakers=result.speakers,
                    directory=Path(tmp),
                )
                mlflow.log_artifacts(tmp, artifact_path="model")
        return result
    except BaseException:
        if run is not None:  # a crashed or interrupted run is marked as such in MLflow
            import mlflow

            mlflow.end_run(
                status="FAILED" if not isinstance(sys.exc_info()[1], KeyboardInterrupt) else "KILLED"
            )
            run = None
        raise
    finally:
        if bar:
            bar.close()
        if run is not None:
            import mlflow

            mlflow.end_run()


def borrowed_calibration(source: str, *, directory: Path | None = None) -> tuple[float, float]:
    """The temperature and unsure threshold of a held-out run.

    A refit on training + validation clips (``train_on_val``) has no held-out
    part to fit its own on (fitted on its training clips, the temperature comes
    out far below 1: overconfident); the held-out run of the same recipe lends
    them.

    Parameters
    ----------
    source : str
        A shipped model (its card's temperature and unsure threshold), or a
        held-out run's predictions file ``<run>.npz`` (its temperature, and the
        threshold recomputed from its validation logits).
    directory : Path, optional
        The shipped models' folder.
    """
    from .inference import unsure_threshold

    if source.endswith(".npz"):
        try:
            with np.load(source) as z:
                t = float(z["temperature"])
                return t, unsure_threshold(metrics.softmax(z["val_logits"], temperature=t), z["val_labels"])
        except (OSError, KeyError, ValueError) as err:
            raise DatasetError(f"cannot borrow a calibration from {source!r}: {err}") from err
    card = models.read_card(source, directory=directory)
    try:
        return (
            float(card["calibration"]["temperature"]),
            float(card.get("decision", {}).get("unsure_below", 0.5)),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"model {source!r} has no calibration to lend ({err!r} in its card)") from err


def predictions_dir() -> Path:
    """``artifacts/predictions``: held-out logits of every full run (the ensemble's input)."""
    from .config import artifacts_dir

    return artifacts_dir() / "predictions"


#: Suffix of the predictions of a run trained on its validation part too (``--train-on-val``):
#: its validation logits are in-sample, so they are kept apart from the held-out ones that
#: ensemble searches read (``resnet18-mel-seed-trainval.npz`` next to ``resnet18-mel-seed.npz``).
TRAINVAL_SUFFIX = "-trainval"


def predictions_name(tc: TrainConfig) -> str:
    """File stem of a run's predictions: its run name, then ``-s<seed>`` for a seed other than 0
    (so that another seed of a recipe never overwrites the predictions ensemble searches read),
    then :data:`TRAINVAL_SUFFIX` when it trained on the validation part too
    (``resnet18-mel-seed-s1-trainval``)."""
    return tc.run_name() + (f"-s{tc.seed}" if tc.seed else "") + (TRAINVAL_SUFFIX if tc.train_on_val else "")


def save_predictions(result: RunResult, *, directory: Path | None = None) -> Path:
    """Write the run's validation and test logits to ``<directory>/<predictions name>.npz``
    (:func:`predictions_name`).

    The arrays: ``val_index`` / ``test_index`` (row numbers into the metadata),
    ``val_labels`` / ``test_labels`` and ``val_logits`` / ``test_logits``
    ``(n, 6)`` float32, plus the fitted ``temperature``. A few tens of kB per
    run; the ensemble search reads only these, never the members' weights.
    """
    directory = Path(directory) if directory is not None else predictions_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{predictions_name(result.config)}.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in (result.predictions or {}).items()})
    os.replace(tmp, path)
    return path


def model_card(result: RunResult, *, cfg: FeatureConfig = DEFAULT_CONFIG, command: str = "") -> dict:
    """The JSON model card of a finished run."""
    tc = result.config
    kind = tc.input_kind
    rep_params = _input_params(tc, cfg)
    r = result.report
    return {
        "architecture": {
            "name": tc.model,
            "kwargs": _model_kwargs(tc, _in_chans(result.model, tc)),
            "parameters": models.count_parameters(result.model),
        },
        "input": {
            "kind": kind,
            "name": tc.input_name,
            "params": rep_params,
            "feature_config": dataclasses.asdict(cfg),
        },
        "normalization": _norm_card(result),
        "classes": list(EMOTIONS),
        "calibration": {
            "temperature": result.temperature,
            "ece_before": result.ece_before,
            "ece_after": result.ece_after,
            "ece_bins": 15,
            "fit_on": (
                f"borrowed from {tc.calibration_from} (the held-out run of this "
                "recipe: validation is training data here)"
                if tc.calibration_from
                else "validation"
            ),
        },
        "decision": {
            "unsure_below": result.unsure_below,
            "rule": "top calibrated probability below this: validation predictions "
            "there are wrong more often than right",
        },
        "metrics": {
            tc.protocol: {
                "accuracy": r["accuracy"],
                "macro_f1": r["macro_f1"],
                "macro_precision": r["macro_precision"],
                "macro_recall": r["macro_recall"],
                "per_class_f1": {e: v["f1"] for e, v in r["per_class"].items()},
                "confusion": r["confusion"],
                "fold": tc.fold,
            }
        },
        "training": {
            **dataclasses.asdict(tc),
            "epochs_run": result.epochs_run,
            "seconds": round(result.seconds, 1),
            "mlflow_run_id": result.run_id,
            **({"teacher_weights": result.teacher_weights} if result.teacher_weights else {}),
        },
        "reproduce": command,
    }


def _input_params(tc: TrainConfig, cfg: FeatureConfig) -> dict:
    """What defines the input: the representation's or functional set's parameters."""
    if tc.input_kind == "features":
        return features.get(tc.representation).params(cfg)
    if tc.input_kind == "functionals":
        return functionals.get(tc.representation).params()
    return {}


def _norm_card(result: RunResult) -> dict:
    tc = result.config
    if result.norm is None:
        return {"kind": "none"}
    fit_on = f"{tc.protocol}/fold{tc.fold} train"
    if tc.norm == "speaker":
        return {
            "kind": "speaker",
            "fit_on": "each speaker's own unlabelled audio",
            "fallback": "corpus statistics below (when the speaker is unknown)",
            "fallback_fit_on": fit_on,
            **result.norm.to_dict(),
        }
    return {"kind": "corpus", "fit_on": fit_on, **result.norm.to_dict()}


def _in_chans(model: nn.Module, tc: TrainConfig) -> int:
    if tc.input_kind == "functionals":
        return model.fc.in_features
    if tc.input_kind != "features":
        return 1
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return first.in_channels
