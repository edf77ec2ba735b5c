"""Adversarial page: FGSM / PGD with an epsilon slider you can listen to, and a robustness curve.

The uploader reaches the attack only through
``st.session_state[common.KEY_ADV_CLIP]`` (set by its ``on_change`` callback), so
tests can put a clip there directly.
"""

from __future__ import annotations

import streamlit as st

from pages import common
from ser_core import attacks
from ser_core.config import EMOTIONS

common.ensure_navigation()
st.title("Adversarial examples")
st.caption(
    "How little does it take to change the model's mind? A fast gradient sign attack "
    "(FGSM) nudges every time-frequency bin of the spectrogram, or every sample of the "
    "waveform, by at most epsilon in the direction that hurts the model most. Move the "
    "slider, look at the perturbation, and listen to it."
)

names = common.adv_models()
pred = common.model_picker(
    names,
    key=common.KEY_ADV_MODEL,
    empty=common.adv_no_model_info,
    default=common.adv_default_model(names) if names else None,
)

# ------------------------------------------------------------------ 1. the clip
st.header("A clip", divider="gray")
meta = common.metadata()
sources = (
    [common.ADV_SOURCE_CORPUS, common.ADV_SOURCE_UPLOAD] if meta is not None else [common.ADV_SOURCE_UPLOAD]
)
source = st.radio("Clip source", sources, horizontal=True, key=common.KEY_ADV_SOURCE)
clip = None
if source == common.ADV_SOURCE_CORPUS:
    rows = common.adv_test_clips(meta)
    c1, c2 = st.columns([1, 3])
    emotion = c1.selectbox("Emotion", EMOTIONS, key=common.KEY_ADV_EMOTION)
    sel = rows[rows["emotion"] == emotion].sort_values("file_id").set_index("file_id")
    file_id = c2.selectbox(
        "Clip",
        sel.index.tolist(),
        key=common.KEY_ADV_FILE,
        format_func=lambda f: f"{f} · {sel.at[f, 'raw_text']}",
    )
    if file_id is not None:
        clip = {"id": file_id, "name": file_id, "path": sel.at[file_id, "path"], "emotion": emotion}
else:
    st.file_uploader(
        "Audio file (the centre 3 s are attacked)",
        type=common.UPLOAD_TYPES,
        key=common.KEY_ADV_UPLOADER,
        on_change=common.adv_store_upload,
    )
    clip = st.session_state.get(common.KEY_ADV_CLIP)
    if clip is None:
        st.caption("Upload a recording of speech to attack it.")
if clip is None:
    st.stop()

y = None
with common.report_errors():
    y = common.adv_waveform(clip)
if y is None:
    st.stop()
st.audio(common.wav_bytes(y), format="audio/wav")
truth = f" · labelled **{clip['emotion']}**" if clip.get("emotion") else ""
st.markdown(f"**{clip['name']}**{truth} · {len(y) / pred.cfg.sr:.2f} s")


# ------------------------------------------------------------------ 2. the attack
@st.fragment
def attack_section() -> None:
    """Attack settings, the result, the audio and the robustness curve (reruns alone)."""
    c1, c2, c3 = st.columns([1.3, 1.3, 1])
    domain = c1.radio(
        "Attack the",
        list(attacks.DOMAINS),
        key=common.KEY_ADV_DOMAIN,
        format_func=common.ADV_DOMAIN_TITLES.get,
    )
    options = attacks.attack_names(domain)
    attack = c2.radio(
        "Attack",
        options,
        key=common.KEY_ADV_ATTACK[domain],
        format_func=lambda a: attacks.get_attack(a).title,
    )
    target = c3.selectbox(
        "Towards",
        [common.ADV_UNTARGETED, *EMOTIONS],
        key=common.KEY_ADV_TARGET,
        help="Untargeted: move away from the current prediction. An emotion: push the prediction towards it.",
    )
    grid = list(common.ADV_EPSILONS[domain])
    key = common.KEY_ADV_EPS[domain]
    if st.session_state.get(key) not in grid:
        st.session_state[key] = common.ADV_DEFAULT_EPS[domain]
    eps = st.select_slider("Epsilon", grid, key=key, format_func=common.format_epsilon)
    st.caption(common.ADV_EPS_HELP[domain])
    settings = attacks.AttackSettings(
        epsilon=float(eps), target=None if target == common.ADV_UNTARGETED else target
    )
    with common.report_errors():
        spinner = (
            "Attacking, then reconstructing with Griffin-Lim…"
            if domain == "spectrogram"
            else "Attacking the waveform…"
        )
        with st.spinner(spinner):
            res = common.adv_attack(pred, clip["id"], y, attack, settings)
        m = st.columns(3)
        m[0].metric(
            "Prediction",
            EMOTIONS[int(res.probs_after.argmax())],
            f"was {EMOTIONS[res.label]}" if res.fooled else "unchanged",
            delta_color="inverse" if res.fooled else "off",
        )
        m[1].metric(
            "SNR of the perturbation",
            common.format_snr(res.snr_db),
            help="10·log10(signal energy / perturbation energy) on what the attack "
            "changes: the normalised model input (spectrogram) or the samples "
            "(waveform).",
        )
        m[2].metric(
            "SNR on the mel magnitudes",
            common.format_snr(res.mel_snr_db),
            help="The same ratio on the mel magnitude spectrogram (10^(dB/20)).",
        )
        with st.container(key="adversarial-outcome"):
            st.markdown(common.adv_outcome(res))
            st.markdown(common.adv_playback_outcome(res))
        st.caption(common.adv_timing_caption(res))

        st.subheader("Probabilities")
        bars = {"original": res.probs_before, "adversarial (model input)": res.probs_after}
        if domain == "spectrogram":
            _, ref_probs = common.adv_reference(pred, clip["id"], y)
            bars["original, Griffin-Lim audio"] = ref_probs
            bars["adversarial, Griffin-Lim audio"] = res.probs_audio
        else:
            bars["adversarial audio (16-bit WAV)"] = res.probs_audio
        st.plotly_chart(common.adv_probability_figure(bars), key="adversarial.probs")

        st.subheader("Listen")
        left, right = st.columns(2)
        if domain == "spectrogram":
            ref_audio, ref_probs = common.adv_reference(pred, clip["id"], y)
            left.markdown(
                f"**Original spectrogram, Griffin-Lim** → "
                f"{EMOTIONS[int(ref_probs.argmax())]} ({100 * ref_probs.max():.0f} %)"
            )
            left.audio(common.wav_bytes(ref_audio), format="audio/wav")
            right.markdown(
                f"**Adversarial spectrogram, Griffin-Lim** → "
                f"{EMOTIONS[int(res.probs_audio.argmax())]} "
                f"({100 * res.probs_audio.max():.0f} %)"
            )
            right.audio(common.wav_bytes(res.audio), format="audio/wav")
            st.caption(
                f"Both through the same Griffin-Lim ({common.ADV_GL_ITERS} iterations, phase "
                "estimated from the magnitudes), so the comparison is fair: the "
                "reconstruction alone can already change the prediction."
            )
        else:
            left.markdown(f"**Original** → {EMOTIONS[res.label]} ({100 * res.probs_before.max():.0f} %)")
            left.audio(common.wav_bytes(common.adv_window(y, pred)), format="audio/wav")
            right.markdown(
                f"**Adversarial** → {EMOTIONS[int(res.probs_audio.argmax())]} "
                f"({100 * res.probs_audio.max():.0f} %)"
            )
            right.audio(common.wav_bytes(res.audio), format="audio/wav")
            st.caption("The 3-s window the model hears, before and after the attack: real audio.")

        st.subheader("Spectrograms")
        st.plotly_chart(common.adv_spectrogram_figure(res), key="adversarial.spectrograms")
        if domain == "spectrogram":
            st.caption(
                "The adversarial spectrogram is the attacked model input mapped back to dB "
                "(times the band's standard deviation, plus its mean)."
            )
        else:
            st.caption(
                "The adversarial spectrogram is the log-mel of the adversarial audio "
                "(librosa, as the model sees it)."
            )

    st.header("Robustness curve", divider="gray")
    with common.report_errors():
        table = common.adv_robustness()
        rows = (
            None
            if table is None
            else table[(table["model"] == pred.name) & (table["domain"] == "spectrogram")]
        )
        if rows is None or rows.empty:
            st.info(
                f"No robustness results for {pred.name} yet: `python -m ser_core attack-eval "
                f"--model {pred.name}` computes test accuracy against epsilon (needs the corpus "
                "and its feature cache; about two minutes for FGSM on two cores).",
                icon=":material/info:",
            )
            return
        marked = float(eps) if domain == "spectrogram" else None
        st.plotly_chart(common.adv_robustness_figure(rows, epsilon=marked), key="adversarial.curve")
        counts = rows.groupby("attack", sort=False)["n"].first()
        runs = ", ".join(
            f"{attacks.get_attack(k).title if k in attacks.ATTACKS else k} on {n} clips"
            for k, n in counts.items()
        )
        st.caption(
            f"Untargeted attacks away from the true label on the seed test split ({runs}; "
            "FGSM solid, others dashed), epsilon on the normalised input; per-emotion lines "
            "are the share of that emotion's clips still recognised. The dashed red line "
            "marks this clip's epsilon" + (" (spectrogram attacks only)." if marked is None else ".")
        )
        with st.expander("The numbers"):
            st.dataframe(rows.drop(columns=["model", "domain", "protocol"]), hide_index=True)


attack_section()
