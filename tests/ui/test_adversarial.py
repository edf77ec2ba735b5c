"""Captions of the adversarial page (:mod:`ui.adversarial`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ser_core.attacks import AttackSettings
from ser_core.config import EMOTIONS
from ui import adversarial

ANGER, FEAR = np.array([0.9, 0.1, 0, 0, 0, 0]), np.array([0.2, 0.8, 0, 0, 0, 0])


def result(epsilon: float, target: str | None, fooled: bool) -> SimpleNamespace:
    return SimpleNamespace(
        probs_before=ANGER,
        probs_after=FEAR,
        settings=SimpleNamespace(epsilon=epsilon, target=target),
        fooled=fooled,
    )


def played(
    after: np.ndarray,
    audio: np.ndarray,
    *,
    domain: str = "waveform",
    target: str | None = None,
    attack: str = "fgsm_wave",
    epsilon: float = 0.01,
) -> SimpleNamespace:
    """A ClipAttack stand-in: clean clip read as anger, ``fooled``/``survives`` as the real class."""
    t = None if target is None else EMOTIONS.index(target)

    def fooled(p):
        return int(np.argmax(p)) == t if t is not None else int(np.argmax(p)) != 0

    return SimpleNamespace(
        attack=attack,
        domain=domain,
        settings=AttackSettings(epsilon=epsilon, target=target),
        probs_before=ANGER,
        probs_after=after,
        probs_audio=audio,
        fooled=fooled(after),
        survives=fooled(audio),
        fools=fooled,
    )


def test_format_snr():
    assert (
        adversarial.format_snr(float("inf")) == "∞ (no change)" and adversarial.format_snr(12.34) == "12.3 dB"
    )


def test_adv_outcome_says_what_the_attack_did():
    assert adversarial.adv_outcome(result(0.0, None, False)).startswith("Epsilon 0: nothing changes")
    line = adversarial.adv_outcome(result(0.01, None, True))
    assert line == "**anger** (90 %) → **fear** (80 %): the attack changed the label."
    assert adversarial.adv_outcome(result(0.01, "fear", False)).endswith("did not reach the target.")


def test_target_the_model_already_says_is_no_attack():
    res = played(ANGER, ANGER, target="anger")
    assert res.fooled  # the raw test says "reached"; the page must not
    assert "already says **anger**" in adversarial.adv_outcome(res)
    assert "nothing to survive" in adversarial.adv_playback_outcome(res)
    assert adversarial.adv_prediction_delta(res) == ("unchanged", "gray")


def test_survive_only_when_the_attack_flipped_the_label():
    """#28: 'does not survive the trip through sound' appeared when nothing had changed."""
    unchanged = adversarial.adv_playback_outcome(played(ANGER, ANGER))
    assert "did not change the label, so there is nothing to survive" in unchanged
    assert "the trip through sound" not in unchanged
    kept = adversarial.adv_playback_outcome(played(FEAR, FEAR))
    assert "the flip **survives** the trip through sound" in kept
    lost = adversarial.adv_playback_outcome(played(FEAR, ANGER))
    assert "the flip does **not** survive" in lost and "rounding to 16 bits" in lost
    gl_lost = adversarial.adv_playback_outcome(played(FEAR, ANGER, domain="spectrogram", attack="fgsm"))
    assert "Griffin-Lim and the rounding to 16 bits undo it" in gl_lost
    # the played audio changes although the attack did not: say why, not "survives"
    gl = adversarial.adv_playback_outcome(played(ANGER, FEAR, domain="spectrogram", attack="fgsm"))
    assert "nothing to survive" in gl and "Griffin-Lim reconstruction alone" in gl and "survives" not in gl
    missed = adversarial.adv_playback_outcome(played(ANGER, ANGER, target="fear"))
    assert "did not reach the target, so there is nothing to survive" in missed
    assert "nothing to survive" in adversarial.adv_playback_outcome(played(ANGER, ANGER, epsilon=0.0))


def test_the_own_phase_playback_says_whether_the_flip_survives_it_too():
    """#29: Griffin-Lim alone can keep or undo a flip; the clip's own phase is the fair test."""
    res = played(FEAR, FEAR, domain="spectrogram", attack="fgsm")  # survives Griffin-Lim
    lost = adversarial.adv_own_phase_outcome(res, ANGER)
    assert lost.startswith("With the clip's own phase instead of Griffin-Lim") and "**anger** (90 %)" in lost
    assert lost.endswith("the flip does **not** survive this playback.")
    assert adversarial.adv_own_phase_outcome(res, FEAR).endswith("the flip **survives** this playback too.")
    unchanged = adversarial.adv_own_phase_outcome(played(ANGER, ANGER, domain="spectrogram"), ANGER)
    assert "survive" not in unchanged


def test_prediction_delta_is_a_label_change_not_a_direction():
    assert adversarial.adv_prediction_delta(played(FEAR, FEAR)) == ("was anger", "red")
    assert adversarial.adv_prediction_delta(played(ANGER, FEAR)) == ("unchanged", "gray")
    # targeted, missed the target but still moved the label: the label did change
    assert adversarial.adv_prediction_delta(played(FEAR, FEAR, target="sadness")) == ("was anger", "red")


def test_method_note_explains_fgsm_is_not_monotonic_in_epsilon():
    note = adversarial.adv_method_note(played(ANGER, ANGER))
    assert "single step of size ε" in note and "not monotonic in ε" in note
    assert "did not change the label" in note and "PGD" in note
    assert "Here it" not in adversarial.adv_method_note(played(FEAR, FEAR))
    pgd = adversarial.adv_method_note(played(FEAR, FEAR, attack="pgd_wave"))
    assert pgd.startswith("PGD takes 10 small steps of 0.0025 (2.5·ε/10)") and "compare epsilons" in pgd


def test_curve_caption_says_each_attacks_style_clips_and_clean_accuracy():
    rows = pd.DataFrame(
        {
            "attack": ["fgsm"] * 2 + ["pgd"] * 2,
            "steps": [1, 1, 5, 5],
            "n": [897, 897, 300, 300],
            "epsilon": [0.0, 0.01, 0.0, 0.01],
            "accuracy": [0.951, 0.84, 0.937, 0.79],
        }
    )
    cap = adversarial.adv_curve_caption(rows, marked=True)
    assert "Solid: FGSM, one step, on 897 clips (no attack: 95.1 %)" in cap
    assert "dashed: PGD, 5 steps, on 300 clips (no attack: 93.7 %)" in cap
    assert "not at a larger one" in cap and cap.endswith("marks this clip's epsilon.")
    assert "red dashed" not in adversarial.adv_curve_caption(rows, marked=False)


def test_curve_table_in_per_cent_like_the_curve():
    rows = pd.DataFrame(
        {
            "model": ["m", "m"],
            "attack": ["fgsm", "fgsm"],
            "domain": ["spectrogram"] * 2,
            "protocol": ["seed"] * 2,
            "epsilon": [0.0, 0.01],
            "n": [897, 897],
            "accuracy": [0.95095, 0.84169],
            "snr_db": [np.inf, 39.97],
            **{e: [0.9, 0.5] for e in EMOTIONS},
        }
    )
    table = adversarial.adv_curve_table(rows)
    assert list(table.columns[:5]) == ["attack", "epsilon", "clips", "accuracy (%)", "median SNR (dB)"]
    assert table["accuracy (%)"].tolist() == [95.1, 84.2] and table["anger (%)"].tolist() == [90.0, 50.0]
    assert table["median SNR (dB)"].tolist()[1] == 40.0


def test_captions_in_polish():
    """#30: the outcome sentences, the delta and the curve caption in Polish, emotions too."""
    from ser_core.i18n import language

    rows = pd.DataFrame(
        {
            "attack": ["fgsm"] * 2 + ["pgd"] * 2,
            "steps": [1, 1, 5, 5],
            "n": [897, 897, 300, 300],
            "epsilon": [0.0, 0.01, 0.0, 0.01],
            "accuracy": [0.951, 0.84, 0.937, 0.79],
        }
    )
    with language("pl"):
        outcome = adversarial.adv_outcome(result(0.01, None, True))
        delta = adversarial.adv_prediction_delta(played(FEAR, FEAR))
        lost = adversarial.adv_playback_outcome(played(FEAR, ANGER))
        pgd = adversarial.adv_method_note(played(FEAR, FEAR, attack="pgd_wave"))
        cap = adversarial.adv_curve_caption(rows, marked=True)
        table = adversarial.adv_curve_table(rows.assign(snr_db=30.0))
    assert outcome == "**złość** (90 %) → **strach** (80 %): atak zmienił etykietę."
    assert delta == ("wcześniej: złość", "red")
    assert "zmiana etykiety **nie** przetrwała przejścia przez dźwięk" in lost
    assert pgd.startswith("PGD wykonuje 10 małych kroków o długości 0.0025")
    assert "Linia ciągła: FGSM, jeden krok, na 897 nagraniach (bez ataku: 95.1 %)" in cap
    assert "linia przerywana: PGD, 5 kroków, na 300 nagraniach (bez ataku: 93.7 %)" in cap
    assert list(table.columns) == [
        "atak",
        "kroki",
        "nagrania",
        "epsilon",
        "dokładność (%)",
        "mediana SNR (dB)",
    ]
