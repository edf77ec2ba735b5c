"""Prediction with a shipped model: waveform in, calibrated probabilities out.

>>> p = Predictor.load()                  # the best shipped model
>>> probs = p.predict(y)                  # (6,) for a waveform at 16 kHz
>>> tl = p.timeline(y_long)               # sliding 3-s windows, 1-s hop

The front end (representation, feature config, normalisation, temperature) is
read from the model card, so a model is always fed what it was trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import adapt, features, functionals, models
from .audio import frame_windows, load_audio, pad_or_trim
from .config import EMOTIONS, FeatureConfig, project_root
from .errors import SERError, UnknownNameError
from .metrics import TopClass, log_softmax, softmax

__all__ = [
    "Predictor",
    "EnsemblePredictor",
    "Timeline",
    "Verdict",
    "best_model_name",
    "best_adaptable_model",
    "predict_files",
    "unsure_threshold",
    "DEFAULT_UNSURE",
    "BACKENDS",
    "onnx_cache_dir",
]

#: Fallback "unsure" threshold when a model card sets none.
DEFAULT_UNSURE = 0.5
#: Inference back ends: PyTorch eager, ONNX Runtime, or ONNX Runtime when it works.
BACKENDS = ("auto", "torch", "onnx")


def onnx_cache_dir() -> Path:
    """Where exported ONNX copies of shipped models go: ``$SER_ONNX_CACHE`` or
    ``<project>/.cache/onnx``."""
    return Path(os.environ.get("SER_ONNX_CACHE", project_root() / ".cache" / "onnx"))


def _onnx_copy(loaded: models.LoadedModel) -> Path:
    """The ONNX export of a loaded model, made once per weights + card content."""
    from .export import export_onnx

    digest = hashlib.sha256(json.dumps(loaded.card, sort_keys=True).encode())
    for v in loaded.module.state_dict().values():
        digest.update(v.detach().cpu().numpy().tobytes())
    path = onnx_cache_dir() / f"{loaded.name}-{digest.hexdigest()[:16]}.onnx"
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


def unsure_threshold(probs: np.ndarray, labels: np.ndarray, *, min_accuracy: float = 0.5) -> float:
    """Confidence below which a model is unsure, from held-out predictions.

    Fits held-out correctness against the top probability with an increasing
    isotonic regression and returns the lowest confidence at which the fitted
    accuracy reaches ``min_accuracy``: below it, the label is more often wrong
    than right.

    Parameters
    ----------
    probs : np.ndarray, shape (n, 6)
        Calibrated validation probabilities.
    labels : np.ndarray, shape (n,)
    """
    from sklearn.isotonic import IsotonicRegression

    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    if len(conf) < 2:
        return DEFAULT_UNSURE
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(conf, correct)
    grid = np.linspace(conf.min(), conf.max(), 512)
    ok = np.flatnonzero(iso.predict(grid) >= min_accuracy)
    if ok.size == 0:
        return float(round(conf.max(), 3))
    return float(round(grid[ok[0]], 3))


def best_model_name(
    directory: Path | None = None, *, protocol: str = "seed", among: Iterable[str] | None = None
) -> str:
    """The shipped model (of ``among``, default all) with the highest ``protocol``
    accuracy in its card."""
    cards = models.shipped_cards(directory)  # (damaged ones left out, with a warning)
    names = [n for n in (among if among is not None else cards) if n in cards]
    if not names:
        raise UnknownNameError(
            "no shipped model in artifacts/models; train one with `python -m ser_core train --ship NAME`"
        )

    def score(n: str) -> float:
        return float(cards[n].get("metrics", {}).get(protocol, {}).get("accuracy", -1))

    return max(names, key=score)


def best_adaptable_model(directory: Path | None = None, *, protocol: str | None = None) -> str:
    """The best shipped model trained on speaker-normalised features (it can be calibrated).

    ``protocol=None`` ranks by the ``loso`` accuracy (how the recipe does on a
    voice it never heard, which is what calibration is for) when every
    candidate's card has one, else by the ``seed`` accuracy.
    """
    cards = models.shipped_cards(directory)

    def adapts(card: dict) -> bool:  # speaker-normalised, or an ensemble of such members only
        members = card.get("input", {}).get("members")
        if members:
            return all(m in cards and adapts(cards[m]) for m in members)
        return card.get("normalization", {}).get("kind") == "speaker"

    names = [n for n, c in cards.items() if adapts(c)]
    if not names:
        raise UnknownNameError(
            "no shipped model can adapt to a voice; train one with "
            "`python -m ser_core train --norm speaker --ship NAME`"
        )
    if protocol is None:
        protocol = "loso" if all("loso" in cards[n].get("metrics", {}) for n in names) else "seed"
    return best_model_name(directory, protocol=protocol, among=names)


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
        """The top probability is below the model's threshold."""
        return self.confidence < self.unsure_below

    def message(self) -> str:
        """One sentence for people: ``"anger (87 %)"`` or the unsure wording."""
        pct = f"{100 * self.confidence:.0f} %"
        if self.unsure:
            return f"The model is unsure: its best guess is {self.label} at {pct}"
        return f"{self.label} ({pct})"


class Predictor:
    """A shipped model with its front end.

    Parameters
    ----------
    loaded : LoadedModel
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
            raise UnknownNameError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
        self.loaded = loaded
        card = loaded.card
        self.name = loaded.name
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
                from .export import OnnxModel

                path = _onnx_copy(loaded)
                try:
                    self._onnx = OnnxModel(path, threads=threads)
                except Exception:  # noqa: BLE001 - a damaged cached copy is exported afresh, once
                    path.unlink(missing_ok=True)
                    self._onnx = OnnxModel(_onnx_copy(loaded), threads=threads)
                self.backend = "onnx"
            except Exception as exc:
                if backend == "onnx":
                    raise SERError(f"cannot run {self.name!r} in ONNX Runtime: {exc}") from exc
                warnings.warn(
                    f"ONNX Runtime unavailable for {self.name!r} ({exc}); using PyTorch",
                    RuntimeWarning,
                    stacklevel=2,
                )

    @classmethod
    def load(
        cls,
        name: str | None = None,
        *,
        directory: Path | None = None,
        backend: str = "torch",
        threads: int | None = None,
    ) -> Predictor:
        """Load ``name`` (default: :func:`best_model_name`) on ``backend``.

        An ensemble's card names its members; they are loaded too and the
        result is an :class:`EnsemblePredictor` with the same interface.
        """
        loaded = models.load(name or best_model_name(directory), directory=directory)
        if loaded.card["input"]["kind"] == "members":
            return EnsemblePredictor(loaded, directory=directory, backend=backend, threads=threads)
        return cls(loaded, backend=backend, threads=threads)

    # ----------------------------------------------------------- adaptation
    @property
    def speaker_normalised(self) -> bool:
        """The model was trained on speaker-normalised features (it can be adapted)."""
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
        """
        import copy

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
        """The network's batch-norm statistics were re-estimated on the voice (:meth:`adapted`)."""
        return self._bn_net is not None

    @property
    def infomax(self) -> bool:
        """The network's batch-norm scales and shifts were tuned to the voice (:meth:`adapted`)."""
        return self._tuned is not None

    def needed_representations(self) -> list[str]:
        """Representations a voice profile must hold to adapt this model."""
        return [self.representation] if self.speaker_normalised else []

    def profile_representations(self) -> list[str]:
        """Representations a new voice profile for this model should hold: the needed
        ones and the statistics of its voice warps (``"mel@0.84"`` ...), without which
        it predicts the voice as it is."""
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
        """One sentence on how inputs are normalised, for people."""
        if not self.speaker_normalised:
            return "This model uses corpus-level normalisation; it cannot adapt to a voice."
        if self.profile is not None and self.representation in self.profile:
            who = f" {self.profile.name!r}" if self.profile.name else ""
            warped = (
                f", averaged over {len(self.warps)} voice warps of ±{max(self.warps) - 1:.0%}"
                if self._views()
                else ""
            )
            bn = ""  # a saved or live profile holds statistics only: no AdaBN, no hint
            if self._tuned is not None:
                bn = (
                    " Its batch-norm statistics were re-estimated on this speech too (AdaBN), and their "
                    "scales and shifts tuned to it (information maximisation)."
                )
            elif self._bn_net is not None:
                bn = " Its batch-norm statistics were re-estimated on this speech too (AdaBN)."
            elif (
                self.profile.windows is not None
                and not self.profile.adapts_batchnorm
                and self.kind == "features"
                and adapt.has_batchnorm(self.loaded.module)
            ):
                bn = (
                    f" From {adapt.ADABN_SECONDS:.0f} s of speech, its batch-norm statistics "
                    "would be re-estimated on the voice too (AdaBN)."
                )
            return (
                f"Adapted to the voice{who} ({self.profile.seconds:.0f} s of calibration speech{warped}).{bn}"
            )
        return (
            "Not adapted to this voice: corpus statistics stand in for the speaker's own "
            "(calibrate to your voice for better accuracy)."
        )

    # ----------------------------------------------------------- inputs
    def inputs(self, windows: np.ndarray) -> np.ndarray:
        """Model inputs for waveforms ``(n, samples)`` at ``cfg.sr``, normalised.

        Returns
        -------
        np.ndarray, float32: ``(n, C, F, T)`` features, ``(n, dim)`` functionals,
        ``(n, 1, samples)`` waveforms or ``(n, 2, steps)`` frames, depending on the model.
        """
        if self.kind == "features":
            x = np.stack([features.compute(w, self.representation, cfg=self.cfg) for w in windows])
        elif self.kind == "functionals":
            x = functionals.compute_batch(windows, self.representation, cfg=self.cfg)
        elif self.kind == "waveform":
            x = np.stack([pad_or_trim(w, n_samples=self.cfg.n_samples)[None] for w in windows])
        else:
            from .train import zcr_rms_frames

            x = np.stack([zcr_rms_frames(w) for w in windows])
        stats = self._stats()
        return stats.apply(x) if stats is not None else x.astype(np.float32)

    @torch.no_grad()
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Raw logits ``(n, 6)`` of prepared inputs.

        Adapted with AdaBN and voice warps, ``x`` holds the copies of every clip
        as :meth:`front_log_probs` stacks them (one block per warp, in
        :attr:`_bn_views` order)."""
        if self._onnx is not None:
            return self._onnx.logits(x)
        return self.module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()

    def predict_batch(self, windows: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(n, 6)`` of waveforms ``(n, samples)``."""
        if self._views():
            fronts = [features.Frontend(w, cfg=self.cfg) for w in np.asarray(windows, np.float32)]
            return np.exp(self.front_log_probs(fronts)).astype(np.float32)
        return softmax(self.logits(self.inputs(windows)), temperature=self.temperature).astype(np.float32)

    def log_probs(self, x: np.ndarray) -> np.ndarray:
        """Calibrated log-probabilities ``(n, 6)`` of un-normalised inputs (features
        ``(n, C, F, T)`` or functionals ``(n, dim)``), normalised as :meth:`inputs` does."""
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
        """Calibrated probabilities ``(6,)`` of one waveform (padded/trimmed to 3 s)."""
        return self.predict_batch(pad_or_trim(y, n_samples=self.cfg.n_samples, align=self.cfg.align)[None])[0]

    def timeline(self, y: np.ndarray, *, hop: float = 1.0, batch_size: int = 32) -> Timeline:
        """Sliding ``duration``-long windows with ``hop`` seconds between starts."""
        wins, starts = frame_windows(y, sr=self.cfg.sr, window=self.cfg.duration, hop=hop)
        probs = np.concatenate(
            [self.predict_batch(wins[i : i + batch_size]) for i in range(0, len(wins), batch_size)]
        )
        energy = np.sqrt((wins**2).mean(1)) + 1e-8
        overall = (probs * energy[:, None]).sum(0) / energy.sum()
        return Timeline(starts, probs, overall.astype(np.float32))

    def verdict(self, y: np.ndarray, *, hop: float = 1.0) -> Verdict:
        """Predict a recording of any length, timed.

        Audio up to one window (3 s) is predicted as a whole; longer audio is
        judged over sliding windows (:meth:`timeline`), never cut to 3 s.
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
        c = self.loaded.card
        return {
            "name": self.name,
            "architecture": c["architecture"]["name"],
            "input": self.representation,
            "temperature": self.temperature,
            "backend": self.backend,
            "unsure_below": self.unsure_below,
            "metrics": {k: v.get("accuracy") for k, v in c.get("metrics", {}).items()},
        }


#: Rough relative cost of a representation's front end (orders the ensemble's tasks).
_COST = {"cqt": 12, "compare": 10, "egemaps": 10, "hpss": 8, "tempogram": 2, "delta_tempogram": 2, "stft": 2}


class EnsemblePredictor(Predictor):
    """A shipped :class:`~ser_core.models.WeightedEnsemble` and its members.

    The waveform goes through one shared front end (one STFT for every
    member's representation), each member gives calibrated log-probabilities,
    and the ensemble weights and temperature combine them.  Members with a
    zero weight are not loaded.
    """

    def __init__(
        self,
        loaded: models.LoadedModel,
        *,
        directory: Path | None = None,
        backend: str = "torch",
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise UnknownNameError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
        self.loaded, card = loaded, loaded.card
        self.name = loaded.name
        self.kind = "members"
        self.representation = "ensemble"
        self.module = loaded.module.eval()
        w = self.module.weights.detach().numpy()
        names = card["input"]["members"]
        self._keep = [i for i, v in enumerate(w) if v > 0]
        # one ONNX Runtime thread per member by default: members run side by side (see workers)
        self.members = [
            Predictor.load(names[i], directory=directory, backend=backend, threads=threads or 1)
            for i in self._keep
        ]
        # the member temperatures the weights were fitted with (a member refit on train +
        # validation keeps its held-out run's); older cards: each member's own
        temps = card.get("calibration", {}).get("member_temperatures", {})
        for m in self.members:
            m.temperature = float(temps.get(m.name, m.temperature))
        cfgs = {m.cfg for m in self.members}
        if len(cfgs) != 1:
            raise SERError(
                f"ensemble {self.name!r} mixes front-end settings; retrain its members with one FeatureConfig"
            )
        self.cfg = cfgs.pop()
        self.norm = None
        self.norm_kind = "speaker" if any(m.speaker_normalised for m in self.members) else "corpus"
        self.profile = None
        self._bn_net, self._bn_views, self._tuned = None, (), None  # each member has its own
        self.warps = ()  # each member has its own
        self.temperature = 1.0  # the combined logits include the ensemble's own temperature
        self.unsure_below = float(card.get("decision", {}).get("unsure_below", DEFAULT_UNSURE))
        self.backend = "+".join(sorted({m.backend for m in self.members}))
        self._onnx = None
        self._weights = torch.from_numpy(w[self._keep].astype(np.float32))
        #: Threads running members concurrently (``$SER_ENSEMBLE_WORKERS``, default 2 on 2+ cores).
        self.workers = int(os.environ.get("SER_ENSEMBLE_WORKERS") or min(2, os.cpu_count() or 1))
        self._executor = None

    def inputs(self, windows: np.ndarray) -> np.ndarray:
        raise SERError("an ensemble has no single input; use predict_batch")

    def adapted(
        self, profile, *, warps: bool = True, batchnorm: bool = True, infomax: bool = False
    ) -> EnsemblePredictor:
        """Each member adapted to the voice (:meth:`Predictor.adapted`).

        ``infomax`` is off by default for an ensemble: it was measured for a single
        network (the mel model, ``evaluate --voice-warps --adabn --infomax``), not yet
        for an ensemble's members combined with its other members.
        """
        import copy

        out = copy.copy(self)
        out.members = [
            m.adapted(profile, warps=warps, batchnorm=batchnorm, infomax=infomax) for m in self.members
        ]
        out.profile = profile if self.speaker_normalised else None
        out.backend = "+".join(sorted({m.backend for m in out.members}))
        return out

    def _stats(self):
        return None

    @property
    def adabn(self) -> bool:
        return any(m.adabn for m in self.members)

    @property
    def infomax(self) -> bool:
        return any(m.infomax for m in self.members)

    def needed_representations(self) -> list[str]:
        return sorted({r for m in self.members for r in m.needed_representations()})

    def profile_representations(self) -> list[str]:
        return sorted({r for m in self.members for r in m.profile_representations()})

    def adaptation(self) -> str:
        if not self.speaker_normalised:
            return "This ensemble's members use corpus-level normalisation; it cannot adapt to a voice."
        spk = [m for m in self.members if m.speaker_normalised]
        return next((m for m in spk if m._views()), spk[0]).adaptation()

    def member_log_probs(self, windows: np.ndarray) -> np.ndarray:
        """Calibrated member log-probabilities ``(n, members, 6)`` of waveforms ``(n, samples)``.

        The waveforms' STFT is computed once; then the members run as tasks on
        a small thread pool, slowest first, so HPSS's median filters (most of the
        front end's time) overlap with the other members on a second core.  The
        members on one representation (a seed bag's networks) make one task, so
        its features are computed once, never by two threads at the same time.
        """
        windows = np.asarray(windows, np.float32)
        fronts = [features.Frontend(w, cfg=self.cfg) for w in windows]
        for fe in fronts:
            fe.power  # noqa: B018 - the shared STFT, before the tasks read it

        def member(m: Predictor) -> np.ndarray:
            if m.kind != "functionals":
                return m.front_log_probs(fronts)
            return m.log_probs(functionals.compute_batch(windows, m.representation, cfg=m.cfg))  # openSMILE

        def task(group: list[int]) -> list[np.ndarray]:
            return [member(self.members[i]) for i in group]

        groups: dict[tuple[str, str], list[int]] = {}
        for i, m in enumerate(self.members):
            groups.setdefault((m.kind, m.representation), []).append(i)
        order = sorted(groups.values(), key=lambda g: -_COST.get(self.members[g[0]].representation, 1))
        run = map if self.workers <= 1 or len(order) < 2 else self._pool().map
        done = {i: lp for group, lps in zip(order, run(task, order)) for i, lp in zip(group, lps)}
        return np.stack([done[i] for i in range(len(self.members))], 1).astype(np.float32)

    def _pool(self):
        from concurrent.futures import ThreadPoolExecutor

        if getattr(self, "_executor", None) is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ensemble")
        return self._executor

    @torch.no_grad()
    def combine(self, member_log_probs: np.ndarray) -> np.ndarray:
        """Ensemble probabilities ``(n, 6)`` of member log-probabilities ``(n, members, 6)``."""
        lp = torch.from_numpy(np.ascontiguousarray(member_log_probs, np.float32))
        z = (lp * self._weights[None, :, None]).sum(1) / self.module.log_t.exp()
        return softmax(z.numpy()).astype(np.float32)

    def predict_batch(self, windows: np.ndarray) -> np.ndarray:
        return self.combine(self.member_log_probs(windows))

    def describe(self) -> dict[str, Any]:
        c = self.loaded.card
        return {
            "name": self.name,
            "architecture": "weighted_ensemble",
            "input": "+".join(m.representation for m in self.members),
            "members": {
                m.name: round(float(c["ensemble"]["weights"].get(m.representation, 0)), 4)
                for m in self.members
            },
            "temperature": float(self.module.temperature),
            "backend": self.backend,
            "unsure_below": self.unsure_below,
            "metrics": {k: v.get("accuracy") for k, v in c.get("metrics", {}).items()},
        }


def predict_files(sources: Iterable[str], predictor: Predictor) -> Iterable[dict[str, Any]]:
    """One result dict per input: ``{"path", "label", "probabilities"}`` or
    ``{"path", "error"}``; longer audio is judged over sliding windows.  A folder
    stands for every audio file in it (:func:`ser_core.audio.audio_files`), or
    is one error when it holds none."""
    from .audio import files_of

    for source in sources:
        try:
            files = files_of(source)
        except SERError as err:
            yield {"path": str(source), "error": str(err)}
            continue
        for src in files:
            try:
                y = load_audio(src, sr=predictor.cfg.sr)
                if len(y) > predictor.cfg.n_samples:
                    tl = predictor.timeline(y)
                    probs, extra = tl.overall, {"windows": len(tl.starts)}
                else:
                    probs, extra = predictor.predict(y), {}
                yield {
                    "path": str(src),
                    "label": EMOTIONS[int(np.argmax(probs))],
                    "probabilities": {e: round(float(p), 6) for e, p in zip(EMOTIONS, probs)},
                    **extra,
                }
            except SERError as exc:
                yield {"path": str(src), "error": str(exc)}
