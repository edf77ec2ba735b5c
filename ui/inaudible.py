"""The adversarial page's section "An attack you cannot hear": the imperceptible attack
(:func:`ser_core.attacks.imperceptible_attack`) and an A/B/X listening trial."""

from __future__ import annotations

import random

import numpy as np
import streamlit as st

from ser_core import attacks as adv
from ser_core.attacks.imperceptible import DEFAULTS
from ser_core.audio import encode_wav, load_audio
from ser_core.config import EMOTIONS
from ser_core.figures.inaudible import masking_figure
from ser_core.i18n import emotion_name
from ser_core.inference import Predictor
from ser_core.torch_frontend import WaveformClassifier, prepare_waveform
from ui import errors, jobs
from ui.clips import wav_bytes
from ui.i18n import _
from ui.models import model_stamp
from ui.state import (
    KEY_INA_ANSWER,
    KEY_INA_NEW,
    KEY_INA_REQUEST,
    KEY_INA_RUN,
    KEY_INA_SCORE,
    KEY_INA_TARGET,
    KEY_INA_TRIALS,
)

INA_UNTARGETED = "untargeted"
#: The attack's options on the page: its defaults (the 10-s budget); tests make them smaller.
INA_OPTIONS: dict = dict(DEFAULTS)


def ina_run(y: np.ndarray, pred: Predictor, target: str | None) -> tuple[adv.ImperceptibleResult, np.ndarray]:
    """The attack on ``y``'s model window and the full pipeline's probabilities ``(6,)`` for
    the adversarial audio after 16-bit WAV encoding (a queue job)."""
    cfg, norm = pred.cfg, pred.norm
    clf = WaveformClassifier(
        pred.module,
        mean=None if norm is None else norm.mean,
        std=None if norm is None else norm.std,
        cfg=cfg,
    ).eval()
    res = adv.imperceptible_attack(
        prepare_waveform(y, cfg=cfg), model=clf, target=target, sr=cfg.sr, **INA_OPTIONS
    )
    played = load_audio(encode_wav(res.audio, sr=cfg.sr), name="inaudible.wav", sr=cfg.sr)
    return res, pred.predict(played).astype(np.float64)


def ina_attack(
    pred: Predictor, clip_id: str, y: np.ndarray, target: str | None
) -> tuple[adv.ImperceptibleResult, np.ndarray]:
    """:func:`ina_run` through the shared queue, once per clip, model and target."""
    opts = tuple(sorted(INA_OPTIONS.items()))
    key = ("imperceptible", clip_id, pred.model_name, model_stamp(pred.model_name), target, opts)
    return jobs.queued(key, ina_run, y, pred, target, what=_("Attacking under the masking threshold"))


# ------------------------------------------------------------------ the A/B/X trial
def ina_trial(trial_key: str, *, rng: random.Random | None = None) -> dict:
    """This session's trial for ``trial_key`` (a clip, model and target): which player the
    attacked clip is (``"A"`` or ``"B"``), which one X repeats, and the answer given (None
    before); drawn once and kept in session state until :func:`ina_new_trial`."""
    trials = st.session_state.setdefault(KEY_INA_TRIALS, {})
    if trial_key not in trials:
        rng = rng or random.Random()
        trials[trial_key] = {"attacked": rng.choice("AB"), "x": rng.choice("AB"), "answer": None}
    return trials[trial_key]


def ina_new_trial(trial_key: str) -> None:
    """``on_click`` of "new trial": draw the order and X again."""
    st.session_state.setdefault(KEY_INA_TRIALS, {}).pop(trial_key, None)


def ina_answer(trial_key: str, answer: str) -> None:
    """``on_click`` of "X is A/B": record the first answer of the trial and the session score."""
    trial = ina_trial(trial_key)
    if trial["answer"] is not None:
        return
    trial["answer"] = answer
    score = st.session_state.setdefault(KEY_INA_SCORE, {"right": 0, "total": 0})
    score["total"] += 1
    score["right"] += int(answer == trial["x"])


def ina_score() -> tuple[int, int]:
    """``(right, total)`` answers of this session."""
    s = st.session_state.get(KEY_INA_SCORE, {"right": 0, "total": 0})
    return s["right"], s["total"]


def abx(trial_key: str, original: np.ndarray, attacked: np.ndarray) -> None:
    """Players A, B and X, the two answer buttons, the verdict and the running score."""
    st.subheader(_("Can you hear it? An A/B/X trial"))
    st.markdown(
        _(
            "A and B are the original window and the attacked one, in a random order. X is one of "
            "the two. Listen (headphones help) and say which one X is."
        )
    )
    trial = ina_trial(trial_key)
    sounds = {trial["attacked"]: attacked, ("B" if trial["attacked"] == "A" else "A"): original}
    cols = st.columns(3)
    for col, name in zip(cols, ("A", "B", "X"), strict=True):
        col.markdown(f"**{name}**")
        col.audio(wav_bytes(sounds[trial["x"] if name == "X" else name]), format="audio/wav")
    c1, c2, c3 = st.columns(3)
    done = trial["answer"] is not None
    c1.button(_("X is A"), key=KEY_INA_ANSWER["A"], on_click=ina_answer, args=(trial_key, "A"), disabled=done)
    c2.button(_("X is B"), key=KEY_INA_ANSWER["B"], on_click=ina_answer, args=(trial_key, "B"), disabled=done)
    c3.button(_("New trial"), key=KEY_INA_NEW, on_click=ina_new_trial, args=(trial_key,))
    with st.container(key="inaudible-verdict"):
        if done:
            right = trial["answer"] == trial["x"]
            (st.success if right else st.warning)(
                _("Right: X was {x}.").format(x=trial["x"])
                if right
                else _("Wrong: X was {x}.").format(x=trial["x"])
            )
            st.markdown(
                _("**{attacked}** was the attacked clip, **{original}** the original.").format(
                    attacked=trial["attacked"], original="B" if trial["attacked"] == "A" else "A"
                )
            )
        right, total = ina_score()
        if total:
            st.caption(
                _("Your score this session: {right} of {total} right (guessing gets half).").format(
                    right=right, total=total
                )
            )


# ------------------------------------------------------------------ the section
def outcome(res: adv.ImperceptibleResult, probs_audio: np.ndarray) -> None:
    """Label before and after, SNR and the masking margin."""
    m = st.columns(4)
    after = emotion_name(EMOTIONS[res.prediction])
    before = emotion_name(EMOTIONS[res.label])
    m[0].metric(
        _("Prediction after the attack"),
        after,
        _("was {emotion}").format(emotion=before) if res.prediction != res.label else _("unchanged"),
        delta_color="red" if res.flipped else "gray",
        delta_arrow="off",
    )
    m[1].metric(_("SNR of the perturbation"), f"{res.snr_db:.1f} dB")
    m[2].metric(
        _("Largest excess over the threshold"),
        f"{res.margin_max_db:+.2f} dB",
        help=_(
            "The maximum over time and frequency of the perturbation's level minus the masking threshold: "
            "below 0 dB, the perturbation is masked everywhere."
        ),  # fmt: skip
    )
    m[3].metric(
        _("Mean distance to the threshold"),
        f"{res.margin_mean_db:+.1f} dB",
        help=_("The mean over time and frequency of the perturbation's level minus the threshold."),
    )
    with st.container(key="inaudible-outcome"):
        if res.flipped:
            st.markdown(
                _("The model's answer changed from **{before}** to **{after}**.").format(
                    before=before, after=after
                )
                if res.target is None
                else _("The model now says **{after}**: the target is reached.").format(after=after)
            )
        else:
            st.markdown(
                _(
                    "The attack did not change the model's answer within its budget: it still says **{after}**."
                ).format(after=after)
            )
        st.markdown(
            _("As played (16-bit WAV), the full pipeline hears **{emotion}**.").format(
                emotion=emotion_name(EMOTIONS[int(np.argmax(probs_audio))])
            )
        )
        st.caption(
            _(
                "{percent} % of the time-frequency bins lie above the threshold. Steps: {stage1} in stage 1, "
                "{stage2} in stage 2; {seconds} s."
            ).format(
                percent=f"{100 * res.above_fraction:.1f}",
                stage1=res.stage1_steps,
                stage2=res.stage2_steps,
                seconds=f"{res.seconds:.1f}",
            )
        )


def explain() -> None:
    st.header(_("An attack you cannot hear"), divider="gray")
    st.caption(
        _(
            "The attacks above change every sample by up to epsilon, and at a useful epsilon you can "
            "hear the hiss. This one (Qin et al., 2019) hides the perturbation under the clip's own "
            "**masking threshold**: in every 32-ms frame the loud parts of the voice mask quieter sounds "
            "near them in frequency, and the perturbation is kept below that level, frame by frame and "
            "band by band (MPEG-1 psychoacoustic model 1). Stage 1 finds a perturbation that changes the "
            "answer; stage 2 shrinks it under the threshold while the answer stays changed. It takes up "
            "to about {budget} s per clip."
        ).format(budget=10)
    )


@st.fragment
def inaudible_section(pred: Predictor, clip_id: str, y: np.ndarray) -> None:
    """The section: explanation, target, the button, then the result and the A/B/X trial
    (reruns alone; the attack runs only when asked)."""
    explain()
    c1, c2 = st.columns([1, 2])
    target = c1.selectbox(
        _("Towards"),
        [INA_UNTARGETED, *EMOTIONS],
        key=KEY_INA_TARGET,
        format_func=lambda t: _("untargeted") if t == INA_UNTARGETED else emotion_name(t),
    )
    target = None if target == INA_UNTARGETED else target
    request = (clip_id, pred.model_name, target)
    c2.markdown("&nbsp;")
    if c2.button(_("Run the inaudible attack"), key=KEY_INA_RUN, type="primary"):
        st.session_state[KEY_INA_REQUEST] = request
    if st.session_state.get(KEY_INA_REQUEST) != request:
        st.caption(
            _("Press the button to attack this clip ({stage1} + {stage2} steps at most).").format(
                stage1=INA_OPTIONS["stage1_steps"], stage2=INA_OPTIONS["stage2_steps"]
            )
        )
        return
    with errors.report_errors():
        res, probs_audio = ina_attack(pred, clip_id, y, target)
        outcome(res, probs_audio)
        st.plotly_chart(masking_figure(res.theta, res.psd_delta), key="adversarial.inaudible.masking")
        st.caption(
            _(
                "Top: where the perturbation sits relative to the masking threshold (blue: below it, "
                "inaudible in theory; red: above it). Bottom: one frame, the one where the perturbation "
                "comes closest to the threshold."
            )
        )
        original = prepare_waveform(y, cfg=pred.cfg)
        abx("|".join(str(v) for v in request), original, res.audio)
