"""A training run's recipe and record: its configuration, its result, its model card and
its held-out predictions file.

* :class:`TrainConfig` – everything that defines one run (the MLflow parameters);
* :class:`RunResult` – what :func:`ser_core.train.train` returns;
* :func:`model_card` – the JSON card a shipped model carries;
* :func:`save_predictions` – the validation and test logits the ensemble search reads;
* :func:`borrowed_calibration` – a held-out run's temperature and unsure threshold.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from . import data, features, functionals, metrics, models
from .config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig, artifacts_dir
from .errors import ConfigError, DatasetError

__all__ = [
    "TrainConfig",
    "RunResult",
    "LOGREG_CS",
    "NORMS",
    "FOLD_TEACHER",
    "parse_fold_teacher",
    "model_kwargs",
    "model_card",
    "input_params",
    "borrowed_calibration",
    "predictions_dir",
    "predictions_name",
    "save_predictions",
    "TRAINVAL_SUFFIX",
    "TRAINVAL_INPUT",
    "CONDITIONS_INPUT",
    "CONDITIONS_SUFFIX",
    "CONDITIONS_NORMALISATION",
]


#: L2 strengths (scikit-learn's C) a ``logreg`` run tries; validation picks one.
LOGREG_CS = models.LOGREG_CS
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
    # recording conditions as augmentation (empty: off; ser_core.conditioned): each training
    # clip gets condition_copies copies rendered once under conditions drawn from this list,
    # cached; each epoch, a training example is replaced by one of its copies with
    # probability condition_prob (validation and test stay clean)
    conditions: tuple[str, ...] = ()
    condition_prob: float = 0.5
    condition_copies: int = 2

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
        if self.protocol not in (*data.PROTOCOLS, *data.CROSS_PROTOCOLS):
            raise ConfigError(
                f"protocol must be one of {(*data.PROTOCOLS, *data.CROSS_PROTOCOLS)}, got {self.protocol!r}"
            )
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
        _check_conditions(self)
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
        """The input name, with ``-spk`` for speaker-normalised models (``mel-spk``) and
        :data:`CONDITIONS_INPUT` for a run trained with conditions (``mel-spk+cond``)."""
        return (
            self.input_name
            + ("-spk" if self.norm == "speaker" else "")
            + (CONDITIONS_INPUT if self.conditions else "")
        )

    def run_name(self) -> str:
        """``resnet18-mel-seed``: the model, the input tag, :data:`TRAINVAL_INPUT` when it trained on
        the validation part too, the protocol, the fold, and ``-s<seed>`` for a seed other than 0
        (``resnet18-mel+val-seed-s1``, ``resnet18-mel-spk-loso-fold3``)."""
        fold = f"-fold{self.fold}" if self.protocol in ("loso", "both_loso", "ravdess_lao") else ""
        val = TRAINVAL_INPUT if self.train_on_val else ""
        seed = f"-s{self.seed}" if self.seed else ""
        return f"{self.model}-{self.tag}{val}-{self.protocol}{fold}{seed}"


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


#: Appended to the input tag of a run trained with recording conditions (``mel-spk+cond``):
#: the leaderboard and the LOSO recipe lookup keep it apart from the plain recipe; the
#: ``conditions`` parameter says which.
CONDITIONS_INPUT = "+cond"


def _check_conditions(tc: TrainConfig) -> None:
    """Refuse unknown conditions, bad probabilities or copy counts, inputs without copies and
    babble where no voice is held out."""
    object.__setattr__(tc, "conditions", tuple(tc.conditions))  # a list from the CLI or a card
    if not tc.conditions:
        return
    from . import conditions  # heavy (pyroomacoustics, audiomentations, pedalboard): only when asked

    unknown = [c for c in tc.conditions if c not in conditions.CONDITIONS]
    if unknown:
        raise ConfigError(
            f"unknown condition(s) {unknown}; choose among {', '.join(conditions.condition_names())}"
        )
    if not 0 < tc.condition_prob <= 1 or tc.condition_copies < 1:
        raise ConfigError(
            f"condition_prob must be within (0, 1] and condition_copies >= 1, got "
            f"{tc.condition_prob!r}, {tc.condition_copies!r}"
        )
    if tc.input_kind not in ("features", "functionals"):
        raise ConfigError(
            f"conditions augment representations and functionals, not {tc.model!r} ({tc.input_kind} input)"
        )
    babble = [c for c in tc.conditions if conditions.CONDITIONS[c].needs_babble]
    if babble and tc.protocol == "seed":
        raise ConfigError(
            f"{babble} mix in other nEMO voices, and every voice of the seed split is in its "
            "validation and test parts: use a protocol with held-out speakers (loso)"
        )


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


def model_kwargs(tc: TrainConfig, in_chans: int) -> dict[str, Any]:
    """Keyword arguments of :func:`ser_core.models.create` for a run's architecture.

    ``in_chans``: input channels of a representation, or a functional vector's length.
    """
    if tc.input_kind == "functionals":
        return {"in_features": in_chans}  # the vector's length
    if tc.input_kind != "features":
        return {"dropout": tc.dropout}
    kw: dict[str, Any] = {"in_chans": in_chans, "dropout": tc.dropout}
    if tc.model in ("resnet18", "vgg16"):
        kw["width"] = tc.width
    return kw


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
    if source.endswith(".npz"):
        try:
            with np.load(source) as z:
                t = float(z["temperature"])
                return t, metrics.unsure_threshold(
                    metrics.softmax(z["val_logits"], temperature=t), z["val_labels"]
                )
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
    return artifacts_dir() / "predictions"


#: Appended to the input tag in the run name of a run trained on its validation part too
#: (``resnet18-mel+val-seed``; the leaderboard's input column says the same).
TRAINVAL_INPUT = "+val"

#: Suffix of the predictions of a run trained on its validation part too (``--train-on-val``):
#: its validation logits are in-sample, so they are kept apart from the held-out ones that
#: ensemble searches read (``resnet18-mel-seed-trainval.npz`` next to ``resnet18-mel-seed.npz``).
TRAINVAL_SUFFIX = "-trainval"


def predictions_name(tc: TrainConfig) -> str:
    """File stem of a run's predictions: its run name, then ``-s<seed>`` for a seed other than 0
    (so that another seed of a recipe never overwrites the predictions ensemble searches read),
    then :data:`TRAINVAL_SUFFIX` when it trained on the validation part too
    (``resnet18-mel-seed-s1-trainval``), then :data:`CONDITIONS_SUFFIX` when it trained with
    conditions (the run name then without ``+cond``: ``resnet18-mel-spk-loso-fold3-cond``)."""
    plain = dataclasses.replace(  # the stem's suffixes say these
        tc, conditions=(), train_on_val=False, calibration_from=None, seed=0
    )
    return (
        plain.run_name()
        + (f"-s{tc.seed}" if tc.seed else "")
        + (TRAINVAL_SUFFIX if tc.train_on_val else "")
        + (CONDITIONS_SUFFIX if tc.conditions else "")
    )


#: Suffix of the predictions of a run trained with conditions, last so that neither the
#: ensemble's member search nor its refit reads them as a plain recipe's.
CONDITIONS_SUFFIX = "-cond"


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
    rep_params = input_params(tc, cfg)
    r = result.report
    return {
        "architecture": {
            "name": tc.model,
            "kwargs": model_kwargs(tc, _in_chans(result.model, tc)),
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
            **({"conditions_normalisation": _conditions_norm(tc)} if tc.conditions else {}),
        },
        "reproduce": command,
    }


def input_params(tc: TrainConfig, cfg: FeatureConfig) -> dict:
    """What defines a run's input: the representation's or functional set's parameters
    (empty for the waveform and frame models)."""
    if tc.input_kind == "features":
        return features.get(tc.representation).params(cfg)
    if tc.input_kind == "functionals":
        return functionals.get(tc.representation).params()
    return {}


#: How the conditioned copies of a speaker-normalised run are normalised (its card says so).
CONDITIONS_NORMALISATION = (
    "each training speaker's copies under a condition with that speaker's statistics under "
    "that condition, as a new voice is normalised with statistics of its own audio in its own "
    "room; the stored training-speaker statistics stay those of the clean clips"
)


def _conditions_norm(tc: TrainConfig) -> str:
    if tc.norm == "speaker":
        return CONDITIONS_NORMALISATION
    return "the copies with the corpus statistics of the clean training clips (below)"


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
