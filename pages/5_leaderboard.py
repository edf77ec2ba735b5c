"""Leaderboard page: every training run of the MLflow store, ranked, inspected, compared."""

from __future__ import annotations

import streamlit as st

from ser_core import figures
from ser_core import leaderboard as lb
from ui import errors, leaderboard, navigation, state

navigation.ensure_navigation()
st.title("Leaderboard")
st.caption(
    "Every training run logged to MLflow, best on new voices first. Seed split: one fixed "
    "held-out test part; LOSO: leave one speaker out, mean ± standard deviation over "
    "the folds (one run per held-out speaker)."
)


# ------------------------------------------------------------------ 1. ranking
@st.fragment
def ranking() -> None:
    """Filters, the ranking table, accuracy by representation and per-class F1."""
    with errors.report_errors():
        runs = leaderboard.leaderboard_runs()
        c = st.columns(4, vertical_alignment="bottom")
        picked: dict[str, list[str]] = {}
        for col, (key, column, label) in zip(
            c,
            [
                (state.KEY_LB_MODELS, "model", "Model"),
                (state.KEY_LB_INPUTS, "input", "Representation"),
                (state.KEY_LB_PROTOCOLS, "protocol", "Protocol"),
            ],
        ):
            options = sorted(runs[column].unique())
            state.keep_valid(key, options)
            picked[column] = col.multiselect(label, options, key=key, placeholder=f"All {label.lower()}s")
        every = c[3].toggle("Every run (LOSO folds apart)", key=state.KEY_LB_EVERY_RUN)
        filtered = any(picked.values())
        chosen = lb.filter_runs(
            runs, models=picked["model"], inputs=picked["input"], protocols=picked["protocol"]
        )
        summary = lb.by_new_voices(lb.summarize(chosen))
        running = chosen[chosen["accuracy"].isna()]
        if len(running):
            st.caption(
                f"Still training or without test metrics (listed under *Every run*): "
                f"{', '.join(running['run_name'])}."
            )
        table = chosen if every else summary
        if table.empty:
            if filtered:
                st.info("No finished run matches these filters.", icon=":material/filter_alt_off:")
            else:
                st.info(
                    "No run has finished yet; follow a training below under *Inspect a run*.",
                    icon=":material/hourglass_top:",
                )
            return
        frame, config = leaderboard.leaderboard_table(table, every_run=every)
        st.dataframe(frame, column_config=config, hide_index=True, key="leaderboard.table")
        if not every:
            st.caption(
                "Best on **new voices** first: a recipe's leave-one-speaker-out mean, the accuracy to "
                "expect for a voice no model heard. The **seed split** tests other clips of the nine "
                "speakers the model trained on, so it is higher; recipes never run on LOSO come last."
            )
        if not summary.empty:
            st.subheader("Accuracy by representation")
            st.plotly_chart(figures.accuracy_figure(summary), key="leaderboard.accuracy")
            st.caption("Error bars: standard deviation over the LOSO folds.")
        done = table[table["accuracy"].notna()]
        if len(done):
            st.subheader("Per-class F1")
            labels = (
                leaderboard.unique_labels(done["run_name"], done["run_id"])
                if every
                else done["label"].tolist()
            )
            st.plotly_chart(figures.f1_heatmap(done, labels=labels), key="leaderboard.f1")


st.header("Ranking", divider="gray")
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
        state.keep_valid(state.KEY_LB_RUN, ids)
        rid = st.selectbox("Run", ids, key=state.KEY_LB_RUN, format_func=lambda r: lb.run_label(runs, r))
        row = runs.set_index("run_id").loc[rid]
        fold = f" · fold {int(row['fold'])}" if row["protocol"] == "loso" else ""
        st.caption(
            f"**{row['model']}** on **{row['input']}** · {row['protocol']}{fold} · "
            f"status {row['status']} · started {row['start_time']:%Y-%m-%d %H:%M} UTC"
        )
        left, right = st.columns(2)
        left.markdown("**Test confusion matrix**")
        cm = lb.confusion(runs, rid)
        if cm is None:
            left.info(
                "No test confusion matrix yet: the run has not finished.", icon=":material/hourglass_top:"
            )
        else:
            left.plotly_chart(figures.confusion_figure(cm), key="leaderboard.confusion")
        right.markdown("**Training curves**")
        curves = leaderboard.run_curves(rid)
        if curves.empty:
            right.info("This run logged no per-epoch curves.", icon=":material/info:")
        else:
            right.plotly_chart(
                figures.curves_figure(curves, best_epoch=row["best_epoch"]), key="leaderboard.curves"
            )
            right.caption("Dashed line: the epoch whose weights were kept (best validation accuracy).")


st.header("Inspect a run", divider="gray")
inspect_run()

# ------------------------------------------------------------------ 3. ensemble
st.header("Ensemble", divider="gray")
with errors.report_errors():
    weights = lb.ensemble_weights(runs)
    if weights is None:
        st.info("No ensemble has been trained yet.", icon=":material/info:")
    else:
        st.plotly_chart(figures.ensemble_figure(weights), key="leaderboard.ensemble")
        st.caption("Weight of each member model's probabilities in the ensemble (sum 100 %).")
        importance = lb.ensemble_importance(runs)
        if importance is not None:
            st.markdown("**What mattered in the Optuna search** (the shipped ensemble, else the newest)")
            st.plotly_chart(figures.importance_figure(importance), key="leaderboard.importance")
    leaderboard.loso_ensemble_table(lb.loso_ensemble(runs))

# ------------------------------------------------------------------ 3b. adaptation
st.header("Adapting to a new voice", divider="gray")
with errors.report_errors():
    curve = lb.adaptation(runs)
    if curve is None:
        st.info(
            "No leave-one-speaker-out run of a speaker-normalised model yet: train one with "
            "`python -m ser_core train --norm speaker --protocol loso --fold K`.",
            icon=":material/info:",
        )
    else:
        st.plotly_chart(figures.adaptation_figure(curve), key="leaderboard.adaptation")
        st.caption(
            "Each held-out speaker's clips are split in two halves: the statistics come "
            "from k seconds of one half (no labels), the other half is scored, then the "
            "halves swap. 0 s: corpus statistics. Error bars: standard deviation over "
            "speakers."
        )


# ------------------------------------------------------------------ 3c. conditions
st.header("Real rooms, microphones and codecs", divider="gray")
with errors.report_errors():
    leaderboard.conditions_section()


# ------------------------------------------------------------------ 4. compare
@st.fragment
def compare_runs() -> None:
    """Two runs side by side: differing parameters and metrics, per-class F1."""
    with errors.report_errors():
        runs = leaderboard.leaderboard_runs()
        ids = lb.ranked_run_ids(runs)
        if len(ids) < 2:
            st.info("Comparing needs at least two runs.", icon=":material/info:")
            return
        for key in (state.KEY_LB_COMPARE_A, state.KEY_LB_COMPARE_B):
            state.keep_valid(key, ids)
        c = st.columns(2)
        a = c[0].selectbox(
            "Run A", ids, index=0, key=state.KEY_LB_COMPARE_A, format_func=lambda r: lb.run_label(runs, r)
        )
        b = c[1].selectbox(
            "Run B", ids, index=1, key=state.KEY_LB_COMPARE_B, format_func=lambda r: lb.run_label(runs, r)
        )
        table = lb.compare(runs, a, b)
        left, right = st.columns([6, 5])
        left.dataframe(
            leaderboard.compare_styler(table), hide_index=True, height=560, key="leaderboard.compare.table"
        )
        left.caption(f"Highlighted: the {int(table['differs'].sum())} fields that differ.")
        right.markdown("**Per-class test F1**")
        right.plotly_chart(figures.compare_f1_figure(runs, run_a=a, run_b=b), key="leaderboard.compare.f1")


st.header("Compare two runs", divider="gray")
compare_runs()
