"""Leaderboard page: every training run of the MLflow store, ranked, inspected, compared."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser_core import figures, run_choice
from ser_core import leaderboard as lb
from ui import errors, leaderboard, navigation, state
from ui.i18n import _, ngettext

navigation.ensure_navigation()
st.title(_("Leaderboard"))
st.caption(
    _(
        "Every training run logged to MLflow, best on new voices first. Seed split: one fixed "
        "held-out test part; LOSO: leave one speaker out, mean ± standard deviation over "
        "the folds (one run per held-out speaker)."
    )
)

#: The ranking's filters: (widget key, column, label, placeholder).
FILTERS = [
    (state.KEY_LB_MODELS, "model", _("Model"), _("All models")),
    (state.KEY_LB_INPUTS, "input", _("Representation"), _("All representations")),
    (state.KEY_LB_PROTOCOLS, "protocol", _("Protocol"), _("All protocols")),
]


# ------------------------------------------------------------------ 1. ranking
@st.fragment
def ranking() -> None:
    """Filters, the ranking table, accuracy by representation and per-class F1."""
    with errors.report_errors():
        runs = leaderboard.leaderboard_runs()
        c = st.columns(4, vertical_alignment="bottom")
        picked: dict[str, list[str]] = {}
        for col, (key, column, label, placeholder) in zip(c, FILTERS):
            options = sorted(runs[column].unique())
            state.keep_valid(key, options)
            shown = figures.protocol_name if column == "protocol" else str
            picked[column] = col.multiselect(
                label, options, key=key, placeholder=placeholder, format_func=shown
            )
        every = c[3].toggle(_("Every run (LOSO folds apart)"), key=state.KEY_LB_EVERY_RUN)
        filtered = any(picked.values())
        chosen = lb.filter_runs(
            runs, models=picked["model"], inputs=picked["input"], protocols=picked["protocol"]
        )
        summary = lb.by_new_voices(lb.summarize(chosen))
        unfinished_notes(chosen)
        table = chosen if every else summary
        if table.empty:
            if filtered:
                st.info(_("No finished run matches these filters."), icon=":material/filter_alt_off:")
            else:
                st.info(
                    _("No run has finished yet; follow a training below under *Inspect a run*."),
                    icon=":material/hourglass_top:",
                )
            return
        frame, config = leaderboard.leaderboard_table(table, every_run=every)
        st.dataframe(frame, column_config=config, hide_index=True, key="leaderboard.table")
        if not every:
            ranking_note(summary)
        if not summary.empty:
            accuracy_chart(summary)
        done = table[table["accuracy"].notna()]
        if len(done):
            st.subheader(_("Per-class F1"))
            names = run_choice.run_labels(leaderboard.shown_states(runs))
            labels = [names[r] for r in done["run_id"]] if every else done["label"].tolist()
            st.plotly_chart(figures.f1_heatmap(done, labels=labels), key="leaderboard.f1")


def ranking_note(summary) -> None:
    """How the summary table is ordered (and what the RAVDESS protocols are, when shown)."""
    text = _(
        "Best on **new voices** first: a recipe's leave-one-speaker-out mean, the accuracy to "
        "expect for a voice no model heard. The **seed split** tests other clips of the nine "
        "speakers the model trained on, so it is higher; recipes never run on LOSO come last."
    )
    if summary["protocol"].isin(["both_loso", "ravdess_lao"]).any():
        text += " " + _(
            "RAVDESS (English actors): *both_loso* adds all its actors to the training "
            "part of nEMO's LOSO folds; *ravdess_lao* holds four of its actors out per fold."
        )
    st.caption(text)


def unfinished_notes(chosen) -> None:
    """Name the runs training now, and those that ended (or died) without a test result."""
    training = chosen[chosen["state"] == "training"]
    dead = chosen[(chosen["state"] != "training") & chosen["accuracy"].isna()]
    if len(training):
        runs = "; ".join(f"{n} ({w})" for n, w in zip(training["run_name"], training["state_note"]))
        st.caption(
            _("Training now (listed under *Every run*, ranked once tested): {runs}.").format(runs=runs)
        )
    if len(dead):
        runs = "; ".join(f"{n}: {w}" for n, w in zip(dead["run_name"], dead["state_note"]))
        st.caption(_("Ended without a test result, not ranked: {runs}.").format(runs=runs))


def accuracy_chart(summary) -> None:
    """One horizontal bar per recipe on the chosen protocol, best on top."""
    protocols = [p for p in ("loso", "seed") if p in set(summary["protocol"])]
    protocols += sorted(set(summary["protocol"]) - set(protocols))
    state.keep_valid(state.KEY_LB_ACC_PROTOCOL, protocols)
    st.session_state.setdefault(state.KEY_LB_ACC_PROTOCOL, protocols[0])
    st.subheader(_("Accuracy by recipe"))
    protocol = st.radio(
        _("Protocol of the chart"),
        protocols,
        horizontal=True,
        key=state.KEY_LB_ACC_PROTOCOL,
        format_func=figures.protocol_name,
    )
    st.plotly_chart(figures.accuracy_figure(summary, protocol=protocol), key="leaderboard.accuracy")
    if (summary.loc[summary["protocol"] == protocol, "n_folds"] > 1).any():
        st.caption(
            _(
                "One bar per recipe (model · representation), best on top. Error bars: standard "
                "deviation over the held-out speakers (one LOSO fold each)."
            )
        )
    else:
        st.caption(_("One bar per recipe (model · representation), best on top."))


st.header(_("Ranking"), divider="gray")
runs = None
with errors.report_errors():
    runs = leaderboard.leaderboard_runs()
    if runs.empty:
        leaderboard.how_to_train()
if runs is None or runs.empty:
    st.stop()
ranking()


# ------------------------------------------------------------------ 2. one run
@st.fragment
def inspect_run() -> None:
    """Confusion matrix and training curves of one run (LOSO folds included)."""
    with errors.report_errors():
        runs = leaderboard.leaderboard_runs()
        ids = lb.ranked_run_ids(runs)
        labels = run_choice.run_labels(leaderboard.shown_states(runs))
        state.keep_valid(state.KEY_LB_RUN, ids)
        st.session_state.setdefault(state.KEY_LB_RUN, run_choice.default_inspect(runs))
        rid = st.selectbox(
            _("Run"),
            ids,
            key=state.KEY_LB_RUN,
            format_func=labels.get,
            help=_(
                "Best test accuracy first. Opens on the recipe best on new voices among those with "
                "training curves: its leave-one-speaker-out fold nearest the recipe's mean."
            ),
        )
        row = runs.set_index("run_id").loc[rid]
        run_caption(row)
        left, right = st.columns(2)
        left.markdown(_("**Test confusion matrix**"))
        cm = lb.confusion(runs, rid)
        if cm is None:
            left.info(
                _("No test confusion matrix yet: the run is still training.")
                if row["state"] == "training"
                else _("No test confusion matrix: the run ended before its test."),
                icon=":material/hourglass_top:",
            )
        else:
            left.plotly_chart(figures.confusion_figure(cm), key="leaderboard.confusion")
        with right:
            run_history(rid, row)


def run_caption(row) -> None:
    """What a run is: model, input, protocol and fold, state, start time."""
    state_text = leaderboard.state_name(row["state"])
    if row["state_note"]:
        state_text = f"{state_text} ({row['state_note']})"
    st.caption(
        _("**{model}** on **{input}** · {protocol}{fold} · {state} · started {start} UTC").format(
            model=row["model"],
            input=row["input"],
            protocol=figures.protocol_name(row["protocol"]),
            fold=leaderboard.fold_text(row["protocol"], row["fold"]),
            state=state_text,
            start=f"{row['start_time']:%Y-%m-%d %H:%M}",
        )
    )


def run_history(rid: str, row) -> None:
    """Training curves of a network, the L2 sweep of a closed-form fit, or what an ensemble has."""
    kind = run_choice.history_kind(row["model"])
    if kind is None:
        leaderboard.ensemble_overview(row)
        return
    curves = leaderboard.run_curves(rid)
    st.markdown(_("**Training curves**") if kind == "epochs" else _("**One fit per L2 strength**"))
    if curves.empty:
        st.info(_("This run logged no per-epoch curves."), icon=":material/info:")
        return
    best, x_title = row["best_epoch"], _("epoch")
    if kind == "grid":
        curves, best = leaderboard.closed_form_curves(curves, best)
        x_title = _("L2 strength C (inverse regularisation)")
    fig = figures.curves_figure(curves, best_epoch=best, x_title=x_title, log_x=kind == "grid")
    st.plotly_chart(fig, key="leaderboard.curves")
    if pd.notna(best):
        st.caption(
            _("Dashed line: the strength C kept (best validation accuracy).")
            if kind == "grid"
            else _("Dashed line: the epoch whose weights were kept (best validation accuracy).")
        )
    elif row["state"] == "training":
        st.caption(_("Still training: the epoch to keep is chosen when it ends."))


st.header(_("Inspect a run"), divider="gray")
inspect_run()

# ------------------------------------------------------------------ 3. ensemble
st.header(_("Ensemble"), divider="gray")
with errors.report_errors():
    weights = lb.ensemble_weights(runs)
    if weights is None:
        st.info(_("No ensemble has been trained yet."), icon=":material/info:")
    else:
        st.plotly_chart(figures.ensemble_figure(weights), key="leaderboard.ensemble")
        st.caption(_("Weight of each member model's probabilities in the ensemble (sum 100 %)."))
        importance = lb.ensemble_importance(runs)
        if importance is not None:
            st.markdown(_("**What mattered in the Optuna search** (the shipped ensemble, else the newest)"))
            st.plotly_chart(figures.importance_figure(importance), key="leaderboard.importance")
    leaderboard.loso_ensemble_table(lb.loso_ensemble(runs), rule=leaderboard.loso_ensemble_rule(runs))

# ------------------------------------------------------------------ 3b. adaptation
st.header(_("Adapting to a new voice"), divider="gray")
with errors.report_errors():
    curve = lb.adaptation(runs)
    if curve is None:
        st.info(
            _(
                "No leave-one-speaker-out run of a speaker-normalised model yet: train one with "
                "`python -m ser_core train --norm speaker --protocol loso --fold K`."
            ),
            icon=":material/info:",
        )
    else:
        st.plotly_chart(figures.adaptation_figure(curve), key="leaderboard.adaptation")
        st.caption(
            _(
                "Each held-out speaker's clips are split in two halves: the statistics come "
                "from k seconds of one half (no labels), the other half is scored, then the "
                "halves swap. 0 s: corpus statistics. Error bars: standard deviation over "
                "speakers."
            )
        )


# ------------------------------------------------------------------ 3c. conditions
st.header(_("Real rooms, microphones and codecs"), divider="gray")
with errors.report_errors():
    leaderboard.conditions_section()


# ------------------------------------------------------------------ 4. compare
@st.fragment
def compare_runs() -> None:
    """Two runs side by side: differing parameters and metrics, per-class F1."""
    with errors.report_errors():
        runs = leaderboard.leaderboard_runs()
        ids = lb.ranked_run_ids(runs)
        pair = run_choice.default_compare(runs)
        if len(ids) < 2 or pair is None:
            st.info(_("Comparing needs at least two runs."), icon=":material/info:")
            return
        shown = leaderboard.shown_states(runs)
        labels = run_choice.run_labels(shown)
        c = st.columns(2)
        for key, default in zip((state.KEY_LB_COMPARE_A, state.KEY_LB_COMPARE_B), pair):
            state.keep_valid(key, ids)
            st.session_state.setdefault(key, default)
        tip = _(
            "Opens on the recipe best on new voices, on the seed split (A), against the best "
            "seed-split run of another recipe (B): both tested on the same clips."
        )
        a = c[0].selectbox(_("Run A"), ids, key=state.KEY_LB_COMPARE_A, format_func=labels.get, help=tip)
        b = c[1].selectbox(_("Run B"), ids, key=state.KEY_LB_COMPARE_B, format_func=labels.get, help=tip)
        table = lb.compare(shown, a, b, labels=(labels[a], labels[b]))
        left, right = st.columns([6, 5])
        left.dataframe(
            leaderboard.compare_styler(table),
            hide_index=True,
            height=560,
            key="leaderboard.compare.table",
            column_config={  # both runs' values in view, whatever the labels' length
                "field": st.column_config.TextColumn(_("field"), width=120),
                **{c: st.column_config.TextColumn(width=190) for c in table.columns[1:3]},
            },
        )
        n = int(table["differs"].sum())
        left.caption(
            ngettext(
                "Highlighted: the {n} field that differs.", "Highlighted: the {n} fields that differ.", n
            ).format(n=n)
        )
        right.markdown(_("**Per-class test F1**"))
        right.plotly_chart(
            figures.compare_f1_figure(runs, run_a=a, run_b=b, labels=(labels[a], labels[b])),
            key="leaderboard.compare.f1",
        )


st.header(_("Compare two runs"), divider="gray")
compare_runs()
