"""Cached loaders and tables of the leaderboard page.

The tables come from :mod:`ser_core.leaderboard`; caches are keyed by the tracking
database's path, mtime and size, so runs logged while the app is open appear on the
next rerun.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from ser_core import data, figures, run_state, tracking
from ser_core import leaderboard as lb
from ser_core.conditions import condition_names
from ser_core.errors import SERError
from ui.i18n import _, ngettext, pgettext


def state_name(state: str) -> str:
    """A run state (:data:`ser_core.run_state.STATES`) in the language of this run (an
    unknown one as is); the context keeps "training" apart from training clips."""
    names = {
        "finished": pgettext("run state", "finished"),
        "training": pgettext("run state", "training"),
        "stopped": pgettext("run state", "stopped"),
        "failed": pgettext("run state", "failed"),
        "killed": pgettext("run state", "killed"),
    }
    return names.get(state, state)


def shown_states(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with its ``state`` column in the language of this run, for what people read
    (run labels, the comparison); decisions read the identifiers of the original table."""
    return runs.assign(state=runs["state"].map(state_name)) if "state" in runs else runs


def tracking_stamp() -> tuple[str, int, int] | None:
    """``(path, mtime_ns, size)`` of the MLflow database, or None when it does not exist."""
    p = tracking.db_path()
    try:
        st_ = p.stat()
    except OSError:
        return None
    return str(p), st_.st_mtime_ns, st_.st_size


@st.cache_data(show_spinner=False, max_entries=8)  # leaderboard_runs() shows the spinner
def _lb_runs(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return lb.load_runs(path)


def leaderboard_runs() -> pd.DataFrame:
    """Every run of the tracking database (:func:`ser_core.leaderboard.load_runs`), with its
    ``state`` and ``state_note`` (:func:`ser_core.run_state.with_states`) decided now, not
    cached: a training process can die without the database changing.

    Empty when there is no database.  Raises :class:`~ser_core.errors.TrackingError`
    when it cannot be read.
    """
    stamp = tracking_stamp()
    if stamp is None:
        return run_state.with_states(pd.DataFrame(columns=lb.RUN_COLUMNS))
    with st.spinner(_("Reading the MLflow runs…")):  # shown only after half a second
        return run_state.with_states(_lb_runs(*stamp))


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
            _(
                "No model has been scored under recording conditions yet. Re-score a model's "
                "leave-one-speaker-out folds in rooms, noise and codecs:\n\n`{command}`"
            ).format(command=CONDITIONS_COMMAND),
            icon=":material/info:",
        )
        return
    st.plotly_chart(figures.conditions_heatmap(table, order=condition_names()), key="leaderboard.conditions")
    clips = table["max_clips"].dropna()
    hover = _("Hover a cell for the drop against clean audio and the worst speaker.")
    if len(clips):
        n = int(clips.max())
        text = ngettext(
            "Leave-one-speaker-out accuracy, mean over the held-out speakers, of each model's fold "
            "models on at most {n} clip per speaker, the speaker's clips played through a room, a "
            "noise, a device or a codec (`ser_core.conditions`).",
            "Leave-one-speaker-out accuracy, mean over the held-out speakers, of each model's fold "
            "models on at most {n} clips per speaker, the speaker's clips played through a room, a "
            "noise, a device or a codec (`ser_core.conditions`).",
            n,
        ).format(n=n)
    else:
        text = _(
            "Leave-one-speaker-out accuracy, mean over the held-out speakers, of each model's fold "
            "models, the speaker's clips played through a room, a noise, a device or a codec "
            "(`ser_core.conditions`)."
        )
    st.caption(f"{text} {hover}")


def how_to_train() -> None:
    """An info box saying that no run is logged yet and how to train one."""
    st.info(
        _(
            "No training run in the MLflow database `{db}` yet. Train a model and its run "
            "appears here:\n\n`{command}`\n\n(leave-one-speaker-out: `--protocol loso --fold 0` "
            "… `--fold 8`; needs the corpus)."
        ).format(db=tracking.db_path(), command=lb.HOW_TO_TRAIN),
        icon=":material/info:",
    )


def unique_labels(labels: pd.Series, run_ids: pd.Series) -> list[str]:
    """Labels made unique (a run id prefix is appended to repeated ones)."""
    dup = labels.duplicated(keep=False)
    return [f"{lab} ({rid[:6]})" if d else lab for lab, rid, d in zip(labels, run_ids, dup)]


def leaderboard_table(table: pd.DataFrame, *, every_run: bool) -> tuple[pd.DataFrame, dict]:
    """``(frame, column_config)`` for ``st.dataframe`` of a summary or a run table.

    Test metrics become percentages (sortable numbers), standard deviations
    text in percentage points (blank for single runs), training time as text (:func:`duration`);
    the start time is shown for single runs only.
    """
    cc = st.column_config
    pct = {
        c: cc.NumberColumn(t, format="%.1f %%", help=h, width=w)
        for c, t, h, w in [
            ("macro_f1", _("macro F1"), _("unweighted mean of the six per-class F1 (test)"), 68),
            ("precision", _("precision"), _("macro precision (test)"), 70),
            ("recall", _("recall"), _("macro recall (test)"), 62),
        ]
    }
    config: dict = {
        "model": cc.TextColumn(_("model"), width=80),
        "input": cc.TextColumn(_("representation"), width=104),
        "protocol": cc.TextColumn(
            _("protocol"),
            width=62,
            help=_("seed: one fixed split; loso: leave one speaker out (one run per held-out speaker)"),
        ),
        "accuracy": cc.ProgressColumn(
            _("test accuracy"), format="%.1f %%", min_value=0.0, max_value=100.0, width=130
        ),
        **pct,
        "ece_after": cc.NumberColumn(
            "ECE",
            format="%.3f",
            width=52,
            help=_("expected calibration error after temperature scaling (lower is better)"),
        ),
        "parameters": cc.TextColumn(
            _("weights"),
            width=62,
            help=_("trainable parameters (an ensemble: the sum over its member networks); —: not logged"),
        ),
        "minutes": cc.TextColumn(_("train time"), width=76),
        "start_time": cc.DatetimeColumn(_("started (UTC)"), format="YYYY-MM-DD HH:mm"),
    }
    df = table.copy()
    for col in ("accuracy", *pct):
        df[col] = 100 * df[col]
    df["minutes"] = [duration(v) for v in df["train_seconds"]]
    df["parameters"] = [compact(v) for v in df["parameters"]]
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True).dt.tz_convert(None)  # UTC
    if every_run:
        cols = [
            "run_name",
            "state",
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
        df["shipped"] = df["shipped"].fillna("—") if "shipped" in df else "—"  # never a literal None
        if "state" not in df:
            df["state"] = df["status"].str.lower()
        df["state"] = df["state"].map(state_name)
        config.update(
            run_name=cc.TextColumn(_("run"), width=200),
            shipped=cc.TextColumn(
                _("shipped as"), width=110, help=_("the shipped model whose card names this run")
            ),
            state=cc.TextColumn(
                _("state"),
                width=80,
                help=_(
                    "finished, training (its process or its newest metric says so), stopped "
                    "(marked RUNNING by MLflow, but no sign of life), failed or killed"
                ),
            ),
            fold=cc.NumberColumn(_("fold"), format="%d", width=40),
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
        std_help = _("standard deviation over the LOSO folds (percentage points)")
        for col in ("new_voices", "seed_split"):  # text: "—" where not measured instead of "None"
            df[col] = [f"{100 * v:.1f} %" if pd.notna(v) else "—" for v in df[col]]
        config.update(
            new_voices=cc.TextColumn(
                _("new voices"),
                width=78,
                help=_(
                    "the recipe's leave-one-speaker-out mean: accuracy on a voice it never heard "
                    "(the number to expect for a new user); —: not measured"
                ),
            ),
            seed_split=cc.TextColumn(
                _("seed split"),
                width=72,
                help=_("the recipe's seed-split accuracy: test clips of the speakers it trained on"),
            ),
            n_folds=cc.NumberColumn(_("folds"), format="%d", width=48, help=_("runs averaged (LOSO folds)")),
            accuracy_pp=cc.TextColumn(_("± acc."), help=std_help, width=62),
            macro_f1_pp=cc.TextColumn("± F1", help=std_help, width=58),
        )
        config["minutes"] = cc.TextColumn(_("train time"), width=76, help=_("mean over the folds"))
    return df[cols], config


@st.cache_data(show_spinner=False)
def loso_speakers() -> dict[int, str]:
    """Fold -> the nEMO speaker it holds out (the shipped ``loso`` split); empty without it."""
    try:
        split = data.load_split("loso")
    except (OSError, SERError):
        return {}
    return {
        int(c.removeprefix("fold")): str(split.loc[split[c] == "test", "speaker"].iloc[0])
        for c in split.columns
        if c.startswith("fold") and (split[c] == "test").any()
    }


def fold_text(protocol: str, fold: float) -> str:
    """`` · fold 7 (speaker SM0 held out)`` for a nEMO LOSO run, `` · fold 3`` for another
    fold, empty for the seed split."""
    if protocol == "seed" or pd.isna(fold):
        return ""
    speaker = loso_speakers().get(int(fold)) if protocol in ("loso", "both_loso") else None
    if speaker:
        return " · " + _("fold {fold} (speaker {speaker} held out)").format(fold=int(fold), speaker=speaker)
    return " · " + _("fold {fold}").format(fold=int(fold))


def compact(value: float) -> str:
    """A parameter count in a few characters: ``2.8 M``, ``38.2 k``, ``534``; ``—`` when NaN."""
    if pd.isna(value):
        return "—"
    for scale, unit in ((1e6, " M"), (1e3, " k")):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.0f}"


def duration(seconds: float) -> str:
    """``4 s``, ``3.4 min``, ``1.2 h``; ``—`` when NaN (a run without a logged training time)."""
    if pd.isna(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def loso_ensemble_rule(runs: pd.DataFrame) -> str | None:
    """How the newest LOSO ensemble run set its weights (its ``search_rule`` parameter, e.g.
    ``equal weights``), None when it logged none (an Optuna search)."""
    ens = runs[(runs["model"] == lb.ENSEMBLE) & (runs["protocol"] == "loso")] if len(runs) else runs
    if ens.empty:
        return None
    return (ens.sort_values("start_time").iloc[-1]["params"] or {}).get("search_rule")


def loso_ensemble_table(table: pd.DataFrame | None, *, rule: str | None = None) -> None:
    """The per-speaker ensembles of the LOSO protocol: mean ± std, then one row per fold;
    ``rule``: :func:`loso_ensemble_rule`."""
    if table is None:
        return
    if rule:
        how = _(
            "**On a new voice (LOSO)**: one ensemble per held-out speaker, its members combined with {rule}"
        ).format(rule=rule)
    else:
        how = _(
            "**On a new voice (LOSO)**: one ensemble per held-out speaker, its weights searched on "
            "another speaker's predictions"
        )
    st.markdown(how)
    acc = 100 * table["accuracy"]
    st.metric(
        _("LOSO ensemble accuracy"),
        f"{acc.mean():.1f} % ± {acc.std(ddof=1) if len(acc) > 1 else 0:.1f}",
        help=ngettext(
            "mean ± standard deviation over {n} held-out speaker",
            "mean ± standard deviation over {n} held-out speakers",
            len(table),
        ).format(n=len(table)),
    )
    members = [c for c in table.columns if c not in ("fold", "accuracy", "macro_f1")]
    st.dataframe(
        table.fillna({m: 0.0 for m in members}),  # a member a fold's search left out weighs 0
        hide_index=True,
        key="leaderboard.loso_ensemble",
        column_config={
            "fold": st.column_config.NumberColumn(_("fold")),
            "accuracy": st.column_config.ProgressColumn(
                _("accuracy"), format="percent", min_value=0, max_value=1
            ),
            "macro_f1": st.column_config.NumberColumn(_("macro F1"), format="percent"),
            **{
                m: st.column_config.NumberColumn(_("weight {member}").format(member=m), format="percent")
                for m in members
            },
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


def ensemble_overview(row: pd.Series) -> None:
    """What an ensemble run has instead of training curves: its members with their weights,
    its test metrics, and how its weights were set."""
    params = row["params"] if isinstance(row["params"], dict) else {}
    weights = {
        c.removeprefix(lb.WEIGHT_PREFIX): float(row[c])
        for c in row.index
        if c.startswith(lb.WEIGHT_PREFIX) and pd.notna(row[c])
    }
    try:
        bags = json.loads(params.get("refit_seeds") or "{}")
    except ValueError:
        bags = {}
    st.markdown(_("**Members and weights**"))
    table = pd.DataFrame({"member": list(weights), "weight": list(weights.values())})
    table = table.sort_values("weight", ascending=False, kind="stable")
    if bags:
        table["seeds"] = [len(bags.get(m, [0])) for m in table["member"]]
    st.dataframe(
        table,
        hide_index=True,
        key="leaderboard.inspect.members",
        column_config={
            "member": st.column_config.TextColumn(_("member")),
            "weight": st.column_config.ProgressColumn(
                _("weight"), format="percent", min_value=0, max_value=1
            ),
            "seeds": st.column_config.NumberColumn(
                _("seeds"), help=_("networks of this member, each trained with another seed (their mean)")
            ),
        },
    )
    c = st.columns(3)
    for col, (label, key) in zip(
        c, [(_("test accuracy"), "accuracy"), (_("macro F1"), "macro_f1"), ("ECE", "ece_after")]
    ):
        v = row.get(key)
        shown = "—" if v is None or pd.isna(v) else (f"{v:.3f}" if key == "ece_after" else f"{100 * v:.1f} %")
        col.metric(label, shown)
    rule = params.get("search_rule")
    how = (
        _("its members' calibrated probabilities are combined with {rule}").format(rule=rule)
        if rule
        else _(
            "the weights of its members' calibrated log-probabilities were searched (Optuna) "
            "on their validation predictions"
        )
    )
    if params.get("refit_on_train_val") == "True":
        st.caption(
            _(
                "An ensemble is not trained epoch by epoch, so it has no training curves: {how}; its "
                "test part was scored with each member retrained on training + validation clips."
            ).format(how=how)
        )
    else:
        st.caption(
            _("An ensemble is not trained epoch by epoch, so it has no training curves: {how}.").format(
                how=how
            )
        )


def closed_form_curves(curves: pd.DataFrame, best_step: float) -> tuple[pd.DataFrame, float]:
    """A closed-form run's steps (one per L2 strength tried) put on their strength C:
    ``(curves with epoch = C, the C kept)``; the C kept is NaN when not logged."""
    c = curves[curves["metric"] == "C"].set_index("epoch")["value"]
    out = curves[curves["metric"] != "C"].copy()
    out["epoch"] = out["epoch"].map(c)
    out = out.dropna(subset=["epoch"])
    kept = c.get(int(best_step), float("nan")) if pd.notna(best_step) else float("nan")
    return out, float(kept)
