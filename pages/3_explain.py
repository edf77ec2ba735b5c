"""Explainability page: Grad-CAM, LRP, SmoothGrad and LIME side by side over the mel
spectrogram, each scored by a deletion test, and the top bins made audible.

The uploaded clip reaches the page only through ``st.session_state[state.KEY_XAI_UPLOAD]``
(set by the uploader's ``on_change``), so tests can put a clip there directly.
"""

from __future__ import annotations

import streamlit as st

from ser_core import figures
from ser_core.config import EMOTIONS
from ser_core.explain import EXPLAINERS, MASK_TOP_K, decoder_models, explainer_names, get_explainer
from ser_core.i18n import emotion_name, emotion_names
from ui import clips, errors, explain, explain_picker, jobs, loaders, models, navigation, state
from ui.i18n import _, ngettext

navigation.ensure_navigation()
st.title(_("Explain (XAI)"))
st.caption(
    _(
        "Which time-frequency regions of a clip drive the model's decision? Up to five "
        "explanation methods side by side, each checked by a deletion test: remove the "
        "regions it calls most relevant and see how fast the model's confidence drops."
    )
)

pred = models.model_picker(explain.xai_models(), key=state.KEY_XAI_MODEL, backend="torch")
model_name = pred.model_name

# ------------------------------------------------------------------ the clip
meta = loaders.metadata()
sources = list(explain.XAI_SOURCES) if meta is not None else ["upload"]
state.keep_valid(state.KEY_XAI_SOURCE, sources)
source = st.radio(
    _("Input"),
    sources,
    format_func=lambda s: _(explain.XAI_SOURCES[s]),
    horizontal=True,
    key=state.KEY_XAI_SOURCE,
)
if source == "corpus" and meta is not None:
    clip = explain_picker.xai_corpus_picker(meta, model_name)
else:
    if meta is None:
        st.caption(_("No nEMO corpus found (set `NEMO_DIR` to pick corpus clips): upload a file."))
    st.file_uploader(
        _("Audio file"),
        type=clips.UPLOAD_TYPES,
        key=state.KEY_XAI_UPLOADER,
        on_change=explain.xai_store_upload,
        help=clips.upload_help(),
    )
    clip = st.session_state.get(state.KEY_XAI_UPLOAD)
if clip is None:
    st.info(_("Pick a corpus clip or upload a recording to explain its prediction."), icon=":material/info:")
    st.stop()

# the queue place is held from now, before the clip is decoded and predicted, so a class
# uploading at once sees its places at once and is served in that order
place, release_place = None, lambda: None
if (clip["id"], model_name) not in st.session_state.setdefault(state.KEY_XAI_EXPLAINED, set()):
    place, release_place = jobs.hold_place((clip["id"], model_name), what=_("Explanations"))
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
    _("Explain the class"),
    targets,
    key=state.KEY_XAI_TARGET,
    format_func=lambda t: (
        _("predicted: {emotion}").format(emotion=emotion_name(EMOTIONS[predicted]))
        if t == explain.XAI_PREDICTED
        else emotion_name(t)
    ),
)
target = predicted if target_name == explain.XAI_PREDICTED else EMOTIONS.index(target_name)

n_classes = len(inp.probs)
left, right = st.columns([2, 3], gap="large")
with left, st.container(key="explain-verdict"):
    st.markdown(f"**{clip['name']}**")
    if clip["source"] == "corpus":
        acted = _("Acted emotion: **{emotion}** · speaker {speaker}").format(
            emotion=emotion_name(clip["emotion"]), speaker=clip["speaker"]
        )
        st.markdown(f"{acted}  \n" + explain_picker.part_sentence(clip.get("part"), model_name))
    st.markdown("### " + _("Prediction: {emotion}").format(emotion=emotion_name(EMOTIONS[predicted])))
    st.markdown(
        _("with **{probability}** probability; explaining **{emotion}** ({target_probability})").format(
            probability=explain.pct(inp.probs[predicted]),
            emotion=emotion_name(EMOTIONS[target]),
            target_probability=explain.pct(inp.probs[target]),
        )
    )
    if len(y) > len(inp.window):
        st.caption(
            _("The clip is {seconds} s long: the model sees, and the maps explain, its centre 3 s.").format(
                seconds=f"{len(y) / pred.cfg.sr:.1f}"
            )
        )
    st.audio(clips.wav_bytes(inp.window), format="audio/wav")
right.plotly_chart(
    figures.probability_figure(inp.probs, unsure_below=pred.unsure_below, height=260), key="explain.probs"
)
rejected = explain.xai_target_warning(
    float(inp.probs[target]), model_name=model_name, emotion=EMOTIONS[target], n_classes=n_classes
)
if rejected is not None:
    with st.container(key="explain-rejected"):
        st.warning(rejected, icon=":material/warning:")

with st.expander(_("Settings: cost of the explanations"), icon=":material/tune:"):
    explain.xai_settings()
options = explain.xai_options()
okey = repr(options)

# ------------------------------------------------------------------ the maps
request = explain.XaiRequest(clip["id"], model_name, target, inp.x, pred.module, options, place)
maps: dict = {}
methods = explainer_names(model=pred.module)  # L-MAC only for a network a decoder was trained on
with errors.report_errors():
    for method in methods:
        what = _("Computing {method}").format(method=get_explainer(method).title)
        maps[method] = explain.xai_map(request, method, what=what)
if len(maps) < len(methods):
    release_place()
    st.stop()

st.subheader(_("Where the model looks"))


@st.fragment
def maps_section() -> None:
    """The four heatmaps; the scale toggle and opacity slider rerun only this fragment."""
    c1, c2 = st.columns([1, 2])
    shared = c1.toggle(
        _("One shared colour scale"),
        value=True,
        key=state.KEY_XAI_SHARED,
        help=_(
            "On: every map divided by its largest magnitude (-1..1), one "
            "colour bar. Off: each map in its own units."
        ),
    )
    opacity = c2.slider(_("Opacity of the maps"), 0.0, 1.0, 0.8, 0.05, key=state.KEY_XAI_OPACITY)
    fig = figures.maps_figure(
        {k: figures.display_map(v) for k, v in maps.items()},
        mel=inp.background,
        shared=shared,
        opacity=opacity,
        y_label=_(inp.y_label),
    )
    st.plotly_chart(fig, key="explain.maps")
    st.caption(
        _(
            "Drawn over what the model reads: the {representation}. "
            "Red: evidence for the explained class, blue: against it (LRP, LIME); Grad-CAM "
            "and SmoothGrad are unsigned. Grad-CAM is coarse (the last block's grid), LIME "
            "works on a grid of time-frequency segments."
        ).format(representation=explain.input_name(pred.representation))
    )
    if "lmac" in maps:
        st.caption(
            _(
                "L-MAC is a mask from 0 (removed) to 1 (kept), made by a small decoder trained on the "
                "frozen network's training clips to keep the class with as little of the clip as it can."
            )
        )
    else:
        st.caption(
            _(
                "L-MAC needs a decoder trained on the chosen network; decoders are shipped for: "
                "{models} (`python -m ser_core train-lmac --model MODEL` trains one)."
            ).format(models=", ".join(f"`{m}`" for m in decoder_models()) or "–")
        )


maps_section()

# ------------------------------------------------------------------ deletion test
st.subheader(_("Deletion test"))
st.caption(
    _(
        "The most relevant bins are removed first (set to the training mean, 0 in the "
        "normalised input), in steps up to 100 %; a good map makes the probability fall "
        "fast, faster than the dashed random order. Scores: area under the curve (lower is "
        "better) and the drop in percentage points (pt) after removing 10 % and 20 % (higher "
        "is better). A drop cannot exceed the starting probability: compare methods on one "
        "clip and class; below chance (one in {n}) they are n/a."
    ).format(n=len(EMOTIONS))
)
faith = {}
with errors.report_errors():
    for method in [*maps, "random"]:
        faith[method] = explain.xai_faithfulness(
            request,
            method,
            maps.get(method),
            temperature=pred.temperature,
            what=_("Deletion test of {method}").format(method=figures.method_title(method)),
        )
release_place()
if len(faith) == len(maps) + 1:
    st.session_state[state.KEY_XAI_EXPLAINED].add((clip["id"], model_name))
if faith:
    curves = {k: f.deletion for k, f in faith.items()}
    c1, c2 = st.columns([1, 1], gap="large")
    c1.plotly_chart(figures.deletion_figure(curves, n_classes=n_classes), key="explain.deletion")
    c2.plotly_chart(
        figures.insertion_figure(
            {k: f.insertion for k, f in faith.items()}, starts=curves, n_classes=n_classes
        ),
        key="explain.insertion",
    )
    st.caption(
        _(
            "Right, the insertion test: from the training mean, the most relevant bins are put back "
            "first; a good map makes the probability rise fast (AUC higher is better). The table adds "
            "SpeechBrain's mask scores (L-MAC paper): each map's top {k} % of the bins is the "
            "explanation, kept alone (the rest at the training mean) for AI, AD, AG and Fid-In, "
            "removed for FF. Hover over a column title for what it measures and which way is better."
        ).format(k=round(100 * MASK_TOP_K))
    )
    with st.container(key="explain-scores"):
        st.dataframe(
            explain.xai_scores_text(explain.xai_scores_table(faith, n_classes=n_classes)),
            hide_index=True,
            column_config=explain.xai_scores_config(),
        )

# ------------------------------------------------------------------ listening
st.subheader(_("Listen to what the model used"))


@st.fragment
def listen_section() -> None:
    """The top-k % bins of one map with the clip's own phase, next to the original; then
    through Griffin-Lim, next to its all-bins reconstruction, for comparison."""
    if pred.representation != "mel":
        st.info(
            _("Listening needs a model on the mel spectrogram; {model} uses `{representation}`.").format(
                model=model_name, representation=pred.representation
            ),
            icon=":material/info:",
        )
        return
    c1, c2 = st.columns([1, 2])
    method = c1.selectbox(_("Map"), list(maps), key=state.KEY_XAI_LISTEN, format_func=figures.method_title)
    top_k = c2.slider(_("Keep the most relevant bins (%)"), 1, 100, 20, 1, key=state.KEY_XAI_TOPK)
    title = figures.method_title(method)

    def wav(which: str, phase: str) -> bytes:
        """One clip: ``which`` is "all" (every bin) or the listened map."""
        rel, k = (None, 1.0) if which == "all" else (maps[method], top_k / 100)
        return explain.xai_listen_wav(
            clip["id"], model_name, which, target, okey, k, phase, inp.window, rel, pred.cfg
        )

    with errors.report_errors(), st.container(key="explain-listen-original"):
        part = wav(method, "original")
        a, b = st.columns(2)
        a.markdown(_("**Original** (the 3 s the model sees)"))
        a.audio(clips.wav_bytes(inp.window), format="audio/wav")
        b.markdown(_("**Top {k} % of {method}**, with the clip's own phase").format(k=top_k, method=title))
        b.audio(part, format="audio/wav")
        st.caption(
            _(
                "The map's top bins become a mask on the clip's own short-time Fourier transform "
                "(each frequency bin weighted by the mel bands that cover it), inverted with the "
                "original phase: what you hear is the clip with the other bins removed, so compare "
                "it with the original; at 100 % it is the original itself."
            )
        )
    if get_explainer(method).mask:  # a mask as trained (L-MAC): its own gains can be heard
        with errors.report_errors(), st.container(key="explain-listen-lmac"):
            soft = explain.xai_listen_wav(
                clip["id"],
                model_name,
                method,
                target,
                okey,
                None,
                "original",
                inp.window,
                maps[method],
                pred.cfg,
            )
            st.markdown(_("**L-MAC's own mask**, every bin at its gain, with the clip's own phase"))
            st.audio(soft, format="audio/wav")
            kept, rest = explain.xai_lmac_heard(
                clip["id"], model_name, target, okey, inp.window, maps[method], pred
            )
            st.markdown(
                _(
                    "What the model hears: in the kept part **{kept}** ({p_kept} for {emotion}); "
                    "in the rest of the clip, with the mask's gains turned round, **{rest}** ({p_rest} for {emotion})."
                ).format(
                    kept=emotion_name(EMOTIONS[int(kept.argmax())]),
                    rest=emotion_name(EMOTIONS[int(rest.argmax())]),
                    p_kept=explain.pct(kept[target]),
                    p_rest=explain.pct(rest[target]),
                    emotion=emotion_name(EMOTIONS[target]),
                )
            )
            st.caption(
                _(
                    "L-MAC was trained to make exactly this audible: its decoder outputs a gain from 0 to 1 "
                    "for every bin, and the classifier, frozen, learnt from what these gains leave of the clip "
                    "(the class kept by the masked-in part, lost by the rest). The slider above cuts the same "
                    "mask into its top bins instead."
                )
            )
    with errors.report_errors(), st.spinner(_("Inverting the spectrogram (Griffin-Lim)…")):
        full, guessed = wav("all", "griffin-lim"), wav(method, "griffin-lim")
        with st.container(key="explain-listen-griffin-lim"):
            st.markdown(_("**For comparison: Griffin-Lim**, from the log-mel alone"))
            a, b = st.columns(2)
            a.markdown(_("**All bins**, through Griffin-Lim"))
            a.audio(full, format="audio/wav")
            b.markdown(_("**Top {k} % of {method}**, through Griffin-Lim").format(k=top_k, method=title))
            b.audio(guessed, format="audio/wav")
            st.caption(
                _(
                    "Griffin-Lim guesses the phase, so it sounds metallic for reasons unrelated to "
                    "the model: compare it with its all-bins reconstruction, not with the original."
                )
            )


listen_section()

# ------------------------------------------------------------------ dataset level
st.subheader(_("Across the test set"))
table = None
with errors.report_errors():
    table = explain.xai_dataset_table(model_name)
eval_cmd = f"python -m ser_core xai-eval --model {model_name} --n 300 --out artifacts/xai/faithfulness_{model_name}.json"


def on_clips(n: object) -> str:
    """``"on 12 clips"`` in the language of the run (``n`` may be "?": unknown)."""
    count = n if isinstance(n, int) else 5
    return ngettext("on {n} clip", "on {n} clips", count).format(n=n)


def other_model_note(info: dict, table_model: str) -> str:
    """Why the table is another model's, and how to make one for the chosen model."""
    duration = explain.took(info)
    slow = (
        _(
            "It is computed ahead of time because it is slow: every method {clips}, "
            "{duration} when it was made."
        )
        if duration
        else _("It is computed ahead of time because it is slow: every method {clips}.")
    )
    return " ".join(
        [
            _("This table is for **{table_model}**, not for {model} chosen above.").format(
                table_model=table_model, model=model_name
            ),
            slow.format(clips=on_clips(info.get("n_clips", "?")), duration=duration),
            _("Only {table_model}, the reference network of this page, has one.").format(
                table_model=table_model
            ),
            _("To make it for {model}: `{command}`.").format(model=model_name, command=eval_cmd),
        ]
    )


if table is None:
    st.info(
        _(
            "No dataset-level result yet: `{command}` runs the deletion and insertion tests and "
            "the mask scores on a stratified sample of the seed test split."
        ).format(command=eval_cmd),
        icon=":material/info:",
    )
else:
    rows, info = table
    opts = info.get("options", {})
    table_model = info.get("model", "?")
    if table_model != model_name:
        with st.container(key="explain-dataset-other"):
            st.info(other_model_note(info, table_model), icon=":material/info:")
    st.caption(
        _(
            "**{model}** {clips} of the {protocol} test split (stratified by emotion), "
            "explaining each clip's predicted class (always above chance, so every clip is "
            "scored); LIME {lime_samples} samples, {steps} deletion steps. Made by `{command}`."
        ).format(
            model=table_model,
            clips=on_clips(info.get("n_clips", "?")),
            protocol=info.get("protocol", "seed"),
            lime_samples=opts.get("lime_samples", "?"),
            steps=opts.get("deletion_steps", "?"),
            command=info.get("command") or "python -m ser_core xai-eval",
        )
    )
    cols = explain.xai_score_columns(rows)
    mask = info.get("mask", {})
    if "ai" in cols:
        st.caption(
            _("AI, AD, AG, FF and Fid-In on the top {k} % of each map's bins.").format(
                k=round(100 * float(mask.get("top_k", MASK_TOP_K)))
            )
        )
    else:
        st.caption(
            _(
                "This table holds the deletion scores only (an older `xai-eval`); `{command}` adds the others."
            ).format(command=eval_cmd)
        )
    overall = rows[rows["emotion"] == "all"].assign(method=lambda d: d["method"].map(figures.method_title))
    with st.container(key="explain-dataset"):
        st.dataframe(
            explain.xai_scores_text(explain.in_points(overall[["method", "n", *cols]])),
            hide_index=True,
            column_config={
                **explain.xai_scores_config(),
                "n": st.column_config.NumberColumn(_("clips"), width=50),
            },
        )
    state.keep_valid(state.KEY_XAI_TABLE_SCORE, cols)
    score = st.radio(
        _("Per emotion (true label)"),
        cols,
        horizontal=True,
        key=state.KEY_XAI_TABLE_SCORE,
        format_func=lambda s: _(explain.XAI_SCORE_NAMES[s]),
    )
    per = explain.in_points(rows[rows["emotion"] != "all"])
    per = per.pivot(index="method", columns="emotion", values=score)
    per = per.reindex([m for m in [*EXPLAINERS, "random"] if m in per.index])
    per.index = per.index.map(figures.method_title).rename(_("method"))
    per = per[[e for e in EMOTIONS if e in per.columns]]
    per.columns = emotion_names(list(per.columns))
    st.dataframe(per.style.format(explain.score_text(score)))
    st.caption(_("Per emotion: {score}.").format(score=_(explain.XAI_SCORES[score])))
