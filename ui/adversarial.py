"""Helpers of the adversarial page: models, clips, cached attacks and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import attacks as adv
from ser_core import data, features
from ser_core.config import EMOTIONS, artifacts_dir
from ser_core.errors import SERError
from ser_core.figures.attacks import format_epsilon
from ser_core.i18n import emotion_name
from ser_core.inference import Predictor
from ser_core.torch_frontend import prepare_waveform
from ui import jobs
from ui.clips import clip_waveform, decode_upload, make_clip
from ui.i18n import N_, _, ngettext
from ui.loaders import corpus_dir, corpus_metadata
from ui.models import EXPLAIN_MODEL, model_accuracy, model_card, model_stamp, shipped_models
from ui.state import KEY_ADV_CLIP, KEY_ADV_UPLOADER

# The texts below are English, marked with N_: the page shows them as ``_(text)``; the
# two sources are also the values of the source radio (its session state).
ADV_SOURCE_CORPUS = N_("Corpus clip (seed test split)")
ADV_SOURCE_UPLOAD = N_("Upload a file")
ADV_DOMAIN_TITLES = {
    "spectrogram": N_("Spectrogram (the model's input)"),
    "waveform": N_("Waveform (real audio)"),
}
ADV_EPSILONS = {"spectrogram": adv.DEFAULT_EPSILONS, "waveform": adv.WAVEFORM_EPSILONS}
ADV_DEFAULT_EPS = {"spectrogram": 0.01, "waveform": 1e-4}
ADV_UNTARGETED = "untargeted"
ADV_MODEL = EXPLAIN_MODEL
ADV_GL_ITERS = 32
ADV_EPS_HELP = {
    "spectrogram": N_(
        "Epsilon is applied to the **normalised** model input, as in the research project: the "
        "log-mel minus the training mean, divided by the training standard deviation, per mel "
        "band. One unit is one standard deviation of the band (8 to 25 dB for the shipped mel "
        "model), so epsilon = 0.01 moves every time-frequency bin by at most 0.08 to 0.25 dB."
    ),
    "waveform": N_(
        "Epsilon is in **sample amplitude** (full scale ±1; one step of a 16-bit WAV is 0.00003): "
        "every sample moves by at most epsilon. The gradient flows through a PyTorch copy of "
        "the log-mel front end (`ser_core.torch_frontend`, within 0.01 dB of librosa), so the "
        "result is real audio, played without Griffin-Lim."
    ),
}

ADV_CURVE_WAVEFORM_NOTE = N_(
    "This curve is for the **spectrogram** attacks (`attack-eval` does not run waveform attacks): "
    "its epsilon is in normalised log-mel units, not in the sample amplitude of the waveform "
    "slider above, so the two scales cannot be compared and this clip's epsilon is not marked."
)


def adv_models() -> list[str]:
    """Shipped models reading the ``mel`` representation (the attacks need it)."""
    out = []
    for model_name in shipped_models():
        inp = model_card(model_name).get("input", {})
        if inp.get("kind") == "features" and inp.get("name") == "mel":
            out.append(model_name)
    return out


def adv_default_model(model_names: list[str]) -> str:
    """``resnet18_mel`` when shipped, else the most accurate of ``model_names``."""
    if ADV_MODEL in model_names:
        return ADV_MODEL
    return max(model_names, key=lambda n: model_accuracy(n) or -1.0)


def adv_no_model_info() -> None:
    st.info(
        _(
            "The attacks need a shipped model on the log-mel spectrogram: train one with "
            "`python -m ser_core train --model resnet18 --representation mel --ship resnet18_mel` "
            "(it lands in `artifacts/models/`), then reload this page."
        ),
        icon=":material/info:",
    )


@st.cache_data(show_spinner=False, max_entries=4)
def _adv_test_rows(root: str, split_stamp: float) -> pd.DataFrame:
    meta = corpus_metadata(root)
    try:
        return meta.iloc[data.split_indices(meta, "seed").test]
    except (SERError, OSError):  # no split file: every clip
        return meta


def adv_test_clips(meta: pd.DataFrame) -> pd.DataFrame:
    """The corpus clips offered on the page: the ``seed`` test split (clips the model
    never trained on); every clip when the split file is missing."""
    p = artifacts_dir() / "splits" / "seed.csv"
    try:
        stamp = p.stat().st_mtime
    except OSError:
        stamp = 0.0
    root = corpus_dir()
    return meta if root is None else _adv_test_rows(str(root), stamp)


def adv_store_upload() -> None:
    """``on_change`` of the uploader: copy its file to :data:`KEY_ADV_CLIP`."""
    f = st.session_state.get(KEY_ADV_UPLOADER)
    if f is None:
        st.session_state.pop(KEY_ADV_CLIP, None)
        return
    st.session_state[KEY_ADV_CLIP] = make_clip(f.getvalue(), f.name, "upload")


def adv_waveform(clip: Mapping) -> np.ndarray:
    """Waveform of a page clip: ``{"path"}`` (corpus) or ``{"data", "name"}`` (upload).

    Raises
    ------
    SERError
        The upload is not usable audio.
    """
    if clip.get("path"):
        return clip_waveform(str(clip["path"]))
    return decode_upload(clip["data"], clip["name"])


def adv_attack(
    pred: Predictor, clip_id: str, y: np.ndarray, attack: str, settings: adv.AttackSettings, *, what: str
) -> adv.ClipAttack:
    """:func:`ser_core.attacks.attack_clip` through the app's shared queue (:mod:`ui.jobs`):
    one computation per clip hash, model, attack, epsilon, target and steps (the domain
    follows from the attack) across every session, kept for later requests; ``what`` is
    the line a waiting user reads."""
    key = (
        "attack",
        clip_id,
        pred.model_name,
        model_stamp(pred.model_name),
        attack,
        float(settings.epsilon),
        settings.target,
        settings.steps,
    )
    return jobs.queued(
        key,
        adv.attack_clip,
        y,
        predictor=pred,
        attack=attack,
        settings=settings,
        n_iter=ADV_GL_ITERS,
        what=what,
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _adv_reference(
    clip_id: str, model_name: str, stamp: float, _pred: Predictor, _y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    S = features.compute(_y, "mel", cfg=_pred.cfg)
    return adv.reconstruct(S, predictor=_pred, n_iter=ADV_GL_ITERS)


def adv_reference(pred: Predictor, clip_id: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Griffin-Lim of the **clean** log-mel and the pipeline's prediction for it (once per
    clip: the fair comparison for a Griffin-Lim-reconstructed adversarial spectrogram)."""
    return _adv_reference(clip_id, pred.model_name, model_stamp(pred.model_name), pred, y)


@st.cache_data(show_spinner=False, max_entries=16)
def _adv_original_phase(
    clip_id: str,
    model_name: str,
    stamp: float,
    attack: str,
    epsilon: float,
    target: str | None,
    steps: int,
    _pred: Predictor,
    _y: np.ndarray,
    _res: adv.ClipAttack,
) -> tuple[np.ndarray, np.ndarray]:
    return adv.reconstruct_original_phase(_y, _res.log_mel, _res.adv_log_mel, predictor=_pred)


def adv_original_phase(
    pred: Predictor, clip_id: str, y: np.ndarray, res: adv.ClipAttack
) -> tuple[np.ndarray, np.ndarray]:
    """A spectrogram attack's change played on the clip's own STFT, with its original phase,
    and the pipeline's prediction for it (cached per clip, model and attack settings, as
    :func:`adv_attack`)."""
    s = res.settings
    stamp = model_stamp(pred.model_name)
    return _adv_original_phase(
        clip_id, pred.model_name, stamp, res.attack, float(s.epsilon), s.target, s.steps, pred, y, res
    )


def adv_window(y: np.ndarray, pred: Predictor) -> np.ndarray:
    """The 3-s window of ``y`` the model hears (what a waveform attack perturbs)."""
    return prepare_waveform(y, cfg=pred.cfg)


def format_snr(db: float) -> str:
    return _("∞ (no change)") if not np.isfinite(db) else f"{db:.1f} dB"


def _top(probs: np.ndarray) -> tuple[str, str]:
    """The top emotion of ``probs`` (its label) and its probability as ``"90 %"``."""
    return EMOTIONS[int(np.argmax(probs))], f"{100 * float(np.max(probs)):.0f} %"


def _target_already(res: adv.ClipAttack) -> bool:
    """Whether a targeted attack's target is what the model already says of the clean clip."""
    return res.settings.target is not None and res.settings.target == _top(res.probs_before)[0]


def adv_prediction_delta(res: adv.ClipAttack) -> tuple[str, str]:
    """The prediction metric's delta and its colour: ``("was anger", "red")`` when the
    attack changed the label, ``("unchanged", "gray")`` when not (shown without an arrow:
    a label has no direction)."""
    before, after = _top(res.probs_before)[0], _top(res.probs_after)[0]
    if after == before:
        return _("unchanged"), "gray"
    # Translators: under the prediction after the attack: what the model said before
    return _("was {emotion}").format(emotion=emotion_name(before)), "red"


def adv_outcome(res: adv.ClipAttack) -> str:
    """One markdown line: the prediction before and after, and whether it fooled the model."""
    (before, p_before), (after, p_after) = _top(res.probs_before), _top(res.probs_after)
    if res.settings.epsilon == 0:
        return _("Epsilon 0: nothing changes, the model says **{emotion}**.").format(
            emotion=emotion_name(before)
        )
    if _target_already(res):
        return _(
            "The model already says **{emotion}** ({probability}) of this clip: there is nothing to "
            "push towards. Choose another emotion under *Towards*."
        ).format(emotion=emotion_name(before), probability=p_before)
    if res.fooled:
        text = (
            _("**{before}** ({p_before}) → **{after}** ({p_after}): the attack reached the target.")
            if res.settings.target
            else _("**{before}** ({p_before}) → **{after}** ({p_after}): the attack changed the label.")
        )
    else:
        text = (
            _("**{before}** ({p_before}) → **{after}** ({p_after}): the attack did not reach the target.")
            if res.settings.target
            else _(
                "**{before}** ({p_before}) → **{after}** ({p_after}): the attack did not change the label."
            )
        )
    return text.format(
        before=emotion_name(before), p_before=p_before, after=emotion_name(after), p_after=p_after
    )


def adv_playback_outcome(res: adv.ClipAttack) -> str:
    """What the full pipeline makes of the adversarial audio as played (16-bit WAV), and
    whether a flip of the label survives it; "survive" only where the attack flipped it."""
    played, p_played = _top(res.probs_audio)
    head = (
        _(
            "The Griffin-Lim audio, saved as a 16-bit WAV and fed back through the full pipeline: **{emotion}** ({probability})"
        )
        if res.domain == "spectrogram"
        else _(
            "The adversarial audio, saved as a 16-bit WAV and fed back through the full pipeline: **{emotion}** ({probability})"
        )
    ).format(emotion=emotion_name(played), probability=p_played)
    # two whole clauses, each translated on its own, joined by a semicolon
    return f"{head}; {_playback_verdict(res, played)}."


def adv_own_phase_outcome(res: adv.ClipAttack, probs: np.ndarray) -> str:
    """What the full pipeline makes of the attack played with the clip's own phase
    (:func:`ser_core.attacks.reconstruct_original_phase`, probabilities ``probs``, shape
    (6,)), and whether a flip survives that too: Griffin-Lim alone can make or undo one."""
    played, p_played = _top(probs)
    head = _(
        "With the clip's own phase instead of Griffin-Lim (the attack's change as a gain on the clip's "
        "own spectrum): **{emotion}** ({probability})"
    ).format(emotion=emotion_name(played), probability=p_played)
    if res.settings.epsilon == 0 or _target_already(res) or not res.fooled:
        return f"{head}."
    if res.fools(probs):
        return f"{head}; " + _("the flip **survives** this playback too") + "."
    return f"{head}; " + _("the flip does **not** survive this playback") + "."


def _playback_verdict(res: adv.ClipAttack, played: str) -> str:
    if res.settings.epsilon == 0 or _target_already(res):
        return _("no attack, so nothing to survive")
    if res.fooled:
        if res.survives:
            return _("the flip **survives** the trip through sound")
        if res.domain == "spectrogram":
            return _(
                "the flip does **not** survive the trip through sound: Griffin-Lim and the rounding to 16 bits undo it"
            )
        return _("the flip does **not** survive the trip through sound: the rounding to 16 bits undoes it")
    targeted = bool(res.settings.target)
    if res.survives or played != _top(res.probs_before)[0]:
        cause = (
            # Translators: what changed the played audio's prediction ("... through {cause}")
            _("the Griffin-Lim reconstruction alone (compare the original's Griffin-Lim under Listen)")
            if res.domain == "spectrogram"
            else _("the rounding to 16 bits alone")
        )
        text = (
            _(
                "the attack did not reach the target, so there is nothing to survive (the audio reads as **{emotion}** through {cause})"
            )
            if targeted
            else _(
                "the attack did not change the label, so there is nothing to survive (the audio reads as **{emotion}** through {cause})"
            )
        )
        return text.format(emotion=emotion_name(played), cause=cause)
    if targeted:
        return _("the attack did not reach the target, so there is nothing to survive")
    return _("the attack did not change the label, so there is nothing to survive")


def adv_method_note(res: adv.ClipAttack) -> str:
    """One sentence on how the chosen attack moves epsilon: FGSM's single step is not
    monotonic in epsilon, PGD is the one to compare epsilons with."""
    a = adv.get_attack(res.attack)
    if a.iterative:
        s = res.settings
        return ngettext(
            "PGD takes {n} small step of {alpha} (2.5·ε/{n}), "
            "reading the gradient again after each and staying within ε of the clip: at the same "
            "ε it is stronger than FGSM, and the attack to compare epsilons with.",
            "PGD takes {n} small steps of {alpha} (2.5·ε/{n}), "
            "reading the gradient again after each and staying within ε of the clip: at the same "
            "ε it is stronger than FGSM, and the attack to compare epsilons with.",
            s.steps,
        ).format(n=s.steps, alpha=format_epsilon(s.alpha))
    note = _(
        "FGSM takes a single step of size ε along the sign of the gradient at the clean input. "
        "The gradient only points downhill where the step starts, so a bigger step can overshoot: "
        "a clip can flip at a small ε and not at a larger one (one step is not monotonic in ε)."
    )
    if res.fooled or res.settings.epsilon <= 0 or _target_already(res):
        return note
    missed = (
        _(
            "Here it did not reach the target: try another ε (larger, or smaller, as one step can overshoot) or PGD."
        )
        if res.settings.target
        else _(
            "Here it did not change the label: try another ε (larger, or smaller, as one step can overshoot) or PGD."
        )
    )
    return f"{note} {missed}"


def adv_timing_caption(res: adv.ClipAttack) -> str:
    names = {
        "features": _("features"),
        "attack": _("attack"),
        "griffin_lim": "Griffin-Lim",
        "playback_prediction": _("re-prediction"),
    }
    parts = [f"{names.get(k, k)} {v:.0f} ms" for k, v in res.timings_ms.items()]
    return _("Computed in {total} ms ({parts}); cached per clip and setting.").format(
        total=f"{sum(res.timings_ms.values()):.0f}", parts=", ".join(parts)
    )


def _curve_part(attack: str, part: pd.DataFrame, *, first: bool) -> str:
    """``"solid: FGSM, one step, on 897 clips (no attack: 95.1 %)"``."""
    a = adv.ATTACKS.get(attack)
    name = a.title.split(" on the ")[0] if a is not None else attack  # the method: FGSM, PGD
    steps = int(part["steps"].iloc[0]) if "steps" in part else 1
    n = int(part["n"].iloc[0])
    how = ngettext("one step", "{n} steps", steps).format(n=steps)
    on_clips = ngettext("on {n} clip", "on {n} clips", n).format(n=n)
    line = (
        _("solid: {attack}, {steps}, {clips}") if first else _("dashed: {attack}, {steps}, {clips}")
    ).format(attack=name, steps=how, clips=on_clips)
    clean = part.loc[part["epsilon"] == 0, "accuracy"]
    if len(clean):
        accuracy = f"{100 * float(clean.iloc[0]):.1f}"
        line = _("{line} (no attack: {accuracy} %)").format(line=line, accuracy=accuracy)
    if not first:
        line = _("{line}; click the legend for {attack}'s per-emotion lines").format(line=line, attack=name)
    return line


def adv_curve_caption(rows: pd.DataFrame, *, marked: bool) -> str:
    """The robustness curve's caption: what was attacked, each attack's line style, clips,
    steps and clean accuracy, and why a curve of averages can fall steadily when one clip
    under FGSM does not."""
    parts = [
        _curve_part(k, part, first=i == 0) for i, (k, part) in enumerate(rows.groupby("attack", sort=False))
    ]
    lines = "; ".join(parts)
    text = _(
        "Test accuracy on the seed test split under untargeted attacks away from the true label, "
        "epsilon on the normalised input. {lines}. Per-emotion lines: the "
        "share of that emotion's clips still recognised. The curves are averages over many clips: "
        "one clip under FGSM can flip at a small epsilon and not at a larger one (see above), "
        "which the average hides."
    ).format(lines=f"{lines[:1].upper()}{lines[1:]}")
    if marked:
        text += " " + _("The red dashed line marks this clip's epsilon.")
    return text


def adv_curve_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The robustness rows as the page shows them under "The numbers": accuracies in per
    cent (as on the curve), ``n`` as ``clips``, the SNR named; model, domain and protocol
    (one value on the page) dropped."""
    out = rows.drop(columns=["model", "domain", "protocol"], errors="ignore").copy()
    pct = ["accuracy", *(e for e in EMOTIONS if e in out)]
    out[pct] = (100 * out[pct]).round(1)
    snr = _("median SNR (dB)")
    names = {
        "attack": _("attack"),
        "steps": _("steps"),
        "n": _("clips"),
        "accuracy": _("accuracy (%)"),
        "snr_db": snr,
    }
    emotions = {e: _("{emotion} (%)").format(emotion=emotion_name(e)) for e in EMOTIONS}
    return out.rename(columns={**names, **emotions}).round({snr: 1})


@st.cache_data(show_spinner=False, max_entries=4)
def _adv_robustness(path: str, mtime: float) -> pd.DataFrame | None:
    return adv.load_robustness(path)


def adv_robustness() -> pd.DataFrame | None:
    """The robustness file (``python -m ser_core attack-eval``), or None before it exists."""
    p = adv.robustness_path()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _adv_robustness(str(p), mtime)
