"""Dataset page: the nEMO corpus at a glance, the 13 representations of a clip, and the clip
in real rooms, through microphones and codecs."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ser_core import audio, conditions, eda, features, figures, ravdess
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.figures.style import gender_name
from ser_core.i18n import emotion_name
from ui import clips, dataset, errors, loaders, navigation, state
from ui.i18n import N_, _

REPRESENTATIONS = features.names()
#: Longer clips are cut to their centre before "Hear it in a real room" renders them.
ROOM_MAX_SECONDS = 20
#: Display names of the descriptor plot kinds and the projection colourings (English).
PLOT_KINDS = {"box": N_("box"), "violin": N_("violin")}
COLOUR_BY = {"emotion": N_("emotion"), "speaker": N_("speaker")}


def representation_title(representation: str) -> str:
    return _(features.get(representation).title)


def count(n: int) -> str:
    """A count as people of this language write it (English ``4,481``)."""
    # Translators: a whole number with thousands separators; Polish: "{n}" (4481).
    return _("{n:,}").format(n=n)


navigation.ensure_navigation()
st.title(_("Dataset explorer"))
st.caption(
    _(
        "nEMO: Polish utterances acted in six emotions by nine speakers; "
        "the same 90 sentences are spoken in every emotion."
    )
)
meta = loaders.metadata()
if meta is None:
    loaders.how_to_get_corpus()

# ------------------------------------------------------------------ 1. overview
st.header(_("Corpus overview"), divider="gray")
with errors.report_errors():
    table, has_descriptors = loaders.overview_table()
    if table is None:
        loaders.summaries_info()
    else:
        if meta is None:
            st.caption(
                _(
                    "Without the corpus, the overview, the averages and the projection below come "
                    "from the summaries shipped with the app (`artifacts/eda`); listening to corpus "
                    "clips needs the corpus itself. Your own recordings work either way."
                )
            )
        c = st.columns(4)
        c[0].metric(_("Clips"), count(len(table)))
        c[1].metric(_("Speakers"), table["speaker"].nunique())
        c[2].metric(_("Sentences"), table["sentence_id"].nunique())
        if has_descriptors:
            c[3].metric(_("Audio"), _("{hours:.2f} h").format(hours=table["duration"].sum() / 3600))
        st.subheader(_("Clips by emotion and speaker"))
        st.plotly_chart(figures.counts_heatmap(table), key="overview.counts")
        left, right = st.columns(2)
        left.markdown(_("**Clips by gender**"))
        left.plotly_chart(figures.counts_bar(table, column="gender"), key="overview.gender")
        right.markdown(_("**Clips by speaker age**"))
        right.plotly_chart(figures.counts_bar(table, column="age"), key="overview.age")
        st.subheader(_("Clip durations"))
        if has_descriptors:
            st.plotly_chart(figures.duration_figure(table), key="overview.duration")
            st.caption(
                _(
                    "Dashed line: the {seconds:g} s every model sees; "
                    "longer clips are cut to their centre, shorter ones padded with silence."
                ).format(seconds=DEFAULT_CONFIG.duration)
            )
        else:
            loaders.summaries_info()


# ------------------------------------------------------------------ 2. clip explorer
def condition_row(
    y: np.ndarray, spec: conditions.Condition, *, seed: int, representation: str, speaker: str | None
) -> None:
    """One condition: its label and sentence, the clip under it, and one representation."""
    root = loaders.corpus_dir()
    left, right = st.columns([2, 3], vertical_alignment="center")
    left.markdown(f"**{_(spec.label)}**")
    if spec.description:  # _("") would be the catalog's header
        left.caption(_(spec.description))
    if spec.needs_babble and root is None:
        left.info(_("Babble is made of nEMO speakers: it needs the corpus."), icon=":material/info:")
        return
    where = {"speaker": speaker, "root": None if root is None else str(root)}
    z = dataset.conditioned(y, spec.name, seed, **where)
    left.audio(clips.wav_bytes(z), format="audio/wav")
    x = dataset.conditioned_representation(y, spec.name, seed, representation, **where)
    right.plotly_chart(
        figures.representation_figure(x, representation=representation, height=230),
        key=f"room.{spec.name}",
    )


@st.fragment
def hear_in_rooms(y: np.ndarray, *, speaker: str | None) -> None:
    """The clip under every recording condition of :mod:`ser_core.conditions`."""
    st.subheader(_("Hear it in a real room"))
    st.caption(
        _(
            "nEMO is studio speech; a voice in a classroom reaches a laptop through a room, "
            "other voices, a microphone and often a codec. Hear this clip under each condition "
            "a model is tested on, and see what it does to the representation."
        )
    )
    if not st.toggle(_("Play this clip in rooms, noise, microphones and codecs"), key=state.KEY_ROOM):
        return
    if len(y) > ROOM_MAX_SECONDS * DEFAULT_CONFIG.sr:
        st.caption(_("The centre {seconds} s of the clip are played.").format(seconds=ROOM_MAX_SECONDS))
        y = audio.pad_or_trim(y, n_samples=ROOM_MAX_SECONDS * DEFAULT_CONFIG.sr)
    with errors.report_errors():
        c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
        seed = int(c1.number_input(_("Seed (another room, another noise)"), 0, 9999, key=state.KEY_ROOM_SEED))
        representation = c2.selectbox(
            _("Representation beside each"),
            REPRESENTATIONS,
            index=REPRESENTATIONS.index("mel"),
            format_func=representation_title,
            key=state.KEY_ROOM_REP,
        )
        groups = dataset.conditions_by_family()
        tabs = st.tabs([dataset.condition_tab(f) for f in groups])
        with st.spinner(_("Rendering the clip under each condition…")):
            for tab, specs in zip(tabs, groups.values()):
                with tab:
                    for spec in specs:
                        condition_row(y, spec, seed=seed, representation=representation, speaker=speaker)
        st.caption(
            _(
                "Noise levels are signal-to-noise ratios over the whole clip; babble comes from "
                "nEMO speakers other than this clip's. Rooms: `pyroomacoustics`; coloured noise: "
                "`audiomentations`; microphone and telephone: `pedalboard`; codecs: FFmpeg via PyAV."
            )
        )


@st.fragment
def clip_explorer() -> None:
    """Pick or upload a clip, play it and draw its 13 representations."""
    source = dataset.SOURCE_UPLOAD
    if meta is not None:
        source = st.radio(
            _("Clip source"),
            [dataset.SOURCE_CORPUS, dataset.SOURCE_UPLOAD],
            horizontal=True,
            format_func=dataset.source_label,
            key=state.KEY_SOURCE,
        )
    with errors.report_errors():
        if source == dataset.SOURCE_CORPUS:
            cols = st.columns([1, 1, 2.6, 1.2], vertical_alignment="bottom")
            emotion = cols[0].selectbox(
                _("Emotion"), EMOTIONS, format_func=emotion_name, key=state.KEY_EMOTION
            )
            speaker = cols[1].selectbox(
                _("Speaker"),
                sorted(meta["speaker"].unique()),
                key=state.KEY_SPEAKER,
                format_func=lambda s: dataset.speaker_label(meta, s),
            )
            rows = dataset.clip_options(meta, emotion, speaker).set_index("sentence_id")
            sentence = cols[2].selectbox(
                _("Sentence"),
                rows.index.tolist(),
                key=state.KEY_SENTENCE,
                format_func=lambda i: f"{i:02d} · {rows.at[i, 'text']}",
            )
            cols[3].button(
                _("Random clip"),
                icon=":material/casino:",
                on_click=dataset.random_clip,
                args=(meta,),
                key=f"{state.DATASET}.random",
                help=_("Pick a random corpus clip (any emotion, speaker and sentence)"),
                width="stretch",
            )
            clip = rows.loc[sentence]
            y = clips.clip_waveform(clip["path"])
            label = _("**{file_id}** · emotion **{emotion}** · speaker {speaker} · “{text}”").format(
                file_id=clip["file_id"], emotion=emotion_name(emotion), speaker=speaker, text=clip["raw_text"]
            )
            st.session_state[state.CURRENT_CLIP] = {"label": clip["file_id"], "file_id": clip["file_id"]}
            clip_speaker = speaker
        else:
            up = st.file_uploader(
                _("Audio file (speech, any length; the centre 3 s are analysed)"),
                type=clips.UPLOAD_TYPES,
                key=state.KEY_UPLOAD,
            )
            if up is None:
                st.caption(_("Upload a recording to see its representations."))
                return
            y = clips.waveform_from_upload(up)
            label = _("Uploaded **{name}** · emotion unknown").format(name=up.name)
            st.session_state[state.CURRENT_CLIP] = {"label": up.name, "file_id": None}
            clip_speaker = None
        st.audio(clips.wav_bytes(y), format="audio/wav")
        st.markdown(f"{label} · {len(y) / DEFAULT_CONFIG.sr:.2f} s")
        reps = dataset.representations(y)
        st.plotly_chart(figures.representations_figure(reps), key="explorer.all")
        st.caption(
            _(
                "Each heatmap row is min-max scaled on its own (0 = its lowest value, "
                "1 = its highest; (delta-)MFCCs are first standardised per coefficient); "
                "zero-crossing rate and RMS are drawn in their own units."
            )
        )
        representation = st.selectbox(
            _("Look at one representation in its real units"),
            REPRESENTATIONS,
            format_func=representation_title,
            key=state.KEY_SINGLE_REP,
        )
        description = features.get(representation).description
        if description:  # _("") would be the catalog's header
            st.caption(_(description))
        st.plotly_chart(
            figures.representation_figure(reps[representation], representation=representation),
            key="explorer.single",
        )
        hear_in_rooms(y, speaker=clip_speaker)


st.header(_("Clip explorer"), divider="gray")
clip_explorer()


# ------------------------------------------------------------------ 2b. two corpora
def corpus_side(col, row, *, corpus: str, key: str, zrange: tuple[float, float]) -> None:
    """One side of the comparison: who says what, the audio, its log-mel spectrogram
    (both sides on the colour range ``zrange``, in dB)."""
    with col:
        st.markdown(
            _("**{corpus}** · {speaker} ({gender}) · “{text}”").format(
                corpus=corpus,
                speaker=row["speaker"],
                gender=gender_name(row["gender"]),
                text=row["raw_text"] or row["text"],
            )
        )
        y, mel = dataset.clip_audio_and_mel(row["path"])
        st.audio(audio.encode_wav(y), format="audio/wav")
        fig = figures.representation_figure(mel, representation="mel", height=260, zrange=zrange)
        st.plotly_chart(fig, key=key)


@st.fragment
def two_corpora() -> None:
    """The same emotion acted in Polish (nEMO) and in English (RAVDESS), side by side."""
    with errors.report_errors():
        other = dataset.ravdess_metadata()
        if other is None:
            st.info(_(ravdess.RAVDESS_HOW_TO_GET), icon=":material/info:")
            return
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        emotion = c1.selectbox(_("Emotion"), EMOTIONS, format_func=emotion_name, key=state.KEY_PAIR_EMOTION)
        pair = int(c2.number_input(_("Pair"), min_value=1, max_value=99, value=1, key=state.KEY_PAIR_INDEX))
        nemo_row, other_row = dataset.emotion_pair(meta, other, emotion=emotion, pair=pair)
        zrange = dataset.shared_range(
            [dataset.clip_audio_and_mel(r["path"])[1] for r in (nemo_row, other_row)]
        )
        left, right = st.columns(2)
        corpus_side(left, nemo_row, corpus=_("nEMO (Polish)"), key="pair.nemo", zrange=zrange)
        corpus_side(right, other_row, corpus=_("RAVDESS (English)"), key="pair.ravdess", zrange=zrange)
        st.caption(
            _(
                "Both spectrograms share one colour scale. "
                "Both corpora are acted, by speakers of the same gender here. Models trained on nEMO's nine "
                "voices score far lower on RAVDESS's 24 (see `docs/new-voices.md`): a new language and a new "
                "voice at once."
            )
        )


if meta is not None:
    st.header(_("Polish and English: one emotion, two corpora"), divider="gray")
    two_corpora()

# ------------------------------------------------------------------ 3. per-emotion averages
st.header(_("Average representation per emotion"), divider="gray")
with errors.report_errors():
    if loaders.summary_stamp("means") is None:
        loaders.summaries_info()
    else:
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        representation = c1.selectbox(
            _("Representation"), REPRESENTATIONS, format_func=representation_title, key=state.KEY_MEANS_REP
        )
        diff = c2.toggle(_("Difference from the all-emotion mean"), key=state.KEY_MEANS_DIFF)
        means = loaders.emotion_means(representation)
        st.plotly_chart(
            figures.emotion_means_figure(means, representation=representation, difference=diff),
            key="means.fig",
        )
        st.caption(_("Average over every clip of the emotion, frame by frame (clips centred in 3 s)."))

# ------------------------------------------------------------------ 4. descriptors
st.header(_("Scalar descriptors by emotion"), divider="gray")
with errors.report_errors():
    clip_table = loaders.clips_table()
    if clip_table is None:
        loaders.summaries_info()
    else:
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
        col = c1.selectbox(
            _("Descriptor"),
            list(eda.DESCRIPTORS),
            format_func=figures.descriptor_label,
            key=state.KEY_DESCRIPTOR,
        )
        kind = c2.radio(
            _("Plot"),
            list(PLOT_KINDS),
            horizontal=True,
            format_func=lambda k: _(PLOT_KINDS[k]),
            key=state.KEY_DESCRIPTOR_KIND,
        )
        by_gender = c3.checkbox(_("Split by gender"), key=state.KEY_DESCRIPTOR_GENDER)
        st.plotly_chart(
            figures.descriptor_figure(clip_table, column=col, kind=kind, by_gender=by_gender),
            key="descriptor.fig",
        )

# ------------------------------------------------------------------ 5. projections
st.header(_("2-D projection of the clips"), divider="gray")
with errors.report_errors():
    clip_table = loaders.clips_table()
    if clip_table is None or loaders.summary_stamp("projections") is None:
        loaders.summaries_info()
    else:
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
        representation = c1.selectbox(
            _("Representation"), REPRESENTATIONS, format_func=representation_title, key=state.KEY_PROJ_REP
        )
        method = c2.radio(
            _("Method"),
            ["pca", "tsne"],
            horizontal=True,
            key=state.KEY_PROJ_METHOD,
            format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
        )
        color = c3.radio(
            _("Colour by"),
            list(COLOUR_BY),
            horizontal=True,
            format_func=lambda k: _(COLOUR_BY[k]),
            key=state.KEY_PROJ_COLOR,
        )
        proj = loaders.projections(representation)
        if method not in proj:
            st.info(
                _(
                    "The summaries hold no {method} projection of this representation; "
                    "rebuild them with `python -m ser_core eda-summary`."
                ).format(method={"pca": "PCA", "tsne": "t-SNE"}.get(method, method))
            )
        else:
            st.plotly_chart(
                figures.projection_figure(clip_table, proj=proj, method=method, color=color),
                key="projection.fig",
            )
        if "pca_var" in proj:
            v = proj["pca_var"]
            st.caption(
                _(
                    "PCA explained variance: PC1 {pc1:.1f} %, PC2 {pc2:.1f} % "
                    "(of the standardised per-bin mean and standard deviation over time)."
                ).format(pc1=100 * v[0], pc2=100 * v[1])
            )
        st.caption(
            _(
                "Hint: if the points cluster by speaker rather than by emotion, the "
                "representation carries voice identity, and a model may learn who speaks."
            )
        )
