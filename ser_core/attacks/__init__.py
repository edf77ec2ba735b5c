"""Adversarial attacks on the emotion models: FGSM and PGD, on the spectrogram and on the waveform.

Every attack is a function, data first, registered in :data:`ATTACKS` with
:func:`register_attack`; the adversarial page fills its dropdown from it.

Algorithms apart from their evaluation: :mod:`~ser_core.attacks.methods` (the attacks),
:mod:`~ser_core.attacks.imperceptible` (an attack under the psychoacoustic masking
threshold of :mod:`~ser_core.attacks.psychoacoustic`, Qin et al. 2019),
:mod:`~ser_core.attacks.clip` (one clip end to end, :class:`ClipAttack`) and
:mod:`~ser_core.attacks.robustness` (the robustness curve, its file and MLflow runs).
Input-transformation defences: :mod:`~ser_core.attacks.defences` (the transforms),
:mod:`~ser_core.attacks.adaptive` (the naive and the adaptive EOT/BPDA attacker) and
:mod:`~ser_core.attacks.defence_eval` (their curves and the per-emotion margin table).

>>> from ser_core import attacks, models
>>> m = models.load("resnet18_mel").module
>>> x_adv = attacks.fgsm(x, model=m, epsilon=0.01)                   # x: normalised (n, 1, 128, 188)
>>> x_adv = attacks.fgsm(x, model=m, epsilon=0.01, target="sadness")  # towards an emotion
>>> clf = torch_frontend.WaveformClassifier.from_loaded(models.load("resnet18_mel"))
>>> y_adv = attacks.pgd_waveform(y[None], model=clf, epsilon=1e-3)    # y: (n, 48000) samples

What epsilon means depends on the **domain**:

``"spectrogram"``
    The attack changes the model's *normalised* input (the log-mel minus the
    training mean, divided by the training standard deviation, per mel band),
    as the research project did: ``epsilon`` is an L-infinity bound in those
    units.  One unit is one standard deviation of the band over the training
    clips (8 to 25 dB for the shipped mel model, 17 dB on average), so
    ``epsilon = 0.01`` moves every bin by at most 0.08 to 0.25 dB.
``"waveform"``
    The attack changes the samples (16 kHz, full scale ±1) through the
    differentiable front end :mod:`ser_core.torch_frontend`: ``epsilon`` is an
    L-infinity bound in sample amplitude.  The result is real audio.

Untargeted attacks raise the cross-entropy of the label to leave (by default
the model's own prediction on the clean input; the robustness evaluation passes
the true labels); targeted ones lower the cross-entropy of the target emotion.
"""

from . import psychoacoustic
from .adaptive import ClipDefence, defend_clip, defended_logits, eot_pgd, naive_attack
from .clip import ClipAttack, attack_clip, reconstruct, reconstruct_original_phase
from .defences import (
    DEFENCES,
    Defence,
    DefenceSpec,
    defence_names,
    get_defence,
    parse_defence,
    parse_defences,
)
from .imperceptible import ImperceptibleResult, imperceptible, imperceptible_attack
from .methods import (
    ATTACKS,
    DEFAULT_EPSILONS,
    DOMAINS,
    WAVEFORM_EPSILONS,
    Attack,
    AttackSettings,
    attack_names,
    fgsm,
    fgsm_waveform,
    get_attack,
    gradient_sign,
    mel_snr_db,
    pgd,
    pgd_waveform,
    register_attack,
    snr_db,
    target_index,
)
from .robustness import (
    EXPERIMENT,
    ROBUSTNESS_COLUMNS,
    evaluate_shipped,
    load_robustness,
    log_robustness,
    parse_epsilons,
    robustness,
    robustness_path,
    save_robustness,
)

__all__ = [
    "ATTACKS",
    "DEFENCES",
    "ClipDefence",
    "Defence",
    "defend_clip",
    "DefenceSpec",
    "defence_names",
    "defended_logits",
    "eot_pgd",
    "get_defence",
    "naive_attack",
    "parse_defence",
    "parse_defences",
    "DEFAULT_EPSILONS",
    "DOMAINS",
    "EXPERIMENT",
    "ROBUSTNESS_COLUMNS",
    "WAVEFORM_EPSILONS",
    "Attack",
    "AttackSettings",
    "ClipAttack",
    "ImperceptibleResult",
    "attack_clip",
    "attack_names",
    "evaluate_shipped",
    "fgsm",
    "fgsm_waveform",
    "get_attack",
    "gradient_sign",
    "imperceptible",
    "imperceptible_attack",
    "load_robustness",
    "log_robustness",
    "mel_snr_db",
    "parse_epsilons",
    "pgd",
    "pgd_waveform",
    "psychoacoustic",
    "reconstruct",
    "reconstruct_original_phase",
    "register_attack",
    "robustness",
    "robustness_path",
    "save_robustness",
    "snr_db",
    "target_index",
]
