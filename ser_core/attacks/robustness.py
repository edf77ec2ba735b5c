"""The robustness curve: accuracy against epsilon of a spectrogram attack, overall and per
emotion, for a shipped model on a test part; its file and its MLflow runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from .. import cache, data, models, tracking
from ..config import EMOTIONS, FeatureConfig, artifacts_dir
from ..errors import ConfigError
from ..features import NormStats
from ..i18n import N_
from .methods import DEFAULT_EPSILONS, AttackSettings, attack_names, get_attack, gradient_sign, snr_db

__all__ = [
    "EXPERIMENT",
    "ROBUSTNESS_COLUMNS",
    "evaluate_shipped",
    "load_robustness",
    "log_robustness",
    "parse_epsilons",
    "robustness",
    "robustness_path",
    "save_robustness",
]


# ------------------------------------------------------------------ robustness curve
def robustness(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    model: nn.Module,
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    attack: str = "fgsm",
    norm=None,
    batch_size: int = 64,
    steps: int = 10,
    progress: Callable[[int, int], None] | None = None,
):
    """Accuracy against epsilon of a spectrogram attack, overall and per emotion.

    Untargeted, away from the **true** labels.  For FGSM the gradient sign does
    not depend on epsilon, so each batch costs one forward + backward pass plus
    one forward pass per epsilon.

    Parameters
    ----------
    x : np.ndarray, shape (n, C, F, T)
        Model inputs, normalised, or raw features (a float16 cache memmap is fine)
        when ``norm`` is given.
    labels : np.ndarray of int, shape (n,)
        True class indices.
    model : nn.Module
        The network (logits out); put in eval mode.
    epsilons : sequence of float
        The curve's epsilons (0: the clean accuracy).
    attack : str
        A spectrogram attack in :data:`ATTACKS`.
    norm : ser_core.features.NormStats, optional
        Applied to each batch of ``x`` first.
    batch_size : int
        Clips per gradient and forward pass.
    steps : int
        Iterations of an iterative attack (PGD).
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    Returns
    -------
    pandas.DataFrame
        One row per epsilon: ``epsilon, n, accuracy, snr_db`` (median SNR of the
        perturbation on the normalised input) and one accuracy column per emotion
        (the share of that emotion's clips still classified correctly; NaN
        when it has none).

    Raises
    ------
    ConfigError
        If the attack is not a spectrogram attack, an epsilon is invalid, or
        ``x`` and ``labels`` are empty or differ in length.
    UnknownNameError
        If ``attack`` is not registered.
    """
    a = get_attack(attack)
    if a.domain != "spectrogram":
        raise ConfigError(f"robustness needs a spectrogram attack, {attack!r} is a {a.domain} attack")
    eps = [float(e) for e in epsilons]
    for e in eps:
        AttackSettings(epsilon=e)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if n == 0 or len(x) != n:
        raise ConfigError(f"robustness needs as many inputs as labels, got {len(x)} and {n}")
    correct = np.zeros((len(eps), n), dtype=bool)
    snrs = np.zeros((len(eps), n))
    model.eval()

    def predict(xb: np.ndarray) -> np.ndarray:
        return models.predict_logits(model, xb, batch_size=max(len(xb), 1), keep_mode=True).argmax(1)

    for i in range(0, n, batch_size):
        xb = np.asarray(x[i : i + batch_size], dtype=np.float32)
        xb = norm.apply(xb) if norm is not None else xb
        lb = labels[i : i + batch_size]
        axes = tuple(range(1, xb.ndim))
        direction = gradient_sign(xb, model=model, labels=lb) if a.name == "fgsm" else None
        for k, e in enumerate(eps):
            if e == 0:
                adv = xb
            elif direction is not None:
                adv = xb + np.float32(e) * direction
            else:
                adv = a(xb, model=model, settings=AttackSettings(epsilon=e, steps=steps), labels=lb)
            correct[k, i : i + len(lb)] = predict(adv) == lb
            snrs[k, i : i + len(lb)] = snr_db(xb, adv, axis=axes)
        if progress is not None:
            progress(min(i + batch_size, n), n)
    rows = []
    for k, e in enumerate(eps):
        row = {
            "epsilon": e,
            "n": n,
            "accuracy": float(correct[k].mean()),
            "snr_db": float(np.median(snrs[k])),
        }
        for c, emo in enumerate(EMOTIONS):
            m = labels == c
            row[emo] = float(correct[k, m].mean()) if m.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def parse_epsilons(text: str | Iterable[float]) -> tuple[float, ...]:
    """Epsilons from a command-line string or numbers.

    Parameters
    ----------
    text : str or iterable of float
        ``"0,0.001,0.01"`` (empty items are skipped) or numbers.

    Returns
    -------
    tuple of float
        Sorted, unique.

    Raises
    ------
    ConfigError
        If an item is not a number, none is given, or one is negative or not finite.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        vals = sorted({float(v) for v in items if str(v).strip()})
    except ValueError:
        raise ConfigError(f"epsilons must be comma-separated numbers, got {text!r}") from None
    if not vals:
        raise ConfigError(f"no epsilon in {text!r}")
    for v in vals:
        AttackSettings(epsilon=v)
    return tuple(vals)


# ------------------------------------------------------------------ shipped models, files, MLflow
#: MLflow experiment of the robustness runs (kept apart from the training runs of the leaderboard).
EXPERIMENT = "nemo-ser-attacks"
#: Columns of the robustness file, before the six per-emotion accuracies.
ROBUSTNESS_COLUMNS = ("model", "attack", "domain", "steps", "protocol", "epsilon", "n", "accuracy", "snr_db")


def robustness_path() -> Path:
    """Where the robustness file lives.

    Returns
    -------
    Path
        ``artifacts/attacks/robustness.csv`` (under ``$SER_ARTIFACTS`` when set).
    """
    return artifacts_dir() / "attacks" / "robustness.csv"


def evaluate_shipped(
    model_name: str,
    meta,
    *,
    attack: str = "fgsm",
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    protocol: str = "seed",
    max_clips: int | None = None,
    batch_size: int = 64,
    steps: int = 10,
    progress: Callable[[int, int], None] | None = None,
):
    """:func:`robustness` of a shipped mel model on a protocol's test part.

    The features come from the feature cache (built when missing); a
    ``max_clips`` sample without a cache computes only its own clips.

    Parameters
    ----------
    model_name : str
        Shipped model (``python -m ser_core models``) reading the ``mel`` representation.
    meta : pandas.DataFrame
        Corpus metadata (:func:`ser_core.data.load_metadata`).
    attack : str
        A spectrogram attack in :data:`ATTACKS`.
    epsilons : sequence of float
        The curve's epsilons.
    protocol : str
        The split whose test part is attacked (:func:`ser_core.data.split_indices`).
    max_clips : int, optional
        A random subset of the test clips (seed 0), for quick runs and tests.
    batch_size, steps, progress
        As for :func:`robustness`.

    Returns
    -------
    pandas.DataFrame with the :data:`ROBUSTNESS_COLUMNS` and one column per emotion.

    Raises
    ------
    ConfigError
        If the attack is not a spectrogram attack, the model does not read
        ``mel``, ``max_clips`` is below 1, or an epsilon is invalid.
    UnknownNameError
        If the attack or the model is unknown.
    """
    a = get_attack(attack)
    if a.domain != "spectrogram":
        raise ConfigError(
            f"attack-eval runs spectrogram attacks ({', '.join(attack_names('spectrogram'))}); "
            f"{attack!r} is a {a.domain} attack"
        )
    loaded = models.load(model_name)
    inp = loaded.card.get("input", {})
    if inp.get("kind") != "features" or inp.get("name") != "mel":
        raise ConfigError(
            f"attack-eval needs a model on the 'mel' representation; {model_name!r} reads {inp.get('name')!r}"
        )
    cfg = FeatureConfig(**inp.get("feature_config", {}))
    norm = loaded.card.get("normalization", {})
    stats = NormStats.from_dict(norm) if norm.get("kind") == "corpus" else None
    test = meta.iloc[data.split_indices(meta, protocol).test]
    if max_clips is not None and max_clips < len(test):
        if max_clips < 1:
            raise ConfigError(f"max_clips must be positive, got {max_clips!r}")
        test = test.sample(n=max_clips, random_state=0).sort_index()
    if max_clips is None:  # the whole test part: worth caching (a no-op when up to date)
        cache.build(meta, ["mel"], cfg=cfg)
    x = cache.features_of(test, "mel", corpus=meta, cfg=cfg, keep=True)
    df = robustness(
        x,
        test["label"].to_numpy(),
        model=loaded.module,
        epsilons=epsilons,
        attack=attack,
        norm=stats,
        batch_size=batch_size,
        steps=steps,
        progress=progress,
    )
    df.insert(0, "model", model_name)
    df.insert(1, "attack", attack)
    df.insert(2, "domain", a.domain)
    df.insert(3, "steps", steps if a.iterative else 1)
    df.insert(4, "protocol", protocol)
    return df


def load_robustness(path=None):
    """Read the robustness file.

    Parameters
    ----------
    path : str or Path, optional
        Default :func:`robustness_path`.

    Returns
    -------
    pandas.DataFrame or None
        The rows (the :data:`ROBUSTNESS_COLUMNS` and one column per emotion);
        None when the file does not exist.

    Raises
    ------
    ConfigError
        If the file cannot be read or lacks a column of :data:`ROBUSTNESS_COLUMNS`.
    """
    return read_table(
        Path(path) if path is not None else robustness_path(),
        ROBUSTNESS_COLUMNS,
        unreadable=N_("cannot read the robustness file {path}: {error}"),
        lacking=N_("the robustness file {path} lacks the columns {columns}"),
    )


def read_table(path: Path, columns: Sequence[str], *, unreadable: str, lacking: str) -> pd.DataFrame | None:
    """A result file's rows, None when it does not exist.

    Parameters
    ----------
    path : Path
        The CSV file.
    columns : sequence of str
        Columns it must have.
    unreadable, lacking : str
        The messages (``N_`` templates with ``{path}`` and ``{error}`` / ``{columns}``) of the
        :class:`ConfigError` raised when it cannot be read or lacks a column.
    """
    if not path.exists():
        return None
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(unreadable, path=str(path), error=str(exc)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(lacking, path=str(path), columns=missing)
    return df


def replace_rows(old: pd.DataFrame | None, new: pd.DataFrame, *, keys: Sequence[str]) -> pd.DataFrame:
    """``new`` after the rows of ``old`` whose ``keys`` values ``new`` does not have (a
    result file updated by one run: its earlier rows for the same model ... replaced).

    Parameters
    ----------
    old : DataFrame or None
        The file's rows (None, or lacking a key column: nothing is kept).
    new : DataFrame
        The run's rows.
    keys : sequence of str
        The columns naming what one run replaces.

    Returns
    -------
    DataFrame
    """
    if old is None or not all(k in old.columns for k in keys):
        return new
    have = set(new[list(keys)].itertuples(index=False, name=None))
    keep = [k not in have for k in old[list(keys)].itertuples(index=False, name=None)]
    return pd.concat([old[keep], new], ignore_index=True)


def save_robustness(df, path=None):
    """Write ``df`` to the robustness file, replacing earlier rows of the same model,
    attack and protocol and keeping the others.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows as :func:`evaluate_shipped` returns them.
    path : str or Path, optional
        Default :func:`robustness_path`; parent folders are created.

    Returns
    -------
    Path
        The file written (rows sorted by model, attack, protocol, epsilon; rounded to 5 decimals).

    Raises
    ------
    ConfigError
        If an existing file cannot be read (:func:`load_robustness`).
    """
    p = Path(path) if path is not None else robustness_path()
    df = replace_rows(load_robustness(p), df, keys=("model", "attack", "protocol"))
    p.parent.mkdir(parents=True, exist_ok=True)
    df.sort_values(["model", "attack", "protocol", "epsilon"]).round(5).to_csv(p, index=False)
    return p


def log_robustness(df, *, run_name: str | None = None, artifact=None) -> str:
    """Log a robustness table to MLflow (experiment :data:`EXPERIMENT`); returns the run id.

    Metrics ``accuracy`` / ``acc_<emotion>`` / ``snr_db`` are stepped by the epsilon's
    index in ``df`` and ``accuracy_eps_<epsilon>`` name each point; parameter
    ``epsilons`` lists them.

    Parameters
    ----------
    df : pandas.DataFrame
        One model's rows, as :func:`evaluate_shipped` returns them.
    run_name : str, optional
        Default ``"attack-eval <model> <attack>"``.
    artifact : str or Path, optional
        A file to attach to the run (e.g. the robustness file).

    Returns
    -------
    str
        The MLflow run id.
    """
    import mlflow  # optional heavy dependency: only when a table is logged

    first = df.iloc[0]
    run_name = run_name or f"attack-eval {first['model']} {first['attack']}"
    with mlflow.start_run(experiment_id=tracking.experiment_id(EXPERIMENT), run_name=run_name) as run:
        mlflow.log_params(
            {
                "model": first["model"],
                "attack": first["attack"],
                "domain": first["domain"],
                "steps": int(first["steps"]),
                "protocol": first["protocol"],
                "n_clips": int(first["n"]),
                "epsilons": ",".join(f"{e:g}" for e in df["epsilon"]),
            }
        )
        for k, row in enumerate(df.itertuples(index=False)):
            m = {"accuracy": row.accuracy, f"accuracy_eps_{row.epsilon:g}": row.accuracy}
            if np.isfinite(row.snr_db):
                m["snr_db"] = row.snr_db
            for emo in EMOTIONS:
                v = getattr(row, emo)
                if np.isfinite(v):
                    m[f"acc_{emo}"] = v
            mlflow.log_metrics({k_: float(v) for k_, v in m.items()}, step=k)
        if artifact is not None:
            mlflow.log_artifact(str(artifact))
        return run.info.run_id
