"""Training, validation and shipping of an L-MAC decoder (:mod:`~ser_core.explain.lmac`)
on a frozen shipped classifier.

The decoder learns on the classifier's own **training** clips (the part of its
protocol fold it was fitted on); the epoch is chosen on the **validation** clips
(lowest validation objective); the **test** clips are read once, for the finished
decoder's card.  The classifier never changes: its weights are frozen and only
input gradients flow through it.

>>> result = train_lmac(meta, model_name="resnet18_mel", settings=LMACSettings(epochs=8))
>>> save_lmac(result)          # artifacts/xai/lmac_resnet18_mel.{json,safetensors}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import cache, data, features, models
from ..config import FeatureConfig
from ..errors import ConfigError
from .lmac import (
    LMACDecoder,
    LossWeights,
    apply_mask,
    classifier_fingerprint,
    encode,
    lmac_dir,
    lmac_loss,
    mask_of,
)

__all__ = ["LMACResult", "LMACSettings", "decoder_scores", "save_lmac", "train_lmac"]


@dataclass(frozen=True)
class LMACSettings:
    """How a decoder is trained.

    Attributes
    ----------
    epochs : int
        Passes over the training clips (the best one on validation is kept).
    batch_size : int
    lr : float
        AdamW learning rate (cosine decay to 0).
    weight_decay : float
    hidden : int
        Channels of the decoder's blocks.
    second_class : float
        Share of training clips explained for their second most probable class
        instead of the predicted one, so the decoder also answers "why not ...?".
    weights : LossWeights
        The objective's terms.
    seed : int
    clips_per_epoch : int, optional
        Train each epoch on this many training clips drawn afresh (None: all of them),
        so that a CPU can see every clip over the epochs in less time.
    val_clips : int, optional
        Choose the epoch on this many validation clips, drawn once (None: all of them).
    """

    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    hidden: int = 48
    second_class: float = 0.25
    weights: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    clips_per_epoch: int | None = None
    val_clips: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(
                f"epochs and batch size must be positive, got {self.epochs!r}, {self.batch_size!r}"
            )
        if not 0 <= self.second_class <= 1:
            raise ConfigError(f"second_class must lie within 0..1, got {self.second_class!r}")


@dataclass
class LMACResult:
    """A trained decoder and its card (:func:`save_lmac` writes both)."""

    decoder: LMACDecoder
    card: dict


# ------------------------------------------------------------------ data
def _inputs(
    meta: pd.DataFrame, rows: np.ndarray, loaded: models.LoadedModel
) -> tuple[torch.Tensor, np.ndarray]:
    """Normalised inputs ``(n, C, F, T)`` float32 and true labels of ``meta.iloc[rows]``."""
    card = loaded.card
    cfg = FeatureConfig(**card["input"].get("feature_config", {}))
    clips = meta.iloc[rows]
    raw = cache.features_of(clips, card["input"]["name"], corpus=meta, cfg=cfg)
    norm = features.NormStats.from_dict(card["normalization"])
    x = norm.apply(np.asarray(raw, dtype=np.float32))
    labels = clips["emotion"].map({e: i for i, e in enumerate(card["classes"])}).to_numpy()
    return torch.from_numpy(np.ascontiguousarray(x)), labels


def _logits(x: torch.Tensor, model: torch.nn.Module, batch: int = 128) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def _targets(logits: torch.Tensor, *, second: float, rng: np.random.Generator) -> torch.Tensor:
    """The predicted class, or for a ``second`` share of the clips the runner-up."""
    top2 = logits.topk(2, dim=1).indices
    pick = torch.from_numpy(rng.random(len(logits)) < second).long()
    return top2.gather(1, pick[:, None]).squeeze(1)


# ------------------------------------------------------------------ scores
def decoder_scores(
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    model: torch.nn.Module,
    decoder: LMACDecoder,
    mean: torch.Tensor,
    std: torch.Tensor,
    top_db: float = 80.0,
    batch: int = 64,
    seed: int = 0,
) -> dict[str, float]:
    """How well a decoder's masks keep and remove the class, against random masks of the same size.

    The random mask of a clip is its own mask with the bins shuffled: the same
    values, so the same size, in random places.

    Parameters
    ----------
    x : torch.Tensor, shape (n, C, F, T)
        Normalised inputs.
    target : torch.Tensor of int, shape (n,)
        The explained classes.
    model, decoder
        The frozen classifier and the decoder.
    mean, std : torch.Tensor, shape (C, F, 1)
        The classifier's normalisation.

    Returns
    -------
    dict of str -> float
        ``keep`` (share of masked-in inputs still classified as the target),
        ``keep_random`` (the same with the shuffled masks), ``removed`` (share of
        masked-out inputs no longer classified as the target), ``removed_random``,
        ``p_in``, ``p_out`` (mean target probability, masked in / out), ``mask_mean``,
        ``n``.
    """
    g = torch.Generator().manual_seed(seed)
    sums = dict.fromkeys(
        ("keep", "keep_random", "removed", "removed_random", "p_in", "p_out", "mask_mean"), 0.0
    )
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb, tb = x[i : i + batch], target[i : i + batch]
            m = mask_of(xb, tb, model=model, decoder=decoder)
            flat = m.flatten(1)
            shuffled = flat[:, torch.randperm(flat.shape[1], generator=g)].view_as(m)
            for suffix, mk in (("", m), ("_random", shuffled)):
                p_in = model(apply_mask(xb, mk, mean=mean, std=std, top_db=top_db)).softmax(1)
                p_out = model(apply_mask(xb, 1 - mk, mean=mean, std=std, top_db=top_db)).softmax(1)
                sums["keep" + suffix] += float((p_in.argmax(1) == tb).sum())
                sums["removed" + suffix] += float((p_out.argmax(1) != tb).sum())
                if not suffix:
                    sums["p_in"] += float(p_in.gather(1, tb[:, None]).sum())
                    sums["p_out"] += float(p_out.gather(1, tb[:, None]).sum())
            sums["mask_mean"] += float(flat.mean(1).sum())
    n = len(x)
    return {**{k: round(v / n, 4) for k, v in sums.items()}, "n": n}


# ------------------------------------------------------------------ training
def _epoch(
    decoder: LMACDecoder,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    model: torch.nn.Module,
    norm: tuple[torch.Tensor, torch.Tensor, float],
    settings: LMACSettings,
    opt: torch.optim.Optimizer | None,
    sched=None,
    rng: np.random.Generator | None = None,
) -> float:
    """One pass: trains when ``opt`` is given, else returns the validation objective."""
    mean, std, top_db = norm
    decoder.train(opt is not None)
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    if opt is not None and settings.clips_per_epoch:
        order = order[: settings.clips_per_epoch]
    total = 0.0
    for i in range(0, len(order), settings.batch_size):
        idx = torch.from_numpy(order[i : i + settings.batch_size])
        xb, tb = x[idx], targets[idx]
        with torch.set_grad_enabled(opt is not None):
            with torch.no_grad():
                feats = encode(xb, model=model)
            m = decoder(feats, tb, tuple(xb.shape[-2:]))
            logits_in = model(apply_mask(xb, m, mean=mean, std=std, top_db=top_db))
            logits_out = model(apply_mask(xb, 1 - m, mean=mean, std=std, top_db=top_db))
            loss, __ = lmac_loss(logits_in, logits_out, m, tb, weights=settings.weights)
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        total += float(loss.detach()) * len(idx)
    return total / len(order)


def train_lmac(
    meta: pd.DataFrame,
    *,
    model_name: str = "resnet18_mel",
    settings: LMACSettings = LMACSettings(),
    max_clips: int | None = None,
    test: bool = True,
    splits_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> LMACResult:
    """Train a decoder on a frozen shipped classifier's training clips.

    Parameters
    ----------
    meta : DataFrame
        nEMO metadata (:func:`ser_core.data.load_metadata`).
    model_name : str
        A shipped ``resnet18`` model on a log-mel representation.
    settings : LMACSettings
    max_clips : int, optional
        Use at most this many training and validation clips (a quick check).
    test : bool
        Score the finished decoder on the test clips (False while choosing settings).
    splits_dir : Path, optional
        Where the protocol's split files are (default ``artifacts/splits``).
    progress : callable, optional
        ``progress(line)`` after each epoch.

    Returns
    -------
    LMACResult
        The decoder of the best validation epoch and its card (test figures included).

    Raises
    ------
    ConfigError
        If the model is not a ResNet on the mel representation.
    """
    loaded = models.load(model_name)
    card = loaded.card
    if card["architecture"]["name"] != "resnet18" or card["input"]["name"] != "mel":
        raise ConfigError(f"L-MAC is built for a resnet18 on the mel spectrogram, not {model_name!r}")
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = loaded.module.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    training = card.get("training", {})
    split = data.split_indices(
        meta, training.get("protocol", "seed"), fold=int(training.get("fold", 0)), directory=splits_dir
    )
    parts = {k: np.asarray(getattr(split, k)) for k in ("train", "val", "test")}
    if max_clips:
        parts = {k: v[rng.permutation(len(v))[:max_clips]] for k, v in parts.items()}
    chosen_on = parts["val"]
    if settings.val_clips:
        chosen_on = chosen_on[
            np.random.default_rng(settings.seed + 1).permutation(len(chosen_on))[: settings.val_clips]
        ]
    norm_stats = features.NormStats.from_dict(card["normalization"])
    mean = torch.tensor(norm_stats.mean, dtype=torch.float32)
    std = torch.tensor(norm_stats.std, dtype=torch.float32)
    top_db = float(card["input"].get("feature_config", {}).get("top_db", 80.0))
    norm = (mean, std, top_db)
    x_tr, __ = _inputs(meta, parts["train"], loaded)
    x_va, __ = _inputs(meta, chosen_on, loaded)
    t_tr = _targets(_logits(x_tr, model), second=settings.second_class, rng=rng)
    t_va = _logits(x_va, model).argmax(1)

    width = int(card["architecture"]["kwargs"].get("width", 32))
    decoder = LMACDecoder(width=width, hidden=settings.hidden, n_classes=len(card["classes"]))
    opt = torch.optim.AdamW(decoder.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    per_epoch = min(len(x_tr), settings.clips_per_epoch or len(x_tr))
    steps = settings.epochs * -(-per_epoch // settings.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=steps, pct_start=0.1)
    history, best, best_state = [], np.inf, None
    t0 = time.time()
    for epoch in range(1, settings.epochs + 1):
        train_loss = _epoch(
            decoder, x_tr, t_tr, model=model, norm=norm, settings=settings, opt=opt, sched=sched, rng=rng
        )
        val_loss = _epoch(decoder, x_va, t_va, model=model, norm=norm, settings=settings, opt=None)
        history.append({"epoch": epoch, "train": round(train_loss, 4), "val": round(val_loss, 4)})
        if val_loss < best:
            best, best_state = val_loss, {k: v.clone() for k, v in decoder.state_dict().items()}
        if progress:
            progress(f"epoch {epoch}: train {train_loss:.4f} · val {val_loss:.4f} · {time.time() - t0:.0f} s")
    # the shipped weights are float16: score those
    decoder.load_state_dict(
        {k: v.half().float() if v.is_floating_point() else v for k, v in best_state.items()}
    )
    decoder.eval()
    scores = {}
    for part, x_p, t_p in (("validation", x_va, t_va), ("test", None, None))[: 2 if test else 1]:
        if x_p is None:  # the test clips: read once, for the finished decoder
            x_p, __ = _inputs(meta, parts["test"], loaded)
            t_p = _logits(x_p, model).argmax(1)
        scores[part] = decoder_scores(
            x_p, t_p, model=model, decoder=decoder, mean=mean, std=std, top_db=top_db
        )
    info = _card(loaded, decoder, settings, history, scores, parts, time.time() - t0, max_clips, width=width)
    return LMACResult(decoder, info)


def _flags(settings: LMACSettings) -> list[str]:
    """The command-line flags that differ from the defaults, to reproduce ``settings``."""
    d = LMACSettings()
    pairs = [(k, v, getattr(d, k)) for k, v in asdict(settings).items() if k != "weights"]
    pairs += [(k, v, getattr(d.weights, k)) for k, v in asdict(settings.weights).items()]
    return [f"--{k.replace('_', '-')} {v}" for k, v, default in pairs if v != default]


def _card(loaded, decoder, settings, history, scores, parts, seconds, max_clips, *, width: int) -> dict:
    card = loaded.card
    n_params = sum(p.numel() for p in decoder.parameters())
    best = min(history, key=lambda h: h["val"])
    cmd = " ".join(["python -m ser_core train-lmac", f"--model {loaded.model_name}", *_flags(settings)])
    return {
        "name": f"lmac_{loaded.model_name}",
        "method": "L-MAC (Paissan et al., ICML 2024)",
        "classifier": {"name": loaded.model_name, "fingerprint": classifier_fingerprint(loaded.module)},
        "architecture": {
            "name": "LMACDecoder",
            "kwargs": {"width": width, "hidden": settings.hidden, "n_classes": len(card["classes"])},
            "parameters": int(n_params),
        },
        "classes": card["classes"],
        "normalization": {"mean": card["normalization"]["mean"], "std": card["normalization"]["std"]},
        "top_db": float(card["input"].get("feature_config", {}).get("top_db", 80.0)),
        "training": {
            **{k: v for k, v in asdict(settings).items() if k != "weights"},
            "loss_weights": asdict(settings.weights),
            "clips": {
                **{k: int(len(v)) for k, v in parts.items()},
                "val_used": int(min(len(parts["val"]), settings.val_clips or len(parts["val"]))),
            },
            "protocol": card.get("training", {}).get("protocol", "seed"),
            "targets": "the classifier's predicted class; its runner-up for a second_class share",
            "max_clips": max_clips,
            "seconds": round(seconds, 1),
        },
        "selection": f"epoch {best['epoch']} of {len(history)}: lowest objective on the validation clips",
        "history": history,
        "metrics": scores,
        "reproduce": cmd,
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def save_lmac(result: LMACResult, *, directory: Path | None = None) -> Path:
    """Write ``lmac_<model>.json`` and its fp16 ``.safetensors``.

    Returns
    -------
    Path
        The card's path.
    """
    from safetensors.torch import save_file  # (safetensors.numpy's save_file is another)

    d = Path(directory or lmac_dir())
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{result.card['name']}.json"
    state = {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in result.decoder.state_dict().items()
    }
    save_file(state, str(path.with_suffix(".safetensors")), metadata={"name": result.card["name"]})
    path.write_text(json.dumps(result.card, indent=1) + "\n")
    return path
