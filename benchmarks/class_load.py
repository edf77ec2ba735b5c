"""A class at once: N real Chromium sessions against the app, over its WebSocket.

Like Streamlit's own load tests, every session is a real browser tab (one headless
Debian Chromium, one context per student) talking to a real ``streamlit run app.py``.

Scenarios (``--scenario``):
  upload   every session opens the predictor, then all upload a clip at the same moment:
           time from the upload to the prediction on screen
  pages    every session opens the six pages in turn, all at once: time until each page
           has finished running
  explain  every session opens the explain page, then all upload a clip at once: time to
           the explanation (each sees its place in the queue meanwhile)
  live     every session talks into the live microphone (Chromium's fake capture device
           plays corpus speech): how often each live label is updated
  rerun    every session clicks a widget that reruns the predictor page without a new
           prediction, one after another: server CPU per rerun

``--client protocol`` drives the sessions without a browser (``protocol_client.py``: the
app's WebSocket protocol from Python, as a tab speaks it), so that on one machine the
students' drawing does not take the cores the server is measured on (not for ``live``).

On one machine the Chromium tabs run at niceness 15 (``--client-nice``): in a classroom each
tab runs on its own laptop, and 30 renderers drawing plotly would otherwise take the CPU the
server is measured on (``--client-nice 0`` measures both on equal terms).

Printed (figures only; no assertion): p50 / p95 / max time to result, errors (error
boxes, tracebacks, timeouts), the server's CPU seconds per interaction and its RSS (peak
while the sessions run, and 30 s after they close).  The server's figures come from psutil
on its process: the harness starts the server itself (default), or ``--server-pid`` names
one running on this machine.

Usage (the app's targets for a 2-core laptop are in issue #27 and docs/speed.md):
  NEMO_DIR=../shared/nemo .venv/bin/python benchmarks/class_load.py --scenario upload --sessions 30

Against a lecturer's laptop from other machines in the room: start the app there with
``python -m ser_core serve --https`` (prints its address and pid), then on each student-side
machine ``python benchmarks/class_load.py --url https://LAPTOP:8501 --scenario upload
--sessions 10`` (server figures are then measured on the laptop with
``--server-pid PID --watch-only``, which samples until Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

from ser_core import audio, data
from ser_core.serving import DISCONNECTED_SESSION_TTL_S, streamlit_command, wait_healthy

CHROMIUM = "/usr/bin/chromium"
READY = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
PAGES = ["", "dataset", "predictor", "explain", "adversarial", "leaderboard"]
TIMEOUT_S = 300
#: What a waiting user reads (ui.jobs.waiting_text).
QUEUE_LINE = re.compile(r"ahead of yours in the queue|next in line|: running")


# ------------------------------------------------------------------ the server and its figures
class ServerWatch:
    """CPU seconds and RSS of a server process and its children, sampled every 0.25 s."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.proc, *self.proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        total = 0
        for p in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def cpu_s(self) -> float:
        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_rss = max(self.peak_rss, self.rss())

    def stop(self) -> None:
        self._stop.set()


def start_server(port: int) -> psutil.Popen:
    with socket.socket() as probe:  # an app left running there would be measured instead
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"port {port} is in use: stop what runs there, or pass another --port")
    cmd = streamlit_command(port=port, address="127.0.0.1")
    cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    return psutil.Popen(cmd, stdout=sys.stderr, stderr=sys.stderr)


# ------------------------------------------------------------------ one student
@dataclass
class Outcome:
    """Seconds to each result, errors, and the server CPU over the measured phase only."""

    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    watch: ServerWatch | None = None
    #: where a failed session's screenshot goes (None: nowhere)
    shots: Path | None = None
    #: explain: seconds until the queue's line (place or progress) or the result showed
    first_line: list[float] = field(default_factory=list)
    cpu_s: float | None = None
    interactions: int = 0
    _cpu0: float = 0.0

    def start(self, interactions: int) -> None:
        """The measured phase begins (``interactions`` of them)."""
        self.interactions = interactions
        self._cpu0 = self.watch.cpu_s() if self.watch else 0.0

    def stop(self) -> None:
        if self.watch:
            self.cpu_s = self.watch.cpu_s() - self._cpu0


async def ready(page) -> None:
    await page.wait_for_selector(READY, state="attached", timeout=TIMEOUT_S * 1000)


async def page_errors(page) -> list[str]:
    boxes = page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]')
    return [await boxes.nth(i).inner_text() for i in range(await boxes.count())]


async def skip_first_use(page) -> None:
    skip = page.get_by_role("button", name="Skip — predict without calibrating")
    await skip.or_(page.get_by_text("Upload a file", exact=True)).first.wait_for(timeout=TIMEOUT_S * 1000)
    if await skip.count():
        await skip.click()
        await skip.wait_for(state="detached")
        await ready(page)


async def pick_model(page, name: str | None) -> None:
    """Choose the model ``name`` in the predictor's "Model" selectbox (None: the default)."""
    if not name:
        return
    combo = page.get_by_role("combobox", name="Model", exact=True)
    box = page.locator('[data-testid="stSelectbox"]').filter(has=combo)
    option = page.get_by_role("option").filter(has_text=re.compile(rf"^{re.escape(name)} ·"))
    for _ in range(5):  # a rerun arriving just then can close the list again
        if await combo.get_attribute("aria-expanded") != "true":
            await box.get_by_role("button", name="Open").click()
        try:
            await option.first.wait_for(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - retried
            continue
    await option.first.click()
    await ready(page)


async def timed(coro, out: Outcome, page) -> None:
    """Await ``coro`` (a wait for the result), recording its seconds or the error."""
    t0 = time.perf_counter()
    try:
        await coro
        out.seconds.append(time.perf_counter() - t0)
        out.errors += await page_errors(page)
    except Exception as exc:  # noqa: BLE001 - a timeout or a closed page is a result here
        out.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        if out.shots is not None:  # what the student saw, to find out why
            shot = out.shots / f"failed-{len(out.errors):02d}.png"
            with contextlib.suppress(Exception):
                await page.screenshot(path=str(shot), full_page=True)
                out.errors[-1] += f" (screenshot {shot})"


async def upload_scenario(
    pages, url: str, clips: list[Path], out: Outcome, *, verdict: str, path: str, model: str | None = None
) -> None:
    await asyncio.gather(*(p.goto(f"{url}/{path}") for p in pages))
    await asyncio.gather(*(ready(p) for p in pages))
    if path == "predictor":
        await asyncio.gather(*(skip_first_use(p) for p in pages))
        for p in pages:
            await pick_model(p, model)
    else:
        for p in pages:  # explain: pick the upload when the page offers corpus clips too
            radio = p.locator(f".st-key-{path}-source")
            if await radio.count():
                await radio.get_by_text("Upload", exact=False).first.click()
        await asyncio.gather(*(ready(p) for p in pages))

    uploader = f".st-key-{path}-uploader"

    async def one(p, clip: Path):
        # the page's own uploader: the calibration expander above it has one too
        await p.locator(f"{uploader} input[type=file]").set_input_files(str(clip))
        t0 = time.perf_counter()
        if path == "explain":  # the queue's line (or the result, when no wait was needed)
            line = p.get_by_text(QUEUE_LINE).or_(p.get_by_role("heading", name="Where the model looks"))
            await line.first.wait_for(timeout=TIMEOUT_S * 1000)
            out.first_line.append(time.perf_counter() - t0)
        # a verdict: a label, or "The model is unsure: its best guess is …" (no "Prediction:")
        await p.locator(verdict).get_by_text(VERDICT).first.wait_for(timeout=TIMEOUT_S * 1000)
        await ready(p)

    out.start(len(pages))
    await asyncio.gather(*(timed(one(p, c), out, p) for p, c in zip(pages, clips)))
    out.stop()


async def pages_scenario(pages, url: str, out: Outcome) -> None:
    out.start(len(pages) * len(PAGES))
    for name in PAGES:
        await asyncio.gather(
            *(timed(p.goto(f"{url}/{name}", wait_until="commit"), Outcome(), p) for p in pages)
        )
        await asyncio.gather(*(timed(ready(p), out, p) for p in pages))
    out.stop()


async def rerun_scenario(pages, url: str, out: Outcome) -> None:
    await asyncio.gather(*(p.goto(f"{url}/predictor") for p in pages))
    await asyncio.gather(*(ready(p) for p in pages))
    await asyncio.gather(*(skip_first_use(p) for p in pages))
    out.start(2 * len(pages))
    for p in pages:  # one at a time: the CPU of one rerun each
        await timed(_toggle_source(p), out, p)
    out.stop()


async def _toggle_source(page) -> None:
    await page.get_by_text("Record (up to 10 s)", exact=False).first.click()
    await ready(page)
    await page.get_by_text("Upload a file", exact=True).first.click()
    await ready(page)


VERDICT = re.compile(r"Prediction:|The model is unsure")


# ------------------------------------------------------------------ sessions without a browser
async def protocol_sessions(url: str, path: str, n: int) -> list:
    """``n`` protocol sessions on page ``path``, opened together."""
    from protocol_client import StreamlitClient  # benchmarks/: run as a script from there

    clients = [StreamlitClient(url, path) for _ in range(n)]
    await asyncio.gather(*(c.open() for c in clients))
    return clients


async def protocol_timed(coro, out: Outcome, client) -> None:
    """:func:`timed` for a protocol session: the seconds, or the error and the page's errors."""
    t0 = time.perf_counter()
    try:
        await coro
        out.seconds.append(time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a timeout is a result here
        out.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    out.errors += client.errors + client.page.errors()


async def protocol_upload(url: str, clips: list[Path], out: Outcome, *, path: str) -> None:
    """The upload and explain scenarios with protocol sessions (see ``protocol_client.py``)."""
    clients = await protocol_sessions(url, path, len(clips))
    for c in clients:
        if path == "predictor":
            await c.click(key="predictor.first_use.skip")
        else:  # explain: pick the upload when the page offers corpus clips too
            await c.choose(re.compile("Upload"), key=f"{path}.source")

    async def one(c, clip: Path) -> None:
        t0 = time.perf_counter()
        await c.upload(clip.read_bytes(), clip.name, key=f"{path}.uploader", wait=False)
        if path == "explain":
            await c.wait_for_text(
                re.compile(rf"{QUEUE_LINE.pattern}|^Where the model looks"), timeout=TIMEOUT_S
            )
            out.first_line.append(time.perf_counter() - t0)
        await c.wait_for_text(VERDICT, timeout=TIMEOUT_S)  # then the rest of the run (the maps)
        await c.finished(timeout=TIMEOUT_S)

    out.start(len(clients))
    await asyncio.gather(*(protocol_timed(one(c, clip), out, c) for c, clip in zip(clients, clips)))
    out.stop()
    await asyncio.gather(*(c.close() for c in clients))


async def protocol_pages(url: str, sessions: int, out: Outcome) -> None:
    """The pages scenario with protocol sessions: each opens the six pages in turn."""
    from protocol_client import StreamlitClient

    out.start(sessions * len(PAGES))
    for name in PAGES:
        clients = [StreamlitClient(url, name) for _ in range(sessions)]
        await asyncio.gather(*(protocol_timed(c.open(), out, c) for c in clients))
        await asyncio.gather(*(c.close() for c in clients))
    out.stop()


async def protocol_rerun(url: str, sessions: int, out: Outcome) -> None:
    """The rerun scenario with protocol sessions: the predictor's source toggled, one at a time."""
    clients = await protocol_sessions(url, "predictor", sessions)
    for c in clients:
        await c.click(key="predictor.first_use.skip")
    out.start(2 * sessions)
    for c in clients:
        for option in ("^Record", "^Upload"):
            await protocol_timed(c.choose(re.compile(option), key="predictor.source"), out, c)
    out.stop()
    await asyncio.gather(*(c.close() for c in clients))


async def run_protocol(
    args: argparse.Namespace, url: str, watch: ServerWatch | None, clips: list[Path]
) -> None:
    out = Outcome(watch=watch)
    me = psutil.Process()
    cpu0 = sum(me.cpu_times()[:2])
    if args.scenario in ("upload", "explain"):
        await protocol_upload(url, clips, out, path="predictor" if args.scenario == "upload" else "explain")
    elif args.scenario == "pages":
        await protocol_pages(url, args.sessions, out)
    else:
        await protocol_rerun(url, args.sessions, out)
    print(summary(args.scenario, out, sessions=args.sessions))
    print(f"  the protocol clients' own CPU: {sum(me.cpu_times()[:2]) - cpu0:.1f} s")


PREDICTIONS = re.compile(r"^(\d+) predictions of the last 3 s")


async def live_scenario(
    pages, url: str, out: Outcome, *, seconds: float, model: str | None = None
) -> list[float]:
    """Each session's live predictions per second over ``seconds`` of talking."""
    frame = 'iframe[title*="webrtc_streamer"]'
    await asyncio.gather(*(p.goto(f"{url}/predictor") for p in pages))
    await asyncio.gather(*(ready(p) for p in pages))
    await asyncio.gather(*(skip_first_use(p) for p in pages))
    for p in pages:
        await pick_model(p, model)
    for p in pages:
        await p.get_by_text("Live microphone", exact=True).click()
    await asyncio.gather(*(ready(p) for p in pages))
    out.start(len(pages))
    await asyncio.gather(*(p.frame_locator(frame).get_by_role("button", name="START").click() for p in pages))

    async def count(p) -> float:
        label = p.locator(".st-key-predictor-live-label")
        t0 = time.perf_counter()
        try:
            await label.get_by_text("Listening").wait_for(timeout=TIMEOUT_S * 1000)
            out.seconds.append(time.perf_counter() - t0)  # time to the first live label
        except Exception as exc:  # noqa: BLE001
            out.errors.append(f"{type(exc).__name__}: no live label")
            return 0.0
        # updates, not label changes (a label can stay the same): the timeline's caption
        # counts the predictions ("41 predictions of the last 3 s of audio, …")
        caption = p.get_by_text(PREDICTIONS)
        first = last = None
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            with contextlib.suppress(Exception):  # between two reruns the caption can be gone
                n = int(PREDICTIONS.match(await caption.first.inner_text(timeout=1000)).group(1))
                first = first or (n, time.perf_counter())
                last = (n, time.perf_counter())
            await asyncio.sleep(0.1)
        if first is None or last[1] <= first[1]:
            return 0.0
        return (last[0] - first[0]) / (last[1] - first[1])

    rates = list(await asyncio.gather(*(count(p) for p in pages)))
    out.stop()
    return rates


# ------------------------------------------------------------------ the run
def niced_chromium(directory: Path, niceness: int) -> str:
    """A launcher running Chromium at lower priority: on one machine the students' tabs
    (30 renderers drawing plotly) would otherwise take the CPU the server is measured on;
    in a classroom each tab runs on its own laptop."""
    path = directory / "chromium-niced"
    path.write_text(f'#!/bin/sh\nexec nice -n {niceness} {CHROMIUM} "$@"\n')
    path.chmod(0o755)
    return str(path)


def student_clips(directory: Path, n: int, *, seconds: float = 3.0, sr: int = 48_000) -> list[Path]:
    """``n`` different 48 kHz WAVs, as browsers record them: corpus speech, else harmonic
    tones; every student brings their own clip (nothing is shared by accident)."""
    meta = data.load_metadata() if data.corpus_available() else None
    paths = []
    for i in range(n):
        if meta is not None:
            rows = meta.sample(4, random_state=i).path
            y = np.concatenate([audio.load_audio(p) for p in rows])[: int(seconds * 16_000)]
        else:
            t = np.arange(int(seconds * 16_000)) / 16_000
            y = 0.2 * sum(np.sin(2 * np.pi * (150 + 7 * i) * k * t) / k for k in range(1, 6))
        paths.append(directory / f"student{i:02d}.wav")
        sf.write(paths[-1], audio.resample(y, orig_sr=16_000, sr=sr), sr, subtype="PCM_16")
    return paths


def summary(name: str, out: Outcome, *, sessions: int) -> str:
    s = sorted(out.seconds)
    q = (lambda f: s[min(len(s) - 1, int(round(f * (len(s) - 1))))]) if s else (lambda f: float("nan"))
    lines = [
        f"scenario {name}: {sessions} sessions, {len(s)} results, {len(out.errors)} errors",
        f"  time to result: p50 {q(0.5):.2f} s · p95 {q(0.95):.2f} s · max {q(1.0):.2f} s"
        + (f" · mean {statistics.mean(s):.2f} s" if s else ""),
    ]
    if out.first_line:
        f = sorted(out.first_line)
        lines.append(f"  queue line shown after: median {statistics.median(f):.2f} s · max {f[-1]:.2f} s")
    if out.cpu_s is not None:
        per = 1000 * out.cpu_s / max(out.interactions, 1)
        lines.append(f"  server CPU: {out.cpu_s:.1f} s in all, {per:.0f} ms per interaction")
    lines += [f"  error: {e[:160]}" for e in dict.fromkeys(out.errors)]
    return "\n".join(lines)


async def run(args: argparse.Namespace, url: str, watch: ServerWatch | None, clips: list[Path]) -> None:
    from playwright.async_api import async_playwright

    chromium_args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--mute-audio"]
    if args.scenario == "live":
        chromium_args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={clips[0]}",
        ]
    args.shots.mkdir(parents=True, exist_ok=True)
    out = Outcome(watch=watch, shots=args.shots)
    executable = niced_chromium(Path(tempfile.mkdtemp()), args.client_nice) if args.client_nice else CHROMIUM
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=chromium_args, headless=True)
        contexts = [
            await browser.new_context(
                viewport={"width": 1280, "height": 900},
                ignore_https_errors=True,
                permissions=["microphone"] if args.scenario == "live" else [],
            )
            for _ in range(args.sessions)
        ]
        pages = [await c.new_page() for c in contexts]
        rates = None
        if args.scenario == "upload":
            await upload_scenario(
                pages,
                url,
                clips,
                out,
                verdict=".st-key-predictor-verdict",
                path="predictor",
                model=args.model,
            )
        elif args.scenario == "explain":
            await upload_scenario(pages, url, clips, out, verdict=".st-key-explain-verdict", path="explain")
        elif args.scenario == "pages":
            await pages_scenario(pages, url, out)
        elif args.scenario == "rerun":
            await rerun_scenario(pages, url, out)
        else:
            rates = await live_scenario(pages, url, out, seconds=args.seconds, model=args.model)
        print(summary(args.scenario, out, sessions=args.sessions))
        if rates is not None:
            r = sorted(rates)
            print(
                f"  live predictions per second per session: min {r[0]:.2f} · median {statistics.median(r):.2f}"
            )
        for c in contexts:
            await c.close()
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario", choices=["upload", "pages", "explain", "live", "rerun"], default="upload"
    )
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--url", default=None, help="a running app (default: start one here)")
    parser.add_argument("--server-pid", type=int, default=None, help="the running app's pid on this machine")
    parser.add_argument("--watch-only", action="store_true", help="only sample --server-pid until Ctrl-C")
    parser.add_argument("--seconds", type=float, default=20.0, help="live: seconds of talking")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--shots", type=Path, default=Path("test-output/class_load"), help="screenshots of failed sessions"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds to wait before the last RSS reading (default: the session TTL + 30 s; 0: none)",
    )
    parser.add_argument(
        "--model", default=None, help="upload, live: the model each student picks (default: the page's)"
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=15,
        help="run the Chromium sessions at this niceness (0: same priority as the server)",
    )
    parser.add_argument(
        "--client",
        choices=["chromium", "protocol"],
        default="chromium",
        help="protocol: sessions speak the app's WebSocket protocol from Python (protocol_client.py) "
        "instead of drawing in Chromium, as students' own laptops would (not for --scenario live)",
    )
    args = parser.parse_args()
    if args.client == "protocol" and (args.scenario == "live" or args.model):
        parser.error(
            "--client protocol runs the upload, explain, pages and rerun scenarios with the default model"
        )
    if args.watch_only:
        watch = ServerWatch(args.server_pid)
        try:
            while True:
                time.sleep(5)
                print(
                    f"server: {watch.cpu_s():.1f} s CPU · RSS {watch.rss() / 2**20:.0f} MiB "
                    f"(peak {watch.peak_rss / 2**20:.0f} MiB)",
                    flush=True,
                )
        except KeyboardInterrupt:
            return
    server = None
    url = args.url
    if url is None:
        server = start_server(args.port)
        url = f"http://127.0.0.1:{args.port}"
        wait_healthy(url, proc=server)
    pid = server.pid if server else args.server_pid
    watch = ServerWatch(pid) if pid else None
    print(f"load: {psutil.getloadavg()[0]:.2f} · {psutil.cpu_count()} cores · {url}", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = 12.0 if args.scenario == "live" else 3.0
            clips = student_clips(Path(tmp), args.sessions, seconds=seconds)
            asyncio.run((run_protocol if args.client == "protocol" else run)(args, url, watch, clips))
        if watch:
            print(f"  server RSS: peak {watch.peak_rss / 2**20:.0f} MiB", flush=True)
            settle = (
                args.settle if args.settle is not None else DISCONNECTED_SESSION_TTL_S + 30 if server else 30
            )
            if settle > 0:
                time.sleep(settle)
                print(f"  server RSS {settle:.0f} s after the sessions closed: {watch.rss() / 2**20:.0f} MiB")
            watch.stop()
    finally:
        if server:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
