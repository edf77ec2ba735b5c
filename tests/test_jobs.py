"""The shared queue for heavy work (:mod:`ser_core.jobs`): order, places, sharing, leaving."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info

from ser_core import jobs
from ser_core.errors import SERError


@pytest.fixture
def queue():
    q = jobs.JobQueue(workers=1)
    yield q
    q.close()


def blocker():
    """A job that runs until its event is set (holds the one worker)."""
    gate = threading.Event()
    started = threading.Event()

    def run():
        started.set()
        gate.wait(10)
        return "first"

    return run, gate, started


def test_first_come_first_served_with_places(queue):
    run, gate, started = blocker()
    queue.submit("a", run, owner="s1")
    assert started.wait(5)
    order = []
    queue.submit("b", order.append, "b", owner="s2")
    queue.submit("c", order.append, "c", owner="s3")
    assert queue.status("a").state == "running"
    assert (queue.status("b").state, queue.status("b").position) == ("queued", 0)
    assert queue.status("c").position == 1
    gate.set()
    assert queue.wait("c", 5).state == "done"
    assert order == ["b", "c"] and queue.status("a").result == "first"
    assert queue.pending() == 0


def test_a_held_place_is_kept_for_jobs_known_later(queue):
    """A page holds its place before it decodes and predicts the clip; the jobs it submits
    then take that place, ahead of requests made meanwhile.  A held place runs nothing and
    holds no one up."""
    run, gate, started = blocker()
    queue.submit("busy", run, owner="s0")
    assert started.wait(5)
    order = []
    assert queue.reserve("place-s1", owner="s1").position == 0  # only the running job ahead
    queue.submit("s2-map", order.append, "s2-map", owner="s2")  # another class mate, later
    assert queue.status("place-s1").position == 0 and queue.status("s2-map").position == 0
    queue.submit("s1-map", order.append, "s1-map", owner="s1", place="place-s1")
    queue.submit("s1-curve", order.append, "s1-curve", owner="s1", place="place-s1")
    assert [queue.status(k).position for k in ("s1-map", "s1-curve", "s2-map")] == [0, 1, 2]
    assert queue.pending() == 4  # the held place is not a job
    queue.reserve("place-s1", owner="s1")  # a rerun holds the same place, not a new one
    gate.set()
    assert queue.wait("s2-map", 5).state == "done"
    assert order == ["s1-map", "s1-curve", "s2-map"]  # the place was passed over, not waited for
    queue.unreserve("place-s1")
    queue.unreserve("place-s1")  # twice: nothing happens
    with pytest.raises(jobs.JobError):
        queue.status("place-s1")
    assert queue.pending() == 0


def test_a_place_held_by_a_session_that_left_is_dropped(queue):
    run, gate, started = blocker()
    queue.submit("busy", run, owner="s0")
    assert started.wait(5)
    queue.reserve("p", owner="gone")
    assert queue.release("gone") == 0  # no job was cancelled
    with pytest.raises(jobs.JobError):
        queue.status("p")
    # a place named for jobs submitted after it was let go: they go to the end
    queue.submit("late", lambda: "ok", owner="s1", place="p")
    gate.set()
    assert queue.wait("late", 5).result == "ok"


def test_the_same_key_is_computed_once_across_sessions(queue):
    run, gate, started = blocker()
    queue.submit("busy", run, owner="s0")
    calls = []

    def heavy(x):
        calls.append(x)
        return x * 2

    queue.submit(("clip", "model", "gradcam"), heavy, 21, owner="s1")
    queue.submit(("clip", "model", "gradcam"), heavy, 21, owner="s2")  # joins the queued job
    gate.set()
    assert queue.wait(("clip", "model", "gradcam"), 5).result == 42
    later = queue.submit(("clip", "model", "gradcam"), heavy, 21, owner="s3")  # kept from before
    assert later.state == "done" and later.result == 42
    assert calls == [21]


def test_a_session_that_leaves_frees_its_place(queue):
    run, gate, started = blocker()
    queue.submit("a", run, owner="s1")
    assert started.wait(5)
    ran = []
    queue.submit("mine", ran.append, "mine", owner="leaver")
    queue.submit("shared", ran.append, "shared", owner="leaver")
    queue.submit("shared", ran.append, "shared", owner="stayer")
    queue.submit("theirs", ran.append, "theirs", owner="stayer")
    assert queue.status("theirs").position == 2
    assert queue.release("leaver") == 1  # "shared" still has a waiting owner
    assert queue.status("mine").state == "cancelled"
    assert queue.status("theirs").position == 1
    gate.set()
    queue.wait("theirs", 5)
    assert ran == ["shared", "theirs"]


def test_owners_gone_without_a_word_are_dropped_before_the_job_starts():
    gone = {"ghost"}
    q = jobs.JobQueue(workers=1, alive=lambda owner: owner not in gone)
    try:
        run, gate, started = blocker()
        q.submit("a", run, owner="s1")
        assert started.wait(5)
        ran = []
        q.submit("ghost's", ran.append, 1, owner="ghost")
        q.submit("live", ran.append, 2, owner="s2")
        gate.set()
        assert q.wait("live", 5).state == "done"
        assert q.status("ghost's").state == "cancelled" and ran == [2]
    finally:
        q.close()


def test_progress_and_failures_are_reported(queue):
    seen = threading.Event()
    go_on = threading.Event()

    def with_progress(*, progress):
        progress(0.25)
        seen.set()
        go_on.wait(5)
        progress(7)  # clipped to 1
        return "ok"

    queue.submit("p", with_progress, owner="s")
    assert seen.wait(5)
    assert queue.status("p").progress == pytest.approx(0.25)
    go_on.set()
    assert queue.wait("p", 5).progress == 1.0

    def bad():
        raise SERError("bad clip 'x.wav': not audio")

    failed = queue.wait(queue.submit("bad", bad, owner="s") and "bad", 5)
    assert failed.state == "failed" and "x.wav" in str(failed.error)
    assert queue.submit("after", lambda: 3, owner="s") and queue.wait("after", 5).result == 3  # goes on


def test_jobs_run_with_one_blas_thread(queue):
    def threads():
        return {i["user_api"]: i["num_threads"] for i in threadpool_info()}

    limits = queue.wait(queue.submit("t", threads, owner="s") and "t", 10).result
    assert all(n == 1 for n in limits.values()), limits


def test_unknown_keys_and_bad_sizes_say_so(queue):
    with pytest.raises(jobs.JobError, match="nothing"):
        queue.status("nothing")
    with pytest.raises(ValueError, match="workers=0"):
        jobs.JobQueue(workers=0)
