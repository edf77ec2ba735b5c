"""Live microphones, server side only: N streams of real-time audio into one LiveBatcher.

What the server can do for a class talking into the live panel, without browsers on the
same cores: N threads push 20-ms frames of 48 kHz corpus speech in real time, as WebRTC
delivers them, into N :class:`ser_core.live.LivePredictor` sessions; the app's one shared
:class:`ser_core.live_batch.LiveBatcher` predicts them with the chosen model.  The browser
harness (``class_load.py --scenario live``) measures the same end to end, but on one
machine its Chromium tabs take the cores the server needs.

Printed (figures only): predictions per second per session (min, median), the time
between two updates of a session's label (median, p95, max), the rounds' sizes and times,
and the process's CPU.  Target (issue #27): every label updated at least once a second.

Usage:
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/live_load.py --sessions 10 --model ensemble_spk
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np
import psutil

from ser_core import audio, data
from ser_core.inference import Predictor
from ser_core.live import LivePredictor
from ser_core.live_batch import LiveBatcher

FRAME_S = 0.02
SR_IN = 48_000


def speech(seconds: float, seed: int) -> np.ndarray:
    """``seconds`` of 48 kHz corpus speech (harmonic tones without the corpus)."""
    if data.corpus_available():
        rows = data.load_metadata().sample(12, random_state=seed).path
        y = np.concatenate([audio.load_audio(p) for p in rows])
    else:
        t = np.arange(int(seconds * 16_000)) / 16_000
        y = 0.2 * sum(np.sin(2 * np.pi * (150 + 7 * seed) * k * t) / k for k in range(1, 6))
    y = np.resize(y.astype(np.float32), int(seconds * 16_000))
    return audio.resample(y, orig_sr=16_000, sr=SR_IN)


def talk(session: LivePredictor, y: np.ndarray, stop: threading.Event) -> None:
    """Push ``y`` in 20-ms int16 frames at the pace of real time (WebRTC's sink thread)."""
    n = int(FRAME_S * SR_IN)
    frames = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    t0 = time.monotonic()
    for k, i in enumerate(range(0, len(frames), n)):
        if stop.is_set():
            return
        session.buffer.push(frames[i : i + n], SR_IN)
        time.sleep(max(0.0, t0 + (k + 1) * FRAME_S - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--model", default="ensemble_spk")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    pred = Predictor.load(args.model)
    pred.predict(np.zeros(16_000, np.float32))  # warm up (openSMILE, torch)
    sessions = [
        LivePredictor(pred.predict, predict_many=pred.predict_many, min_new=0.5) for _ in range(args.sessions)
    ]
    batcher = LiveBatcher()
    for s in sessions:
        batcher.add(s)
    rounds: list[tuple[float, int]] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=talk, args=(s, speech(args.seconds + 5, i), stop), daemon=True)
        for i, s in enumerate(sessions)
    ]
    proc = psutil.Process()
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.monotonic()
    for t in threads:
        t.start()

    def watch() -> None:  # the batcher's rounds, as the page's sharing note shows them
        last = None
        while not stop.is_set():
            if batcher.last_round is not last:
                last = batcher.last_round
                rounds.append(last)
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()
    batcher.start()
    time.sleep(args.seconds)
    stop.set()
    batcher.stop()
    wall, cpu = time.monotonic() - t0, sum(proc.cpu_times()[:2]) - cpu0

    rates, gaps = [], []
    for s in sessions:
        times, _ = s.history()
        rates.append(len(times) / wall)
        gaps += list(np.diff(times))
    rates.sort()
    gaps.sort()
    sizes = [n for _, n in rounds if n]
    took = sorted(t for t, n in rounds if n)
    q = lambda xs, f: xs[min(len(xs) - 1, int(round(f * (len(xs) - 1))))] if xs else float("nan")  # noqa: E731
    print(f"live, server side: {args.sessions} sessions of real-time speech, {args.model}, {wall:.0f} s")
    print(f"  {psutil.cpu_count()} cores · process CPU {cpu:.1f} s ({cpu / wall:.2f} cores)")
    print(f"  predictions per second per session: min {rates[0]:.2f} · median {statistics.median(rates):.2f}")
    print(
        f"  seconds of audio between two updates of a label: median {q(gaps, 0.5):.2f} · "
        f"p95 {q(gaps, 0.95):.2f} · max {q(gaps, 1.0):.2f}"
    )
    if took:
        print(
            f"  rounds: {len(took)} · windows per round median {statistics.median(sizes):.0f} · "
            f"round time median {q(took, 0.5):.2f} s · max {q(took, 1.0):.2f} s"
        )


if __name__ == "__main__":
    main()
