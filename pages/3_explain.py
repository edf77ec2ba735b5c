"""Explainability page: Grad-CAM, LRP, SmoothGrad and LIME side by side over the mel
spectrogram, each scored by a deletion test, and the top bins made audible.

The uploaded clip reaches the page only through ``st.session_state[state.KEY_XAI_UPLOAD]``
(set by the uploader's ``on_change``), so tests can put a clip there directly.
"""

from __future__ import annotations

import streamlit as st

from ser_core import figures
from ser_core.config import EMOTIONS
from ser_core.explain import EXPLAINERS, chance_level, scorable
from ui import clips, errors, explain, explain_picker, jobs, loaders, models, navigation, state

navigation.ensure_navigation()
st.title("Explain (XAI)")
st.caption(
    "Which time-frequency regions of a clip drive the model's decision? Four "
    "explanation methods side by side, each checked by a deletion test: remove the "
    "regions it calls most relevant and see how fast the model's confidence drops."
)

pred = models.model_picker(explain.xai_models(), key=state.KEY_XAI_MODEL, backend="torch")
model_name = pred.model_name

# ------------------------------------------------------------------ the clip
meta = loaders.metadata()
sources = list(explain.XAI_SOURCES) if meta is not None else ["upload"]
state.keep_valid(state.KEY_XAI_SOURCE, sources)
source = st.radio(
    "Input", sources, format_func=explain.XAI_SOURCES.get, horizontal=True, key=state.KEY_XAI_SOURCE
)
if source == "corpus" and meta is not None:
    clip = explain_picker.xai_corpus_picker(meta, model_name)
else:
    if meta is None:
        st.caption("No nEMO corpus found (set `NEMO_DIR` to pick corpus clips): upload a file.")
    st.file_uploader(
        "Audio file",
        type=clips.UPLOAD_TYPES,
        key=state.KEY_XAI_UPLOADER,
        on_change=explain.xai_store_upload,
        help=clips.upload_help(),
    )
    clip = st.session_state.get(state.KEY_XAI_UPLOAD)
if clip is None:
    st.info("Pick a corpus clip or upload a recording to explain its prediction.", icon=":material/info:")
    st.stop()

# the queue place is held from now, before the clip is decoded and predicted, so a class
# uploading at once sees its places at once and is served in that order
place, release_place = None, lambda: None
if (clip["id"], model_name) not in st.session_state.setdefault(state.KEY_XAI_EXPLAINED, set()):
    place, release_place = jobs.hold_place((clip["id"], model_name), what="Explanations")
inp = None
with errors.report_errors():
    y = explain.xai_waveform(clip)
    inp = explain.xai_input(clip["id"], model_name, y, pred)
if inp is None:
    release_place()
    st.stop()

predicted = int(inp.probs.argmax())
targets = [explain.XAI_PREDICTED, *EMOTIONS]
target_name = st.selectbox(
    "Explain the class",
    targets,
    key=state.KEY_XAI_TARGET,
    format_func=lambda t: f"predicted: {EMOTIONS[predicted]}" if t == explain.XAI_PREDICTED else t,
)
target = predicted if target_name == explain.XAI_PREDICTED else EMOTIONS.index(target_name)

n_classes = len(inp.probs)
scored = scorable(float(inp.probs[target]), n_classes=n_classes)
left, right = st.columns([2, 3], gap="large")
with left, st.container(key="explain-verdict"):
    st.markdown(f"**{clip['name']}**")
    if clip["source"] == "corpus":
        st.markdown(
            f"Acted emotion: **{clip['emotion']}** · speaker {clip['speaker']}  \n"
            + explain_picker.part_sentence(clip.get("part"), model_name)
        )
    st.markdown(f"### Prediction: {EMOTIONS[predicted]}")
    st.markdown(
        f"with **{explain.pct(inp.probs[predicted])}** probability; explaining "
        f"**{EMOTIONS[target]}** ({explain.pct(inp.probs[target])})"
    )
    if len(y) > len(inp.window):
        st.caption(
            f"The clip is {len(y) / pred.cfg.sr:.1f} s long: the model sees, and the "
            "maps explain, its centre 3 s."
        )
    st.audio(clips.wav_bytes(inp.window), format="audio/wav")
right.plotly_chart(
    figures.probability_figure(inp.probs, unsure_below=pred.unsure_below, height=260), key="explain.probs"
)
if not scored:
    with st.container(key="explain-rejected"):
        st.warning(
            f"{model_name} gives **{EMOTIONS[target]}** only {explain.pct(inp.probs[target])} on "
            f"this clip, below chance ({explain.pct(chance_level(n_classes))}). The maps still "
            f"show what evidence for {EMOTIONS[target]} it finds, but the deletion test cannot "
            "check them: a probability near 0 has nowhere to fall, so any map would get a "
            "near-perfect AUC. Its scores are n/a here; explain the predicted class to compare "
            "the methods.",
            icon=":material/warning:",
        )

with st.expander("Settings: cost of the explanations", icon=":material/tune:"):
    explain.xai_settings()
options = explain.xai_options()
okey = repr(options)

# ------------------------------------------------------------------ the maps
request = explain.XaiRequest(clip["id"], model_name, target, inp.x, pred.module, options, place)
maps: dict = {}
with errors.report_errors():
    for method, ex in EXPLAINERS.items():
        maps[method] = explain.xai_map(request, method, what=f"Computing {ex.title}")
if len(maps) < len(EXPLAINERS):
    release_place()
    st.stop()

st.subheader("Where the model looks")


@st.fragment
def maps_section() -> None:
    """The four heatmaps; the scale toggle and opacity slider rerun only this fragment."""
    c1, c2 = st.columns([1, 2])
    shared = c1.toggle(
        "One shared colour scale",
        value=True,
        key=state.KEY_XAI_SHARED,
        help="On: every map divided by its largest magnitude (-1..1), one "
        "colour bar. Off: each map in its own units.",
    )
    opacity = c2.slider("Opacity of the maps", 0.0, 1.0, 0.8, 0.05, key=state.KEY_XAI_OPACITY)
    fig = figures.maps_figure(
        {k: figures.display_map(v) for k, v in maps.items()},
        mel=inp.background,
        shared=shared,
        opacity=opacity,
        y_label=inp.y_label,
    )
    st.plotly_chart(fig, key="explain.maps")
    st.caption(
        f"Drawn over what the model reads: {explain.input_name(pred.representation)}. "
        "Red: evidence for the explained class, blue: against it (LRP, LIME); Grad-CAM "
        "and SmoothGrad are unsigned. Grad-CAM is coarse (the last block's grid), LIME "
        "works on a grid of time-frequency segments."
    )


maps_section()

# ------------------------------------------------------------------ deletion test
st.subheader("Deletion test")
st.caption(
    "The most relevant bins are removed first (set to the training mean, 0 in the "
    "normalised input), in steps up to 100 %; a good map makes the probability fall "
    "fast, faster than the dashed random order. Scores: area under the curve (lower is "
    "better) and the drop in percentage points (pt) after removing 10 % and 20 % (higher "
    "is better). A drop cannot exceed the starting probability: compare methods on one "
    f"clip and class; below chance (one in {len(EMOTIONS)}) they are n/a."
)
curves = {}
with errors.report_errors():
    for method in [*maps, "random"]:
        curves[method] = explain.xai_curve(
            request,
            method,
            maps.get(method),
            temperature=pred.temperature,
            what=f"Deletion test of {figures.method_title(method)}",
        )
release_place()
if len(curves) == len(maps) + 1:
    st.session_state[state.KEY_XAI_EXPLAINED].add((clip["id"], model_name))
if curves:
    c1, c2 = st.columns([1, 1], gap="large")
    c1.plotly_chart(figures.deletion_figure(curves, n_classes=n_classes), key="explain.deletion")
    with c2, st.container(key="explain-scores"):
        st.dataframe(
            explain.xai_scores_text(explain.xai_scores_table(curves, n_classes=n_classes)),
            hide_index=True,
            column_config=explain.xai_scores_config(),
        )

# ------------------------------------------------------------------ listening
st.subheader("Listen to what the model used")


@st.fragment
def listen_section() -> None:
    """Griffin-Lim inversion of only the top-k % bins of one map, next to the original."""
    if pred.representation != "mel":
        st.info(
            f"Listening needs a model on the mel spectrogram; {model_name} uses {pred.representation}.",
            icon=":material/info:",
        )
        return
    c1, c2 = st.columns([1, 2])
    method = c1.selectbox("Map", list(maps), key=state.KEY_XAI_LISTEN, format_func=figures.method_title)
    top_k = c2.slider("Keep the most relevant bins (%)", 1, 100, 20, 1, key=state.KEY_XAI_TOPK)
    with errors.report_errors(), st.spinner("Inverting the spectrogram (Griffin-Lim)…"):
        full = explain.xai_listen_wav(clip["id"], model_name, "all", target, okey, 1.0, inp.mel, None)
        part = explain.xai_listen_wav(
            clip["id"], model_name, method, target, okey, top_k / 100, inp.mel, maps[method]
        )
        a, b, c = st.columns(3)
        a.markdown("**Original** (the 3 s the model sees)")
        a.audio(clips.wav_bytes(inp.window), format="audio/wav")
        b.markdown("**All bins**, through Griffin-Lim")
        b.audio(full, format="audio/wav")
        c.markdown(f"**Top {top_k} % of {figures.method_title(method)}**")
        c.audio(part, format="audio/wav")
        st.caption(
            "The mel spectrogram is inverted with Griffin-Lim (phase estimated), so "
            "compare the top-k audio with the all-bins reconstruction, not with the "
            "original; removed bins are set to silence."
        )


listen_section()

# ------------------------------------------------------------------ dataset level
st.subheader("Across the test set")
table = None
with errors.report_errors():
    table = explain.xai_dataset_table(model_name)
eval_cmd = (
    f"python -m ser_core xai-eval --model {model_name} --n 300 --out artifacts/xai/deletion_{model_name}.json"
)
if table is None:
    st.info(
        f"No dataset-level result yet: `{eval_cmd}` runs the deletion test on a stratified "
        "sample of the seed test split.",
        icon=":material/info:",
    )
else:
    rows, info = table
    opts = info.get("options", {})
    table_model = info.get("model", "?")
    if table_model != model_name:
        with st.container(key="explain-dataset-other"):
            st.info(
                f"This table is for **{table_model}**, not for {model_name} chosen above. "
                f"It is computed ahead of time because it is slow: every method on "
                f"{info.get('n_clips', '?')} clips{explain.took(info)}. Only {table_model}, the "
                f"reference network of this page, has one. To make it for {model_name}: "
                f"`{eval_cmd}`.",
                icon=":material/info:",
            )
    st.caption(
        f"**{table_model}** on {info.get('n_clips', '?')} clips of the "
        f"{info.get('protocol', 'seed')} test split (stratified by emotion), explaining "
        f"each clip's predicted class (always above chance, so every clip is scored); LIME "
        f"{opts.get('lime_samples', '?')} samples, {opts.get('deletion_steps', '?')} deletion "
        f"steps. Made by `{info.get('command') or 'python -m ser_core xai-eval'}`."
    )
    overall = rows[rows["emotion"] == "all"].assign(method=lambda d: d["method"].map(figures.method_title))
    with st.container(key="explain-dataset"):
        st.dataframe(
            explain.xai_scores_text(explain.in_points(overall[["method", "n", "auc", "drop10", "drop20"]])),
            hide_index=True,
            column_config={
                **explain.xai_scores_config(),
                "n": st.column_config.NumberColumn("clips", width=50),
            },
        )
    score = st.radio(
        "Per emotion (true label)",
        list(explain.XAI_SCORES),
        horizontal=True,
        key=state.KEY_XAI_TABLE_SCORE,
        format_func=lambda s: {"auc": "AUC", "drop10": "drop @ 10 %", "drop20": "drop @ 20 %"}[s],
    )
    per = explain.in_points(rows[rows["emotion"] != "all"])
    per = per.pivot(index="method", columns="emotion", values=score)
    per = per.reindex([m for m in [*EXPLAINERS, "random"] if m in per.index])
    per.index = per.index.map(figures.method_title)
    st.dataframe(
        per[[e for e in EMOTIONS if e in per.columns]].style.format(
            "{:.3f}" if score == "auc" else "{:.1f} pt"
        )
    )
    st.caption(f"Per emotion: {explain.XAI_SCORES[score]}.")
