"""The class quiz in a real browser: one lecturer and two students (three browser contexts,
three sessions) through a three-clip quiz.

The module starts its own ``streamlit run app.py`` with the tiny models of
``tests/quiz_fixtures.py`` (``$SER_ARTIFACTS``), the real corpus (skipped without it) and a
fresh database folder (``$SER_DATA_DIR``).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest

from ser_core import quiz
from ser_core.errors import QuizClosedError
from tests.quiz_fixtures import ship_quiz_models

from .conftest import full_screenshot, streamlit_server, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def quiz_server(tmp_path_factory, nemo_dir) -> Iterator[tuple[str, str]]:
    """A Streamlit server on tiny models and a fresh database; yields ``(URL, data folder)``."""
    root = tmp_path_factory.mktemp("quiz_browser")
    artifacts = ship_quiz_models(root)
    data_dir = root / "data"
    env = {"SER_ARTIFACTS": str(artifacts), "NEMO_DIR": str(nemo_dir), "SER_DATA_DIR": str(data_dir)}
    with streamlit_server(root, env) as (url, _log):
        yield url, str(data_dir)


def new_page(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    wait_for_app(page)
    return page


def wait_for_text(locator, text: str, timeout_s: float = 60) -> str:
    """Wait until ``locator``'s text holds ``text`` (the live view refreshes by itself)."""
    end = time.monotonic() + timeout_s
    while True:
        seen = locator.inner_text()
        if text in seen or time.monotonic() > end:
            assert text in seen, seen
            return seen
        time.sleep(0.5)


def wait_for_count(locator, n: int, timeout_s: float = 60) -> None:
    """Wait until ``locator`` matches ``n`` elements (a fragment's rerun draws them one by one)."""
    end = time.monotonic() + timeout_s
    while locator.count() != n and time.monotonic() < end:
        time.sleep(0.5)
    assert locator.count() == n


def answer(page, emotion: str, clip: int, n: int) -> None:
    """One student: hear clip ``clip`` (1-based), pick ``emotion``, go on."""
    page.get_by_text(f"Clip {clip} of {n}").wait_for()
    assert page.locator('[data-testid="stAudio"]').count() == 1
    radio = page.locator('[data-testid="stRadio"]').filter(has_text="Which emotion do you hear?")
    radio.get_by_text(emotion, exact=True).click()
    wait_for_app(page)
    page.get_by_role("button", name="Answer and go on").click()
    wait_for_app(page)


def test_one_lecturer_and_two_students(quiz_server, browser, output_dir):
    url, data_dir = quiz_server
    lecturer = new_page(browser, f"{url}/quiz")
    lecturer.get_by_role("tab", name="Lecturer").click()
    clips = lecturer.get_by_role("spinbutton", name="Clips")
    clips.fill("3")
    clips.press("Enter")
    wait_for_app(lecturer)
    lecturer.get_by_role("button", name="Create the quiz").click()
    code_box = lecturer.locator('[data-testid="quiz-code"]')
    code_box.wait_for()
    code = code_box.inner_text().strip()
    assert quiz.normalise_code(code) == code

    # two students, each in a browser context of their own; one comes by a link with the code
    ala = new_page(browser, f"{url}/quiz?code={code}")
    # the first run fills it in (the app reports "not running" before that run starts)
    box = ala.get_by_label("Quiz code").first
    end = time.monotonic() + 60
    while box.input_value() != code and time.monotonic() < end:
        time.sleep(0.3)
    assert box.input_value() == code
    ala.get_by_label("Nickname (optional)").fill("Ala")
    ala.get_by_role("button", name="Join").click()
    wait_for_app(ala)
    bob = new_page(browser, f"{url}/quiz")
    bob.get_by_label("Quiz code").first.fill(code.lower())
    bob.get_by_role("button", name="Join").click()
    wait_for_app(bob)
    ala.get_by_text(f"Quiz {code} · Ala").wait_for()
    for k, (a, b) in enumerate([("anger", "anger"), ("fear", "sadness"), ("neutral", "surprised")], start=1):
        answer(ala, a, k, 3)
        answer(bob, b, k, 3)
    for page in (ala, bob):
        page.get_by_text("You answered all 3 clips").wait_for()
        # a student never sees the clips' names, their emotions or the model's answers
        assert not page.locator('[data-testid="stPlotlyChart"]').count()
        assert not page.locator('[data-testid="stDataFrame"]').count()
        assert "EB0_" not in page.content() and "_anger_" not in page.content()

    # the lecturer's live view has refreshed by itself: six answers, two students
    metrics = lecturer.locator('[data-testid="stMetric"]')
    wait_for_text(metrics.filter(has_text="Answers"), "6")
    wait_for_text(metrics.filter(has_text="Students"), "2")
    wait_for_plots(lecturer, at_least=2)
    assert lecturer.locator(".js-plotly-plot .heatmaplayer").count() >= 1
    lecturer.get_by_text("Where the class and the model disagree most").wait_for()
    wait_for_count(lecturer.locator('[data-testid="stAudio"]'), 3)  # the answered clips, playable
    full_screenshot(lecturer, output_dir / "quiz_lecturer.png")

    # close: the students can no longer answer; the CSV holds the six answers
    lecturer.get_by_role("button", name="Close the quiz").click()
    wait_for_app(lecturer)
    lecturer.get_by_text(f"Quiz {code} is closed").wait_for()
    with pytest.raises(QuizClosedError):
        quiz.answer(code, 0, "fear", student_id="late", directory=data_dir)
    with lecturer.expect_download() as info:
        lecturer.get_by_role("button", name="Download the answers (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text())))
    assert len(rows) == 6 and {r["nickname"] for r in rows} == {"Ala", ""}

    # delete, after its confirmation
    lecturer.get_by_role("button", name="Delete the quiz…").click()
    lecturer.get_by_role("button", name="Delete for good").click()
    wait_for_app(lecturer)
    lecturer.get_by_text(f"Quiz {code} is deleted with its 6 answers").wait_for()
    for page in (lecturer, ala, bob):
        page.context.close()
