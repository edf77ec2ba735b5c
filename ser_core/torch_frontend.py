"""A differentiable copy of the ``mel`` front end, in PyTorch.

:func:`ser_core.features.compute` (librosa, NumPy) turns a waveform into the
dB log-mel a model sees; this module does the same with ``torch.stft`` so that
gradients flow from a model's loss back to the **samples** (waveform-domain
adversarial attacks, :mod:`ser_core.attacks`).

>>> fe = LogMel()                                     # default FeatureConfig
>>> S = fe(torch.from_numpy(y)[None])                 # (1, 1, 128, 188) dB
>>> clf = WaveformClassifier.from_loaded(models.load("resnet18_mel"))
>>> logits = clf(torch.from_numpy(y)[None])           # (1, 6), differentiable in y

The steps are librosa's, one by one: a centred STFT (periodic Hann window,
zero padding of ``n_fft // 2`` at both ends, as ``librosa.stft``'s default
``pad_mode="constant"``), the power ``|X|^2``, the same
``librosa.filters.mel`` filterbank (Slaney), then ``power_to_db`` with
``ref=1.0``, ``amin=1e-10`` and ``top_db`` clipping below each clip's maximum.
On real nEMO clips the result matches :func:`ser_core.features.compute` to
within :data:`TOLERANCE_DB` (float32 rounding only; see
``tests/test_torch_frontend.py``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .audio import pad_or_trim
from .config import DEFAULT_CONFIG, FeatureConfig
from .errors import ConfigError
from .features import NormStats
from .features.frontend import mel_basis

__all__ = ["TOLERANCE_DB", "LogMel", "WaveformClassifier", "log_mel", "prepare_waveform"]

#: Largest absolute difference (dB) from :func:`ser_core.features.compute(y, "mel")`
#: that the tests accept on real clips.  Both sides compute in float32; the measured
#: maximum over 40 random nEMO clips is 0.0009 dB (mean of the per-clip maxima 0.0004 dB).
TOLERANCE_DB = 0.01


def prepare_waveform(y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """The exact ``(cfg.n_samples,)`` float32 window the front end analyses.

    :func:`ser_core.features.compute` pads or trims every waveform to
    ``cfg.duration`` first (``cfg.align``); a waveform attack perturbs that window.
    """
    return pad_or_trim(np.asarray(y, dtype=np.float32), n_samples=cfg.n_samples, align=cfg.align)


class LogMel(nn.Module):
    """Waveforms ``(n, samples)`` -> dB log-mel ``(n, 1, n_mels, frames)``.

    Parameters
    ----------
    cfg : FeatureConfig
        The front end's parameters (sr, n_fft, hop, mel bands, fmin/fmax, top_db).

    Notes
    -----
    ``top_db`` clips each clip at its own maximum minus ``top_db``, as
    ``librosa.power_to_db`` does for the one clip it is given.  The gradient of
    clipped bins (and of bins at the ``amin`` floor) is zero.
    """

    def __init__(self, cfg: FeatureConfig = DEFAULT_CONFIG) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft, periodic=True), persistent=False)
        basis = np.asarray(mel_basis(cfg), dtype=np.float32)
        self.register_buffer("mel_basis", torch.from_numpy(basis), persistent=False)
        self.amin = 1e-10

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if y.ndim == 1:
            y = y[None]
        if y.ndim != 2:
            raise ConfigError(f"LogMel needs waveforms of shape (n, samples), got {tuple(y.shape)}")
        c = self.cfg
        X = torch.stft(
            y,
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            win_length=c.n_fft,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        # |X|^2 from the real and imaginary parts: finite gradient where X == 0 (silence)
        power = torch.view_as_real(X).pow(2).sum(-1)  # (n, 1 + n_fft/2, frames)
        mel = torch.matmul(self.mel_basis, power)  # (n, n_mels, frames)
        db = 10.0 * torch.log10(torch.clamp(mel, min=self.amin))  # ref = 1.0: no offset
        if c.top_db is not None:
            peak = db.amax(dim=(-2, -1), keepdim=True)
            db = torch.maximum(db, peak - c.top_db)
        return db[:, None]


def log_mel(y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """NumPy convenience: :class:`LogMel` of one waveform (padded/trimmed first).

    Returns
    -------
    np.ndarray, shape (1, cfg.n_mels, cfg.n_frames), float32 dB
    """
    w = torch.from_numpy(prepare_waveform(y, cfg=cfg))[None]
    with torch.no_grad():
        return LogMel(cfg)(w)[0].numpy()


class WaveformClassifier(nn.Module):
    """Waveform ``(n, samples)`` -> logits ``(n, 6)``: front end, normalisation, network.

    Parameters
    ----------
    module : nn.Module
        A mel model taking the *normalised* log-mel ``(n, 1, n_mels, frames)``.
    mean, std : np.ndarray, shape (1, n_mels, 1)
        The model card's normalisation (:class:`ser_core.features.NormStats`);
        None for a model without normalisation.
    cfg : FeatureConfig
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        cfg: FeatureConfig = DEFAULT_CONFIG,
    ) -> None:
        super().__init__()
        self.frontend = LogMel(cfg)
        self.module = module
        mean = np.zeros((1, cfg.n_mels, 1), np.float32) if mean is None else mean
        std = np.ones((1, cfg.n_mels, 1), np.float32) if std is None else std
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)), persistent=False)
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float32)), persistent=False)

    @classmethod
    def from_loaded(cls, loaded) -> WaveformClassifier:
        """Wrap a :class:`ser_core.models.LoadedModel` whose input is the ``mel`` representation.

        Raises
        ------
        ConfigError
            The model does not read the ``mel`` representation.
        """
        card = loaded.card
        inp = card.get("input", {})
        if inp.get("kind") != "features" or inp.get("name") != "mel":
            raise ConfigError(
                f"waveform attacks need a model on the 'mel' representation; "
                f"{loaded.model_name!r} reads {inp.get('name')!r}"
            )
        cfg = FeatureConfig(**inp.get("feature_config", {}))
        norm = card.get("normalization", {})
        stats = NormStats.from_dict(norm) if norm.get("kind") == "corpus" else None
        return cls(
            loaded.module.eval(),
            mean=None if stats is None else stats.mean,
            std=None if stats is None else stats.std,
            cfg=cfg,
        ).eval()

    def normalised(self, y: torch.Tensor) -> torch.Tensor:
        """The model input ``(n, 1, n_mels, frames)`` of waveforms ``(n, samples)``."""
        return (self.frontend(y) - self.mean) / self.std

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.module(self.normalised(y))
