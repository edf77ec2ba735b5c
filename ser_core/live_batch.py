"""Many live microphones on one server: one thread predicts every session's window.

:class:`LiveBatcher` serves the live panels of a whole class.  Each round takes the window
of every :class:`~ser_core.live.LivePredictor` with enough new audio, groups the sessions
by model and predicts each group in one batch; one round at a time, however many students
talk, and a crowd is re-predicted less often per session.

>>> batcher = LiveBatcher()
>>> batcher.start()                 # one daemon thread for the whole server
>>> batcher.add(session)            # while the session's stream plays
>>> batcher.discard(session)        # STOP (a session that is gone is dropped by itself)
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from .errors import SERError
from .i18n import _, error_message
from .live import LivePredictor, LiveWindow

__all__ = ["LiveBatcher", "CROWD", "CROWD_EVERY", "failure_message"]

log = logging.getLogger(__name__)


def failure_message(exc: BaseException) -> str:
    """One sentence for a failed live prediction, in the language of this run (the batcher's
    thread: English, :attr:`LivePredictor.failure`; a page says it again from
    :attr:`LivePredictor.failure_error`)."""
    if isinstance(exc, SERError):
        return _("The live prediction failed: {error}").format(error=error_message(exc))
    return _("The live prediction failed ({kind}: {error}); the next window is tried again.").format(
        kind=type(exc).__name__, error=exc
    )


#: More live sessions than this are a crowd (:class:`LiveBatcher`).
CROWD = 4
#: Seconds of new audio between two predictions of a session in a crowd.
CROWD_EVERY = 0.8


class LiveBatcher:
    """One thread that predicts every live session's window, sessions sharing a model in
    one batch (thread-safe).

    Each round (:meth:`tick`) takes the window of every session that has enough new audio,
    groups them by model (``predict_many``; a session adapted to its voice is its own
    group) and predicts each group in one call.  Rounds follow each other as fast as the
    work allows, at most one every ``interval`` seconds: with few sessions each is
    re-predicted every ``min_new`` s of audio; with many, a round takes longer and each
    session's label updates once a round.  The rounds run one after another, however many
    students talk (a model may still use a few threads within one batch: the ensemble
    predicts its members in parallel).

    A crowd (more than ``crowd`` sessions) is re-predicted at most every ``crowd_every``
    seconds of audio per session, whatever the sessions ask: ten streams of the default
    ensemble twice a second would take both cores of a small laptop, and the pages,
    uploads and WebRTC need some too.

    Parameters
    ----------
    interval : float
        Shortest time between the starts of two rounds (s).
    crowd : int
        More sessions than this are a crowd.
    crowd_every : float
        Seconds of new audio between two predictions of a session in a crowd.
    clock : callable
        Seconds, for tests (``time.monotonic``).
    """

    def __init__(
        self,
        *,
        interval: float = 0.1,
        crowd: int = CROWD,
        crowd_every: float = CROWD_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = float(interval)
        self.crowd, self.crowd_every = int(crowd), float(crowd_every)
        self.clock = clock
        self._sessions: weakref.WeakSet[LivePredictor] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Seconds the last round took, and the windows it predicted.
        self.last_round = (0.0, 0)

    @property
    def crowded(self) -> bool:
        """More than ``crowd`` sessions: each is re-predicted every ``crowd_every`` s."""
        return len(self) > self.crowd

    def add(self, session: LivePredictor) -> None:
        """Predict ``session`` from now on (kept only while something else holds it)."""
        with self._lock:
            self._sessions.add(session)

    def discard(self, session: LivePredictor) -> None:
        """Stop predicting ``session``."""
        with self._lock:
            self._sessions.discard(session)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def __contains__(self, session: object) -> bool:
        with self._lock:
            return session in self._sessions

    def tick(self) -> int:
        """One round: predict every session with a window due.

        Returns
        -------
        int
            Windows predicted (a failed group counts 0; its sessions get
            :attr:`LivePredictor.failure`).
        """
        with self._lock:
            sessions = list(self._sessions)
        every = self.crowd_every if len(sessions) > self.crowd else None
        groups: dict[Callable, list[tuple[LivePredictor, LiveWindow, bool]]] = {}
        for session in sessions:
            window = session.take(min_new=every)
            if window is None:
                continue
            try:
                predict_many, adapted = session.model(window)
            except SERError as exc:
                session.fail(window, failure_message(exc), exc)
                continue
            groups.setdefault(predict_many, []).append((session, window, adapted))
        done = 0
        for predict_many, items in groups.items():
            try:
                probs = predict_many([w.samples for _s, w, _a in items])
            except Exception as exc:  # said to each session of the group, never raised
                if not isinstance(exc, SERError):
                    log.exception("live prediction failed")
                for session, window, _adapted in items:
                    session.fail(window, failure_message(exc), exc)
                continue
            for (session, window, adapted), p in zip(items, probs, strict=True):
                session.record(window, p, adapted=adapted)
            done += len(items)
        return done

    def start(self) -> None:
        """Run rounds in a daemon thread until :meth:`stop` (a second call does nothing)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ser-live-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """End the thread after its current round."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = self.clock()
            try:
                n = self.tick()
            except Exception:  # a bug in one round must not end live prediction for everyone
                log.exception("live round failed")
                n = 0
            took = self.clock() - t0
            if n:
                self.last_round = (took, n)
            self._stop.wait(max(0.0, self.interval - took))
