"""A bounded queue for heavy work shared by every session of the app.

An explanation, an attack or a calibration costs seconds of CPU.  When a class presses the
button at once, each request must wait its turn where everyone can see it, never all run at
once on a laptop's few cores.  :class:`JobQueue`:

- runs jobs on a bounded pool of worker threads, first come first served, each job with
  ``threads_per_job`` BLAS / OpenMP threads (threadpoolctl; torch's OpenMP pool included);
- computes a key (clip digest, model, method, settings) once: a second request for a key
  that is queued, running or recently done shares that job and its result (a bounded LRU);
- tells each request its place in the queue and the job's progress (a job that takes a
  ``progress`` keyword reports fractions 0..1 through it);
- drops a queued job once nobody waits for it any more: :meth:`JobQueue.release` when a
  session leaves, or the ``alive`` check, asked before a job starts, for sessions that went
  away without saying so.

A job's exception (a :class:`~ser_core.errors.SERError` for bad input) is kept in its
status, for the session to show; the worker goes on with the next job.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from threadpoolctl import threadpool_limits

from .errors import SERError

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class JobError(SERError):
    """A request the queue cannot answer (an unknown key)."""


@dataclass(frozen=True)
class JobStatus:
    """Where one job stands.

    Attributes
    ----------
    state : {"queued", "running", "done", "failed", "cancelled"}
    position : int
        Jobs that start before it (0 once it runs or has ended).
    progress : float
        Fraction done, 0..1, as the job reports it (1 once done).
    result : Any
        The job's return value once ``state == "done"``.
    error : BaseException or None
        The exception it raised once ``state == "failed"``.
    """

    state: JobState
    position: int = 0
    progress: float = 0.0
    result: Any = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


@dataclass(eq=False)
class _Job:
    key: Hashable
    call: Callable[[], Any] | None  # None: a place held for jobs not known yet (``reserve``)
    owners: set[str]
    state: JobState = "queued"
    progress: float = 0.0
    result: Any = None
    error: BaseException | None = None
    ended: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    """First-come-first-served heavy work on ``workers`` threads, shared by all sessions.

    Parameters
    ----------
    workers : int
        Jobs run at the same time (the pool's size).
    threads_per_job : int
        BLAS / OpenMP threads a job may use while it runs.
    keep : int
        Finished jobs whose results stay available to later requests (least recently used
        dropped first).
    alive : callable, optional
        ``alive(owner) -> bool``, asked before a job starts: owners for whom it is False
        are forgotten, and a job with no owner left is cancelled instead of run.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        threads_per_job: int = 1,
        keep: int = 128,
        alive: Callable[[str], bool] | None = None,
    ) -> None:
        if workers < 1 or threads_per_job < 1 or keep < 0:
            raise ValueError(f"workers={workers}, threads_per_job={threads_per_job}, keep={keep}")
        self.threads_per_job = threads_per_job
        self._keep = keep
        self._alive = alive
        self._lock = threading.Condition()
        self._waiting: deque[_Job] = deque()
        self._jobs: dict[Hashable, _Job] = {}  # queued and running
        self._done: OrderedDict[Hashable, _Job] = OrderedDict()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"ser-job-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ requests
    def submit(
        self,
        key: Hashable,
        fn: Callable[..., Any],
        *args: Any,
        owner: str,
        place: Hashable | None = None,
        **kwargs: Any,
    ) -> JobStatus:
        """Ask for ``fn(*args, **kwargs)`` under ``key`` on behalf of ``owner``.

        A key already queued, running or kept from before is not computed again: ``owner``
        joins it.  ``fn`` gets a ``progress`` keyword (a callable taking a fraction 0..1)
        when its signature has one.  With ``place`` (held by :meth:`reserve`), a new job
        takes that place in the queue instead of the last one.  Returns the job's status
        right away.
        """
        with self._lock:
            if key in self._done and self._done[key].state == "done":
                self._done.move_to_end(key)
                return self._status(self._done[key])
            job = self._jobs.get(key)
            if job is None:
                job = _Job(key, self._bind(fn, args, kwargs, key), {owner})
                self._jobs[key] = job
                self._done.pop(key, None)  # a failed or cancelled run is tried again
                held = self._jobs.get(place) if place is not None else None
                if held is not None and held.call is None and held.state == "queued":
                    self._waiting.insert(self._waiting.index(held), job)
                else:
                    self._waiting.append(job)
                self._lock.notify()
            job.owners.add(owner)
            return self._status(job)

    def reserve(self, place: Hashable, *, owner: str) -> JobStatus:
        """Hold a place at the end of the queue, under ``place``, for jobs not known yet
        (a page that must decode and predict a clip before it knows what to explain):
        ``submit(..., place=place)`` puts them there, :meth:`unreserve` lets it go.  A held
        place runs nothing and holds no one up; its status tells the requests ahead of it."""
        with self._lock:
            held = self._jobs.get(place)
            if held is None:
                held = _Job(place, None, {owner})
                self._jobs[place] = held
                self._waiting.append(held)
            held.owners.add(owner)
            return self._status(held)

    def unreserve(self, place: Hashable) -> None:
        """Let go of a place held by :meth:`reserve` (nothing happens when there is none)."""
        with self._lock:
            held = self._jobs.get(place)
            if held is not None and held.call is None:
                self._drop(held)

    def status(self, key: Hashable) -> JobStatus:
        """The status of the job under ``key`` (:class:`JobError` when there is none)."""
        with self._lock:
            job = self._jobs.get(key) or self._done.get(key)
            if job is None:
                raise JobError(f"no job under {key!r}: submit it first")
            return self._status(job)

    def wait(self, key: Hashable, timeout: float | None = None) -> JobStatus:
        """Block until the job under ``key`` has ended (or ``timeout`` seconds); its status."""
        with self._lock:
            job = self._jobs.get(key) or self._done.get(key)
        if job is None:
            raise JobError(f"no job under {key!r}: submit it first")
        job.ended.wait(timeout)
        return self.status(key)

    def release(self, owner: str) -> int:
        """``owner`` waits for nothing any more (a session left): drop it from every job, and
        cancel the queued jobs nobody else waits for.  Returns how many were cancelled."""
        with self._lock:
            for job in self._jobs.values():
                job.owners.discard(owner)
            return self._cancel_orphans()

    def pending(self) -> int:
        """Jobs queued or running (held places not counted)."""
        with self._lock:
            return sum(j.call is not None for j in self._jobs.values())

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is queued, let running jobs finish, stop the workers."""
        with self._lock:
            self._closed = True
            for job in list(self._waiting):
                if job.call is not None:
                    self._end(job, "cancelled")
            self._waiting.clear()
            self._lock.notify_all()
        for t in self._threads:
            t.join(timeout)

    # ------------------------------------------------------------------ internals
    def _bind(self, fn: Callable[..., Any], args: tuple, kwargs: dict, key: Hashable) -> Callable[[], Any]:
        if "progress" in inspect.signature(fn).parameters:
            kwargs = {**kwargs, "progress": lambda fraction: self._report(key, fraction)}
        return lambda: fn(*args, **kwargs)

    def _report(self, key: Hashable, fraction: float) -> None:
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                job.progress = min(max(float(fraction), 0.0), 1.0)

    def _status(self, job: _Job) -> JobStatus:
        position = 0
        if job.state == "queued":  # the jobs ahead of it (held places run nothing)
            for j in self._waiting:
                if j is job:
                    break
                position += j.call is not None
        return JobStatus(job.state, position, job.progress, job.result, job.error)

    def _drop(self, held: _Job) -> None:
        self._waiting.remove(held)
        self._jobs.pop(held.key, None)

    def _cancel_orphans(self) -> int:
        orphans = [j for j in self._waiting if not j.owners]
        for job in orphans:
            if job.call is None:
                self._drop(job)
                continue
            self._waiting.remove(job)
            self._end(job, "cancelled")
        return sum(j.call is not None for j in orphans)

    def _end(self, job: _Job, state: JobState) -> None:
        job.state = state
        if state == "done":
            job.progress = 1.0
        self._jobs.pop(job.key, None)
        self._done[job.key] = job
        self._done.move_to_end(job.key)
        while len(self._done) > self._keep:
            self._done.popitem(last=False)
        job.ended.set()

    def _next(self) -> _Job | None:
        """The next job to run, or None once closed (called with the lock held)."""
        while True:
            if self._alive is not None:
                for job in self._waiting:
                    job.owners = {o for o in job.owners if self._alive(o)}
                self._cancel_orphans()
            job = next((j for j in self._waiting if j.call is not None), None)
            if job is not None:
                self._waiting.remove(job)
                job.state = "running"
                return job
            if self._closed:
                return None
            self._lock.wait()

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._next()
            if job is None:
                return
            try:
                with threadpool_limits(limits=self.threads_per_job):
                    result = job.call()
            except Exception as exc:  # noqa: BLE001 - kept for the session to show
                with self._lock:
                    job.error = exc
                    self._end(job, "failed")
            else:
                with self._lock:
                    job.result = result
                    self._end(job, "done")


#: Counter for :func:`owner_id` (owners of requests made outside a browser session).
_owners = itertools.count()


def owner_id(prefix: str = "local") -> str:
    """A fresh owner name, for requests made outside a browser session (CLI, tests)."""
    return f"{prefix}-{next(_owners)}"
