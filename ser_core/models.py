"""The model zoo, in plain PyTorch, in a registry.

Every model maps a batch of inputs to logits over the six emotions:

===============  ==========================================  ==========================
name             input                                        what it is
===============  ==========================================  ==========================
``resnet18``     ``(B, channels, bins, frames)`` features     ResNet-18, 1-channel stem
``vgg16``        ``(B, channels, bins, frames)`` features     VGG16 with batch norm
``small_cnn``    ``(B, channels, bins, frames)`` features     3 x Conv-Pool-Dropout
``wave_cnn``     ``(B, 1, samples)`` raw 16 kHz waveform      1-D CNN, 4 blocks
``zcr_rms_lstm`` ``(B, 2, steps)`` frame ZCR and RMS          Conv1D || BiLSTM, fused
``weighted_ensemble`` ``(B, members, 6)`` member log-probs    weights + temperature
===============  ==========================================  ==========================

>>> m = create("resnet18", in_chans=1, width=32)
>>> m(torch.zeros(8, 1, 128, 188)).shape
torch.Size([8, 6])

A new architecture is one decorated class: ``@register("name")``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .cards import folder_signature, models_dir, read_card, save_card, shipped, shipped_cards
from .config import EMOTIONS
from .data import clips_digest
from .errors import ModelFileError, ShapeError, UnknownNameError
from .features import NormStats
from .i18n import N_

__all__ = [
    "LoadedModel",
    "ViewBatchNorm",
    "TrainingSpeakers",
    "save",
    "save_speakers",
    "speakers_path",
    "load",
    "read_card",
    "shipped_cards",
    "folder_signature",
    "shipped",
    "models_dir",
    "ModelSpec",
    "MODELS",
    "register",
    "create",
    "get",
    "model_names",
    "AudioResNet",
    "VGG16",
    "SmallCNN",
    "WaveCNN",
    "ZcrRmsLSTM",
    "WeightedEnsemble",
    "LogisticRegression",
    "fit_logreg",
    "count_parameters",
    "predict_logits",
]

N_CLASSES = len(EMOTIONS)


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture.

    Attributes
    ----------
    name : str
    cls : type
        ``nn.Module`` subclass; keyword arguments configure it.
    input : {"features", "waveform", "frames", "functionals", "members"}
        What it eats: a representation from the feature registry, the raw
        3-s waveform, frame-level ZCR/RMS, an utterance functional vector
        (:mod:`ser_core.functionals`), or other models' log-probabilities.
    description : str
    """

    name: str
    cls: type
    input: str
    description: str


MODELS: dict[str, ModelSpec] = {}


def register(architecture: str, *, input: str = "features") -> Callable[[type], type]:
    """Class decorator adding an architecture to :data:`MODELS`."""

    def deco(cls: type) -> type:
        doc = (cls.__doc__ or "").strip().split("\n")[0]
        MODELS[architecture] = ModelSpec(architecture, cls, input, doc)
        return cls

    return deco


def model_names() -> tuple[str, ...]:
    return tuple(MODELS)


def get(architecture: str) -> ModelSpec:
    """The registered architecture ``architecture`` (raises :class:`UnknownNameError`)."""
    try:
        return MODELS[architecture]
    except KeyError:
        known = ", ".join(MODELS)
        raise UnknownNameError(
            N_("unknown model {architecture!r}; choose one of: {known}"),
            architecture=architecture,
            known=known,
        ) from None


def create(architecture: str, **kwargs) -> nn.Module:
    """Build a registered architecture (raises :class:`UnknownNameError`)."""
    return get(architecture).cls(**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _init_weights(module: nn.Module) -> None:
    """Kaiming (fan-out, ReLU) for convolutions, Xavier for linear layers."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with a residual connection."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )
        self.relu2 = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.downsample(x))


@register("resnet18")
class AudioResNet(nn.Module):
    """ResNet-18 topology with a configurable-channel stem and width.

    Parameters
    ----------
    in_chans : int
        Input channels (1; 2 for HPSS).
    width : int
        Channels of the first stage (64 in the original; 32 is plenty here).
    dropout : float
        Dropout before the classifier.
    n_classes : int

    Input ``(B, in_chans, bins, frames)``; output logits ``(B, n_classes)``.
    """

    def __init__(
        self, in_chans: int = 1, width: int = 32, dropout: float = 0.3, n_classes: int = N_CLASSES
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, width, 7, 2, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(3, 2, 1),
        )
        chans = [width, 2 * width, 4 * width, 8 * width]
        layers, cin = [], width
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, n_classes))
        _init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map of the last convolutional block ``(B, 8*width, h, w)``."""
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


@register("vgg16")
class VGG16(nn.Module):
    """VGG16 with batch norm for spectrogram inputs (width-scaled).

    Input ``(B, in_chans, bins, frames)``; output ``(B, n_classes)``.
    """

    CFG = (1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M")

    def __init__(
        self, in_chans: int = 1, width: int = 32, dropout: float = 0.5, n_classes: int = N_CLASSES
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_chans
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                c = int(v) * width
                layers += [
                    nn.Conv2d(cin, c, 3, padding=1, bias=False),
                    nn.BatchNorm2d(c),
                    nn.ReLU(inplace=False),
                ]
                cin = c
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin, 4 * width * 2),
            nn.ReLU(inplace=False),
            nn.Dropout(dropout),
            nn.Linear(4 * width * 2, n_classes),
        )
        _init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.body(x)))


@register("small_cnn")
class SmallCNN(nn.Module):
    """Three Conv-Pool-Dropout blocks (32/64/128), global average pooling, dense 128.

    Input ``(B, in_chans, bins, frames)``; output ``(B, n_classes)``.
    """

    def __init__(self, in_chans: int = 1, dropout: float = 0.25, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        blocks, cin = [], in_chans
        for c in (32, 64, 128):
            blocks += [
                nn.Conv2d(cin, c, 3, padding=1),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=False),
                nn.MaxPool2d(2, 2, ceil_mode=True),
                nn.Dropout(dropout),
            ]
            cin = c
        self.body = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128, 128),
            nn.ReLU(inplace=False),
            nn.Dropout(2 * dropout),
            nn.Linear(128, n_classes),
        )
        _init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.body(x)))


@register("wave_cnn", input="waveform")
class WaveCNN(nn.Module):
    """1-D CNN on the raw 3-s waveform: four Conv1d-BN-MaxPool blocks
    (32/64/128/256), adaptive pooling, a 256-512-6 head with two dropouts.

    Input ``(B, 1, samples)``; output ``(B, n_classes)``.
    """

    def __init__(self, dropout: float = 0.3, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        spec = [(1, 32, 80, 4), (32, 64, 3, 1), (64, 128, 3, 1), (128, 256, 3, 1)]
        blocks: list[nn.Module] = []
        for cin, cout, k, s in spec:
            blocks += [
                nn.Conv1d(cin, cout, k, s, padding=k // 2, bias=False),
                nn.BatchNorm1d(cout),
                nn.ReLU(inplace=False),
                nn.MaxPool1d(4),
            ]
        self.body = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(256, 512),
            nn.ReLU(inplace=False),
            nn.Dropout(dropout),
            nn.Linear(512, n_classes),
        )
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.body(x)))


@register("zcr_rms_lstm", input="frames")
class ZcrRmsLSTM(nn.Module):
    """Parallel Conv1D and BiLSTM branches over frame-level ZCR and RMS
    (25 ms window, 10 ms hop), fused by concatenation.

    Input ``(B, 2, steps)``; output ``(B, n_classes)``.
    """

    def __init__(self, hidden: int = 64, dropout: float = 0.3, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(2, 32, 5, padding=2),
            nn.BatchNorm1d(32),
            nn.ReLU(inplace=False),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 5, padding=2),
            nn.BatchNorm1d(64),
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
        )
        self.lstm = nn.LSTM(2, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(64 + 2 * hidden, 64),
            nn.ReLU(inplace=False),
            nn.Dropout(dropout),
            nn.Linear(64, n_classes),
        )
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv(x)
        out, _ = self.lstm(x.transpose(1, 2))
        b = out.mean(1)
        return self.head(torch.cat([a, b], 1))


@register("logreg", input="functionals")
class LogisticRegression(nn.Module):
    """Multinomial logistic regression on normalised utterance functionals (openSMILE).

    Fitted in closed form by scikit-learn's L-BFGS (:func:`fit_logreg`), not by
    gradient steps; its L2 strength is chosen on the validation part.

    Parameters
    ----------
    in_features : int
        Length of the functional vector (88 for eGeMAPS, 6373 for ComParE).

    Input ``(B, in_features)``; output ``(B, n_classes)``.
    """

    def __init__(self, in_features: int = 88, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, n_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


#: L2 strengths (scikit-learn's C) :func:`fit_logreg` tries by default; validation picks one.
LOGREG_CS = (1e-4, 1e-3, 1e-2, 1e-1)


def fit_logreg(x_train, y_train, x_val, y_val, *, cs=LOGREG_CS, seed: int = 0):
    """Fit :class:`LogisticRegression` for every L2 strength ``C`` and keep the best on validation.

    Parameters
    ----------
    x_train, x_val : np.ndarray, shape (n, d)
        Normalised functionals.
    y_train, y_val : np.ndarray of int, shape (n,)
    cs : sequence of float
        Inverse L2 strengths tried (scikit-learn's ``C``), in increasing order;
        a tie keeps the smaller (more regularised).

    Returns
    -------
    model : LogisticRegression
        The best one, in eval mode.
    history : list of dict
        One row per ``C``: ``{"epoch", "C", "train_loss", "val_loss", "val_accuracy"}``.
    """
    from sklearn.linear_model import LogisticRegression as SkLogReg  # sklearn: a cold path
    from sklearn.metrics import log_loss  # sklearn: a cold path

    best, history = None, []
    for i, c in enumerate(cs, 1):
        clf = SkLogReg(C=c, max_iter=3000, random_state=seed).fit(x_train, y_train)
        coef, icpt = np.zeros((N_CLASSES, x_train.shape[1])), np.zeros(N_CLASSES)
        coef[clf.classes_], icpt[clf.classes_] = clf.coef_, clf.intercept_  # absent classes stay 0
        val_p = clf.predict_proba(x_val)
        acc = float((clf.classes_[val_p.argmax(1)] == y_val).mean())
        row = {
            "epoch": i,
            "C": float(c),
            "train_loss": float(log_loss(y_train, clf.predict_proba(x_train), labels=clf.classes_)),
            "val_loss": float(log_loss(y_val, val_p, labels=clf.classes_))
            if set(y_val) <= set(clf.classes_)
            else float("nan"),
            "val_accuracy": acc,
        }
        history.append(row)
        if best is None or acc > best[0]:
            best = (acc, coef, icpt)
    model = LogisticRegression(in_features=x_train.shape[1])
    with torch.no_grad():
        model.fc.weight.copy_(torch.from_numpy(best[1]).float())
        model.fc.bias.copy_(torch.from_numpy(best[2]).float())
    return model.eval(), history


@register("weighted_ensemble", input="members")
class WeightedEnsemble(nn.Module):
    """Weighted sum of member log-probabilities with a learnable temperature.

    Parameters
    ----------
    n_members : int
    init_temperature : float

    Input ``(B, n_members, 6)`` calibrated member log-probabilities; output
    ``(B, 6)`` logits (their softmax is the ensemble's calibrated probability).
    """

    def __init__(self, n_members: int = 1, init_temperature: float = 1.0) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.full((n_members,), 1.0 / max(n_members, 1)))
        self.log_t = nn.Parameter(torch.tensor(math.log(init_temperature)))

    @property
    def weights(self) -> torch.Tensor:
        """Non-negative member weights ``(n_members,)`` (not normalised)."""
        return torch.relu(self.raw)

    @property
    def temperature(self) -> float:
        return float(self.log_t.detach().exp())

    def l1(self) -> torch.Tensor:
        return self.raw.abs().sum()

    def forward(self, member_log_probs: torch.Tensor) -> torch.Tensor:
        s = (member_log_probs * self.weights[None, :, None]).sum(1)
        return s / self.log_t.exp()


class ViewBatchNorm(nn.Module):
    """A batch-norm layer in eval mode with one row of statistics per view.

    Made by :func:`ser_core.adapt.view_batchnorm` from a trained layer (whose
    affine parameters it shares) and the running statistics of V views.

    Parameters
    ----------
    bn : nn.modules.batchnorm._BatchNorm
        The trained layer.
    mean, var : torch.Tensor, shape (V, C)
        Running mean and variance of each view.

    Notes
    -----
    The input ``(V * m, C, ...)`` holds V consecutive blocks of ``m`` samples;
    block ``v`` is normalised with row ``v``.
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, mean: torch.Tensor, var: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = bn.weight, bn.bias, bn.eps
        self.register_buffer("running_mean", mean)
        self.register_buffer("running_var", var)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.running_mean.shape[0]
        if x.shape[0] % v:
            raise ShapeError(f"{v} views need a batch of a multiple of {v} samples, got {x.shape[0]}")
        scale = torch.rsqrt(self.running_var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        shift = -self.running_mean * scale + (self.bias if self.bias is not None else 0.0)
        shape = (v, 1, -1) + (1,) * (x.dim() - 2)
        return (x.reshape(v, -1, *x.shape[1:]) * scale.view(shape) + shift.view(shape)).reshape(x.shape)


@torch.no_grad()
def predict_logits(
    model: nn.Module | Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    keep_mode: bool = False,
) -> np.ndarray:
    """Outputs of ``model`` on ``x`` in batches, without gradients: the one prediction loop.

    Parameters
    ----------
    model : nn.Module or callable
        A network (put in eval mode unless ``keep_mode``; fed float32 tensors on
        ``device``), or a function of a numpy batch ``(b, ...)`` returning ``(b, k)``
        (an ONNX session's or a predictor's logits, probabilities).
    x : np.ndarray, shape (n, ...)
        Inputs, already normalised (a memmap is read batch by batch).
    keep_mode : bool
        Leave the network's mode as it is (AdaBN's statistics pass runs in train mode).

    Returns
    -------
    np.ndarray, shape (n, k)
        Logits ``(n, 6)`` of a classifier; an empty ``x`` gives ``(0, 6)`` float32.
    """
    forward = model
    if isinstance(model, nn.Module):
        net = model if keep_mode else model.eval()

        def forward(xb: np.ndarray) -> np.ndarray:
            xt = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32))
            return net(xt.to(device)).float().cpu().numpy()

    out = [forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, N_CLASSES), np.float32)


# ------------------------------------------------------------ shipped models
@dataclass
class LoadedModel:
    """A shipped model: the network (eval mode, float32 on CPU) and its card.

    Attributes
    ----------
    model_name : str
    module : nn.Module
    card : dict
        The JSON model card (architecture, input, normalisation, class order,
        temperature, metrics, reproduce command).
    """

    model_name: str
    module: nn.Module
    card: dict
    #: A speaker-normalised model's training speakers (None: not stored, or corpus-normalised).
    speakers: TrainingSpeakers | None = None

    @property
    def representation(self) -> str:
        return self.card["input"]["name"]

    @property
    def temperature(self) -> float:
        return float(self.card.get("calibration", {}).get("temperature", 1.0))


@dataclass(frozen=True)
class TrainingSpeakers:
    """The statistics a speaker-normalised model normalised each training speaker with.

    Stored beside the weights (``artifacts/models/speakers/<name>.safetensors``,
    float32) so that scoring the model on its own split's test part needs
    features of those clips only, not of the whole training part.

    Attributes
    ----------
    stats : mapping of speaker -> NormStats
        Arrays ``(C, F, 1)`` (functional sets: ``(dim,)``), by speaker id.
    clips : str
        :func:`ser_core.data.clips_digest` of the training part they come from;
        they stand for that part's statistics only when it matches.
    """

    stats: dict
    clips: str

    @classmethod
    def of(cls, stats, *, speakers, file_ids) -> TrainingSpeakers:
        """The statistics (of :func:`ser_core.inputs.split_speaker_stats`) of the speakers of a
        training part, given the part's clips' ``speakers`` and ``file_ids``."""
        return cls({s: stats[s] for s in pd.unique(speakers)}, clips_digest(file_ids))

    def covers(self, speakers, train_ids) -> bool:
        """True when every speaker in ``speakers`` is known and ``train_ids`` is the
        training part the statistics were taken over."""
        return set(map(str, speakers)) <= set(self.stats) and clips_digest(train_ids) == self.clips


def speakers_path(model_name: str, *, directory: Path | None = None) -> Path:
    """``<models dir>/speakers/<model_name>.safetensors``."""
    return Path(directory or models_dir()) / "speakers" / f"{model_name}.safetensors"


def save_speakers(speakers: TrainingSpeakers, model_name: str, *, directory: Path | None = None) -> Path:
    """Write a model's :class:`TrainingSpeakers` (float32 safetensors; counts in the metadata)."""
    from safetensors.numpy import save_file  # (safetensors.torch's save_file is another)

    path = speakers_path(model_name, directory=directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{s}/{k}": np.ascontiguousarray(getattr(st, k), np.float32)
        for s, st in speakers.stats.items()
        for k in ("mean", "std")
    }
    counts = {s: int(st.count) for s, st in speakers.stats.items()}
    save_file(arrays, str(path), metadata={"clips": speakers.clips, "counts": json.dumps(counts)})
    return path


def _load_speakers(path: Path) -> TrainingSpeakers | None:
    from safetensors import safe_open  # (safetensors.torch's and .numpy's share names)

    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            counts = json.loads(meta.get("counts", "{}"))
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has keys() but no __iter__
        names = sorted({k.rsplit("/", 1)[0] for k in arrays})
        return TrainingSpeakers(
            {s: NormStats(arrays[f"{s}/mean"], arrays[f"{s}/std"], int(counts.get(s, 0))) for s in names},
            meta["clips"],
        )
    except Exception as exc:  # noqa: BLE001 - only an optimisation: recomputed when absent
        warnings.warn(
            f"ignoring the damaged training-speaker statistics {path} ({exc}); they are "
            "recomputed from the corpus when needed (`python -m ser_core models "
            "--store-speakers` rewrites them)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def save(
    module: nn.Module,
    card: dict,
    model_name: str,
    *,
    speakers: TrainingSpeakers | None = None,
    directory: Path | None = None,
) -> Path:
    """Write ``<model_name>.safetensors`` (fp16) and ``<model_name>.json`` (the card).

    ``speakers``: a speaker-normalised model's training-speaker statistics
    (:func:`save_speakers`); any stored for an earlier model of that name are
    removed when None.  Returns the path of the weights file.
    """
    from safetensors.torch import save_file  # (safetensors.numpy's save_file is another)

    d = Path(directory or models_dir())
    d.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.half() if v.is_floating_point() else v).contiguous().cpu()
        for k, v in module.state_dict().items()
    }
    path = d / f"{model_name}.safetensors"
    save_file(state, str(path), metadata={"name": model_name, "classes": ",".join(EMOTIONS)})
    save_card(card, model_name, directory=d)
    if speakers is not None:
        save_speakers(speakers, model_name, directory=d)
    else:
        speakers_path(model_name, directory=d).unlink(missing_ok=True)
    return path


def load(model_name: str, *, directory: Path | None = None) -> LoadedModel:
    """Load a shipped model by name.

    Raises
    ------
    UnknownNameError
        No such shipped model.
    ModelFileError
        Its card or weights are damaged, or the weights do not fit the card's
        architecture.  (Damaged training-speaker statistics are only warned
        about: the model works without them.)
    """
    from safetensors.torch import load_file  # (beside the numpy flavour used above)

    d = Path(directory or models_dir())
    card_path, weights = d / f"{model_name}.json", d / f"{model_name}.safetensors"
    if not (card_path.exists() and weights.exists()):
        have = ", ".join(shipped(d))
        if not have:
            raise UnknownNameError(
                N_("no shipped model {model!r} in {folder} (shipped: none)"), model=model_name, folder=str(d)
            )
        raise UnknownNameError(
            N_("no shipped model {model!r} in {folder} (shipped: {shipped})"),
            model=model_name,
            folder=str(d),
            shipped=have,
        )
    card = read_card(model_name, directory=d)
    try:
        arch = card["architecture"]
        card["input"]["kind"]
        module = create(arch["name"], **arch.get("kwargs", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(
            N_(
                "the model card {path} does not describe a model that can be built ({error}); "
                "restore it (`git checkout -- artifacts/models`) or re-create it with the `reproduce` "
                "command of {model}.json"
            ),
            path=str(card_path),
            error=f"{type(exc).__name__}: {exc}",
            model=model_name,
        ) from exc
    try:
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
        module.load_state_dict(state)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:300]
        raise ModelFileError(
            N_(
                "the weights {path} cannot be loaded into the card's {architecture} ({error}); "
                "restore it (`git checkout -- artifacts/models`) or re-create it with the `reproduce` "
                "command of {model}.json"
            ),
            path=str(weights),
            architecture=arch["name"],
            error=f"{type(exc).__name__}: {reason}",
            model=model_name,
        ) from exc
    speakers = _load_speakers(speakers_path(model_name, directory=d))
    return LoadedModel(model_name, module.eval(), card, speakers)
