"""Corpus summaries for the dataset (EDA) page.

The page shows corpus-wide views (per-emotion averages, scalar descriptors,
2-D projections) from small files precomputed into ``artifacts/eda/`` by
``python -m ser_core eda-summary``, so it works without the corpus and opens
instantly with it.  All of it is derived numbers, no audio.

Files
-----
``clips.csv``
    One row per clip: ``file_id, emotion, speaker, gender, age, sentence_id``
    and the descriptors of :func:`clip_descriptors`.
``emotion_means.npz``
    For each representation ``name``: ``name`` -> float16 array
    ``(6, channels, bins, frames)``, the average over the clips of each emotion
    (class order :data:`~ser_core.config.EMOTIONS`).
``projections.npz``
    For each representation: ``name/pca`` and ``name/tsne`` -> float16
    ``(n_clips, 2)`` in ``clips.csv`` order, and ``name/pca_var`` (explained
    variance ratio of the two components).  The embedded vector of a clip is
    the mean and standard deviation over time of every bin.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import scipy.signal
from tqdm.auto import tqdm

from . import cache, features
from .audio import load_audio
from .config import EMOTIONS, SAMPLE_RATE, artifacts_dir
from .errors import ConfigError, DatasetError
from .i18n import N_

__all__ = [
    "DESCRIPTORS",
    "clip_descriptors",
    "clip_statistics",
    "project",
    "eda_dir",
    "build_summaries",
    "load_clips",
    "load_emotion_means",
    "load_projections",
]

#: Scalar descriptors: column -> (label, unit), in English (translate where shown).
DESCRIPTORS: dict[str, tuple[str, str]] = {
    "duration": (N_("Duration"), "s"),
    "rms_db": (N_("Loudness (mean RMS)"), "dBFS"),
    "zcr": (N_("Zero-crossing rate"), N_("fraction")),
    "f0_median": (N_("Pitch (median F0, pyin)"), "Hz"),
    "f0_range": (N_("Pitch range (F0 5-95 %)"), N_("semitones")),
    "voiced_fraction": (N_("Voiced fraction"), N_("fraction")),
    "centroid": (N_("Spectral centroid"), "Hz"),
    "speaking_rate": (N_("Speaking rate (energy peaks per active second)"), "1/s"),
}


def eda_dir() -> Path:
    return artifacts_dir() / "eda"


def clip_descriptors(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, hop_length: int = 256, frame_length: int = 1024
) -> dict[str, float]:
    """Scalar descriptors of a whole (untrimmed) clip.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``sr``.

    Returns
    -------
    dict with the keys of :data:`DESCRIPTORS`.  Pitch values are NaN when no
    frame is voiced (silence); nothing divides by zero.
    """
    y = np.asarray(y, dtype=np.float32)
    out: dict[str, float] = {"duration": y.shape[0] / sr}
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0]
    rms_db = librosa.amplitude_to_db(rms, ref=1.0, amin=1e-5)
    active = rms_db > rms_db.max() - 35.0
    out["rms_db"] = float(rms_db[active].mean()) if active.any() else float(rms_db.mean())
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=frame_length, hop_length=hop_length)[0]
    out["zcr"] = float(zcr[active].mean()) if active.any() else float(zcr.mean())
    S = np.abs(librosa.stft(y, n_fft=frame_length, hop_length=hop_length))
    cent = librosa.feature.spectral_centroid(S=S, sr=sr)[0]
    out["centroid"] = float(cent[active].mean()) if active.any() else 0.0
    f0, voiced, _ = librosa.pyin(
        y,
        fmin=60.0,
        fmax=600.0,
        sr=sr,
        frame_length=frame_length,
        hop_length=hop_length,
        max_transition_rate=35.92,
        n_thresholds=50,
    )
    f0 = f0[voiced & np.isfinite(f0)]
    out["voiced_fraction"] = float(voiced.mean()) if voiced.size else 0.0
    if f0.size:
        out["f0_median"] = float(np.median(f0))
        lo, hi = np.percentile(f0, [5, 95])
        out["f0_range"] = float(12 * np.log2(hi / lo))
    else:
        out["f0_median"] = out["f0_range"] = float("nan")
    # syllable-nucleus proxy: prominent peaks of the smoothed energy envelope
    env = scipy.signal.savgol_filter(rms_db, 7, 2) if rms_db.size >= 7 else rms_db
    peaks, _ = scipy.signal.find_peaks(env, prominence=4.0, distance=max(1, int(0.1 * sr / hop_length)))
    peaks = peaks[active[peaks]] if peaks.size else peaks
    active_s = active.sum() * hop_length / sr
    out["speaking_rate"] = float(len(peaks) / active_s) if active_s > 0 else 0.0
    return out


def _descriptor_job(path: str) -> dict[str, float]:
    return clip_descriptors(load_audio(path))


def clip_statistics(x: np.ndarray) -> np.ndarray:
    """Clip-level vector of a representation: mean and std over time per bin.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, channels, bins, frames)

    Returns
    -------
    np.ndarray, shape (n_clips, 2 * channels * bins), float32
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[0]
    return np.concatenate([x.mean(-1).reshape(n, -1), x.std(-1).reshape(n, -1)], axis=1)


def project(
    stats: np.ndarray, *, method: str = "pca", random_state: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D projection of standardised clip statistics.

    Parameters
    ----------
    stats : np.ndarray, shape (n_clips, n_dims)
    method : {"pca", "tsne"}
        t-SNE runs on the first 50 principal components (perplexity 30).

    Returns
    -------
    coords : np.ndarray, shape (n_clips, 2)
    explained : np.ndarray of shape (2,) (PCA's explained variance ratio) or None
    """
    from sklearn.decomposition import PCA  # sklearn: a cold path (the corpus page's projection)
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(np.nan_to_num(stats))
    if method == "pca":
        pca = PCA(n_components=2, random_state=random_state)
        return pca.fit_transform(z), pca.explained_variance_ratio_
    if method == "tsne":
        k = min(50, z.shape[1], z.shape[0] - 1)
        z50 = PCA(n_components=k, random_state=random_state).fit_transform(z) if k < z.shape[1] else z
        perplexity = float(min(30, max(2, (z.shape[0] - 1) / 3)))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state)
        return tsne.fit_transform(z50), None
    raise ConfigError(f"unknown projection method {method!r}; use 'pca' or 'tsne'")


def build_summaries(
    meta: pd.DataFrame,
    names: Iterable[str] | None = None,
    *,
    directory: Path | None = None,
    workers: int | None = None,
    descriptors: bool = True,
    tsne: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Write ``clips.csv``, ``emotion_means.npz`` and ``projections.npz``.

    Builds the feature cache of the needed representations first when missing.
    With ``descriptors=False`` the descriptor columns of an existing
    ``clips.csv`` are kept.
    """
    d = Path(directory or eda_dir())
    d.mkdir(parents=True, exist_ok=True)
    names = list(names or features.names())
    clips_csv = d / "clips.csv"
    table = meta[["file_id", "emotion", "speaker", "gender", "age", "sentence_id"]].copy()
    if descriptors or not clips_csv.exists():
        with cache.clip_map(_descriptor_job, list(meta["path"]), workers=workers, chunksize=16) as results:
            rows = list(
                tqdm(results, total=len(meta), desc="descriptors (pyin)", unit="clip", disable=not progress)
            )
        desc = pd.DataFrame(rows, columns=list(DESCRIPTORS))
    else:
        old = pd.read_csv(clips_csv).set_index("file_id")
        desc = old.reindex(meta["file_id"])[list(DESCRIPTORS)].reset_index(drop=True)
    table = pd.concat([table.reset_index(drop=True), desc.round(5)], axis=1)
    _atomic(clips_csv, lambda tmp: table.to_csv(tmp, index=False))

    cache.build(meta, names, workers=workers, progress=progress)
    labels = meta["label"].to_numpy()
    means, proj = {}, {}
    for n in names:
        x = cache.load(n, meta)
        means[n] = np.stack(
            [np.asarray(x[labels == k], dtype=np.float32).mean(0) for k in range(len(EMOTIONS))]
        ).astype(np.float16)
        stats = clip_statistics(x)
        coords, var = project(stats, method="pca")
        proj[f"{n}/pca"] = coords.astype(np.float16)
        proj[f"{n}/pca_var"] = var.astype(np.float32)
        if tsne:
            proj[f"{n}/tsne"] = project(stats, method="tsne")[0].astype(np.float16)
    _atomic(d / "emotion_means.npz", lambda tmp: np.savez_compressed(tmp, **means))
    _atomic(d / "projections.npz", lambda tmp: np.savez_compressed(tmp, **proj))
    return [clips_csv, d / "emotion_means.npz", d / "projections.npz"]


def _atomic(path: Path, write) -> None:
    """Write through a temporary name in the same folder, then rename: a reader
    (the running app) never sees a half-written summary."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _reading(p: Path):
    """Missing or damaged summary files become a :class:`DatasetError`."""
    if not p.exists():
        raise DatasetError(N_("No corpus summary {path}; run `python -m ser_core eda-summary`."), path=str(p))
    try:
        yield p
    except DatasetError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(
            N_(
                "Cannot read the corpus summary {path} ({error}); rebuild it "
                "with `python -m ser_core eda-summary`."
            ),
            path=str(p),
            error=f"{type(exc).__name__}: {exc}",
        ) from exc


def load_clips(directory: Path | None = None) -> pd.DataFrame:
    """``clips.csv`` as a DataFrame (one row per clip)."""
    with _reading(Path(directory or eda_dir()) / "clips.csv") as p:
        table = pd.read_csv(p)
        if "file_id" not in table or "emotion" not in table:
            raise DatasetError(
                N_(
                    "The corpus summary {path} lacks the file_id/emotion columns (it has {columns}); "
                    "rebuild it with `python -m ser_core eda-summary`."
                ),
                path=str(p),
                columns=list(table.columns),
            )
        return table


def load_emotion_means(representation: str, directory: Path | None = None) -> np.ndarray:
    """Per-emotion average of a representation, shape ``(6, channels, bins, frames)``."""
    with _reading(Path(directory or eda_dir()) / "emotion_means.npz") as p, np.load(p) as z:
        if representation not in z:
            raise DatasetError(
                N_("No per-emotion average of {representation!r} in the summaries."),
                representation=representation,
            )
        return z[representation].astype(np.float32)


def load_projections(representation: str, directory: Path | None = None) -> dict[str, np.ndarray]:
    """``{"pca": (n, 2), "tsne": (n, 2), "pca_var": (2,)}`` for a representation."""
    with _reading(Path(directory or eda_dir()) / "projections.npz") as p, np.load(p) as z:
        out = {
            k.split("/", 1)[1]: z[k].astype(np.float32) for k in z.files if k.startswith(f"{representation}/")
        }
    if not out:
        raise DatasetError(
            N_("No projection of {representation!r} in the summaries."), representation=representation
        )
    return out
