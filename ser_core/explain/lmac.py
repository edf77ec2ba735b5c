"""L-MAC: listenable maps for audio classifiers (Paissan, Della Libera, Ravanelli,
Subakan, ICML 2024), for the shipped ResNet on the mel spectrogram.

A small decoder reads the frozen classifier's own feature maps (the stem and the four
residual stages) and the class to explain, and outputs a mask ``M`` in 0..1 over the
model's mel bins.  ``M`` is a **gain on the magnitudes**, the same gain
:func:`ser_core.sonify.masked_audio` applies to the clip's complex STFT when it plays
the explanation with the clip's own phase, so the classifier is trained on what the
listener hears: the log-mel of the masked-in clip is ``dB + 20 log10 M``, clipped
``top_db`` below its own peak as the features clip every clip.

The decoder is trained (:mod:`~ser_core.explain.lmac_training`) with the paper's
objective: the masked-in part keeps the class (cross-entropy), the masked-out part
loses it, plus L1 and total-variation penalties on the mask.  The "loses it" term is
written ``-log(1 - p(class | masked out))``, a bounded form of the paper's
``-CE``, which has no lower bound.

>>> from ser_core import explain, models
>>> loaded = models.load("resnet18_mel")
>>> m = explain.lmac(x, model=loaded.module, target=2)   # x: (1, 128, 188), normalised
>>> m.min() >= 0 and m.max() <= 1                         # a mask, shape of x
True
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import artifacts_dir
from ..errors import ConfigError, ModelFileError
from ..i18n import N_
from . import methods as _first_four  # noqa: F401 (they register first: L-MAC is the fifth)
from .registry import register_explainer

__all__ = [
    "LMACDecoder",
    "LMACBundle",
    "apply_mask",
    "classifier_fingerprint",
    "decoder_for",
    "decoder_models",
    "encode",
    "has_decoder",
    "lmac",
    "lmac_dir",
    "lmac_loss",
    "mask_of",
]

#: The classifier stages whose feature maps the decoder reads, shallow to deep.
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
#: The quietest gain a mask applies, in dB (a mask of 0 removes a bin to this level).
FLOOR_DB = -100.0


# ------------------------------------------------------------------ the decoder
def encode(x: torch.Tensor, *, model: nn.Module) -> list[torch.Tensor]:
    """The classifier's feature maps of ``x``, one per stage of :data:`STAGES`.

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, F, T)
        Normalised model inputs.
    model : nn.Module
        A ResNet with ``stem`` and ``layer1`` .. ``layer4`` (``models.AudioResNet``).

    Returns
    -------
    list of torch.Tensor, shapes (B, c_i, F_i, T_i)
        From the stem (F/4, T/4) to the last stage (F/32, T/32).
    """
    out, h = [], x
    for name in STAGES:
        h = getattr(model, name)(h)
        out.append(h)
    return out


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class LMACDecoder(nn.Module):
    """A U-Net-style decoder from a ResNet's feature maps to a mask over its input.

    The deepest map, modulated by a learnt embedding of the class to explain
    (feature-wise scale and shift), is upsampled stage by stage, each time joined
    with the classifier's map of that resolution, then to the input's bins x frames.

    Parameters
    ----------
    width : int
        The classifier's first-stage channels (its stages have width, 2, 4, 8 x width).
    hidden : int
        Channels of the decoder's blocks.
    n_classes : int
        Classes the mask can be asked for.

    Input: the list of :func:`encode`, the class indices ``(B,)`` and the input's
    ``(F, T)``; output: a mask ``(B, 1, F, T)`` in 0..1.
    """

    def __init__(self, width: int = 32, hidden: int = 48, n_classes: int = 6) -> None:
        super().__init__()
        chans = [width, width, 2 * width, 4 * width, 8 * width]  # stem, layer1..4
        self.film = nn.Embedding(n_classes, 2 * chans[-1])
        nn.init.zeros_(self.film.weight)
        self.bottom = _block(chans[-1], hidden)
        self.ups = nn.ModuleList(_block(hidden + c, hidden) for c in reversed(chans[:-1]))
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, feats: list[torch.Tensor], target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        scale, shift = self.film(target)[:, :, None, None].chunk(2, dim=1)
        h = self.bottom(feats[-1] * (1 + scale) + shift)
        for up, skip in zip(self.ups, reversed(feats[:-1]), strict=True):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = up(torch.cat([h, skip], dim=1))
        h = F.interpolate(h, size=size, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.out(h))


# ------------------------------------------------------------------ what the mask does
def apply_mask(
    x: torch.Tensor, gain: torch.Tensor, *, mean: torch.Tensor, std: torch.Tensor, top_db: float = 80.0
) -> torch.Tensor:
    """The normalised model input of the clip with a magnitude gain per mel bin.

    The mel power times ``gain ** 2`` back in dB with the front end's floor (``amin``:
    a gain of 0 gives :data:`FLOOR_DB`, as silence does), clipped ``top_db``
    below the masked clip's own peak as the features clip it, then normalised again:
    the classifier's view of what :func:`ser_core.sonify.masked_audio` plays.

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, F, T)
        Normalised log-mel inputs.
    gain : torch.Tensor, shape (B, 1, F, T) or (B, C, F, T)
        Magnitude gains in 0..1 (a mask).
    mean, std : torch.Tensor, shape (C, F, 1)
        The model's normalisation.
    top_db : float
        The front end's dynamic range.

    Returns
    -------
    torch.Tensor, shape (B, C, F, T)
    """
    power = 10.0 ** ((x * std + mean) / 10.0) * gain.square()
    masked = 10.0 * torch.log10(power + 10.0 ** (FLOOR_DB / 10.0))  # the front end's amin
    peak = masked.amax(dim=(-2, -1), keepdim=True)
    masked = torch.maximum(masked, peak - top_db)
    return (masked - mean) / std


def _tv(mask: torch.Tensor) -> torch.Tensor:
    return (mask[..., 1:, :] - mask[..., :-1, :]).abs().mean() + (mask[..., 1:] - mask[..., :-1]).abs().mean()


@dataclass(frozen=True)
class LossWeights:
    """Weights of the L-MAC objective's terms (``in`` is 1).

    Attributes
    ----------
    out : float
        Masked-out part loses the class.
    l1 : float
        Mean of the mask (its size).
    tv : float
        Total variation of the mask over bins and frames (its smoothness).
    """

    out: float = 1.0
    l1: float = 0.5
    tv: float = 0.5


def lmac_loss(
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    *,
    weights: LossWeights = LossWeights(),
) -> tuple[torch.Tensor, dict[str, float]]:
    """The L-MAC objective of one batch.

    Parameters
    ----------
    logits_in, logits_out : torch.Tensor, shape (B, n_classes)
        The classifier on the masked-in and on the masked-out input.
    mask : torch.Tensor, shape (B, 1, F, T)
    target : torch.Tensor of int, shape (B,)
        The explained classes.
    weights : LossWeights

    Returns
    -------
    loss : torch.Tensor, scalar
    parts : dict of str -> float
        ``in``, ``out``, ``l1``, ``tv`` (unweighted), for logging.
    """
    l_in = F.cross_entropy(logits_in, target)
    p_out = logits_out.softmax(1).gather(1, target[:, None]).squeeze(1)
    l_out = -torch.log1p(-p_out.clamp(max=1 - 1e-6)).mean()
    l1, tv = mask.mean(), _tv(mask)
    loss = l_in + weights.out * l_out + weights.l1 * l1 + weights.tv * tv
    parts = {k: float(v.detach()) for k, v in (("in", l_in), ("out", l_out), ("l1", l1), ("tv", tv))}
    return loss, parts


# ------------------------------------------------------------------ shipped decoders
@dataclass
class LMACBundle:
    """A trained decoder with what it needs: its card and the classifier's normalisation.

    Attributes
    ----------
    decoder : LMACDecoder
        In eval mode.
    card : dict
        The JSON card (classifier, fingerprint, training, validation and test figures).
    mean, std : torch.Tensor, shape (C, F, 1)
        The classifier's input normalisation.
    top_db : float
    """

    decoder: LMACDecoder
    card: dict
    mean: torch.Tensor
    std: torch.Tensor
    top_db: float


def lmac_dir() -> Path:
    """Where decoders are shipped: ``artifacts/xai`` (``lmac_<model>.json`` + ``.safetensors``)."""
    return artifacts_dir() / "xai"


def classifier_fingerprint(model: nn.Module) -> str:
    """A short hash of a classifier's weights (its first and last layers), naming
    which network a decoder was trained on.

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    params = list(model.parameters())
    h = hashlib.sha256()
    for p in (params[0], params[-2], params[-1]):
        h.update(p.detach().float().cpu().numpy().astype(np.float16).tobytes())
    return h.hexdigest()[:16]


_LOCK = threading.Lock()
#: Read once per process: the decoder cards of a folder, the loaded decoders, and the
#: fingerprint of each network asked about (weakly held: a session's copy is not kept alive).
_CARDS: dict[Path, dict[Path, dict]] = {}
_BUNDLES: dict[Path, LMACBundle] = {}
_PRINTS: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()


def _cards(d: Path) -> dict[Path, dict]:
    """The readable decoder cards of folder ``d`` by path (call under ``_LOCK``)."""
    if d not in _CARDS:
        cards = {}
        for card_path in sorted(d.glob("lmac_*.json")):
            try:
                card = json.loads(card_path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(card, dict):
                cards[card_path] = card
        _CARDS[d] = cards
    return _CARDS[d]


def load_bundle(card_path: Path) -> LMACBundle:
    """A shipped decoder from its card and the ``.safetensors`` beside it.

    Raises
    ------
    ModelFileError
        The card or the weights are damaged.
    """
    from safetensors.torch import load_file  # (beside the numpy flavour elsewhere)

    try:
        card = json.loads(card_path.read_text())
        decoder = LMACDecoder(**card["architecture"]["kwargs"])
        state = load_file(str(card_path.with_suffix(".safetensors")))
        decoder.load_state_dict({k: v.float() for k, v in state.items()})
        norm = card["normalization"]
        mean = torch.tensor(norm["mean"], dtype=torch.float32)
        std = torch.tensor(norm["std"], dtype=torch.float32)
    except Exception as exc:
        raise ModelFileError(
            N_(
                "the L-MAC decoder {path} cannot be loaded ({error}); re-create it with the card's `reproduce` command"
            ),
            path=str(card_path),
            error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        ) from exc
    return LMACBundle(decoder.eval(), card, mean, std, float(card.get("top_db", 80.0)))


def decoder_for(model: nn.Module, *, directory: Path | None = None) -> LMACBundle | None:
    """The shipped decoder trained on this very classifier, or None.

    Matched by :func:`classifier_fingerprint`, so a retrained or adapted copy of a
    network gets none (its decoder would explain another network).

    Parameters
    ----------
    model : nn.Module
    directory : Path, optional
        Default :func:`lmac_dir`.

    Returns
    -------
    LMACBundle or None
    """
    if not all(hasattr(model, s) for s in STAGES):
        return None
    d = Path(directory or lmac_dir())
    with _LOCK:
        fp = _PRINTS.get(model)
        if fp is None:
            fp = _PRINTS[model] = classifier_fingerprint(model)
        for card_path, card in _cards(d).items():
            if card.get("classifier", {}).get("fingerprint") == fp:
                if card_path not in _BUNDLES:
                    _BUNDLES[card_path] = load_bundle(card_path)
                return _BUNDLES[card_path]
    return None


def decoder_models(*, directory: Path | None = None) -> tuple[str, ...]:
    """Names of the shipped classifiers an L-MAC decoder was trained on.

    Returns
    -------
    tuple of str
        From the cards in :func:`lmac_dir` (unreadable cards are skipped).
    """
    with _LOCK:
        cards = _cards(Path(directory or lmac_dir()))
    names = []
    for card in cards.values():
        try:
            names.append(str(card["classifier"]["name"]))
        except (KeyError, TypeError):
            continue
    return tuple(names)


def has_decoder(model: nn.Module) -> bool:
    """Whether a shipped L-MAC decoder explains ``model`` (see :func:`decoder_for`)."""
    return decoder_for(model) is not None


def mask_of(x: torch.Tensor, target: torch.Tensor, *, model: nn.Module, decoder: LMACDecoder) -> torch.Tensor:
    """The decoder's masks of a batch (no gradient bookkeeping of its own).

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, F, T)
        Normalised inputs.
    target : torch.Tensor of int, shape (B,)
    model : nn.Module
        The frozen classifier the decoder reads.
    decoder : LMACDecoder

    Returns
    -------
    torch.Tensor, shape (B, 1, F, T), in 0..1
    """
    return decoder(encode(x, model=model), target, tuple(x.shape[-2:]))


@register_explainer(
    "lmac",
    title="L-MAC",
    signed=False,
    available=has_decoder,
    mask=True,
    description=N_("a decoder trained on the frozen classifier outputs a mask you can listen to"),
)
def lmac(x: np.ndarray, *, model: nn.Module, target: int) -> np.ndarray:
    """L-MAC mask of one input: the gain in 0..1 of every bin that keeps ``target``.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        A classifier with a shipped decoder (:func:`decoder_for`).
    target : int
        Class to explain.

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        The mask, repeated over channels.

    Raises
    ------
    ConfigError
        No decoder was trained on this classifier.
    """
    bundle = decoder_for(model)
    if bundle is None:
        raise ConfigError(
            N_(
                "no L-MAC decoder was trained on this network; train one with "
                "`python -m ser_core train-lmac --model MODEL`"
            )
        )
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None]
    with torch.no_grad():
        m = mask_of(xt, torch.tensor([int(target)]), model=model, decoder=bundle.decoder)
    return np.repeat(m[0].numpy(), x.shape[0], axis=0).astype(np.float32)
