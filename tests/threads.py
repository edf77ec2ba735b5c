"""Running test code in threads, as concurrent sessions run it."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_alongside(
    workers: list[Callable[[], None]], background: list[Callable[[threading.Event], None]]
) -> None:
    """Run each of ``workers`` in a thread of its own while ``background`` threads run
    beside them; each background callable gets an event, set once every worker is done,
    and loops until it is set."""
    stop = threading.Event()
    others = [threading.Thread(target=b, args=(stop,)) for b in background]
    mine = [threading.Thread(target=w) for w in workers]
    for t in others + mine:
        t.start()
    for t in mine:
        t.join()
    stop.set()
    for t in others:
        t.join()
