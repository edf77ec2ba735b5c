"""One clip attacked end to end: the attack, Griffin-Lim back to audio, and the full
pipeline's prediction of the audio as played (:class:`ClipAttack`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import features
from ..audio import encode_wav, load_audio
from ..errors import ConfigError
from ..i18n import N_
from ..metrics import softmax
from ..sonify import mel_to_audio, perturbed_audio
from ..torch_frontend import WaveformClassifier, prepare_waveform
from .methods import AttackSettings, get_attack, mel_snr_db, snr_db, target_index

__all__ = ["ClipAttack", "attack_clip", "reconstruct", "reconstruct_original_phase"]


# ------------------------------------------------------------------ one clip, end to end
@dataclass(frozen=True)
class ClipAttack:
    """An attack on one clip, and what happens when it is played back.

    Attributes
    ----------
    attack, domain : str
    settings : AttackSettings
    label : int
        The class the clean clip is predicted as (what an untargeted attack leaves).
    log_mel, adv_log_mel : np.ndarray, shape (n_mels, frames)
        Clean and adversarial log-mel in dB (spectrogram attacks: the de-normalised
        adversarial model input; waveform attacks: the features of the adversarial audio).
    probs_before, probs_after : np.ndarray, shape (6,)
        Calibrated probabilities of the clean and the adversarial model input.
    snr_db : float
        SNR of the perturbation on what the attack changes: the normalised input
        (spectrogram) or the samples (waveform).
    mel_snr_db : float
        SNR of the change of the mel magnitudes (:func:`mel_snr_db`).
    audio : np.ndarray, shape (n_samples,)
        Adversarial audio: Griffin-Lim of ``adv_log_mel`` (spectrogram) or the
        perturbed waveform itself (waveform).
    probs_audio : np.ndarray, shape (6,)
        The full pipeline's prediction for ``audio`` after 16-bit WAV encoding.
    timings_ms : dict
        Wall time of each stage.
    """

    attack: str
    domain: str
    settings: AttackSettings
    label: int
    log_mel: np.ndarray
    adv_log_mel: np.ndarray
    probs_before: np.ndarray
    probs_after: np.ndarray
    snr_db: float
    mel_snr_db: float
    audio: np.ndarray
    probs_audio: np.ndarray
    timings_ms: dict = field(default_factory=dict)

    @property
    def perturbation_db(self) -> np.ndarray:
        """``adv_log_mel - log_mel``, shape (n_mels, frames), dB."""
        return self.adv_log_mel - self.log_mel

    def fools(self, probs: np.ndarray) -> bool:
        """Whether ``probs`` (shape (6,)) count as fooled: untargeted, the label changed;
        targeted, the target reached."""
        top = int(np.argmax(probs))
        t = target_index(self.settings.target)
        return top == t if t is not None else top != self.label

    @property
    def fooled(self) -> bool:
        """Whether the adversarial model input fools the model (untargeted: label changed;
        targeted: target reached)."""
        return self.fools(self.probs_after)

    @property
    def survives(self) -> bool:
        """Whether the played-back audio still fools the full pipeline."""
        return self.fools(self.probs_audio)


def _check_mel_predictor(predictor) -> None:
    if predictor.kind != "features" or predictor.representation != "mel":
        raise ConfigError(
            N_("the attacks need a model on the 'mel' representation; {model!r} reads {representation!r}"),
            model=predictor.model_name,
            representation=predictor.representation,
        )


def reconstruct(log_mel: np.ndarray, *, predictor, n_iter: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Griffin-Lim audio of a dB log-mel and the full pipeline's prediction for it.

    Parameters
    ----------
    log_mel : np.ndarray, shape (n_mels, frames) or (1, n_mels, frames)
        Log-mel in dB under ``predictor.cfg``.
    predictor : ser_core.inference.Predictor
        Gives the front end and predicts the audio.
    n_iter : int
        Griffin-Lim iterations.

    Returns
    -------
    audio : np.ndarray, float32, shape (cfg.n_samples,)
    probs : np.ndarray, float64, shape (6,), calibrated, after 16-bit WAV encoding
    """
    y = mel_to_audio(log_mel, cfg=predictor.cfg, n_iter=n_iter)
    return y, _predict_as_played(y, predictor)


def reconstruct_original_phase(
    y: np.ndarray, log_mel: np.ndarray, adv_log_mel: np.ndarray, *, predictor
) -> tuple[np.ndarray, np.ndarray]:
    """A log-mel change played on the clip's own STFT (original phase), and the full
    pipeline's prediction for it: :func:`ser_core.sonify.perturbed_audio`, no Griffin-Lim.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The clean waveform (its model window is cut as the features cut it).
    log_mel, adv_log_mel : np.ndarray, shape (n_mels, frames)
        The window's clean and perturbed log-mel in dB (:attr:`ClipAttack.log_mel`,
        :attr:`ClipAttack.adv_log_mel`).
    predictor : ser_core.inference.Predictor
        Gives the front end and predicts the audio.

    Returns
    -------
    audio : np.ndarray, float32, shape (cfg.n_samples,)
    probs : np.ndarray, float64, shape (6,), calibrated, after 16-bit WAV encoding
    """
    audio = perturbed_audio(y, log_mel, adv_log_mel, cfg=predictor.cfg)
    return audio, _predict_as_played(audio, predictor)


def _predict_as_played(y: np.ndarray, predictor) -> np.ndarray:
    played = load_audio(encode_wav(y, sr=predictor.cfg.sr), name="adversarial.wav", sr=predictor.cfg.sr)
    return predictor.predict(played).astype(np.float64)


def attack_clip(
    y: np.ndarray,
    *,
    predictor,
    attack: str = "fgsm",
    settings: AttackSettings = AttackSettings(),
    n_iter: int = 32,
) -> ClipAttack:
    """Attack one clip with a mel model and play the result back through the full pipeline.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Waveform at the model's sample rate (its centre 3 s are used).
    predictor : ser_core.inference.Predictor
        A shipped model on the ``mel`` representation (gradients go through its
        PyTorch module whatever its back end; the playback prediction uses the back end).
    attack : str
        A name in :data:`ATTACKS`.
    settings : AttackSettings
        Epsilon, target and steps of the attack.
    n_iter : int
        Griffin-Lim iterations (spectrogram attacks).

    Returns
    -------
    ClipAttack
        Log-mels ``(n_mels, cfg.n_frames)``, probabilities ``(6,)`` before,
        after and as played back, SNRs, the adversarial audio
        ``(cfg.n_samples,)`` and the timings.

    Raises
    ------
    ConfigError
        The model does not read the ``mel`` representation, or ``y`` or
        ``settings`` is invalid for the attack.
    UnknownNameError
        If ``attack`` is not registered.
    """
    _check_mel_predictor(predictor)
    a = get_attack(attack)
    cfg, norm, module = predictor.cfg, predictor.norm, predictor.module
    mean = norm.mean if norm is not None else np.float32(0)
    std = norm.std if norm is not None else np.float32(1)
    t = {}

    def probs_of(x_norm: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = module(torch.from_numpy(np.ascontiguousarray(x_norm[None], np.float32))).numpy()
        return softmax(logits, temperature=predictor.temperature)[0]

    t0 = time.perf_counter()
    w = prepare_waveform(y, cfg=cfg)
    S = features.compute(w, "mel", cfg=cfg)  # (1, F, T) dB
    x = ((S - mean) / std).astype(np.float32)
    probs_before = probs_of(x)
    label = int(np.argmax(probs_before))
    t["features"] = 1000 * (time.perf_counter() - t0)

    t0 = time.perf_counter()
    if a.domain == "spectrogram":
        x_adv = a(x, model=module, settings=settings, labels=np.array([label]))
        S_adv = np.where(x_adv == x, S, x_adv * std + mean)  # unchanged bins stay exact
        snr = snr_db(x, x_adv)
        t["attack"] = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        audio = mel_to_audio(S_adv[0], cfg=cfg, n_iter=n_iter)
        t["griffin_lim"] = 1000 * (time.perf_counter() - t0)
    else:
        clf = WaveformClassifier(
            module, mean=mean if norm is not None else None, std=std if norm is not None else None, cfg=cfg
        ).eval()
        audio = a(w, model=clf, settings=settings, labels=np.array([label]))
        snr = snr_db(w, audio)
        t["attack"] = 1000 * (time.perf_counter() - t0)
        S_adv = features.compute(audio, "mel", cfg=cfg)
        x_adv = ((S_adv - mean) / std).astype(np.float32)
    probs_after = probs_of(x_adv)
    t0 = time.perf_counter()
    probs_audio = _predict_as_played(audio, predictor)
    t["playback_prediction"] = 1000 * (time.perf_counter() - t0)
    return ClipAttack(
        attack,
        a.domain,
        settings,
        label,
        S[0],
        np.asarray(S_adv[0], np.float32),
        probs_before,
        probs_after,
        float(snr),
        mel_snr_db(S[0], S_adv[0]),
        np.asarray(audio, np.float32),
        probs_audio,
        t,
    )
