"""The explain (XAI) page in a real browser.

(a) A tiny mel model trained at test time and a tiny synthetic corpus (with the seed
    split the model's card names), in a server of its own: the clip picker offers test
    clips, labelled so, and "Next" moves to the next one; the clip gets four maps, the
    deletion and insertion charts, the table of every faithfulness score and the players;
    the opacity slider restyles the maps; then an upload
    is explained too; no traceback in the server log.
(b) The shipped ``resnet18_mel`` on a real corpus clip (skipped, saying which, without
    the model or the corpus): the README's screenshot.
"""

from __future__ import annotations

import re

import pytest
import soundfile as sf

from ser_core import data, models
from ser_core.explain import decoder_models

from .conftest import full_screenshot, pick, streamlit_server, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser
VERDICT = ".st-key-explain-verdict"
OPACITY = '.st-key-explain-opacity input[type="range"]'
#: JS: the maps figure's relevance traces (named after the methods) as [name, opacity]; the
#: figure has a grey log-mel and a relevance trace per map.
MAP_TRACES = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.data && p.data.length >= 8 && p.data.some(t => t.name === 'gradcam'))
    .flatMap(p => p.data.filter(t => t.name !== 'log-mel').map(t => [t.name, t.opacity]))"""


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    """``streamlit run app.py`` on a tiny mel model and a tiny corpus; yields ``(url, log)``."""
    from tests.conftest import make_corpus
    from tests.tiny_model import ship_tiny_model

    root = tmp_path_factory.mktemp("explain")
    artifacts = ship_tiny_model(root)
    corpus = make_corpus(root / "nemo", seconds=1.5, per_emotion=5)  # 3 test clips an emotion
    data.save_splits(data.load_metadata(corpus), directory=artifacts / "splits")
    env = {"SER_ARTIFACTS": str(artifacts), "SER_ONNX_CACHE": str(root / "onnx"), "NEMO_DIR": str(corpus)}
    with streamlit_server(root, env) as (url, log):
        yield url, log


def clip_shown(page) -> str:
    """The text the clip selectbox shows (``"<file_id> · <split> · “<text>”"``)."""
    return page.get_by_role("combobox", name=re.compile(r"^Clip: \d+ match")).input_value().strip()


def wait_for_maps(page, n: int = 4) -> list:
    page.wait_for_function(f"() => ({MAP_TRACES})().length === {n}", timeout=120_000)
    wait_for_app(page)
    wait_for_plots(page)
    return page.evaluate(MAP_TRACES)


def test_corpus_clip_maps_slider_and_upload(browser_page, tiny_server, tmp_path, tone_fn, output_dir):
    url, log = tiny_server
    page = browser_page
    page.goto(f"{url}/explain")
    wait_for_app(page)
    page.get_by_role("heading", name="Explain (XAI)").wait_for()
    page.locator(VERDICT).get_by_text("Prediction:").wait_for(timeout=120_000)
    traces = wait_for_maps(page)
    # the picker opens on test clips, says so, and every clip is a click away
    clip = page.get_by_role("combobox", name=re.compile(r"^Clip: \d+ match"))
    first = clip_shown(page)
    assert " · test · " in first, first
    page.locator(VERDICT).get_by_text("never trained on it").wait_for()
    page.get_by_role("button", name="Next", exact=True).click()
    page.wait_for_function(
        "(f) => !document.querySelector('.st-key-explain-verdict').innerText.includes(f)",
        arg=first.split(" · ")[0],
        timeout=120_000,
    )
    assert clip.count() == 1 and clip_shown(page) != first
    traces = wait_for_maps(page)
    assert [t[0] for t in traces] == ["gradcam", "lrp", "smoothgrad", "lime"]
    assert all(abs(t[1] - 0.8) < 1e-9 for t in traces)
    for title in ("Grad-CAM", "LRP", "SmoothGrad", "LIME"):
        assert page.locator(".js-plotly-plot").get_by_text(title, exact=True).count() >= 1
    page.get_by_role("heading", name="Deletion test").wait_for()
    # #29: the insertion chart beside the deletion chart, and the clip's table of every score
    page.locator(".js-plotly-plot").get_by_text("bins inserted onto the training mean", exact=False).wait_for(
        timeout=60_000
    )
    scores = page.locator('.st-key-explain-scores [data-testid="stDataFrame"]')
    scores.wait_for(timeout=60_000)
    # the data grid's accessible table holds the column titles
    headers = scores.locator('[role="columnheader"]')
    headers.nth(10).wait_for(state="attached", timeout=30_000)
    assert headers.all_text_contents()[5:11] == ["insertion AUC", "AI", "AD", "AG", "FF", "Fid-In"]
    # #29: the clip's own phase first (the original, its top bins), then Griffin-Lim labelled as a
    # comparison (all bins, top bins)
    own = page.locator(".st-key-explain-listen-original")
    guessed = page.locator(".st-key-explain-listen-griffin-lim")
    own.get_by_text("with the clip's own phase").wait_for(timeout=60_000)
    guessed.get_by_text("For comparison: Griffin-Lim").wait_for(timeout=60_000)
    assert own.locator("audio").count() == 2 and guessed.locator("audio").count() == 2
    assert own.bounding_box()["y"] < guessed.bounding_box()["y"]
    assert page.locator("audio").count() == 5  # and the verdict's clip
    # the opacity slider restyles the maps (a fragment rerun, nothing recomputed)
    thumb = page.locator(OPACITY)
    thumb.focus()
    for _ in range(4):
        thumb.press("ArrowLeft")
    page.wait_for_function(f"() => ({MAP_TRACES})().every(t => Math.abs(t[1] - 0.6) < 1e-9)", timeout=30_000)
    wait_for_app(page)
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    full_screenshot(page, output_dir / "explain_tiny.png")
    # an upload is explained as well
    page.get_by_text("Upload a file", exact=True).click()
    wav = tmp_path / "voice.wav"
    sf.write(wav, tone_fn(2.5, freq=260.0), 16_000)
    page.locator("input[type=file]").set_input_files(str(wav))
    page.locator(VERDICT).get_by_text("voice.wav").wait_for(timeout=120_000)
    wait_for_maps(page)
    assert not page.locator('[data-testid="stException"]').count()
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]


def test_real_model_on_a_corpus_clip(app_server, browser_page, output_dir):
    if "resnet18_mel" not in models.shipped():
        pytest.skip("resnet18_mel is not shipped in artifacts/models")
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (needed for a real clip)")
    page = browser_page
    page.goto(f"{app_server}/explain")
    wait_for_app(page)
    page.get_by_role("heading", name="Explain (XAI)").wait_for()
    page.locator(VERDICT).get_by_text("Prediction:").wait_for(timeout=120_000)
    with_lmac = "resnet18_mel" in decoder_models()  # the shipped decoder: a fifth map
    traces = wait_for_maps(page, 5 if with_lmac else 4)
    assert (traces[-1][0] == "lmac") is with_lmac
    assert " · test · " in clip_shown(page)  # opens on a clip the model never trained on
    if with_lmac:  # L-MAC's own soft mask, played with the clip's phase
        pick(page, "Map", "L-MAC")
        lmac = page.locator(".st-key-explain-listen-lmac")
        lmac.get_by_text("L-MAC's own mask").wait_for(timeout=60_000)
        assert lmac.locator("audio").count() == 1
        lmac.get_by_text("What the model hears: in the kept part").wait_for()
        lmac.scroll_into_view_if_needed()
        full_screenshot(page, output_dir / "explain_lmac.png")
    page.get_by_role("heading", name="Across the test set").wait_for()
    assert not page.locator(".st-key-explain-dataset-other").count()  # the table is resnet18_mel's
    assert not page.locator('[data-testid="stException"]').count()
    full_screenshot(page, output_dir / "explain_page.png")
