"""The ensemble's predictor: one shared front end, every member's calibrated
log-probabilities, combined with the ensemble's weights and temperature."""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import features, functionals, models
from ..errors import SERError, UnknownNameError
from ..i18n import N_, _
from ..metrics import DEFAULT_UNSURE, softmax
from .predictor import BACKENDS, PREDICTORS, Predictor

__all__ = ["EnsemblePredictor"]


#: Rough relative cost of a representation's front end (orders the ensemble's tasks).
_COST = {"cqt": 12, "compare": 10, "egemaps": 10, "hpss": 8, "tempogram": 2, "delta_tempogram": 2, "stft": 2}


class EnsemblePredictor(Predictor):
    """A shipped :class:`~ser_core.models.WeightedEnsemble` and its members.

    The waveform goes through one shared front end (one STFT for every
    member's representation), each member gives calibrated log-probabilities,
    and the ensemble weights and temperature combine them.  Members with a
    zero weight are not loaded.

    Parameters
    ----------
    loaded : LoadedModel
        The ensemble's card and weights (input kind ``"members"``).
    directory : Path, optional
        Where the members are shipped (default ``artifacts/models``).
    backend : {"torch", "onnx", "auto"}
        Each member's back end (:class:`Predictor`).
    threads : int, optional
        ONNX Runtime intra-op threads per member (default 1: members run side by side).

    Raises
    ------
    UnknownNameError
        If ``backend`` or a member is unknown.
    SERError
        If the members use different feature configurations.
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
            raise UnknownNameError(
                N_("unknown backend {backend!r}; choose one of {backends}"),
                backend=backend,
                backends=BACKENDS,
            )
        self.loaded, card = loaded, loaded.card
        self.model_name = loaded.model_name
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
            m.temperature = float(temps.get(m.model_name, m.temperature))
        cfgs = {m.cfg for m in self.members}
        if len(cfgs) != 1:
            raise SERError(
                N_("ensemble {model!r} mixes front-end settings; retrain its members with one FeatureConfig"),
                model=self.model_name,
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
        """Not available: each member builds its own inputs.

        Parameters
        ----------
        windows : np.ndarray, shape (n, samples)
            Ignored.

        Returns
        -------
        np.ndarray
            Never returns.

        Raises
        ------
        SERError
            Always; use :meth:`predict_batch`.
        """
        raise SERError("an ensemble has no single input; use predict_batch")

    def adapted(
        self, profile, *, warps: bool = True, batchnorm: bool = True, infomax: bool = False
    ) -> EnsemblePredictor:
        """Each member adapted to the voice (:meth:`Predictor.adapted`).

        ``infomax`` is off by default for an ensemble: it was measured for a single
        network (the mel model, ``evaluate --voice-warps --adabn --infomax``), not yet
        for an ensemble's members combined with its other members.

        Parameters
        ----------
        profile : ser_core.adapt.VoiceProfile or None
            The voice (None: unadapted); members that are not speaker-normalised ignore it.
        warps, batchnorm, infomax : bool
            Passed to each member's :meth:`Predictor.adapted`.

        Returns
        -------
        EnsemblePredictor
            A copy with adapted members.
        """
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
        """Whether any member's batch-norm statistics were re-estimated on the voice."""
        return any(m.adabn for m in self.members)

    @property
    def infomax(self) -> bool:
        """Whether any member's batch-norm scales and shifts were tuned to the voice."""
        return any(m.infomax for m in self.members)

    def needed_representations(self) -> list[str]:
        """Representations a voice profile must hold to adapt the members.

        Returns
        -------
        list of str
            Sorted union over the members.
        """
        return sorted({r for m in self.members for r in m.needed_representations()})

    def profile_representations(self) -> list[str]:
        """Representations a new voice profile for the members should hold.

        Returns
        -------
        list of str
            Sorted union over the members, voice warps included.
        """
        return sorted({r for m in self.members for r in m.profile_representations()})

    def adaptation(self) -> str:
        """How the members' inputs are normalised, for people.

        Returns
        -------
        str
            That of a speaker-normalised member (one with voice warps if any).
        """
        if not self.speaker_normalised:
            return _("This ensemble's members use corpus-level normalisation; it cannot adapt to a voice.")
        spk = [m for m in self.members if m.speaker_normalised]
        return next((m for m in spk if m._views()), spk[0]).adaptation()

    def member_log_probs(self, windows: np.ndarray) -> np.ndarray:
        """Calibrated log-probabilities of each member for a batch of waveforms.

        The waveforms' STFT is computed once; then the members run as tasks on
        a small thread pool, slowest first, so HPSS's median filters (most of the
        front end's time) overlap with the other members on a second core.  The
        members on one representation (a seed bag's networks) make one task, so
        its features are computed once, never by two threads at the same time.

        Parameters
        ----------
        windows : np.ndarray, shape (n, samples)
            Waveforms at ``cfg.sr``.

        Returns
        -------
        np.ndarray, float32, shape (n, n_members, 6)
            Members in :attr:`members` order (those of non-zero weight).
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
        if getattr(self, "_executor", None) is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ensemble")
        return self._executor

    @torch.no_grad()
    def combine(self, member_log_probs: np.ndarray) -> np.ndarray:
        """Combine member log-probabilities with the ensemble's weights and temperature.

        Parameters
        ----------
        member_log_probs : np.ndarray, shape (n, n_members, 6)
            As :meth:`member_log_probs` returns them.

        Returns
        -------
        np.ndarray, float32, shape (n, 6)
            Ensemble probabilities.
        """
        lp = torch.from_numpy(np.ascontiguousarray(member_log_probs, np.float32))
        z = (lp * self._weights[None, :, None]).sum(1) / self.module.log_t.exp()
        return softmax(z.numpy()).astype(np.float32)

    def predict_batch(self, windows: np.ndarray) -> np.ndarray:
        """Calibrated ensemble probabilities of a batch of waveforms.

        Parameters
        ----------
        windows : np.ndarray, shape (n, samples)
            Waveforms at ``cfg.sr``.

        Returns
        -------
        np.ndarray, float32, shape (n, 6)
        """
        return self.combine(self.member_log_probs(windows))

    def describe(self) -> dict[str, Any]:
        """A summary of the ensemble for display.

        Returns
        -------
        dict
            As :meth:`Predictor.describe`, with ``members`` (member name ->
            weight) and ``input`` joining the members' representations.
        """
        c = self.loaded.card
        return {
            "name": self.model_name,
            "architecture": "weighted_ensemble",
            "input": "+".join(m.representation for m in self.members),
            "members": {
                m.model_name: round(float(c["ensemble"]["weights"].get(m.representation, 0)), 4)
                for m in self.members
            },
            "temperature": float(self.module.temperature),
            "backend": self.backend,
            "unsure_below": self.unsure_below,
            "metrics": {k: v.get("accuracy") for k, v in c.get("metrics", {}).items()},
        }


PREDICTORS["members"] = EnsemblePredictor
