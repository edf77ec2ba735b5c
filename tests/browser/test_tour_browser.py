"""A tour of every page in a fixed order, as a lecturer preparing a class would walk it.

Twice: with the corpus, and with a server that cannot see it (``$NEMO_DIR`` and
``$RAVDESS_DIR`` pointed at an empty folder).  The tour moves between pages by the
sidebar, as a user does; on each page it does the page's main action (with the corpus a
corpus clip, without it an upload), saves a full-page screenshot in ``test-output/`` and
fails on an error box, a traceback, a browser console error or a request that leaves
this machine (the app must work offline, in a classroom without internet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import soundfile as sf

from ser_core import data, models

from ..conftest import tone
from .conftest import full_screenshot, streamlit_server, wait_for_app, wait_for_plots
from .test_predictor_browser import skip_first_use

pytestmark = pytest.mark.browser
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Watch:
    """What the browser reported during the tour: console errors, uncaught page errors
    and requests to other hosts."""

    console: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))
        page.on("request", self._request)

    def _request(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
            self.external.append(request.url)


@pytest.fixture(scope="module")
def no_corpus_server(tmp_path_factory) -> Iterator[str]:
    """``streamlit run app.py`` that finds neither corpus; yields its URL."""
    root = tmp_path_factory.mktemp("tour")
    empty = root / "empty"
    empty.mkdir()
    with streamlit_server(root, {"NEMO_DIR": str(empty), "RAVDESS_DIR": str(empty)}) as (url, _log):
        yield url


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """The clip a user uploads: a real nEMO clip when the corpus is here, else a tone."""
    path = tmp_path_factory.mktemp("upload") / "my_clip.wav"
    if data.corpus_available():
        meta = data.load_metadata()
        row = meta[meta.emotion == "anger"].iloc[0]
        y, sr = sf.read(row.path)
    else:
        y, sr = tone(2.5), 16_000
    sf.write(path, y, sr)
    return path


def go(page, link: str, heading: str) -> None:
    """Open a page by its sidebar ``link``, as a user does; wait for its ``heading`` (the
    previous page's widgets stay on screen until the new page is drawn)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    wait_for_app(page)


def check(page, watch: Watch, shot: Path) -> None:
    """Full-page screenshot, then no error box, traceback, console error or outside request."""
    wait_for_app(page)
    wait_for_plots(page)
    full_screenshot(page, shot)
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert not errors.count(), [errors.nth(i).inner_text() for i in range(errors.count())]
    assert not page.locator('[data-testid="stException"]').count(), shot.name
    assert not watch.console, (shot.name, watch.console)
    assert not watch.external, (shot.name, watch.external)


def upload(page, clip: Path) -> None:
    """Upload ``clip`` with the page's last uploader (the main one)."""
    page.locator("input[type=file]").last.set_input_files(str(clip))


def choose_upload(page, prefix: str) -> None:
    """Pick "Upload" in the page's input radio when the page offers a choice."""
    radio = page.locator(f".st-key-{prefix}-source")
    if radio.count():
        radio.get_by_text("Upload", exact=False).first.click()
        wait_for_app(page)


def tour(page, url: str, clip: Path, out: Path, *, corpus: bool) -> None:
    """Walk home, dataset, predictor, explain, adversarial and leaderboard in this order."""
    tag = "corpus" if corpus else "no_corpus"
    watch = Watch()
    watch.attach(page)
    page.goto(url)
    wait_for_app(page)
    page.get_by_role("heading", name="nEMO speech emotion explorer").wait_for()
    check(page, watch, out / f"tour_{tag}_0_home.png")

    go(page, "Dataset", "Dataset explorer")
    if corpus:
        page.get_by_role("button", name="Random clip").first.click()
    else:
        upload(page, clip)
        page.get_by_text(f"Uploaded {clip.name}").wait_for(timeout=90_000)
    check(page, watch, out / f"tour_{tag}_1_dataset.png")

    if not models.shipped():
        return  # the model pages say so themselves (tests/pages)
    go(page, "Predictor", "Emotion predictor")
    skip_first_use(page)
    upload(page, clip)
    verdict = page.locator(".st-key-predictor-verdict")
    verdict.get_by_text("Prediction:").wait_for(timeout=120_000)
    assert clip.name in verdict.inner_text()
    check(page, watch, out / f"tour_{tag}_2_predictor.png")

    go(page, "Explain (XAI)", "Explain (XAI)")
    if not corpus:
        choose_upload(page, "explain")
        upload(page, clip)
    page.locator(".st-key-explain-verdict").get_by_text("Prediction:").wait_for(timeout=180_000)
    check(page, watch, out / f"tour_{tag}_3_explain.png")

    go(page, "Adversarial", "Adversarial examples")
    if not corpus:
        choose_upload(page, "adversarial")
        upload(page, clip)
    page.get_by_text("SNR of the perturbation").wait_for(timeout=180_000)
    check(page, watch, out / f"tour_{tag}_4_adversarial.png")

    go(page, "Leaderboard", "Leaderboard")
    check(page, watch, out / f"tour_{tag}_5_leaderboard.png")


def tour_or_screenshot(page, url: str, clip: Path, out: Path, *, corpus: bool) -> None:
    """:func:`tour`; on a failure, a screenshot of where it stopped (``tour_..._failed.png``)."""
    try:
        tour(page, url, clip, out, corpus=corpus)
    except Exception:
        page.screenshot(
            path=str(out / f"tour_{'corpus' if corpus else 'no_corpus'}_failed.png"), full_page=True
        )
        raise


def test_tour_with_the_corpus(app_server, browser_page, speech, output_dir):
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (the no-corpus tour still runs)")
    tour_or_screenshot(browser_page, app_server, speech, output_dir, corpus=True)


def test_tour_without_the_corpus(no_corpus_server, browser_page, speech, output_dir):
    tour_or_screenshot(browser_page, no_corpus_server, speech, output_dir, corpus=False)
