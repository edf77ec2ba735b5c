"""Adversarial page: FGSM / PGD with an epsilon slider you can listen to, and a robustness curve.

The uploader reaches the attack only through
``st.session_state[state.KEY_ADV_CLIP]`` (set by its ``on_change`` callback), so
tests can put a clip there directly.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ser_core import attacks, figures
from ser_core.config import EMOTIONS
from ser_core.i18n import emotion_name
from ui import adversarial, clips, defences, errors, inaudible, loaders, models, navigation, state
from ui.i18n import _

navigation.ensure_navigation()
st.title(_("Adversarial examples"))
st.caption(
    _(
        "How little does it take to change the model's mind? An attack nudges every "
        "time-frequency bin of the spectrogram, or every sample of the waveform, by at most "
        "epsilon in the direction that hurts the model most: FGSM (fast gradient sign) in one "
        "step, PGD (projected gradient descent) in several small ones. Move the slider, look at "
        "the perturbation, and listen to it."
    )
)

model_names = adversarial.adv_models()
pred = models.model_picker(
    model_names,
    key=state.KEY_ADV_MODEL,
    empty=adversarial.adv_no_model_info,
    default=adversarial.adv_default_model(model_names) if model_names else None,
)

# ------------------------------------------------------------------ 1. the clip
st.header(_("A clip"), divider="gray")
meta = loaders.metadata()
sources = (
    [adversarial.ADV_SOURCE_CORPUS, adversarial.ADV_SOURCE_UPLOAD]
    if meta is not None
    else [adversarial.ADV_SOURCE_UPLOAD]
)
source = st.radio(_("Clip source"), sources, horizontal=True, key=state.KEY_ADV_SOURCE, format_func=_)
clip = None
if source == adversarial.ADV_SOURCE_CORPUS:
    rows = adversarial.adv_test_clips(meta)
    c1, c2 = st.columns([1, 3])
    emotion = c1.selectbox(_("Emotion"), EMOTIONS, key=state.KEY_ADV_EMOTION, format_func=emotion_name)
    sel = rows[rows["emotion"] == emotion].sort_values("file_id").set_index("file_id")
    file_id = c2.selectbox(
        _("Clip"),
        sel.index.tolist(),
        key=state.KEY_ADV_FILE,
        format_func=lambda f: f"{f} · {sel.at[f, 'raw_text']}",
    )
    if file_id is not None:
        clip = {"id": file_id, "name": file_id, "path": sel.at[file_id, "path"], "emotion": emotion}
else:
    st.file_uploader(
        _("Audio file (the centre 3 s are attacked)"),
        type=clips.UPLOAD_TYPES,
        key=state.KEY_ADV_UPLOADER,
        on_change=adversarial.adv_store_upload,
    )
    clip = st.session_state.get(state.KEY_ADV_CLIP)
    if clip is None:
        st.caption(_("Upload a recording of speech to attack it."))
if clip is None:
    st.stop()

y = None
with errors.report_errors():
    y = adversarial.adv_waveform(clip)
if y is None:
    st.stop()
st.audio(clips.wav_bytes(y), format="audio/wav")
seconds = f"{len(y) / pred.cfg.sr:.2f}"
if clip.get("emotion"):
    st.markdown(
        _("**{name}** · labelled **{emotion}** · {seconds} s").format(
            name=clip["name"], emotion=emotion_name(clip["emotion"]), seconds=seconds
        )
    )
else:
    st.markdown(f"**{clip['name']}** · {seconds} s")


# ------------------------------------------------------------------ 2. the attack
def attack_settings() -> tuple[str, str, attacks.AttackSettings]:
    """The domain, attack, target and epsilon widgets: ``(domain, attack, settings)``."""
    c1, c2, c3 = st.columns([1.3, 1.3, 1])
    domain = c1.radio(
        _("Attack the"),
        list(attacks.DOMAINS),
        key=state.KEY_ADV_DOMAIN,
        format_func=lambda d: _(adversarial.ADV_DOMAIN_TITLES[d]),
    )
    options = attacks.attack_names(domain)
    attack = c2.radio(
        _("Attack"),
        options,
        key=state.KEY_ADV_ATTACK[domain],
        format_func=lambda a: _(attacks.get_attack(a).title),
    )
    target = c3.selectbox(
        _("Towards"),
        [adversarial.ADV_UNTARGETED, *EMOTIONS],
        key=state.KEY_ADV_TARGET,
        format_func=lambda t: _("untargeted") if t == adversarial.ADV_UNTARGETED else emotion_name(t),
        help=_(
            "Untargeted: move away from the current prediction. An emotion: push the prediction towards it."
        ),
    )
    grid = list(adversarial.ADV_EPSILONS[domain])
    key = state.KEY_ADV_EPS[domain]
    if st.session_state.get(key) not in grid:
        st.session_state[key] = adversarial.ADV_DEFAULT_EPS[domain]
    eps = st.select_slider(_("Epsilon (ε)"), grid, key=key, format_func=figures.attacks.format_epsilon)
    st.caption(_(adversarial.ADV_EPS_HELP[domain]))
    settings = attacks.AttackSettings(
        epsilon=float(eps), target=None if target == adversarial.ADV_UNTARGETED else target
    )
    return domain, attack, settings


def run_attack(domain: str, attack: str, settings: attacks.AttackSettings) -> attacks.ClipAttack:
    """The attack on this clip (through the shared queue), saying what it does while it waits."""
    what = (
        _("Attacking, then reconstructing with Griffin-Lim")
        if domain == "spectrogram"
        else _("Attacking the waveform")
    )
    return adversarial.adv_attack(pred, clip["id"], y, attack, settings, what=what)


def outcome(res: attacks.ClipAttack) -> None:
    """The prediction after the attack, the two SNRs, the outcome sentences and the timing."""
    m = st.columns(3)
    delta, color = adversarial.adv_prediction_delta(res)
    m[0].metric(
        _("Prediction after the attack"),
        emotion_name(EMOTIONS[int(res.probs_after.argmax())]),
        delta,
        delta_color=color,
        delta_arrow="off",  # a label has no direction
    )
    m[1].metric(
        _("SNR of the perturbation"),
        adversarial.format_snr(res.snr_db),
        help=_(
            "10·log10(signal energy / perturbation energy) on what the attack "
            "changes: the normalised model input (spectrogram) or the samples "
            "(waveform)."
        ),
    )
    m[2].metric(
        _("SNR on the mel magnitudes"),
        adversarial.format_snr(res.mel_snr_db),
        help=_("The same ratio on the mel magnitude spectrogram (10^(dB/20))."),
    )
    with st.container(key="adversarial-outcome"):
        st.markdown(adversarial.adv_outcome(res))
        st.markdown(adversarial.adv_playback_outcome(res))
        if res.domain == "spectrogram":  # the same change heard without a guessed phase
            __, own_probs = adversarial.adv_original_phase(pred, clip["id"], y, res)
            st.markdown(adversarial.adv_own_phase_outcome(res, own_probs))
        st.caption(adversarial.adv_method_note(res))
    st.caption(adversarial.adv_timing_caption(res))


def probabilities(res: attacks.ClipAttack, domain: str) -> None:
    """The probabilities before and after, on the model input and on the played audio."""
    st.subheader(_("Probabilities"))
    bars = {_("original"): res.probs_before, _("adversarial (model input)"): res.probs_after}
    if domain == "spectrogram":
        __, own_probs = adversarial.adv_original_phase(pred, clip["id"], y, res)
        bars[_("adversarial, with the clip's own phase")] = own_probs
        __, ref_probs = adversarial.adv_reference(pred, clip["id"], y)
        bars[_("original, Griffin-Lim audio")] = ref_probs
        bars[_("adversarial, Griffin-Lim audio")] = res.probs_audio
    else:
        bars[_("adversarial audio (16-bit WAV)")] = res.probs_audio
    st.plotly_chart(figures.attacks.probability_figure(bars), key="adversarial.probs")


def heard(col, title: str, probs: np.ndarray, audio: np.ndarray) -> None:
    """One player in ``col`` under its (translated) ``title`` and what the full pipeline
    hears in it: "title → emotion (p %)"."""
    col.markdown(
        _("{title} → {emotion} ({probability} %)").format(
            title=title,
            emotion=emotion_name(EMOTIONS[int(probs.argmax())]),
            probability=f"{100 * probs.max():.0f}",
        )
    )
    col.audio(clips.wav_bytes(audio), format="audio/wav")


def listen(res: attacks.ClipAttack, domain: str) -> None:
    """The original and the adversarial audio side by side, with what the model hears."""
    st.subheader(_("Listen"))
    left, right = st.columns(2)
    heard(left, _("**Original**"), res.probs_before, adversarial.adv_window(y, pred))
    if domain != "spectrogram":
        heard(right, _("**Adversarial**"), res.probs_audio, res.audio)
        st.caption(_("The 3-s window the model hears, before and after the attack: real audio."))
        return
    own_audio, own_probs = adversarial.adv_original_phase(pred, clip["id"], y, res)
    heard(right, _("**Adversarial spectrogram, with the clip's own phase**"), own_probs, own_audio)
    st.caption(
        _(
            "The attack's change of every mel bin, applied as a gain to the clip's own short-time "
            "Fourier transform and played with its original phase: the attacked spectrogram as "
            "sound, without a guessed phase."
        )
    )
    st.markdown(_("**For comparison: Griffin-Lim**, from the log-mel alone"))
    left, right = st.columns(2)
    ref_audio, ref_probs = adversarial.adv_reference(pred, clip["id"], y)
    heard(left, _("**Original spectrogram, Griffin-Lim**"), ref_probs, ref_audio)
    heard(right, _("**Adversarial spectrogram, Griffin-Lim**"), res.probs_audio, res.audio)
    st.caption(
        _(
            "Both through the same Griffin-Lim ({n} iterations, phase "
            "estimated from the magnitudes), so the comparison is fair: the "
            "reconstruction alone can already change the prediction."
        ).format(n=adversarial.ADV_GL_ITERS)
    )


def spectrograms(res: attacks.ClipAttack, domain: str) -> None:
    """Original and adversarial log-mel and their difference."""
    st.subheader(_("Spectrograms"))
    st.plotly_chart(figures.attacks.spectrogram_figure(res), key="adversarial.spectrograms")
    if domain == "spectrogram":
        st.caption(
            _(
                "The adversarial spectrogram is the attacked model input mapped back to dB "
                "(times the band's standard deviation, plus its mean)."
            )
        )
    else:
        st.caption(
            _(
                "The adversarial spectrogram is the log-mel of the adversarial audio "
                "(librosa, as the model sees it). In dB the perturbation shows most where the window "
                "is quiet (high bands, pauses, the edges of words and, at larger epsilons, the silent "
                "padding of a clip shorter than 3 s): there a small noise lies many dB above what was "
                "there, while under loud speech the same noise changes little."
            )
        )


def robustness_curve(epsilon: float, domain: str) -> None:
    """The model's test accuracy against epsilon (``attack-eval``), this clip's epsilon marked."""
    st.header(_("Robustness curve"), divider="gray")
    with errors.report_errors():
        table = adversarial.adv_robustness()
        rows = (
            None
            if table is None
            else table[(table["model"] == pred.model_name) & (table["domain"] == "spectrogram")]
        )
        if rows is None or rows.empty:
            st.info(
                _(
                    "No robustness results for {model} yet: `{command}` computes test accuracy "
                    "against epsilon (needs the corpus and its feature cache; about two minutes "
                    "for FGSM on two cores)."
                ).format(
                    model=pred.model_name,
                    command=f"python -m ser_core attack-eval --model {pred.model_name}",
                ),
                icon=":material/info:",
            )
            return
        if domain == "waveform":
            st.info(_(adversarial.ADV_CURVE_WAVEFORM_NOTE), icon=":material/info:")
        marked = epsilon if domain == "spectrogram" else None
        st.markdown(
            _(
                "How the accuracy of {model} over the whole test split, not this clip alone, "
                "falls as epsilon grows."
            ).format(model=pred.model_name)
        )
        st.plotly_chart(figures.attacks.robustness_figure(rows, epsilon=marked), key="adversarial.curve")
        st.caption(adversarial.adv_curve_caption(rows, marked=marked is not None))
        with st.expander(_("The numbers")):
            st.dataframe(adversarial.adv_curve_table(rows), hide_index=True)


@st.fragment
def attack_section() -> None:
    """Attack settings, the result, the audio and the robustness curve (reruns alone)."""
    domain, attack, settings = attack_settings()
    with errors.report_errors():
        res = run_attack(domain, attack, settings)
        outcome(res)
        probabilities(res, domain)
        listen(res, domain)
        spectrograms(res, domain)
    robustness_curve(settings.epsilon, domain)


attack_section()
inaudible.inaudible_section(pred, clip["id"], y)
defences.defence_section(pred, clip["id"], y)
