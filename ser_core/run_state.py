"""Is a run still training? The honest state of each run of the leaderboard's table.

MLflow marks a run ``RUNNING`` when it starts and ``FINISHED``, ``FAILED`` or ``KILLED``
when its process ends it; a process that is killed hard (out of memory, a closed terminal,
a machine switched off) leaves it ``RUNNING`` for ever.  So a ``RUNNING`` run counts as
training only when there is a sign of life:

* its process: a training run is tagged with its host and process id
  (:func:`ser_core.tracking.liveness_tags`); on this host the process is checked
  (:func:`ser_core.tracking.process_alive`): gone means stopped;
* otherwise (another machine, or a run logged before the tags): its newest per-epoch
  metric (``last_seen`` of :func:`ser_core.leaderboard.load_runs`); none for
  :data:`STALE_AFTER` means stopped.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from . import tracking
from .i18n import _

__all__ = ["STALE_AFTER", "STATES", "run_state", "with_states"]

#: A RUNNING run whose process cannot be checked and that logged nothing for this long is
#: stopped (an epoch takes minutes; preparing features before the first one, well under this).
STALE_AFTER = pd.Timedelta(hours=1)
#: ``state`` of a run: MLflow's status, with RUNNING split into training and stopped.
STATES = ("finished", "training", "stopped", "failed", "killed")


def _when(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC"


def run_state(
    row: pd.Series,
    *,
    now: pd.Timestamp,
    alive: Callable[..., bool | None] = tracking.process_alive,
) -> tuple[str, str]:
    """``(state, note)`` of one run of :func:`ser_core.leaderboard.load_runs`.

    ``state`` is one of :data:`STATES`; ``note`` says why, in a few words (empty for a
    finished run).  ``alive(host, pid, started=<run start, epoch seconds>)`` tells whether
    the run's process lives (None: unknown).
    """
    status = str(row["status"])
    if status != "RUNNING":
        state = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}.get(status, status.lower())
        return state, "" if state == "finished" else _("ended {status} without a test result").format(
            status=status
        )
    host, pid = row.get("host"), row.get("pid")
    seen = row.get("last_seen")
    seen = row["start_time"] if seen is None or pd.isna(seen) else seen
    live = alive(host, pid, started=row["start_time"].timestamp())
    when = _when(seen)
    if live:
        return "training", _("process {pid} on {host} is running; last sign of life {when}").format(
            pid=pid, host=host, when=when
        )
    if live is False:
        return "stopped", _("its process {pid} on {host} is gone; last sign of life {when}").format(
            pid=pid, host=host, when=when
        )
    if now - seen > STALE_AFTER:
        return "stopped", _("marked RUNNING, but no sign of life since {when}").format(when=when)
    if host:
        return "training", _("probably training on {host}: last sign of life {when}").format(
            host=host, when=when
        )
    return "training", _("probably training: last sign of life {when}").format(when=when)


def with_states(
    runs: pd.DataFrame,
    *,
    now: pd.Timestamp | None = None,
    alive: Callable[..., bool | None] = tracking.process_alive,
) -> pd.DataFrame:
    """``runs`` with two more columns: ``state`` (one of :data:`STATES`) and ``state_note``.

    Decided at each call, not cached with the table: a process can die without the
    tracking database changing.

    Parameters
    ----------
    runs : pd.DataFrame
        :func:`ser_core.leaderboard.load_runs`.
    now : pd.Timestamp, optional
        UTC; default the current time.
    alive : callable, optional
        ``alive(host, pid, started=...) -> bool | None``; default
        :func:`ser_core.tracking.process_alive`.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    out = runs.copy()
    states = [run_state(r, now=now, alive=alive) for __, r in runs.iterrows()]
    out["state"] = pd.Series([s for s, __ in states], index=runs.index, dtype=object)
    out["state_note"] = pd.Series([n for __, n in states], index=runs.index, dtype=object)
    return out
