"""The dataset page in a real browser: upload a clip, see its 13 representations."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from ser_core import data, features

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
