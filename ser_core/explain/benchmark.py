"""The corpus-wide faithfulness benchmark of the explainers (``python -m ser_core xai-eval``):
every method available for the model on a stratified sample of a test split, scored by
deletion, insertion and the mask metrics (:mod:`~ser_core.explain.faithfulness`),
summarised per method and emotion, and the committed result table
(``artifacts/xai/faithfulness.json``; the older ``deletion.json`` holds deletion only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from .. import cache, data, features, models
from ..audio import load_audio, pad_or_trim
from ..config import FeatureConfig, artifacts_dir
from ..errors import ConfigError, SERError
from .faithfulness import FAITHFULNESS_SCORES, MASK_TOP_K, faithfulness_test
from .registry import EXPLAINERS, XAIOptions, explain_all, explainer_names, predicted_class

__all__ = [
    "XAI_EXPERIMENT",
    "deletion_table_path",
    "evaluate_faithfulness",
    "faithfulness_benchmark",
    "faithfulness_table_path",
    "load_deletion_table",
    "save_deletion_table",
    "stratified_sample",
    "summarise_faithfulness",
]


# ------------------------------------------------------------------ dataset-level evaluation
def stratified_sample(labels: Sequence, n: int, *, seed: int = 0) -> np.ndarray:
    """Positions of ``n`` items with every label as equally represented as possible.

    Parameters
    ----------
    labels : sequence, shape (n_items,)
        The label of each item.
    n : int
        Items wanted (all of them when ``n`` exceeds their number).
    seed : int
        Which items of each label are taken.

    Returns
    -------
    np.ndarray of int, shape (min(n, n_items),)
        Sorted positions into ``labels``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = {v: rng.permutation(np.flatnonzero(labels == v)) for v in np.unique(labels)}
    picked: list[int] = []
    i = 0
    while len(picked) < min(n, len(labels)):
        for v in sorted(groups):
            if i < len(groups[v]) and len(picked) < n:
                picked.append(int(groups[v][i]))
        i += 1
    return np.sort(np.array(picked, dtype=int))


def evaluate_faithfulness(
    inputs: Iterable[tuple[str, str, np.ndarray]],
    *,
    model: nn.Module,
    temperature: float = 1.0,
    options: XAIOptions = XAIOptions(),
    methods: Sequence[str] | None = None,
    top_k: float = MASK_TOP_K,
    own_masks: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Every faithfulness score of every method on many clips (the predicted class of each).

    Parameters
    ----------
    inputs : iterable of (clip_id, emotion, x)
        ``x`` the normalised input ``(C, F, T)``; ``emotion`` the true label.
    model : nn.Module
        The network.
    temperature : float
        Calibration temperature of the softmax.
    options : XAIOptions
        Settings of the explainers and of the tests.
    methods : sequence of str, optional
        Explainer names (default: every one that can explain ``model``).
    top_k : float
        Fraction of the bins a map's mask keeps (:func:`~ser_core.explain.explanation_mask`).
    own_masks : sequence of str
        Methods whose map already is a mask in [0, 1] (L-MAC), scored with it as it is.
    progress : callable, optional
        ``progress(done)`` after each clip.

    Returns
    -------
    DataFrame, one row per clip and method (``random`` included): ``clip, emotion,
    target, method, auc, drop10, drop20, p0, insertion_auc, ai, ad, ag, ff, fid_in``.

    Raises
    ------
    UnknownNameError
        If a method is not registered.
    ConfigError
        If an input is not a finite ``(C, F, T)`` array, or the model does not suit a method.
    """
    methods = list(methods) if methods else list(explainer_names(model=model))
    rows = []
    for i, (clip, emotion, x) in enumerate(inputs):
        target = predicted_class(x, model=model)
        maps = explain_all(x, model=model, target=target, methods=methods, options=options)
        masks = {m: np.clip(maps[m], 0.0, 1.0) for m in own_masks if m in maps}
        scores = faithfulness_test(
            x,
            maps,
            model=model,
            target=target,
            masks=masks,
            top_k=top_k,
            temperature=temperature,
            options=options,
        )
        for method, f in scores.items():
            rows.append({"clip": clip, "emotion": emotion, "target": target, "method": method, **f.scores()})
        if progress is not None:
            progress(i + 1)
    return pd.DataFrame(rows)


def summarise_faithfulness(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per method and emotion, plus an ``all`` row per method.

    Parameters
    ----------
    scores : DataFrame
        As :func:`evaluate_faithfulness` returns it.

    Returns
    -------
    DataFrame
        Columns ``method, emotion, n`` and the scores it holds, in the order of
        :data:`~ser_core.explain.FAITHFULNESS_SCORES` (``auc, drop10, drop20,
        insertion_auc, ai, ad, ag, ff, fid_in``): the ``all`` rows first, then by
        emotion; methods in registry order, ``random`` last.
    """
    cols = [c for c in FAITHFULNESS_SCORES if c in scores]
    per = scores.groupby(["method", "emotion"])[cols].mean()
    per["n"] = scores.groupby(["method", "emotion"]).size()
    total = scores.groupby("method")[cols].mean()
    total["n"] = scores.groupby("method").size()
    total["emotion"] = "all"
    out = pd.concat([total.reset_index(), per.reset_index()], ignore_index=True)
    rank = {m: i for i, m in enumerate([*EXPLAINERS, "random"])}
    out["_e"] = (out["emotion"] != "all").astype(int)
    out["_m"] = out["method"].map(rank).fillna(len(rank))
    out = out.sort_values(["_e", "emotion", "_m"], kind="stable")
    return out[["method", "emotion", "n", *cols]].reset_index(drop=True)


# ------------------------------------------------------------------ the dataset-level table
#: MLflow experiment of the ``xai-eval`` runs (kept apart from the training leaderboard).
XAI_EXPERIMENT = "nemo-ser-xai"


def deletion_table_path(model_name: str | None = None) -> Path:
    """Where a result of ``xai-eval`` lives.

    Parameters
    ----------
    model_name : str, optional
        None: the committed default table (whichever model it was run with, named in
        the file); a name: that model's own table (``xai-eval --model NAME --out``
        this path), which pages prefer when it exists.

    Returns
    -------
    Path
        ``artifacts/xai/deletion.json``, or ``artifacts/xai/deletion_<model_name>.json``
        (under ``$SER_ARTIFACTS`` when set).
    """
    name = "deletion.json" if model_name is None else f"deletion_{model_name}.json"
    return artifacts_dir() / "xai" / name


def faithfulness_table_path(model_name: str | None = None) -> Path:
    """Where ``xai-eval`` writes every score (deletion, insertion, mask metrics).

    Parameters
    ----------
    model_name : str, optional
        None: the committed default table; a name: that model's own table.

    Returns
    -------
    Path
        ``artifacts/xai/faithfulness.json``, or ``artifacts/xai/faithfulness_<model_name>.json``
        (under ``$SER_ARTIFACTS`` when set).
    """
    name = "faithfulness.json" if model_name is None else f"faithfulness_{model_name}.json"
    return artifacts_dir() / "xai" / name


def _sample_inputs(
    meta: pd.DataFrame, rows: np.ndarray, *, representation: str, cfg, norm
) -> Iterable[tuple[str, str, np.ndarray]]:
    """``(file_id, emotion, normalised x)`` of the rows: from the feature cache
    when it is built, else computed from the audio."""
    try:
        feats = cache.load(representation, meta, cfg=cfg)
    except SERError:
        feats = None
    for i in rows:
        r = meta.iloc[int(i)]
        if feats is not None:
            raw = np.asarray(feats[int(i)], dtype=np.float32)
        else:
            y = pad_or_trim(load_audio(r["path"], sr=cfg.sr), n_samples=cfg.n_samples, align=cfg.align)
            raw = features.compute(y, representation, cfg=cfg)
        x = norm.apply(raw) if norm is not None else raw.astype(np.float32)
        yield str(r["file_id"]), str(r["emotion"]), x


def _benchmark_clips(meta: pd.DataFrame, *, model_name: str, n: int, protocol: str, seed: int):
    """The loaded model, its inputs on a stratified sample of the ``protocol`` test part, and
    the number of clips."""
    if n < 1:
        raise ConfigError(f"n must be positive, got {n!r}")
    loaded = models.load(model_name)
    card = loaded.card
    if card["input"]["kind"] != "features":
        raise ConfigError(
            f"xai-eval explains spectrogram models; {model_name!r} eats {card['input']['kind']}"
        )
    cfg = FeatureConfig(**card["input"].get("feature_config", {}))
    norm_d = card.get("normalization", {})
    norm = features.NormStats.from_dict(norm_d) if norm_d.get("kind") == "corpus" else None
    test = np.asarray(data.split_indices(meta, protocol).test)
    rows = test[stratified_sample(meta["emotion"].to_numpy()[test], n, seed=seed)]
    inputs = _sample_inputs(meta, rows, representation=card["input"]["name"], cfg=cfg, norm=norm)
    return loaded, inputs, len(rows)


def _info(model_name: str, protocol: str, total: int, options: XAIOptions) -> dict:
    return {
        "model": model_name,
        "protocol": protocol,
        "split": "test",
        "n_clips": int(total),
        "target": "predicted class",
        "baseline": "0 in the normalised input (training mean)",
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()},
    }


def faithfulness_benchmark(
    meta: pd.DataFrame,
    *,
    model_name: str = "resnet18_mel",
    n: int = 300,
    protocol: str = "seed",
    options: XAIOptions = XAIOptions(),
    methods: Sequence[str] | None = None,
    top_k: float = MASK_TOP_K,
    own_masks: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Every faithfulness score of every available method on a stratified sample of a
    test split (what ``xai-eval`` runs).

    Parameters
    ----------
    meta : DataFrame
        Corpus metadata (:func:`ser_core.data.load_metadata`).
    model_name : str
        A shipped feature model.
    n : int
        Clips, stratified by emotion, from the ``protocol`` test part.
    protocol : str
        The split whose test part is sampled (:func:`ser_core.data.split_indices`).
    options : XAIOptions
        Settings of the explainers and of the tests (its seed picks the clips).
    methods : sequence of str, optional
        Explainer names (default: every one that can explain the model).
    top_k : float
        Fraction of the bins a map's mask keeps for AI, AD, AG, FF and Fid-In.
    own_masks : sequence of str
        Methods scored with their own map as the mask (it must lie in [0, 1]).
    progress : callable, optional
        ``progress(done, total)`` after each clip.

    Returns
    -------
    scores : DataFrame
        One row per clip and method (:func:`evaluate_faithfulness`).
    info : dict
        ``model, protocol, split, n_clips, target, baseline, mask, options`` for the result file.

    Raises
    ------
    ConfigError
        If ``n`` is below 1 or the model does not read a representation.
    UnknownNameError
        If ``model_name`` is not shipped or a method is not registered.
    """
    loaded, inputs, total = _benchmark_clips(
        meta, model_name=model_name, n=n, protocol=protocol, seed=options.seed
    )
    scores = evaluate_faithfulness(
        inputs,
        model=loaded.module.eval(),
        temperature=loaded.temperature,
        options=options,
        methods=methods,
        top_k=top_k,
        own_masks=own_masks,
        progress=None if progress is None else (lambda d: progress(d, total)),
    )
    info = _info(model_name, protocol, total, options)
    info["mask"] = {"top_k": top_k, "own_masks": list(own_masks)}
    return scores, info


def save_deletion_table(summary: pd.DataFrame, info: Mapping, path: Path | None = None) -> Path:
    """Write ``info`` and the summary rows to a small JSON file.

    Parameters
    ----------
    summary : DataFrame
        As :func:`summarise_faithfulness` returns it (floats rounded to 4 decimals).
    info : mapping
        As :func:`faithfulness_benchmark` returns it.
    path : Path, optional
        Default :func:`deletion_table_path` (``xai-eval`` passes
        :func:`faithfulness_table_path`); parent folders are created.

    Returns
    -------
    Path
        The file written.
    """
    p = Path(path or deletion_table_path())
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            k: (
                round(float(v), 4)
                if isinstance(v, (float, np.floating))
                else int(v)
                if isinstance(v, (np.integer,))
                else v
            )
            for k, v in r.items()
        }
        for r in summary.to_dict("records")
    ]
    p.write_text(json.dumps({**info, "rows": rows}, indent=1, ensure_ascii=False) + "\n")
    return p


def load_deletion_table(path: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """Read a file written by :func:`save_deletion_table`.

    Parameters
    ----------
    path : Path, optional
        Default :func:`deletion_table_path`.

    Returns
    -------
    rows : DataFrame
        The summary rows.
    info : dict
        Everything else in the file.

    Raises
    ------
    ConfigError
        The file is missing or malformed.
    """
    p = Path(path or deletion_table_path())
    try:
        d = json.loads(p.read_text())
        rows = pd.DataFrame(d.pop("rows"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the deletion table {p}: {exc}") from None
    return rows, d
