"""Normalisation statistics of model inputs: per channel and bin over clips and frames
(:class:`NormStats`, :func:`normalization_stats`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError

__all__ = ["NormStats", "normalization_stats"]


@dataclass(frozen=True)
class NormStats:
    """Per-channel, per-bin mean and standard deviation, shape ``(channels, bins, 1)``
    (``(dim,)`` for utterance functionals)."""

    mean: np.ndarray
    std: np.ndarray
    #: How many vectors the statistics of utterance functionals come from (0: not counted).
    count: int = 0

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardise features with these statistics.

        Parameters
        ----------
        x : np.ndarray, shape (..., channels, bins, frames) or (..., dim)
            Features (the trailing shape must broadcast with :attr:`mean`).

        Returns
        -------
        np.ndarray, float32, shape of ``x``
            ``(x - mean) / std``.
        """
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, list]:
        """The statistics as JSON-ready nested lists.

        Returns
        -------
        dict
            ``{"mean": list, "std": list}``, plus ``"count"`` when it is non-zero.
        """
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            **({"count": int(self.count)} if self.count else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, list]) -> NormStats:
        """Rebuild statistics written by :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            ``"mean"`` and ``"std"`` as nested lists, optional ``"count"``.

        Returns
        -------
        NormStats
            float32 arrays of the lists' shape.
        """
        return cls(
            np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32), int(d.get("count", 0))
        )


def normalization_stats(x: np.ndarray, *, eps: float = 1e-5, chunk: int = 256) -> NormStats:
    """Mean and std per channel and bin over clips and frames.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, channels, bins, frames) or (n_clips, dim)
        Features of the **training part only** (a memmap is fine: processed in
        chunks, accumulated in float64).  A 2-D array holds one vector per clip
        (utterance functionals): its statistics are per dimension over clips.
    eps : float
        Floor on the standard deviation (constant bins, silence).
    chunk : int
        Clips read at once.

    Returns
    -------
    NormStats
        float32 arrays of shape (channels, bins, 1), or (dim,) with ``count``
        set for 2-D input.

    Raises
    ------
    ValueError
        If ``x`` holds no clip.
    """
    n = x.shape[0]
    if n == 0:
        raise ShapeError(f"normalization_stats needs at least one clip, got an array of shape {x.shape}")
    if x.ndim == 2:
        s2 = normalization_stats(x[:, None, :, None], eps=eps, chunk=chunk)
        return NormStats(s2.mean[0, :, 0], s2.std[0, :, 0], int(n))
    s = np.zeros(x.shape[1:3], np.float64)
    ss = np.zeros(x.shape[1:3], np.float64)
    count = 0
    for i in range(0, n, chunk):
        b = np.asarray(x[i : i + chunk], dtype=np.float64)
        s += b.sum(axis=(0, 3))
        ss += (b**2).sum(axis=(0, 3))
        count += b.shape[0] * b.shape[3]
    mean = s / count
    std = np.sqrt(np.maximum(ss / count - mean**2, 0.0))
    return NormStats(mean[..., None].astype(np.float32), np.maximum(std, eps)[..., None].astype(np.float32))
