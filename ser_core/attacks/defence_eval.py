"""Evaluation of the defences and of the attacks' perceptual margin, apart from the algorithms.

- :func:`defence_curves`: for each defence, the accuracy of the defended model on clean
  clips, under the naive attacker (FGSM / PGD on the undefended model, then the defence)
  and under the adaptive attacker (:func:`~ser_core.attacks.adaptive.eot_pgd` through it),
  against the waveform epsilon; file ``artifacts/attacks/defences.csv``.
- :func:`margin_success` and :func:`summarise_margin`: per emotion, the success rate of
  the waveform attacks against the SNR of their perturbation (the perceptual margin);
  file ``artifacts/attacks/margin.csv``.

Both take waveforms already cut to the model's window and the true labels; which clips
(a stratified sample of a test part) is the caller's choice (``attack-eval``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from .. import tracking
from ..config import EMOTIONS, artifacts_dir
from ..errors import ConfigError
from ..i18n import N_
from .adaptive import defended_logits, eot_pgd, naive_attack
from .defences import DefenceSpec
from .methods import AttackSettings, get_attack, snr_db
from .robustness import EXPERIMENT, read_table, replace_rows

__all__ = [
    "DEFENCE_COLUMNS",
    "DEFENCE_EPSILONS",
    "MARGIN_COLUMNS",
    "SNR_BINS",
    "defence_curves",
    "defences_path",
    "load_defences",
    "load_margin",
    "log_defences",
    "margin_path",
    "margin_success",
    "save_table",
    "summarise_margin",
]

#: Waveform epsilons of the defence curves (sample amplitude).
DEFENCE_EPSILONS: tuple[float, ...] = (0.0, 2e-4, 5e-4, 1e-3, 2e-3)
#: Columns of the defence file, before one accuracy column per emotion.
DEFENCE_COLUMNS = (
    "model",
    "defence",
    "attacker",
    "attack",
    "steps",
    "eot",
    "epsilon",
    "n",
    "accuracy",
    "success",
    "snr_db",
)
#: Edges (dB) of the SNR bins of the margin table; the last bin is open.
SNR_BINS: tuple[float, ...] = (-np.inf, 20.0, 30.0, 40.0, 50.0, np.inf)
#: Columns of the margin file.
MARGIN_COLUMNS = ("model", "attack", "emotion", "snr_bin", "snr_lo", "snr_hi", "n", "success")

Progress = Callable[[int, int], None] | None


def _check(y: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if y.ndim != 2 or len(y) != len(labels) or len(y) == 0:
        raise ConfigError(f"need waveforms (b, n) and one label each, got {y.shape} and {labels.shape}")
    return y, labels


def _row(defence, attacker, attack, eps, labels, correct, clean, snrs, *, steps, eot) -> dict:
    row = {
        "defence": defence,
        "attacker": attacker,
        "attack": attack,
        "steps": steps,
        "eot": eot,
        "epsilon": float(eps),
        "n": len(labels),
        "accuracy": float(correct.mean()),
        "success": float((clean & ~correct).sum() / max(clean.sum(), 1)),
        "snr_db": float(np.median(snrs)) if len(snrs) else float("inf"),
    }
    for c, emo in enumerate(EMOTIONS):
        m = labels == c
        row[emo] = float(correct[m].mean()) if m.any() else float("nan")
    return row


def defence_curves(
    y: np.ndarray,
    labels: np.ndarray,
    *,
    model: nn.Module,
    defences: Sequence[DefenceSpec],
    epsilons: Sequence[float] = DEFENCE_EPSILONS,
    naive: Sequence[str] = ("fgsm_wave", "pgd_wave"),
    adaptive: bool = True,
    steps: int = 10,
    eot: int = 8,
    seed: int = 0,
    batch_size: int = 8,
    progress: Progress = None,
) -> pd.DataFrame:
    """Accuracy of each defended model: clean, naive attacker and adaptive attacker, against epsilon.

    Untargeted, away from the true labels.  The naive attacks are computed once on the
    undefended model and passed through every defence; the adaptive attack
    (:func:`eot_pgd`, ``steps`` PGD steps, ``eot`` draws of a randomised defence) once per
    defence.  A randomised defence draws its parameter anew for each evaluation (seeded).
    The undefended model is the row group ``defence == "none"`` (naive only: the
    adaptive attacker of no defence is PGD itself).

    Parameters
    ----------
    y : np.ndarray, shape (b, n)
        Waveforms, cut to the model's window (16 kHz).
    labels : np.ndarray of int, shape (b,)
        True class indices.
    model : nn.Module
        Waveform -> logits (:class:`ser_core.torch_frontend.WaveformClassifier`).
    defences : sequence of DefenceSpec
    epsilons : sequence of float
        Sample-amplitude L-infinity bounds (0: the clean accuracy).
    naive : sequence of str
        Waveform attacks of the naive attacker.
    adaptive : bool
        Whether to run the adaptive attacker.
    steps, eot, seed
        PGD steps (naive PGD too), EOT draws, the seed of the defences' draws.
    batch_size : int
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    Returns
    -------
    pandas.DataFrame
        One row per defence, attacker (``naive`` / ``adaptive``), attack and epsilon:
        :data:`DEFENCE_COLUMNS` but ``model``, then one accuracy per emotion.  ``success``
        is the share of the clips the defended model gets right on the clean input that
        the attack makes it get wrong.
    """
    y, labels = _check(y, labels)
    eps = [float(e) for e in epsilons]
    for e in eps:
        AttackSettings(epsilon=e)
    specs: list[DefenceSpec | None] = [None, *defences]
    names = ["none", *[d.label for d in defences]]
    keys = [(a, "naive") for a in naive] + ([("eot_pgd", "adaptive")] if adaptive else [])
    correct: dict[tuple, np.ndarray] = {}
    snrs: dict[tuple, list] = {}
    for i in range(0, len(y), batch_size):
        yb, lb = y[i : i + batch_size], labels[i : i + batch_size]
        sl = slice(i, i + len(lb))
        for k, d in enumerate(specs):
            rng = np.random.default_rng([seed, i, k])
            ok = defended_logits(yb, model=model, defence=d, rng=rng).argmax(1) == lb
            correct.setdefault((names[k], "clean"), np.zeros(len(y), bool))[sl] = ok
        for e in (e for e in eps if e > 0):
            advs = {
                a: naive_attack(yb, model=model, epsilon=e, attack=a, labels=lb, steps=steps) for a in naive
            }
            for k, d in enumerate(specs):
                for a, who in keys:
                    if who == "adaptive" and d is None:
                        continue
                    if who == "adaptive":
                        adv = eot_pgd(
                            yb,
                            model=model,
                            defence=d,
                            epsilon=e,
                            labels=lb,
                            steps=steps,
                            eot=eot,
                            seed=seed + i,
                        )
                    else:
                        adv = advs[a]
                    rng = np.random.default_rng([seed, i, k, 1])
                    ok = defended_logits(adv, model=model, defence=d, rng=rng).argmax(1) == lb
                    key = (names[k], a, who, e)
                    correct.setdefault(key, np.zeros(len(y), bool))[sl] = ok
                    snrs.setdefault(key, []).extend(np.atleast_1d(snr_db(yb, adv, axis=1)).tolist())
        if progress is not None:
            progress(min(i + batch_size, len(y)), len(y))
    rows = []
    for k, name in enumerate(names):
        clean = correct[(name, "clean")]
        for a, who in keys:
            if who == "adaptive" and specs[k] is None:
                continue
            n_eot = eot if (who == "adaptive" and specs[k].randomised) else 1
            st = steps if (a != "fgsm_wave") else 1
            rows.append(_row(name, who, a, 0.0, labels, clean, clean, [], steps=st, eot=n_eot))
            for e in (e for e in eps if e > 0):
                key = (name, a, who, e)
                rows.append(
                    _row(name, who, a, e, labels, correct[key], clean, snrs[key], steps=st, eot=n_eot)
                )
    return pd.DataFrame(rows)


def margin_success(
    y: np.ndarray,
    labels: np.ndarray,
    *,
    model: nn.Module,
    attacks: Mapping[str, Sequence[float]],
    steps: int = 10,
    progress: Progress = None,
) -> pd.DataFrame:
    """Every clip under every waveform attack and epsilon: its SNR and whether it fooled the model.

    Parameters
    ----------
    y : np.ndarray, shape (b, n)
    labels : np.ndarray of int, shape (b,)
        True class indices (the attacks move away from them).
    model : nn.Module
        The undefended waveform classifier.
    attacks : mapping of str to sequence of float
        Waveform attacks in :data:`ATTACKS` (``fgsm_wave``, ``pgd_wave``, ``imperceptible``)
        and the positive sample-amplitude epsilons of each.
    steps : int
        Iterations of the iterative attacks (FGSM and PGD; the others keep their own).
    progress : callable, optional
        ``progress(done, total)`` after each clip.

    Returns
    -------
    pandas.DataFrame
        One row per clip, attack and epsilon: ``attack, epsilon, clip, emotion, snr_db,
        clean_correct, success`` (``success``: right on the clean clip, wrong after).
    """
    y, labels = _check(y, labels)
    clean = defended_logits(y, model=model, defence=None).argmax(1) == labels
    rows = []
    for j in range(len(y)):
        for name, eps in attacks.items():
            a = get_attack(name)
            for e in eps:
                s = AttackSettings(epsilon=e, steps=steps)
                adv = np.asarray(a(y[j : j + 1], model=model, settings=s, labels=labels[j : j + 1]))
                ok = defended_logits(adv, model=model, defence=None).argmax(1)[0] == labels[j]
                rows.append(
                    {
                        "attack": name,
                        "epsilon": float(e),
                        "clip": j,
                        "emotion": EMOTIONS[labels[j]],
                        "snr_db": float(snr_db(y[j], adv.reshape(-1))),
                        "clean_correct": bool(clean[j]),
                        "success": bool(clean[j] and not ok),
                    }
                )
        if progress is not None:
            progress(j + 1, len(y))
    return pd.DataFrame(rows)


def _bin_label(lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return f"< {hi:g} dB"
    if not np.isfinite(hi):
        return f"≥ {lo:g} dB"
    return f"{lo:g}–{hi:g} dB"


def summarise_margin(per_clip: pd.DataFrame, *, bins: Sequence[float] = SNR_BINS) -> pd.DataFrame:
    """Success rate per attack, emotion (and ``"all"``) and SNR bin, over the clips the
    model got right when clean.

    Parameters
    ----------
    per_clip : pandas.DataFrame
        :func:`margin_success`'s rows.
    bins : sequence of float
        Increasing bin edges in dB.

    Returns
    -------
    pandas.DataFrame
        :data:`MARGIN_COLUMNS` but ``model``; empty bins are left out.
    """
    df = per_clip[per_clip["clean_correct"]]
    edges = list(bins)
    rows = []
    for attack, part in df.groupby("attack", sort=False):
        for emo in ("all", *EMOTIONS):
            sub = part if emo == "all" else part[part["emotion"] == emo]
            for lo, hi in zip(edges, edges[1:]):
                m = sub[(sub["snr_db"] >= lo) & (sub["snr_db"] < hi)]
                if len(m):
                    rows.append(
                        {
                            "attack": attack,
                            "emotion": emo,
                            "snr_bin": _bin_label(lo, hi),
                            "snr_lo": lo,
                            "snr_hi": hi,
                            "n": len(m),
                            "success": float(m["success"].mean()),
                        }
                    )
    return pd.DataFrame(rows, columns=list(MARGIN_COLUMNS[1:]))


# ------------------------------------------------------------------ files and MLflow
def defences_path() -> Path:
    """``artifacts/attacks/defences.csv`` (under ``$SER_ARTIFACTS`` when set)."""
    return artifacts_dir() / "attacks" / "defences.csv"


def margin_path() -> Path:
    """``artifacts/attacks/margin.csv`` (under ``$SER_ARTIFACTS`` when set)."""
    return artifacts_dir() / "attacks" / "margin.csv"


def _load(path: Path, columns: Sequence[str]) -> pd.DataFrame | None:
    return read_table(
        path,
        columns,
        unreadable=N_("cannot read the attack results {path}: {error}"),
        lacking=N_("the attack results {path} lack the columns {columns}"),
    )


def load_defences(path=None) -> pd.DataFrame | None:
    """The defence file's rows (:data:`DEFENCE_COLUMNS` and the emotions); None when missing.

    Raises
    ------
    ConfigError
        If the file cannot be read or lacks a column.
    """
    return _load(Path(path) if path is not None else defences_path(), DEFENCE_COLUMNS)


def load_margin(path=None) -> pd.DataFrame | None:
    """The margin file's rows (:data:`MARGIN_COLUMNS`); None when missing.

    Raises
    ------
    ConfigError
        If the file cannot be read or lacks a column.
    """
    return _load(Path(path) if path is not None else margin_path(), MARGIN_COLUMNS)


def save_table(df: pd.DataFrame, path: Path, *, keys: Sequence[str] = ("model",)) -> Path:
    """Write ``df`` to ``path``, replacing the earlier rows with the same ``keys`` values
    (default the model; ``("model", "attack")`` for the margin table) and keeping the
    others (rounded to 5 decimals); returns ``path``."""
    path = Path(path)
    df = replace_rows(pd.read_csv(path) if path.exists() else None, df, keys=keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.round(5).to_csv(path, index=False)
    return path


def log_defences(
    curves: pd.DataFrame | None, margin: pd.DataFrame | None, *, params: dict, artifacts=()
) -> str:
    """Log the defence curves and the margin table to MLflow (experiment :data:`EXPERIMENT`).

    Metrics ``acc_<defence>_<attacker>_<attack>_eps_<epsilon>`` and
    ``success_<attack>_<emotion>_snr_<lo>``; returns the run id.
    """
    import mlflow  # optional heavy dependency: only when a table is logged

    metrics: dict[str, float] = {}
    if curves is not None:
        for r in curves.itertuples(index=False):
            key = f"acc_{r.defence}_{r.attacker}_{r.attack}_eps_{r.epsilon:g}".replace(":", "-")
            metrics[key] = float(r.accuracy)
    if margin is not None:
        for r in margin.itertuples(index=False):
            lo = "min" if not np.isfinite(r.snr_lo) else f"{r.snr_lo:g}"
            metrics[f"success_{r.attack}_{r.emotion}_snr_{lo}"] = float(r.success)
    name = f"attack-eval {params.get('model', '')} defences"
    with mlflow.start_run(experiment_id=tracking.experiment_id(EXPERIMENT), run_name=name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        for a in artifacts:
            mlflow.log_artifact(str(a))
        return run.info.run_id
