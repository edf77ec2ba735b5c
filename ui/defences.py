"""The adversarial page's Defences section: a defence in front of the model, the naive and
the adaptive attacker on the current clip, and the test-set curves that carry the lesson."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import attacks as adv
from ser_core.attacks import defence_eval
from ser_core.config import EMOTIONS
from ser_core.figures import defences as fig_def
from ser_core.figures.attacks import format_epsilon
from ser_core.i18n import emotion_name
from ser_core.inference import Predictor
from ui import clips, errors, jobs
from ui.i18n import N_, _, ngettext
from ui.models import model_stamp
from ui.state import KEY_DEF_DEFENCE, KEY_DEF_EPS, KEY_DEF_REQUEST, KEY_DEF_RUN

#: The defences offered on the page (:func:`ser_core.attacks.parse_defence` specs).
DEF_CHOICES = ("mp3", "opus", "resample", "median", "quantise", "resample:random")
DEF_EPSILONS = (1e-4, 2e-4, 5e-4, 1e-3)
DEF_DEFAULT_EPS = 2e-4
DEF_STEPS = 10
DEF_EOT = 8
#: The three inputs of the demo, in the order of the players.
DEF_ROLES = {
    "clean": N_("**Clean clip**"),
    "naive": N_("**Naive attack** (PGD on the model without the defence)"),
    "adaptive": N_("**Adaptive attack** (PGD through the defence: EOT + BPDA)"),
}


def defence_label(spec: str) -> str:
    """The shown name of a defence spec: its title and, where one is fixed, its parameter."""
    d = adv.parse_defence(spec)
    title = _(d.defence.title)
    if d.randomised:
        return _("{defence}, random parameter per call").format(defence=title)
    value = d.defence.default if d.value is None else d.value
    shown = {
        "bit_rate": f"{value / 1000:g} kb/s",
        "rate": f"{value / 1000:g} kHz",
        "kernel": ngettext("{n} sample", "{n} samples", int(value)).format(n=f"{value:g}"),
        "bits": ngettext("{n} bit", "{n} bits", int(value)).format(n=f"{value:g}"),
    }[d.defence.parameter]
    return f"{title} ({shown})"


def _run(pred: Predictor, clip_id: str, y: np.ndarray, spec: str, eps: float) -> adv.ClipDefence:
    key = ("defence", clip_id, pred.model_name, model_stamp(pred.model_name), spec, eps, DEF_STEPS, DEF_EOT)
    return jobs.queued(
        key,
        adv.defend_clip,
        y,
        predictor=pred,
        defence=adv.parse_defence(spec),
        epsilon=eps,
        steps=DEF_STEPS,
        eot=DEF_EOT,
        what=_("Attacking through the defence"),
    )


def _verdict(res: adv.ClipDefence, role: str) -> str:
    """Whether the defended model still gives the clean clip's label for this input."""
    top = int(np.argmax(res.probs[role]))
    if role == "clean":
        return _("the defended model says **{emotion}**").format(emotion=emotion_name(EMOTIONS[top]))
    if top == res.label:
        return _("still **{emotion}**: the defence held").format(emotion=emotion_name(EMOTIONS[top]))
    return _("now **{emotion}**: the attack got through").format(emotion=emotion_name(EMOTIONS[top]))


def _players(res: adv.ClipDefence) -> None:
    cols = st.columns(3)
    for col, (role, title) in zip(cols, DEF_ROLES.items()):
        probs = res.probs[role]
        col.markdown(_(title))
        col.audio(clips.wav_bytes(res.audio[role]), format="audio/wav")
        col.markdown(
            _("Through the defence: {emotion} ({probability} %)").format(
                emotion=emotion_name(EMOTIONS[int(probs.argmax())]), probability=f"{100 * probs.max():.0f}"
            )
        )
        col.caption(_verdict(res, role))
        if role != "clean":
            col.caption(
                _("Without the defence: {emotion}; SNR {snr} dB").format(
                    emotion=emotion_name(EMOTIONS[int(res.probs_undefended[role].argmax())]),
                    snr=f"{res.snr_db[role]:.1f}",
                )
            )


@st.cache_data(show_spinner=False, max_entries=4)
def _load(path: str, mtime: float, which: str) -> pd.DataFrame | None:
    return defence_eval.load_defences(path) if which == "defences" else defence_eval.load_margin(path)


def _table(which: str) -> pd.DataFrame | None:
    p = defence_eval.defences_path() if which == "defences" else defence_eval.margin_path()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _load(str(p), mtime, which)


def lesson(rows: pd.DataFrame) -> str | None:
    """The sentence the test-set curves support: for the defence and epsilon where the
    adaptive attacker gains most over the naive PGD, both accuracies and the clean one."""
    pos = rows[rows["epsilon"] > 0]
    naive = pos[(pos["attacker"] == "naive") & (pos["attack"] == "pgd_wave")].set_index(
        ["defence", "epsilon"]
    )
    adapt = pos[pos["attacker"] == "adaptive"].set_index(["defence", "epsilon"])
    both = naive[["accuracy"]].join(adapt[["accuracy"]].add_suffix("_adaptive"), how="inner")
    if both.empty:
        return None
    gap = both["accuracy"] - both["accuracy_adaptive"]
    defence, eps = gap.idxmax()
    clean = rows[(rows["defence"] == defence) & (rows["epsilon"] == 0)]["accuracy"].iloc[0]
    n = int(rows["n"].iloc[0])
    return _(
        "On {n} test clips, `{defence}` at ε = {epsilon} keeps {naive} % accuracy against the naive PGD "
        "(clean: {clean} %), so it looks like a defence. The adaptive attacker, who attacks through it, "
        "brings it down to {adaptive} %. A defence that stops your attack is not robustness."
    ).format(
        n=n,
        defence=defence,
        epsilon=format_epsilon(eps),
        naive=f"{100 * both.loc[(defence, eps), 'accuracy']:.0f}",
        clean=f"{100 * clean:.0f}",
        adaptive=f"{100 * both.loc[(defence, eps), 'accuracy_adaptive']:.0f}",
    )


def _curves(model_name: str) -> None:
    st.subheader(_("On the test set"))
    table = _table("defences")
    rows = None if table is None else table[table["model"] == model_name]
    if rows is None or rows.empty:
        st.info(
            _("No defence results for {model} yet: `{command}` computes them.").format(
                model=model_name,
                command="python -m ser_core attack-eval --defences mp3,resample,median,quantise --adaptive",
            ),
            icon=":material/info:",
        )
        return
    sentence = lesson(rows)
    if sentence:
        st.markdown(sentence)
    st.plotly_chart(fig_def.defence_curves_figure(rows), key="adversarial.defences.curves")
    st.caption(
        _(
            "Accuracy of the defended model on the seed test clips: the naive attackers (FGSM and PGD "
            "on the model without the defence, then the defence) and the adaptive one (PGD through the "
            "defence: the codecs, the median and the rounding passed backwards as the identity, BPDA; a "
            "randomised defence averaged over {eot} draws, EOT). The dotted black line: PGD without any "
            "defence."
        ).format(eot=int(rows["eot"].max()))
    )


def _margin(model_name: str) -> None:
    st.subheader(_("Per emotion: success against the perceptual margin"))
    table = _table("margin")
    rows = None if table is None else table[table["model"] == model_name]
    if rows is None or rows.empty:
        st.info(
            _("No per-emotion results for {model} yet: `{command}` computes them.").format(
                model=model_name, command="python -m ser_core attack-eval --per-emotion"
            ),
            icon=":material/info:",
        )
        return
    st.plotly_chart(fig_def.margin_figure(rows), key="adversarial.defences.margin")
    st.caption(
        _(
            "The share of the test clips the model got right that each attack (without a defence) "
            "makes it get wrong, by the SNR of the perturbation: left, the quietest perturbations (high "
            "SNR); right, louder ones. Hover for the number of clips in each bin."
        )
    )


@st.fragment
def defence_section(pred: Predictor, clip_id: str, y: np.ndarray) -> None:
    """The Defences section of the adversarial page (reruns alone)."""
    st.header(_("Defences"), divider="gray")
    st.markdown(
        _(
            "A transformation in front of the model (a codec round trip, resampling, median "
            "smoothing, quantisation) often stops an attack computed on the model alone. Then an "
            "attacker who knows the defence attacks through it."
        )
    )
    c1, c2 = st.columns([1.4, 1])
    spec = c1.selectbox(_("Defence"), DEF_CHOICES, key=KEY_DEF_DEFENCE, format_func=defence_label)
    if st.session_state.get(KEY_DEF_EPS) not in DEF_EPSILONS:
        st.session_state[KEY_DEF_EPS] = DEF_DEFAULT_EPS
    eps = c2.select_slider(_("Epsilon (ε)"), DEF_EPSILONS, key=KEY_DEF_EPS, format_func=format_epsilon)
    request = (clip_id, pred.model_name, spec, float(eps))
    if st.button(_("Attack through the defence"), key=KEY_DEF_RUN):
        st.session_state[KEY_DEF_REQUEST] = request
    if st.session_state.get(KEY_DEF_REQUEST) == request:
        with errors.report_errors():
            _players(_run(pred, clip_id, y, spec, float(eps)))
    else:
        st.caption(
            _("Runs PGD ({steps} steps) twice on this clip: a few seconds, longer through a codec.").format(
                steps=DEF_STEPS
            )
        )
    _curves(pred.model_name)
    _margin(pred.model_name)
