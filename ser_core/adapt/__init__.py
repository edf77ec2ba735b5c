"""Speaker adaptation: normalise features with statistics of one voice.

A model trained on a random split knows its speakers; on a new voice its
accuracy collapses (about 46% for a mel ResNet on one held-out nEMO speaker).
Normalising every clip with the mean and standard deviation *of its own
speaker* (per channel and bin, over all frames of that speaker's audio)
removes much of what makes voices differ (vocal-tract length, microphone,
loudness) and keeps what the emotion changes.

Only audio is used, never labels: the statistics of a speaker are the same
whatever the clips' emotions are (a test shuffles them to check).

>>> profile = voice_profile(y_30s, representations=["mel"])   # unlabelled speech
>>> pred = Predictor.load("resnet18_mel_spk").adapted(profile)
>>> pred.predict(y)

* :func:`voice_profile` – statistics from a recording (10–30 s of any speech);
* :class:`RunningStats` – the same, updated frame by frame (live microphone);
* :func:`speaker_stats` – per-speaker statistics of a corpus part (training);
* :func:`voice_warps` – test-time augmentation: the voice with its
  frequencies scaled by each of :data:`VOICE_WARPS`, every copy normalised
  with its own statistics, the predictions averaged;
* :func:`adapt_batchnorm` – re-estimate a network's batch-norm statistics on a
  voice (AdaBN); :func:`adapted_logits` scores it on a held-out speaker.  A
  profile of at least :data:`ADABN_SECONDS` of speech keeps its windows
  (:attr:`VoiceProfile.windows`), and a predictor adapted to it does this too;
* :func:`infomax` – tune the batch-norm scales and shifts to a voice by information
  maximisation (SHOT-IM), :func:`tune_to_voice` on top of AdaBN; a predictor adapted to
  at least :data:`INFOMAX_SECONDS` of speech does this too.

The statistics of a voice are in :mod:`~ser_core.adapt.voice`, the adaptation of a
network (and the protocol that scores it) in :mod:`~ser_core.adapt.network`.
"""

from .network import (
    ADAPT_SECONDS,
    INFOMAX_EPOCHS,
    INFOMAX_LR,
    adapt_batchnorm,
    adaptation_curve,
    adapted_logits,
    has_batchnorm,
    infomax,
    tune_to_voice,
    view_batchnorm,
)
from .voice import (
    ADABN_MAX_WINDOWS,
    ADABN_SECONDS,
    INFOMAX_SECONDS,
    MIN_RMS,
    MIN_SECONDS,
    VOICE_WARPS,
    RunningStats,
    VoiceProfile,
    adabn_windows,
    clip_seconds,
    profile_from_source,
    speaker_normalise,
    speaker_stats,
    speech_windows,
    voice_profile,
    voice_stats,
    voice_warps,
    window_stats,
)

__all__ = [
    "ADABN_MAX_WINDOWS",
    "ADABN_SECONDS",
    "ADAPT_SECONDS",
    "INFOMAX_EPOCHS",
    "INFOMAX_LR",
    "INFOMAX_SECONDS",
    "MIN_RMS",
    "MIN_SECONDS",
    "VOICE_WARPS",
    "RunningStats",
    "VoiceProfile",
    "adabn_windows",
    "adapt_batchnorm",
    "adaptation_curve",
    "adapted_logits",
    "clip_seconds",
    "has_batchnorm",
    "infomax",
    "profile_from_source",
    "speaker_normalise",
    "speaker_stats",
    "speech_windows",
    "tune_to_voice",
    "view_batchnorm",
    "voice_profile",
    "voice_stats",
    "voice_warps",
    "window_stats",
]
