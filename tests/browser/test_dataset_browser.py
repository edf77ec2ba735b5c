"""The dataset page in a real browser: upload a clip, see its 13 representations."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from ser_core import conditions, data, features

from .conftest import element_screenshot, full_screenshot, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser
TITLES = [features.get(n).title for n in features.names()]
ALL_TITLES_DRAWN = """(titles) => [...document.querySelectorAll('.js-plotly-plot')].some(p => {
    const t = [...p.querySelectorAll('.annotation-text, .gtitle')].map(e => e.textContent);
    return titles.every(x => t.some(s => s.startsWith(x)));
})"""


def clip_to_upload(tmp_path: Path, tone) -> Path:
    """A real corpus clip when the corpus is present, else a generated tone WAV."""
    if data.corpus_available():
        meta = data.load_metadata()
        return Path(meta.loc[meta["emotion"] == "anger", "path"].iloc[0])
    path = tmp_path / "tone.wav"
    sf.write(path, tone(2.5), 16_000)
    return path


def test_upload_shows_13_representations(app_server, browser_page, output_dir, tmp_path, tone_fn):
    page = browser_page
    # a deep link as the first request of the fresh server (see ui.navigation.ensure_navigation)
    page.goto(f"{app_server}/dataset")
    wait_for_app(page)
    page.get_by_role("heading", name="Dataset explorer").wait_for()
    page.get_by_role("heading", name="2-D projection of the clips").wait_for()
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name="Leaderboard").wait_for()
    assert not nav.get_by_text("common", exact=True).count()  # st.navigation, not pages/
    # run through app.py: its page config and navigation titles, not the pages/ folder's
    # file names ("app", "dataset", ..., "home") with Streamlit's default title
    assert page.title() == "nEMO speech emotion explorer"
    assert nav.get_by_text("Explain (XAI)", exact=True).count()
    assert not nav.get_by_text("app", exact=True).count()
    wait_for_plots(page)
    full_screenshot(page, output_dir / "dataset_page.png")

    source = page.get_by_text("Upload a file", exact=True)
    if source.count():  # with the corpus the source is switched to the upload first
        source.click()
    clip = clip_to_upload(tmp_path, tone_fn)
    page.locator("input[type=file]").set_input_files(str(clip))

    page.wait_for_function(ALL_TITLES_DRAWN, arg=TITLES, timeout=60_000)
    wait_for_app(page)
    wait_for_plots(page)
    assert page.get_by_text(f"Uploaded {clip.name}").count()
    assert not page.locator('[data-testid="stException"]').count()
    grid = page.locator(".js-plotly-plot", has_text="Delta-tempogram").filter(has_text="Tonnetz")
    element_screenshot(page, grid.first, output_dir / "dataset_13_representations.png")
    full_screenshot(page, output_dir / "dataset_upload_full.png")

    # hear the uploaded clip in real rooms: a player per condition (babble from any speaker)
    players = page.locator('[data-testid="stAudio"]')
    before = players.count()  # the clip's, and the two corpora's pair when RAVDESS is there
    page.get_by_text("Play this clip in rooms, noise, microphones and codecs").click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('[data-testid=\"stAudio\"]').length >= n",
        arg=before + len(conditions.CONDITIONS),
        timeout=120_000,
    )
    wait_for_app(page)
    assert players.count() == before + len(conditions.CONDITIONS)
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    page.get_by_role("tab", name="Rooms").click()
    page.get_by_text(conditions.CONDITIONS["reverb_medium"].description).wait_for()
    wait_for_plots(page)
    full_screenshot(page, output_dir / "dataset_conditions_full.png")


def test_the_same_emotion_in_two_corpora(app_server, browser_page, output_dir):
    from ser_core import ravdess

    if not (data.corpus_available() and ravdess.ravdess_available()):
        pytest.skip("needs nEMO and RAVDESS: set NEMO_DIR and RAVDESS_DIR to the shared copies")
    page = browser_page
    page.goto(f"{app_server}/dataset")
    wait_for_app(page)
    heading = page.get_by_role("heading", name="Polish and English: one emotion, two corpora")
    heading.wait_for()
    heading.scroll_into_view_if_needed()
    page.get_by_text("nEMO (Polish)").wait_for()
    page.get_by_text("RAVDESS (English)").wait_for()
    wait_for_plots(page)
    assert not page.locator('[data-testid="stException"]').count()
    full_screenshot(page, output_dir / "dataset_two_corpora_full.png")
