"""The explain (XAI) page, run on its own with AppTest, on a tiny model trained at test time.

Uploads reach the page only through ``st.session_state[state.KEY_XAI_UPLOAD]`` (a
:func:`clips.make_clip` dict set by the uploader's ``on_change``), so tests put clips
there directly.  Small explainer budgets (LIME 32 samples, ...) keep the runs fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ser_core.config import EMOTIONS
from ser_core.explain import EXPLAINERS, save_deletion_table
from tests.conftest import encode, make_corpus, tone
from tests.tiny_model import TINY, ship_tiny_model
from ui import clips, explain, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "3_explain.py")
METHODS = list(EXPLAINERS)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return ship_tiny_model(tmp_path_factory.mktemp("explain"))


@pytest.fixture
def env(artifacts, tmp_path, monkeypatch, no_corpus) -> Path:
    """The tiny model, no corpus, ONNX copies in a temp folder."""
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_ONNX_CACHE", str(tmp_path / "onnx"))
    return artifacts


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def page(**session) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.KEY_XAI_LIME] = 32
    at.session_state[state.KEY_XAI_SG_SAMPLES] = 2
    at.session_state[state.KEY_XAI_STEPS] = 10
    for k, v in session.items():
        at.session_state[k] = v
    return at


def with_upload(data: bytes, name: str, **session) -> AppTest:
    at = page(**session)
    at.session_state[state.KEY_XAI_UPLOAD] = clips.make_clip(data, name, "upload")
    return no_exception(at.run())


def charts(at: AppTest) -> dict[str, dict]:
    out = {}
    for el in at.get("plotly_chart"):
        key = el.proto.id.rsplit(".", 1)[-1] if el.proto.id else ""
        out[key] = json.loads(el.proto.spec)
    return out


def texts(at: AppTest) -> str:
    return "\n".join(
        [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    )


def test_without_corpus_the_page_asks_for_an_upload(env):
    at = no_exception(page().run())
    assert at.title[0].value == "Explain (XAI)"
    assert at.radio(key=state.KEY_XAI_SOURCE).options == [explain.XAI_SOURCES["upload"]]
    assert "NEMO_DIR" in texts(at)
    assert "Pick a corpus clip or upload" in at.info[0].value
    assert at.selectbox(key=state.KEY_XAI_MODEL).value == TINY


def test_upload_shows_four_maps_deletion_and_listening(env):
    at = with_upload(encode(tone(2.0), ext="flac"), "voice.flac")
    assert not at.error, [e.value for e in at.error]
    figs = charts(at)
    assert {"probs", "maps", "deletion"} <= set(figs)
    heat = [t for t in figs["maps"]["data"] if t.get("name") in METHODS]
    assert [t["name"] for t in heat] == METHODS
    assert all(t["coloraxis"] == "coloraxis" for t in heat)  # shared scale by default
    titles = [a["text"] for a in figs["maps"]["layout"]["annotations"]]
    assert titles == ["Grad-CAM", "LRP", "SmoothGrad", "LIME"]
    lines = figs["deletion"]["data"]
    assert len(lines) == 5 and lines[-1]["name"].startswith("random order")
    assert lines[0]["x"][0] == 0 and lines[0]["x"][-1] == 100
    scores = at.dataframe[0].value
    assert list(scores["method"]) == ["Grad-CAM", "LRP", "SmoothGrad", "LIME", "random order"]
    assert np.isfinite(scores[["auc", "drop10", "drop20"]].to_numpy()).all()
    assert len(at.get("audio")) >= 4  # verdict + original, all bins, top-k
    assert "Prediction:" in texts(at)
    assert "No dataset-level result yet" in texts(at)


def test_display_widgets_recompute_nothing(env):
    at = with_upload(encode(tone(2.5, freq=300.0), ext="wav"), "b.wav")
    before = dict(explain.XAI_COMPUTED)
    at.slider(key=state.KEY_XAI_OPACITY).set_value(0.3).run()
    at.toggle(key=state.KEY_XAI_SHARED).set_value(False).run()
    no_exception(at)
    assert dict(explain.XAI_COMPUTED) == before
    heat = [t for t in charts(at)["maps"]["data"] if t.get("name") in METHODS]
    assert all(t["opacity"] == 0.3 for t in heat)
    assert [t["coloraxis"] for t in heat] == ["coloraxis2", "coloraxis3", "coloraxis4", "coloraxis5"]
    # a new top-k only inverts the spectrogram again; no map is recomputed
    at.slider(key=state.KEY_XAI_TOPK).set_value(35).run()
    no_exception(at)
    after = dict(explain.XAI_COMPUTED)
    assert after.pop("listen") == before.pop("listen") + 1 and after == before


def test_any_emotion_can_be_explained(env):
    at = with_upload(encode(tone(2.0, freq=250.0), ext="wav"), "c.wav")
    before = sum(explain.XAI_COMPUTED[m] for m in METHODS)
    predicted = next(m.value for m in at.markdown if m.value.startswith("### Prediction: "))
    other = next(e for e in EMOTIONS if not predicted.endswith(e))
    at.selectbox(key=state.KEY_XAI_TARGET).set_value(other).run()
    no_exception(at)
    assert f"explaining **{other}**" in texts(at)
    assert sum(explain.XAI_COMPUTED[m] for m in METHODS) >= before + len(METHODS) - 1


@pytest.mark.parametrize(
    "data,name,reason",
    [
        (b"this is not audio, just text " * 40, "notes.wav", "not audio"),
        (b"", "empty.wav", "empty"),
    ],
)
def test_bad_upload_shows_an_error(env, data, name, reason):
    at = with_upload(data, name)
    assert at.error and reason in at.error[0].value
    assert "maps" not in charts(at)


def test_no_model_says_how_to_train(env, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "empty"))
    at = no_exception(page().run())
    assert "python -m ser_core train" in at.info[0].value


def test_dataset_table_is_shown(env, tmp_path, monkeypatch):
    import shutil

    art = tmp_path / "artifacts"
    shutil.copytree(env, art)
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    rows = pd.DataFrame(
        [
            {"method": m, "emotion": e, "n": 2, "auc": 0.1 * i, "drop10": 0.2, "drop20": 0.3}
            for i, m in enumerate([*METHODS, "random"])
            for e in ["all", *EMOTIONS]
        ]
    )
    save_deletion_table(
        rows,
        {
            "model": TINY,
            "n_clips": 12,
            "protocol": "seed",
            "options": {"lime_samples": 64, "deletion_steps": 20},
            "command": "python -m ser_core xai-eval --n 12",
        },
    )
    at = with_upload(encode(tone(2.0), ext="wav"), "d.wav")
    assert "12 clips" in texts(at) and "xai-eval --n 12" in texts(at)
    frames = [d.value for d in at.dataframe]
    overall = frames[1]
    assert list(overall["method"]) == ["Grad-CAM", "LRP", "SmoothGrad", "LIME", "random order"]
    per = frames[2]
    per = per.data if hasattr(per, "data") else per  # a Styler
    assert list(per.columns) == list(EMOTIONS) and len(per) == 5


def test_corpus_clip_picker(artifacts, tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "nemo", seconds=1.0)
    monkeypatch.setenv("NEMO_DIR", str(corpus))
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    at = page()
    no_exception(at.run())
    assert at.radio(key=state.KEY_XAI_SOURCE).value == "corpus"
    assert at.selectbox(key=state.KEY_XAI_EMOTION).value == EMOTIONS[0]
    at.selectbox(key=state.KEY_XAI_EMOTION).set_value("happiness").run()
    no_exception(at)
    fid = at.selectbox(key=state.KEY_XAI_FILE).value
    assert fid.split("_")[1] == "happiness"
    assert f"**{fid}**" in texts(at)
    assert {"maps", "deletion"} <= set(charts(at))
    # switching to upload without a file asks for one
    at.radio(key=state.KEY_XAI_SOURCE).set_value("upload").run()
    no_exception(at)
    assert "Pick a corpus clip or upload" in at.info[0].value
