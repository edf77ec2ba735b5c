"""Captions of the adversarial page (:mod:`ui.adversarial`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ui import adversarial


def result(epsilon: float, target: str | None, fooled: bool) -> SimpleNamespace:
    return SimpleNamespace(
        probs_before=np.array([0.9, 0.1, 0, 0, 0, 0]),
        probs_after=np.array([0.2, 0.8, 0, 0, 0, 0]),
        settings=SimpleNamespace(epsilon=epsilon, target=target),
        fooled=fooled,
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
