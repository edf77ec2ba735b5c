"""A shipped model with its front end: waveform in, calibrated probabilities out
(:class:`Predictor`); its ONNX copy, its sliding-window :class:`Timeline` and timed
:class:`Verdict`."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import adapt, features, functionals, models
from ..audio import files_of, frame_windows, load_audio, pad_or_trim
from ..config import EMOTIONS, FeatureConfig, project_root
from ..errors import SERError, UnknownNameError
from ..export import OnnxModel, export_onnx
from ..i18n import N_, _, emotion_name, ngettext
from ..metrics import DEFAULT_UNSURE, TopClass, log_softmax, softmax
from .choice import best_model_name

__all__ = [
    "BACKENDS",
    "PREDICTORS",
    "Predictor",
    "Timeline",
    "Verdict",
    "onnx_cache_dir",
    "predict_files",
]

#: Inference back ends: PyTorch eager, ONNX Runtime, or ONNX Runtime when it works.
BACKENDS = ("auto", "torch", "onnx")


def onnx_cache_dir() -> Path:
    """Where exported ONNX copies of shipped models go.

    Returns
    -------
    Path
        ``$SER_ONNX_CACHE`` when set, else ``<project>/.cache/onnx``.
    """
    return Path(os.environ.get("SER_ONNX_CACHE", project_root() / ".cache" / "onnx"))


def _onnx_copy(loaded: models.LoadedModel) -> Path:
    """The ONNX export of a loaded model, made once per weights + card content."""
    digest = hashlib.sha256(json.dumps(loaded.card, sort_keys=True).encode())
    for v in loaded.module.state_dict().values():
        digest.update(v.detach().cpu().numpy().tobytes())
    path = onnx_cache_dir() / f"{loaded.model_name}-{digest.hexdigest()[:16]}.onnx"
    if not path.exists():
        for old in path.parent.glob("*.partial.onnx"):  # left by killed processes
            try:
                if time.time() - old.stat().st_mtime > 3600:
                    old.unlink()
            except OSError:
                pass
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.partial.onnx")
        try:
            export_onnx(loaded, tmp)
            os.replace(tmp, path)  # atomic: concurrent sessions never see half a file
        finally:
            tmp.unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class Timeline:
    """Per-window probabilities of a long recording.

    Attributes
    ----------
    starts : np.ndarray, shape (n_windows,)
        Window start times (s).
    probs : np.ndarray, shape (n_windows, 6)
    overall : np.ndarray, shape (6,)
        Mean of the window probabilities weighted by each window's speech energy
        (silent windows count little).
    """

    starts: np.ndarray
    probs: np.ndarray
    overall: np.ndarray

    @property
    def label(self) -> str:
        """The emotion with the highest :attr:`overall` probability (one of ``EMOTIONS``)."""
        return EMOTIONS[int(np.argmax(self.overall))]


@dataclass(frozen=True)
class Verdict(TopClass):
    """The prediction for one recording, with how long it took.

    Attributes
    ----------
    probs : np.ndarray, shape (6,)
        Calibrated probabilities (for audio longer than one window: the
        energy-weighted mean over the :attr:`timeline`).
    timeline : Timeline or None
        Per-window probabilities, for audio longer than one window.
    elapsed_ms : float
        Wall time of features + model (ms).
    seconds : float
        Duration of the audio (s).
    unsure_below : float
        The model's "unsure" threshold.
    """

    probs: np.ndarray
    timeline: Timeline | None
    elapsed_ms: float
    seconds: float
    unsure_below: float = DEFAULT_UNSURE

    @property
    def unsure(self) -> bool:
        """Whether the top probability is below the model's threshold (:attr:`unsure_below`)."""
        return self.confidence < self.unsure_below

    def message(self) -> str:
        """One sentence for people.

        Returns
        -------
        str
            ``"anger (87 %)"``, or ``"The model is unsure: its best guess is
            anger at 42 %"`` when :attr:`unsure`.
        """
        label, pct = emotion_name(self.label), f"{100 * self.confidence:.0f}"
        if self.unsure:
            return _("The model is unsure: its best guess is {emotion} at {pct} %").format(
                emotion=label, pct=pct
            )
        return _("{emotion} ({pct} %)").format(emotion=label, pct=pct)


class Predictor:
    """A shipped model with its front end.

    Parameters
    ----------
    loaded : LoadedModel
        A shipped model and its card (:func:`ser_core.models.load`).
    backend : {"torch", "onnx", "auto"}
        Run the network in PyTorch, in ONNX Runtime (exported once to
        :func:`onnx_cache_dir`), or in ONNX Runtime falling back to PyTorch
        when the export or the runtime fails ("auto").  Features and
        calibration are the same for all.
    threads : int, optional
        ONNX Runtime intra-op threads (default: its own choice).
    """

    def __init__(
        self, loaded: models.LoadedModel, *, backend: str = "torch", threads: int | None = None
    ) -> None:
        if backend not in BACKENDS:
            raise UnknownNameError(
                N_("unknown backend {backend!r}; choose one of {backends}"),
                backend=backend,
                backends=BACKENDS,
            )
        self.loaded = loaded
        card = loaded.card
        self.model_name = loaded.model_name
        self.kind = card["input"]["kind"]
        self.representation = card["input"]["name"]
        self.cfg = FeatureConfig(**card["input"].get("feature_config", {}))
        norm = card.get("normalization", {})
        #: Normalisation the model expects: "corpus", "speaker" or "none".
        self.norm_kind = norm.get("kind", "none")
        # corpus statistics (for a speaker-normalised model: the fallback for unknown voices)
        self.norm = features.NormStats.from_dict(norm) if self.norm_kind in ("corpus", "speaker") else None
        #: The voice the inputs are normalised with (see :meth:`adapted`).
        self.profile = None
        #: With AdaBN (see :meth:`adapted`): the network with batch-norm statistics of the
        #: voice for each of :attr:`_bn_views` (:func:`ser_core.adapt.view_batchnorm`); it is
        #: then :attr:`module` too.
        self._bn_net: torch.nn.Module | None = None
        self._bn_views: tuple[str, ...] = ()
        #: With information maximisation: the tuned network the views' statistics were taken on.
        self._tuned: torch.nn.Module | None = None
        #: Test-time voice warps averaged over once adapted to a voice (:data:`ser_core.adapt.VOICE_WARPS`;
        #: empty for a model that cannot adapt or whose input no warp reaches).
        self.warps: tuple[float, ...] = (
            adapt.VOICE_WARPS
            if self.norm_kind == "speaker"
            and self.kind == "features"
            and features.warpable(self.representation)
            else ()
        )
        self.temperature = loaded.temperature
        #: Below this top probability the prediction is reported as unsure.
        self.unsure_below = float(card.get("decision", {}).get("unsure_below", DEFAULT_UNSURE))
        self.module = loaded.module.eval()
        #: The back end in use: "torch" or "onnx".
        self.backend = "torch"
        self._onnx = None
        if backend != "torch":
            try:
                path = _onnx_copy(loaded)
                try:
                    self._onnx = OnnxModel(path, threads=threads)
                except Exception:  # noqa: BLE001 - a damaged cached copy is exported afresh, once
                    path.unlink(missing_ok=True)
                    self._onnx = OnnxModel(_onnx_copy(loaded), threads=threads)
                self.backend = "onnx"
            except Exception as exc:
                if backend == "onnx":
                    raise SERError(
                        N_("cannot run {model!r} in ONNX Runtime: {error}"),
                        model=self.model_name,
                        error=str(exc),
                    ) from exc
                warnings.warn(
                    f"ONNX Runtime unavailable for {self.model_name!r} ({exc}); using PyTorch",
                    RuntimeWarning,
                    stacklevel=2,
                )

    @classmethod
    def load(
        cls,
        model_name: str | None = None,
        *,
        directory: Path | None = None,
        backend: str = "torch",
        threads: int | None = None,
    ) -> Predictor:
        """Load ``model_name`` (default: :func:`best_model_name`) on ``backend``.

        An ensemble's card names its members; they are loaded too and the
        result is an :class:`EnsemblePredictor` with the same interface.

        Parameters
        ----------
        model_name : str, optional
            A shipped model (default: :func:`best_model_name`).
        directory : Path, optional
            Where the shipped models are (default ``artifacts/models``).
        backend : {"torch", "onnx", "auto"}
            As for :class:`Predictor`.
        threads : int, optional
            ONNX Runtime intra-op threads (an ensemble's members: 1 each by default).

        Returns
        -------
        Predictor or EnsemblePredictor

        Raises
        ------
        UnknownNameError
            If ``model_name`` is not shipped (or none is), or ``backend`` is unknown.
        ModelFileError
            If the model's card or weights are damaged.
        SERError
            If ``backend="onnx"`` and the model cannot run in ONNX Runtime.
        """
        loaded = models.load(model_name or best_model_name(directory), directory=directory)
        kind = loaded.card["input"]["kind"]
        if kind in PREDICTORS:  # an ensemble: its members are loaded too
            return PREDICTORS[kind](loaded, directory=directory, backend=backend, threads=threads)
        return cls(loaded, backend=backend, threads=threads)

    # ----------------------------------------------------------- adaptation
    @property
    def speaker_normalised(self) -> bool:
        """Whether the model was trained on speaker-normalised features (it can be adapted)."""
        return self.norm_kind == "speaker"

    def adapted(
        self, profile, *, warps: bool = True, batchnorm: bool = True, infomax: bool = True
    ) -> Predictor:
        """A copy that normalises inputs with a voice's statistics.

        Parameters
        ----------
        profile : ser_core.adapt.VoiceProfile or None
            None returns the unadapted model.  The copy shares the network's weights.
        warps : bool
            Average over the test-time voice warps (:attr:`warps`) when the
            profile holds their statistics; False predicts the voice as it is.
        batchnorm : bool
            When the profile keeps its speech windows (at least
            :data:`ser_core.adapt.ADABN_SECONDS`; not a saved or live profile),
            also re-estimate the network's batch-norm statistics on them
            (AdaBN, :func:`ser_core.adapt.adapt_batchnorm`), for each warped
            copy its own, as ``evaluate --voice-warps --adabn`` scores it.
            The adapted network runs in PyTorch.
        infomax : bool
            With ``batchnorm`` and a profile of at least
            :data:`ser_core.adapt.INFOMAX_SECONDS` of speech, first tune the
            batch-norm scales and shifts to the voice by information
            maximisation (:func:`ser_core.adapt.tune_to_voice`), as
            ``evaluate --voice-warps --adabn --infomax`` scores it.

        Returns
        -------
        Predictor
            The adapted copy (a model that is not speaker-normalised keeps no
            profile and predicts as before).
        """
        out = copy.copy(self)
        out.profile = profile if self.speaker_normalised else None
        if not warps:
            out.warps = ()
        out._bn_net, out._bn_views, out._tuned, out.module = None, (), None, self.loaded.module
        prof = out.profile
        if (
            batchnorm
            and prof is not None
            and prof.adapts_batchnorm
            and self.kind == "features"
            and self.representation in prof
            and adapt.has_batchnorm(self.loaded.module)
        ):
            fronts = [features.Frontend(w, cfg=self.cfg) for w in np.asarray(prof.windows, np.float32)]
            out._bn_views = tuple(out._views() or [self.representation])
            tune = infomax and prof.tunes_network
            xs = {
                n: out._view_inputs(fronts, n)  # each view once
                for n in (*out._bn_views, *([self.representation] if tune else []))
            }
            base = self.loaded.module
            if tune:  # on the voice as it is; each view then its own statistics
                base = out._tuned = adapt.tune_to_voice(base, xs[self.representation])
            out._bn_net = out.module = adapt.view_batchnorm(base, [xs[n] for n in out._bn_views])
            out._onnx, out.backend = None, "torch"
        return out

    def _view_inputs(self, fronts: list[features.Frontend], view: str) -> np.ndarray:
        """Inputs ``(n, C, F, T)`` of clips' front ends for one view (the representation or a
        warped copy), normalised with the profile's statistics of that view."""
        x = np.stack([fe.output(features.get(view)) for fe in fronts])
        return self.profile.stats[view].apply(x) if view != self.representation else self._stats().apply(x)

    @property
    def adabn(self) -> bool:
        """Whether the network's batch-norm statistics were re-estimated on the voice (:meth:`adapted`)."""
        return self._bn_net is not None

    @property
    def infomax(self) -> bool:
        """Whether the network's batch-norm scales and shifts were tuned to the voice (:meth:`adapted`)."""
        return self._tuned is not None

    def needed_representations(self) -> list[str]:
        """Representations a voice profile must hold to adapt this model.

        Returns
        -------
        list of str
            The model's representation, or empty when it cannot adapt.
        """
        return [self.representation] if self.speaker_normalised else []

    def profile_representations(self) -> list[str]:
        """Representations a new voice profile for this model should hold.

        Returns
        -------
        list of str
            The needed ones and its voice warps (``"mel@0.84"`` ...), without
            whose statistics it predicts the voice as it is; empty when the
            model cannot adapt.
        """
        if not self.speaker_normalised:
            return []
        return [self.representation] + adapt.voice_warps(self.representation, warps=self.warps)

    def _views(self) -> list[str]:
        """The warped representations averaged over: those of :attr:`warps` once the
        profile holds all of their statistics, else none."""
        names = adapt.voice_warps(self.representation, warps=self.warps) if self.profile is not None else []
        return names if names and all(n in self.profile for n in names) else []

    def _stats(self):
        if self.profile is not None and self.representation in self.profile:
            # a voice's functional statistics come from few clips: pulled towards the corpus
            return functionals.shrink(self.profile.stats[self.representation], self.norm)
        return self.norm

    def adaptation(self) -> str:
        """How inputs are normalised, for people.

        Returns
        -------
        str
            One or two sentences: not adaptable, adapted (to whom, on how much
            speech, with warps / AdaBN / information maximisation), or not yet
            adapted.
        """
        if not self.speaker_normalised:
            return _("This model uses corpus-level normalisation; it cannot adapt to a voice.")
        if self.profile is not None and self.representation in self.profile:
            bn = ""  # a saved or live profile holds statistics only: no AdaBN, no hint
            if self._tuned is not None:
                bn = " " + _(
                    "Its batch-norm statistics were re-estimated on this speech too (AdaBN), and their "
                    "scales and shifts tuned to it (information maximisation)."
                )
            elif self._bn_net is not None:
                bn = " " + _("Its batch-norm statistics were re-estimated on this speech too (AdaBN).")
            elif (
                self.profile.windows is not None
                and not self.profile.adapts_batchnorm
                and self.kind == "features"
                and adapt.has_batchnorm(self.loaded.module)
            ):
                bn = " " + _(
                    "From {seconds} s of speech, its batch-norm statistics would be re-estimated "
                    "on the voice too (AdaBN)."
                ).format(seconds=f"{adapt.ADABN_SECONDS:.0f}")
            return self._adapted_sentence() + bn
        return _(
            "Not adapted to this voice: corpus statistics stand in for the speaker's own "
            "(calibrate to your voice for better accuracy)."
        )

    def _adapted_sentence(self) -> str:
        """The first sentence of :meth:`adaptation` for an adapted model: to whom, on how much
        speech, over how many voice warps."""
        prof = self.profile
        seconds, name = f"{prof.seconds:.0f}", repr(prof.name)
        if not self._views():
            if prof.name:
                return _("Adapted to the voice {name} ({seconds} s of calibration speech).").format(
                    name=name, seconds=seconds
                )
            return _("Adapted to the voice ({seconds} s of calibration speech).").format(seconds=seconds)
        n, spread = len(self.warps), f"{max(self.warps) - 1:.0%}"
        if prof.name:
            return ngettext(
                "Adapted to the voice {name} ({seconds} s of calibration speech, averaged over "
                "{n} voice warp of ±{spread}).",
                "Adapted to the voice {name} ({seconds} s of calibration speech, averaged over "
                "{n} voice warps of ±{spread}).",
                n,
            ).format(name=name, seconds=seconds, n=n, spread=spread)
        return ngettext(
            "Adapted to the voice ({seconds} s of calibration speech, averaged over {n} voice "
            "warp of ±{spread}).",
            "Adapted to the voice ({seconds} s of calibration speech, averaged over {n} voice "
            "warps of ±{spread}).",
            n,
        ).format(seconds=seconds, n=n, spread=spread)

    # ----------------------------------------------------------- inputs
    def inputs(self, windows: np.ndarray) -> np.ndarray:
        """Model inputs for waveforms, normalised as the model expects.

        Parameters
        ----------
        windows : np.ndarray, shape (n, samples)
            Waveforms at ``cfg.sr``.

        Returns
        -------
        np.ndarray, float32
            ``(n, C, F, T)`` features, ``(n, dim)`` functionals,
            ``(n, 1, cfg.n_samples)`` waveforms or ``(n, 2, 301)`` ZCR/RMS
            frames (:func:`ser_core.features.zcr_rms_frames`), depending on the model.
        """
        if self.kind == "features":
            x = np.stack([features.compute(w, self.representation, cfg=self.cfg) for w in windows])
        elif self.kind == "functionals":
            x = functionals.compute_batch(windows, self.representation, cfg=self.cfg)
        elif self.kind == "waveform":
            x = np.stack([pad_or_trim(w, n_samples=self.cfg.n_samples)[None] for w in windows])
        else:
            x = np.stack([features.zcr_rms_frames(w) for w in windows])
        stats = self._stats()
        return stats.apply(x) if stats is not None else x.astype(np.float32)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Raw logits of prepared inputs (ONNX Runtime or PyTorch, no temperature).

        Adapted with AdaBN and voice warps, ``x`` holds the copies of every clip
        as :meth:`front_log_probs` stacks them (one block per warp, in
        :attr:`_bn_views` order).

        Parameters
        ----------
        x : np.ndarray, shape (n, ...)
            Normalised inputs as :meth:`inputs` returns them.

        Returns
        -------
        np.ndarray, float32, shape (n, 6)
        """
        if self._onnx is not None:
            return self._onnx.logits(x)
        return models.predict_logits(self.module, x, batch_size=max(len(x), 1))  # one batch

    def predict_batch(self, windows: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of a batch of waveforms.

        Parameters
        ----------
        windows : np.ndarray, shape (n, samples)
            Waveforms at ``cfg.sr`` (each padded/trimmed to ``cfg.n_samples``).

        Returns
        -------
        np.ndarray, float32, shape (n, 6)
            Averaged over the voice warps when adapted with them.
        """
        if self._views():
            fronts = [features.Frontend(w, cfg=self.cfg) for w in np.asarray(windows, np.float32)]
            return np.exp(self.front_log_probs(fronts)).astype(np.float32)
        return softmax(self.logits(self.inputs(windows)), temperature=self.temperature).astype(np.float32)

    def log_probs(self, x: np.ndarray) -> np.ndarray:
        """Calibrated log-probabilities of un-normalised inputs.

        Parameters
        ----------
        x : np.ndarray, shape (n, C, F, T) or (n, dim)
            Features or functionals, normalised here as :meth:`inputs` does.

        Returns
        -------
        np.ndarray, shape (n, 6)
        """
        stats = self._stats()
        return log_softmax(
            self.logits(stats.apply(x) if stats is not None else x), temperature=self.temperature
        )

    def front_log_probs(self, fronts: list[features.Frontend]) -> np.ndarray:
        """Calibrated log-probabilities ``(n, 6)`` of clips given as their front ends
        (a model on a representation).

        Adapted to a voice with its warps (:meth:`adapted`), the probabilities
        are averaged over the warped copies, each normalised with the voice's
        statistics of that copy.

        Parameters
        ----------
        fronts : list of Frontend
            One :class:`~ser_core.features.Frontend` per clip, at ``cfg``.

        Returns
        -------
        np.ndarray, shape (n_clips, 6)
        """
        views = self._views()
        if not views:
            return self.log_probs(np.stack([fe.output(features.get(self.representation)) for fe in fronts]))
        x = np.concatenate(
            [self._view_inputs(fronts, n) for n in views]
        )  # one batch: every copy of every clip
        p = softmax(self.logits(x), temperature=self.temperature).reshape(len(views), len(fronts), -1).mean(0)
        return np.log(np.maximum(p, 1e-30))

    def predict(self, y: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of one waveform.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            Mono waveform at ``cfg.sr``, padded/trimmed to ``cfg.duration`` (3 s).

        Returns
        -------
        np.ndarray, float32, shape (6,)
        """
        return self.predict_many([y])[0]

    def predict_many(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated probabilities of waveforms of any lengths, in one batch (each
        padded/trimmed to 3 s as :meth:`predict` does, so the answers are the same).

        Parameters
        ----------
        waveforms : sequence of np.ndarray, each shape (n_i,)
            Mono waveforms at ``cfg.sr``, e.g. the windows of several live sessions.

        Returns
        -------
        np.ndarray, float32, shape (len(waveforms), 6)
        """
        if not len(waveforms):
            return np.zeros((0, len(EMOTIONS)), np.float32)
        cfg = self.cfg
        return self.predict_batch(
            np.stack([pad_or_trim(y, n_samples=cfg.n_samples, align=cfg.align) for y in waveforms])
        )

    def timeline(self, y: np.ndarray, *, hop: float = 1.0, batch_size: int = 32) -> Timeline:
        """Probabilities of sliding ``cfg.duration``-long windows of a long recording.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            Mono waveform at ``cfg.sr``, any length (the last window is zero-padded).
        hop : float
            Seconds between window starts.
        batch_size : int
            Windows predicted at once.

        Returns
        -------
        Timeline
            ``starts`` (n_windows,), ``probs`` (n_windows, 6) and the
            energy-weighted ``overall`` (6,).
        """
        wins, starts = frame_windows(y, sr=self.cfg.sr, window=self.cfg.duration, hop=hop)
        probs = models.predict_logits(self.predict_batch, wins, batch_size=batch_size)
        energy = np.sqrt((wins**2).mean(1)) + 1e-8
        overall = (probs * energy[:, None]).sum(0) / energy.sum()
        return Timeline(starts, probs, overall.astype(np.float32))

    def verdict(self, y: np.ndarray, *, hop: float = 1.0) -> Verdict:
        """Predict a recording of any length, timed.

        Audio up to one window (3 s) is predicted as a whole; longer audio is
        judged over sliding windows (:meth:`timeline`), never cut to 3 s.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            Mono waveform at ``cfg.sr``.
        hop : float
            Seconds between window starts for long audio.

        Returns
        -------
        Verdict
            ``probs`` of shape (6,), the timeline (None up to one window), the
            wall time and the audio's duration.
        """
        t0 = time.perf_counter()
        if len(y) > self.cfg.n_samples:
            tl = self.timeline(y, hop=hop)
            probs = tl.overall
        else:
            tl, probs = None, self.predict(y)
        ms = 1000 * (time.perf_counter() - t0)
        return Verdict(probs, tl, ms, len(y) / self.cfg.sr, self.unsure_below)

    def describe(self) -> dict[str, Any]:
        """A summary of the model for display.

        Returns
        -------
        dict
            ``name``, ``architecture``, ``input``, ``temperature``,
            ``backend``, ``unsure_below`` and ``metrics`` (protocol -> accuracy).
        """
        c = self.loaded.card
        return {
            "name": self.model_name,
            "architecture": c["architecture"]["name"],
            "input": self.representation,
            "temperature": self.temperature,
            "backend": self.backend,
            "unsure_below": self.unsure_below,
            "metrics": {k: v.get("accuracy") for k, v in c.get("metrics", {}).items()},
        }


#: Predictor classes of the cards whose input is not one network's, by input kind
#: (:class:`~ser_core.inference.ensemble.EnsemblePredictor` registers itself for "members").
PREDICTORS: dict[str, type[Predictor]] = {}


def predict_files(sources: Iterable[str], predictor: Predictor) -> Iterable[dict[str, Any]]:
    """Predict audio files and folders, one result at a time.

    Longer audio is judged over sliding windows (:meth:`Predictor.timeline`).
    A folder stands for every audio file in it
    (:func:`ser_core.audio.audio_files`), or is one error when it holds none.

    Parameters
    ----------
    sources : iterable of str
        Audio files or folders.
    predictor : Predictor
        The model to predict with.

    Yields
    ------
    dict
        ``{"path", "model", "label", "probabilities"}`` (emotion -> probability; plus
        ``"windows"`` for audio longer than one window), or ``{"path",
        "error"}`` for a source that raised an :class:`SERError` (it is not
        raised).
    """
    for source in sources:
        try:
            files = files_of(source)
        except SERError as err:
            yield {"path": str(source), "error": str(err)}
            continue
        for src in files:
            try:
                y = load_audio(src, sr=predictor.cfg.sr, silent_ok=False)  # a silent file has no emotion
                if len(y) > predictor.cfg.n_samples:
                    tl = predictor.timeline(y)
                    probs, extra = tl.overall, {"windows": len(tl.starts)}
                else:
                    probs, extra = predictor.predict(y), {}
                yield {
                    "path": str(src),
                    "model": predictor.model_name,
                    "label": EMOTIONS[int(np.argmax(probs))],
                    "probabilities": {e: round(float(p), 6) for e, p in zip(EMOTIONS, probs)},
                    **extra,
                }
            except SERError as exc:
                yield {"path": str(src), "error": str(exc)}
