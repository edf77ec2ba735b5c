"""Heavy work through the app's one shared queue (:class:`ser_core.jobs.JobQueue`).

:func:`queued` submits a job on behalf of this browser session and shows, while it waits,
its place in the queue and then the job's progress; the same key asked by another session
is computed once.  A session whose browser went away is dropped from the queue before its
jobs start (Streamlit's runtime says which sessions are still connected).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ser_core.jobs import JobQueue, JobStatus
from ui.i18n import _, ngettext

#: Jobs that run at once (``SER_QUEUE_WORKERS``; default: one per two cores, at least one).
WORKERS = int(os.environ.get("SER_QUEUE_WORKERS", max(1, (os.cpu_count() or 2) // 2)))
POLL_S = 0.25
#: Finished results kept for later requests (four maps and five deletion curves per
#: explained clip; one attack per clip, attack and epsilon).
KEEP = 512


def _connected(session_id: str) -> bool:
    """Whether the browser session ``session_id`` is still connected."""
    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


@st.cache_resource(show_spinner=False)
def shared_queue() -> JobQueue:
    """The queue every session of this server shares (one BLAS thread per job)."""
    return JobQueue(workers=WORKERS, threads_per_job=1, keep=KEEP, alive=_connected)


def session_id() -> str:
    """This browser session's id (``"local"`` outside a server, e.g. in AppTest)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else "local"


def waiting_text(status: JobStatus, *, what: str) -> str:
    """One line for a waiting user: their place in the queue, or the progress (``what``,
    already translated, names the work: "Explanations")."""
    if status.state == "queued":
        ahead = status.position
        if ahead == 0:
            return _("{what}: next in line, waiting for a free worker…").format(what=what)
        return ngettext(
            "{what}: {n} request ahead of yours in the queue…",
            "{what}: {n} requests ahead of yours in the queue…",
            ahead,
        ).format(what=what, n=ahead)
    if status.progress > 0:
        return _("{what}: running, {progress:.0%} done…").format(what=what, progress=status.progress)
    return _("{what}: running…").format(what=what)


def queued(
    key: Hashable,
    fn: Callable[..., Any],
    *args: Any,
    what: str,
    place: Hashable | None = None,
    **kwargs: Any,
) -> Any:
    """``fn(*args, **kwargs)`` through the shared queue, waiting with a live status line;
    with ``place`` (:func:`hold_place`), in the place this session holds.

    Returns the result; re-raises the job's exception (a ``SERError`` for bad input, which
    the page shows with :func:`ui.errors.report_errors`).
    """
    q = shared_queue()
    status = q.submit(key, fn, *args, owner=session_id(), place=place, **kwargs)
    if not status.finished:
        line, bar = st.empty(), st.empty()
        while not status.finished:
            line.caption(waiting_text(status, what=what))
            if status.progress > 0:
                bar.progress(status.progress)
            time.sleep(POLL_S)
            status = q.status(key)
        line.empty()
        bar.empty()
    if status.state == "failed":
        raise status.error
    if status.state == "cancelled":  # the server is shutting down
        st.stop()
    return status.result


def hold_place(request: Hashable, *, what: str) -> tuple[Hashable, Callable[[], None]]:
    """Hold this session's place in the shared queue for ``request``, whose jobs are known
    only after some work (decoding and predicting a clip), and say at once how many
    requests are ahead when others' work is queued or running.

    Returns ``(place, done)``: pass ``place`` to :func:`queued`, so the jobs run in the
    place held from the start; ``done()`` lets it go and clears the line.
    """
    q = shared_queue()
    place = ("place", session_id(), request)
    status = q.reserve(place, owner=session_id())
    line = st.empty()
    if status.position or q.pending():
        line.caption(waiting_text(status, what=what))

    def done() -> None:
        q.unreserve(place)
        line.empty()

    return place, done
