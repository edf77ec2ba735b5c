"""Browser fixtures: a live ``streamlit run app.py`` server and a Chromium page.

Playwright drives the system's Debian Chromium (``/usr/bin/chromium``); no
browser is ever downloaded.  Tests are skipped, saying why, when it is absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ser_core import serving

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    workdir: Path,
    env: dict[str, str] | None = None,
    *,
    address: str = "127.0.0.1",
    cert: tuple[Path, Path] | None = None,
) -> Iterator[tuple[str, Path]]:
    """Run ``streamlit run app.py`` on a free port of ``address`` (over https with ``cert =
    (cert.pem, key.pem)``), as ``python -m ser_core serve`` starts it, with ``env`` added to
    the environment; yield ``(base URL, server log path)``; always stop the server."""
    port = free_port()
    log = workdir / "server.log"
    cmd = serving.streamlit_command(port=port, address=address, cert=cert)
    cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
    # a certificate names localhost, not 127.0.0.1's reverse
    url = f"https://localhost:{port}" if cert else f"http://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(cert[0])) if cert else None
    try:
        try:
            serving.wait_healthy(url, proc=proc, timeout=STARTUP_S, context=context)
        except serving.ServingError as exc:
            raise RuntimeError(f"{exc}; server log:\n{log.read_text(errors='replace')}") from None
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[str]:
    """Start ``streamlit run app.py`` on a free local port; yield its base URL."""
    with streamlit_server(tmp_path_factory.mktemp("streamlit")) as (url, _log):
        yield url


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium driven by Playwright (skips when it is missing)."""
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is needed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browser_page(browser):
    """A fresh page (1400 px wide) in its own context; closed after the test."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        ctx.close()


def wait_for_app(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has connected and finished running the script."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]',
        state="attached",
        timeout=timeout_ms,
    )


def wait_for_plots(page, timeout_ms: int = 60_000, *, at_least: int = 0) -> None:
    """Wait until every ``st.plotly_chart`` on the page has been drawn by plotly.js,
    and until at least ``at_least`` of them are on the page (a chart that Streamlit
    has not sent yet would otherwise count as drawn)."""
    page.wait_for_function(
        """(n) => {
            const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
            return charts.length >= n
                && [...charts].every(c => c.querySelector('.js-plotly-plot .main-svg'));
        }""",
        arg=at_least,
        timeout=timeout_ms,
    )


def _grow_viewport(page) -> dict:
    """Make the viewport as tall as the app's content (Streamlit scrolls inside its
    main container, not the document, so ``full_page`` alone stops at the fold)."""
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]')"
        " || document.scrollingElement; return Math.ceil(m.scrollHeight); }"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 600), 16_000)})
    page.wait_for_timeout(1500)  # let plotly re-lay out at the new size
    wait_for_plots(page)
    return size


def full_screenshot(page, path: Path) -> Path:
    """Screenshot of the whole page, top to bottom."""
    size = _grow_viewport(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def element_screenshot(page, locator, path: Path) -> Path:
    """Screenshot of one element, drawn completely even when taller than the viewport."""
    size = _grow_viewport(page)
    locator.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def fake_microphone_browser(browser, wav: Path):
    """A Chromium of its own whose microphone plays ``wav``, launched through the ``browser``
    fixture's Playwright (one sync Playwright per thread); the caller closes it."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]
    return browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)


@contextlib.contextmanager
def fake_microphone_page(browser, wav: Path, url: str) -> Iterator:
    """A page of :func:`fake_microphone_browser` on ``url``; always closed."""
    mic_browser = fake_microphone_browser(browser, wav)
    try:
        ctx = mic_browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        yield page
        ctx.close()
    finally:
        mic_browser.close()


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    combo = page.get_by_role("combobox", name=label, exact=True)
    box = page.locator('[data-testid="stSelectbox"]').filter(has=combo)
    target = page.get_by_role("option", name=option, exact=True)
    for _ in range(5):  # a rerun arriving just then can close the list again
        if combo.get_attribute("aria-expanded") != "true":
            box.get_by_role("button", name="Open").click()  # a click on the text does not open it
        try:
            target.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    target.click()


@contextlib.contextmanager
def tiny_server_without_corpus(root: Path, *, prepare=None) -> Iterator[tuple[str, Path]]:
    """:func:`streamlit_server` on a tiny mel model trained now (``root/artifacts``) and no
    corpus; ``prepare(artifacts)`` runs before the server starts. Yields ``(url, log)``."""
    from tests.tiny_model import ship_tiny_model

    artifacts = ship_tiny_model(root)
    if prepare is not None:
        prepare(artifacts)
    (root / "no-corpus").mkdir()
    env = {
        "SER_ARTIFACTS": str(artifacts),
        "SER_ONNX_CACHE": str(root / "onnx"),
        "NEMO_DIR": str(root / "no-corpus"),
    }
    with streamlit_server(root, env) as served:
        yield served
