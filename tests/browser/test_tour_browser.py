"""A tour of every page in a fixed order, as a lecturer preparing a class would walk it.

Three times: with the corpus, with a server that cannot see it (``$NEMO_DIR`` and
``$RAVDESS_DIR`` pointed at an empty folder), and with the corpus in a Polish browser
(issue #30: the app opens in Polish, and no English is left in any page's main area).  The tour moves between pages by the
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

from ser_core import data, i18n, models

from ..conftest import tone
from ..pages.english import is_english
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


def say(text: str, lang: str) -> str:
    """``text`` as the app shows it in ``lang`` (the catalog's translation)."""
    with i18n.language(lang):
        return i18n.gettext(text)


def lead(message: str) -> str:
    """The fixed start of a message with a placeholder, as drawn (``"Prediction:"``)."""
    return message.split("{")[0].lstrip("# ").strip()


def go(page, link: str, heading: str) -> None:
    """Open a page by its sidebar ``link``, as a user does; wait for its ``heading`` (the
    previous page's widgets stay on screen until the new page is drawn)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    wait_for_app(page)


def english_left(page) -> list[str]:
    """Lines of the main area (charts' text included) that still read as English."""
    text = page.locator('[data-testid="stMain"]').inner_text()
    return [line for line in text.splitlines() if is_english(line)]


def check(page, watch: Watch, shot: Path, lang: str = "en") -> None:
    """Full-page screenshot, then no error box, traceback, console error or outside request
    (and, in Polish, no English left in the main area)."""
    wait_for_app(page)
    wait_for_plots(page)
    full_screenshot(page, shot)
    if lang != "en":
        assert english_left(page) == [], shot.name
        # Streamlit's own uploader words, put into the session's language by ui.i18n
        main = page.locator('[data-testid="stMain"]')
        assert not main.get_by_text("per file").count(), shot.name
        assert not main.get_by_role("button", name="Upload", exact=True).count(), shot.name
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert not errors.count(), [errors.nth(i).inner_text() for i in range(errors.count())]
    assert not page.locator('[data-testid="stException"]').count(), shot.name
    assert not watch.console, (shot.name, watch.console)
    assert not watch.external, (shot.name, watch.external)


def upload(page, clip: Path, *, uploader: str = "") -> None:
    """Upload ``clip`` with the uploader whose widget key is ``uploader`` (the predictor has
    three: calibration, one clip, many files), else the page's last one (the main one)."""
    box = page.locator(f".st-key-{uploader.replace('.', '-')} input[type=file]") if uploader else None
    (box or page.locator("input[type=file]").last).set_input_files(str(clip))


def choose_upload(page, prefix: str, lang: str = "en") -> None:
    """Pick "Upload" in the page's input radio when the page offers a choice."""
    radio = page.locator(f".st-key-{prefix}-source")
    if radio.count():
        radio.get_by_text(say("Upload", lang), exact=False).first.click()
        wait_for_app(page)


def tour(page, url: str, clip: Path, out: Path, *, corpus: bool, lang: str = "en") -> None:
    """Walk home, dataset, predictor, explain, adversarial, leaderboard and the class quiz,
    reading every label in ``lang`` (the browser's language picks the app's)."""
    tag = ("corpus" if corpus else "no_corpus") + ("" if lang == "en" else f"_{lang}")
    t = lambda text: say(text, lang)  # noqa: E731 - a one-word alias reads best in the tour
    watch = Watch()
    watch.attach(page)
    page.goto(url)
    wait_for_app(page)
    page.get_by_role("heading", name=t("nEMO speech emotion explorer")).wait_for()
    check(page, watch, out / f"tour_{tag}_0_home.png", lang)

    go(page, t("Dataset"), t("Dataset explorer"))
    if corpus:
        page.get_by_role("button", name=t("Random clip")).first.click()
    else:
        upload(page, clip)
        page.get_by_text(t("Uploaded {name}").format(name=clip.name)).wait_for(timeout=90_000)
    check(page, watch, out / f"tour_{tag}_1_dataset.png", lang)

    if not models.shipped():
        return  # the model pages say so themselves (tests/pages)
    go(page, t("Predictor"), t("Emotion predictor"))
    skip_first_use(page, lang)
    upload(page, clip, uploader="predictor.uploader")
    verdict = page.locator(".st-key-predictor-verdict")
    verdict.get_by_text(lead(t("### Prediction: {emotion}"))).wait_for(timeout=120_000)
    assert clip.name in verdict.inner_text()
    check(page, watch, out / f"tour_{tag}_2_predictor.png", lang)

    go(page, t("Explain (XAI)"), t("Explain (XAI)"))
    if not corpus:
        choose_upload(page, "explain", lang)
        upload(page, clip)
    page.locator(".st-key-explain-verdict").get_by_text(lead(t("Prediction: {emotion}"))).wait_for(
        timeout=180_000
    )
    check(page, watch, out / f"tour_{tag}_3_explain.png", lang)

    go(page, t("Adversarial"), t("Adversarial examples"))
    if not corpus:
        choose_upload(page, "adversarial", lang)
        upload(page, clip)
    page.get_by_text(t("SNR of the perturbation")).first.wait_for(timeout=180_000)  # a metric, a chart axis
    check(page, watch, out / f"tour_{tag}_4_adversarial.png", lang)

    go(page, t("Leaderboard"), t("Leaderboard"))
    check(page, watch, out / f"tour_{tag}_5_leaderboard.png", lang)

    go(page, t("Class quiz"), t("Are you better than the model?"))
    if corpus:  # without the corpus the page says how to get it
        page.get_by_role("tab", name=t("Lecturer")).click()
        page.get_by_role("button", name=t("Create the quiz")).wait_for()
    check(page, watch, out / f"tour_{tag}_6_quiz.png", lang)


def tour_or_screenshot(page, url: str, clip: Path, out: Path, *, corpus: bool, lang: str = "en") -> None:
    """:func:`tour`; on a failure, a screenshot of where it stopped (``tour_..._failed.png``)."""
    try:
        tour(page, url, clip, out, corpus=corpus, lang=lang)
    except Exception:
        tag = ("corpus" if corpus else "no_corpus") + ("" if lang == "en" else f"_{lang}")
        page.screenshot(path=str(out / f"tour_{tag}_failed.png"), full_page=True)
        raise


def test_tour_with_the_corpus(app_server, browser_page, speech, output_dir):
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (the no-corpus tour still runs)")
    tour_or_screenshot(browser_page, app_server, speech, output_dir, corpus=True)


def test_tour_without_the_corpus(no_corpus_server, browser_page, speech, output_dir):
    tour_or_screenshot(browser_page, no_corpus_server, speech, output_dir, corpus=False)


def test_tour_in_a_polish_browser(app_server, browser, speech, output_dir):
    """A browser whose language is Polish opens the app in Polish; every page's main area,
    charts included, has no English left after its main action."""
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (the no-corpus tour still runs)")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="pl-PL")
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    try:
        tour_or_screenshot(page, app_server, speech, output_dir, corpus=True, lang="pl")
    finally:
        ctx.close()
