"""Cached loaders and tables of the leaderboard page.

The tables come from :mod:`ser_core.leaderboard`; caches are keyed by the tracking
database's path, mtime and size, so runs logged while the app is open appear on the
next rerun.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser_core import figures, tracking
from ser_core import leaderboard as lb
from ser_core.conditions import condition_names


def tracking_stamp() -> tuple[str, int, int] | None:
    """``(path, mtime_ns, size)`` of the MLflow database, or None when it does not exist."""
    p = tracking.db_path()
    try:
        st_ = p.stat()
    except OSError:
        return None
    return str(p), st_.st_mtime_ns, st_.st_size


@st.cache_data(show_spinner="Reading the MLflow runs…", max_entries=8)
def _lb_runs(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return lb.load_runs(path)


def leaderboard_runs() -> pd.DataFrame:
    """Every run of the tracking database (:func:`ser_core.leaderboard.load_runs`).

    Empty when there is no database.  Raises :class:`~ser_core.errors.TrackingError`
    when it cannot be read.
    """
    stamp = tracking_stamp()
    return pd.DataFrame(columns=lb.RUN_COLUMNS) if stamp is None else _lb_runs(*stamp)


@st.cache_data(show_spinner=False, max_entries=64)
def _lb_curves(run_id: str, path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return lb.curves(run_id, db=path)


def run_curves(run_id: str) -> pd.DataFrame:
    """Per-epoch curves of a run (:func:`ser_core.leaderboard.curves`), cached."""
    stamp = tracking_stamp()
    return lb.curves(run_id) if stamp is None else _lb_curves(run_id, *stamp)


@st.cache_data(show_spinner=False, max_entries=8)
def _lb_conditions(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return lb.condition_runs(path)


def condition_runs() -> pd.DataFrame:
    """The recording-condition runs (:func:`ser_core.leaderboard.condition_runs`), cached;
    empty when there is no database."""
    stamp = tracking_stamp()
    return pd.DataFrame(columns=lb.CONDITION_COLUMNS) if stamp is None else _lb_conditions(*stamp)


#: What to run for a first row of the model × condition heatmap.
CONDITIONS_COMMAND = (
    "python -m ser_core evaluate --protocol loso --model ensemble_spk "
    "--conditions clean reverb_babble_10db telephone opus_16k --max-clips 60"
)


def conditions_section() -> None:
    """The model × condition heatmap of LOSO accuracy, or how to measure it."""
    table = condition_runs()
    if table.empty:
        st.info(
            "No model has been scored under recording conditions yet. Re-score a model's "
            f"leave-one-speaker-out folds in rooms, noise and codecs:\n\n`{CONDITIONS_COMMAND}`",
            icon=":material/info:",
        )
        return
    st.plotly_chart(figures.conditions_heatmap(table, order=condition_names()), key="leaderboard.conditions")
    clips = table["max_clips"].dropna()
    sample = f" on at most {int(clips.max())} clips per speaker" if len(clips) else ""
    st.caption(
        "Leave-one-speaker-out accuracy, mean over the held-out speakers, of each model's fold "
        f"models{sample}, the speaker's clips played through a room, a noise, a device or a codec "
        "(`ser_core.conditions`). Hover a cell for the drop against clean audio and the worst speaker."
    )


def how_to_train() -> None:
    """An info box saying that no run is logged yet and how to train one."""
    st.info(
        f"No training run in the MLflow database `{tracking.db_path()}` yet. Train a model "
        f"and its run appears here:\n\n`{lb.HOW_TO_TRAIN}`\n\n(leave-one-speaker-out: "
        "`--protocol loso --fold 0` … `--fold 8`; needs the corpus).",
        icon=":material/info:",
    )


def unique_labels(labels: pd.Series, run_ids: pd.Series) -> list[str]:
    """Labels made unique (a run id prefix is appended to repeated ones)."""
    dup = labels.duplicated(keep=False)
    return [f"{lab} ({rid[:6]})" if d else lab for lab, rid, d in zip(labels, run_ids, dup)]


def leaderboard_table(table: pd.DataFrame, *, every_run: bool) -> tuple[pd.DataFrame, dict]:
    """``(frame, column_config)`` for ``st.dataframe`` of a summary or a run table.

    Test metrics become percentages (sortable numbers), standard deviations
    text in percentage points (blank for single runs), training time minutes;
    the start time is shown for single runs only.
    """
    cc = st.column_config
    pct = {
        c: cc.NumberColumn(t, format="%.1f %%", help=h, width=w)
        for c, t, h, w in [
            ("macro_f1", "macro F1", "unweighted mean of the six per-class F1 (test)", 68),
            ("precision", "precision", "macro precision (test)", 70),
            ("recall", "recall", "macro recall (test)", 62),
        ]
    }
    config: dict = {
        "model": cc.TextColumn("model", width=80),
        "input": cc.TextColumn("representation", width=104),
        "protocol": cc.TextColumn(
            "protocol",
            width=62,
            help="seed: one fixed split; loso: leave one speaker out (one run per held-out speaker)",
        ),
        "accuracy": cc.ProgressColumn(
            "test accuracy", format="%.1f %%", min_value=0.0, max_value=100.0, width=130
        ),
        **pct,
        "ece_after": cc.NumberColumn(
            "ECE",
            format="%.3f",
            width=52,
            help="expected calibration error after temperature scaling (lower is better)",
        ),
        "parameters": cc.NumberColumn("weights", format="compact", width=62, help="trainable parameters"),
        "minutes": cc.NumberColumn("train time", format="%.1f min", width=76),
        "start_time": cc.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
    }
    df = table.copy()
    for col in ("accuracy", *pct):
        df[col] = 100 * df[col]
    df["minutes"] = df["train_seconds"] / 60
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True).dt.tz_convert(None)  # UTC
    if every_run:
        cols = [
            "run_name",
            "status",
            "shipped",
            "model",
            "input",
            "protocol",
            "fold",
            "accuracy",
            "macro_f1",
            "precision",
            "recall",
            "ece_after",
            "parameters",
            "minutes",
            "start_time",
        ]
        if "shipped" not in df:
            df["shipped"] = None
        config.update(
            run_name=cc.TextColumn("run", width=200),
            shipped=cc.TextColumn(
                "shipped as", width=110, help="the shipped model whose card names this run"
            ),
            status=cc.TextColumn("status", width=80),
            fold=cc.NumberColumn("fold", format="%d", width=40),
        )
    else:
        for m in ("accuracy", "macro_f1"):  # text: blank for single runs instead of "None"
            df[f"{m}_pp"] = [f"± {100 * v:.1f}" if pd.notna(v) else "" for v in df[f"{m}_std"]]
        cols = [
            "model",
            "input",
            "new_voices",
            "seed_split",
            "protocol",
            "n_folds",
            "accuracy",
            "accuracy_pp",
            "macro_f1",
            "macro_f1_pp",
            "precision",
            "recall",
            "ece_after",
            "parameters",
            "minutes",
        ]
        std_help = "standard deviation over the LOSO folds (percentage points)"
        for col in ("new_voices", "seed_split"):  # text: "—" where not measured instead of "None"
            df[col] = [f"{100 * v:.1f} %" if pd.notna(v) else "—" for v in df[col]]
        config.update(
            new_voices=cc.TextColumn(
                "new voices",
                width=78,
                help="the recipe's leave-one-speaker-out mean: accuracy on a voice it never heard "
                "(the number to expect for a new user); —: not measured",
            ),
            seed_split=cc.TextColumn(
                "seed split",
                width=72,
                help="the recipe's seed-split accuracy: test clips of the speakers it trained on",
            ),
            n_folds=cc.NumberColumn("folds", format="%d", width=48, help="runs averaged (LOSO folds)"),
            accuracy_pp=cc.TextColumn("± acc.", help=std_help, width=62),
            macro_f1_pp=cc.TextColumn("± F1", help=std_help, width=58),
        )
        config["minutes"] = cc.NumberColumn(
            "train time", format="%.1f min", width=76, help="mean over the folds"
        )
    return df[cols], config


def loso_ensemble_table(table: pd.DataFrame | None) -> None:
    """The per-speaker ensembles of the LOSO protocol: mean ± std, then one row per fold."""
    if table is None:
        return
    st.markdown(
        "**On a new voice (LOSO)**: one ensemble per held-out speaker, its weights "
        "searched on another speaker's predictions"
    )
    acc = 100 * table["accuracy"]
    st.metric(
        "LOSO ensemble accuracy",
        f"{acc.mean():.1f} % ± {acc.std(ddof=1) if len(acc) > 1 else 0:.1f}",
        help=f"mean ± standard deviation over {len(table)} held-out speakers",
    )
    members = [c for c in table.columns if c not in ("fold", "accuracy", "macro_f1")]
    st.dataframe(
        table,
        hide_index=True,
        key="leaderboard.loso_ensemble",
        column_config={
            "accuracy": st.column_config.ProgressColumn(
                "accuracy", format="percent", min_value=0, max_value=1
            ),
            "macro_f1": st.column_config.NumberColumn("macro F1", format="percent"),
            **{m: st.column_config.NumberColumn(f"weight {m}", format="percent") for m in members},
        },
    )


def compare_styler(table: pd.DataFrame):
    """:func:`ser_core.leaderboard.compare` as a Styler: rows that differ highlighted."""
    differs = table["differs"].to_numpy()
    view = table.drop(columns="differs")
    return view.style.apply(
        lambda r: ["background-color: #fef3c7; font-weight: 600" if differs[r.name] else ""] * len(r),
        axis=1,
    )
