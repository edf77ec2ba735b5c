"""The predictor page, run on its own with AppTest, on a tiny model trained at test time.

The page never reads the uploader / recorder directly: their ``on_change``
callbacks copy the file into ``st.session_state[state.KEY_PRED_CLIP[source]]``
(a :func:`clips.make_clip` dict) and the page predicts whatever is there.  Most
tests put clips there directly (any bytes, any name, no widget round trip);
``test_real_uploader_and_recorder_widgets`` also goes through the real widgets
(AppTest of Streamlit 1.67 can stage uploads and recordings).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ser_core import adapt, audio, figures
from ser_core.config import EMOTIONS
from ser_core.feedback import FeedbackStore
from tests.conftest import encode, tone
from tests.pages.english import english_left
from tests.tiny_model import TINY, ship_tiny_model
from ui import calibration, clips, feedback, models, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "2_predictor.py")
UNSURE = "tiny_unsure"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Two shipped models: ``tiny_mel`` (best) and ``tiny_unsure``, the same network with
    a lower card accuracy and an 'unsure' threshold of 99 % (always unsure)."""
    root = ship_tiny_model(tmp_path_factory.mktemp("predictor"))
    d = root / "models"
    card = json.loads((d / f"{TINY}.json").read_text())
    card["metrics"]["seed"]["accuracy"] = 0.01
    card["decision"]["unsure_below"] = 0.99
    (d / f"{UNSURE}.json").write_text(json.dumps(card))
    shutil.copy(d / f"{TINY}.safetensors", d / f"{UNSURE}.safetensors")
    return root


@pytest.fixture
def env(artifacts, tmp_path, monkeypatch) -> Path:
    """Models from ``artifacts``; feedback and ONNX copies in temp folders. Returns the
    feedback data folder."""
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SER_ONNX_CACHE", str(artifacts.parent / "onnx"))
    monkeypatch.delenv("SER_ICE_SERVERS", raising=False)
    return tmp_path / "data"


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def page(*, skipped: bool = True) -> AppTest:
    """The page, not yet run; ``skipped``: as after "Skip" in the first-use step (issue #25:
    "talk for 20 s" comes before the inputs while a model can adapt; see
    test_predictor_first_use.py)."""
    at = AppTest.from_file(PAGE, default_timeout=90)
    if skipped:
        at.session_state[state.KEY_FIRST_ANSWER] = "skipped"
    return at


def run_page(*, skipped: bool = True) -> AppTest:
    return no_exception(page(skipped=skipped).run())


def with_clip(data: bytes, name: str, source: str = "upload", *, skipped: bool = True) -> AppTest:
    """The page with a clip as the uploader / recorder callback would store it."""
    at = page(skipped=skipped)
    at.session_state[state.KEY_PRED_SOURCE] = source
    at.session_state[state.KEY_PRED_CLIP[source]] = clips.make_clip(data, name, source)
    return no_exception(at.run())


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly figures by widget key suffix (``probs``, ``timeline``, ``wave``, ``mel``)."""
    out = {}
    for el in at.get("plotly_chart"):
        key = el.proto.id.rsplit(".", 1)[-1] if el.proto.id else ""
        out[key] = json.loads(el.proto.spec)
    return out


def said(at: AppTest, words: str) -> int:
    """How many elements of the page (text, captions, boxes) contain ``words``."""
    kinds = ("markdown", "caption", "info", "success", "warning", "error")
    return sum(words in el.value for kind in kinds for el in at.get(kind))


def texts(at: AppTest) -> str:
    return "\n".join(
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [w.value for w in at.warning]
        + [s.value for s in at.success]
    )


def test_page_lists_models_best_first(env):
    at = run_page()
    assert at.title[0].value == "Emotion predictor"
    assert not at.error, [e.value for e in at.error]
    box = at.selectbox(key=state.KEY_PRED_MODEL)
    assert box.value == TINY and set(box.options) == {models.model_label(TINY), models.model_label(UNSURE)}
    assert "new voices not measured" in box.options[0] and "% seed split" in box.options[0]  # issue #25
    assert "runs in ONNX Runtime" in texts(at)
    assert at.radio(key=state.KEY_PRED_SOURCE).value == "upload"


def test_no_model_says_how_to_train(env, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "empty"))
    at = run_page()
    assert "python -m ser_core train" in at.info[0].value


def test_upload_predicts_six_probabilities(env):
    at = with_clip(encode(tone(2.0), ext="flac"), "short.flac")
    assert not at.error, [e.value for e in at.error]
    figs = charts(at)
    bars = figs["probs"]["data"][0]
    assert bars["type"] == "bar" and bars["y"] == list(EMOTIONS)
    assert abs(sum(bars["x"]) - 100) < 0.1
    assert bars["marker"]["color"] == [figures.EMOTION_COLORS[e] for e in EMOTIONS]
    assert "timeline" not in figs and {"wave", "mel"} <= set(figs)
    assert "Prediction took" in texts(at) and " ms" in texts(at)
    res = at.session_state[state.KEY_PRED_RESULT]["upload"]
    label = EMOTIONS[int(np.argmax(res.verdict.probs))]
    assert f"Prediction: {label}" in texts(at)


def test_long_audio_gets_a_timeline(env):
    at = with_clip(encode(tone(7.0), ext="wav"), "long.wav")
    figs = charts(at)
    tl = figs["timeline"]["data"]
    assert [t["name"] for t in tl] == list(EMOTIONS)
    assert tl[0]["x"] == [1.5, 2.5, 3.5, 4.5, 5.5]  # window centres, 1-s hop
    assert "5 windows" in texts(at)
    assert figs["timeline"]["layout"]["xaxis"]["range"] == [0.0, 7.0]  # lined up with the waveform
    assert len(tl) == 6 and "strip on top" not in texts(at)  # short: the raw lines


def test_a_long_upload_gets_a_smoothed_timeline_with_a_dominant_emotion_strip(env):
    """Issue #28: 180 windows drawn as raw lines tangle."""
    at = with_clip(encode(tone(40.0), ext="flac"), "talk.flac")
    tl = charts(at)["timeline"]["data"]
    assert [t.get("stackgroup") for t in tl[:6]] == ["probs"] * 6 and tl[6]["name"] == "most likely"
    assert "38 windows" in texts(at) and "averaged over 5 neighbouring windows" in texts(at)


def test_a_clip_kept_from_before_a_page_switch_says_so(env):
    """Streamlit empties the uploader when the page is left; the prediction of the clip kept
    for the session stays, and says why the box above is empty."""
    at = with_clip(encode(tone(2.0), ext="wav"), "kept.wav")  # no widget value: as after a switch
    assert "Your last upload, 'kept.wav', kept from earlier in this session" in texts(at)
    assert "probs" in charts(at)


def test_model_choice_and_unsure_message(env):
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    assert not at.warning
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(UNSURE).run()
    no_exception(at)
    assert at.session_state[state.KEY_PRED_RESULT]["upload"].model == UNSURE
    assert at.warning and at.warning[0].value.startswith("The model is unsure: its best guess is ")
    assert at.warning[0].value.endswith(" %")


FORMATS = "wav, flac, ogg, opus, mp3, m4a, aac, mp4 or webm"


@pytest.mark.parametrize(
    "data,name,reason",
    [
        (
            b"this is not audio, just text " * 40,
            "notes.wav",
            "'notes.wav' cannot be read as audio: the file is damaged or not a sound file "
            f"(formats that work: {FORMATS}).",
        ),
        (
            b"this is not audio, just text " * 40,
            "notes.txt",
            f"'notes.txt' is a .txt file, not audio in a format that works ({FORMATS}).",
        ),
        (b"", "empty.wav", "'empty.wav' is empty (0 bytes)"),
        (
            encode(np.zeros(16_000 * 2, np.float32), ext="wav"),
            "quiet.wav",
            "'quiet.wav' is silent (every sample is 0): record or choose a file with speech in it.",
        ),
        (encode(np.zeros(80, np.float32), ext="wav"), "blip.wav", "lasts only 5 ms"),
    ],
)
def test_bad_file_shows_an_error_and_the_page_keeps_working(env, data, name, reason):
    """Issue #28: one plain sentence naming the file, what is wrong and (where the format may
    be the cause) the formats that work; never FFmpeg's "[Errno 1094995529] ..."."""
    at = with_clip(data, name)
    assert len(at.error) == 1 and reason in at.error[0].value and name in at.error[0].value
    assert "Errno" not in at.error[0].value and not at.exception
    assert not at.get("plotly_chart")
    # the next, good file is predicted
    at.session_state[state.KEY_PRED_CLIP["upload"]] = clips.make_clip(
        encode(tone(1.0), ext="ogg"), "good.ogg", "upload"
    )
    no_exception(at.run())
    assert not at.error and "probs" in charts(at)


def test_the_uploaders_accept_exactly_the_formats_the_messages_list(env):
    """One constant: the uploader's ``type=`` and the sentence of a bad file."""
    assert list(audio.SUPPORTED_EXTENSIONS) == clips.UPLOAD_TYPES
    assert audio.FORMATS_TEXT == FORMATS
    at = run_page()

    def accepted(key: str) -> list[str]:  # Streamlit adds its alias of mp4 itself
        return [t.lstrip(".") for t in at.file_uploader(key=key).proto.type if t != ".mpeg4"]

    assert accepted(state.KEY_PRED_UPLOADER) == list(audio.SUPPORTED_EXTENSIONS)
    assert accepted(state.KEY_CAL_UPLOADER) == list(audio.SUPPORTED_EXTENSIONS)


def test_damaged_model_weights_are_an_error_on_the_page(env, artifacts, tmp_path, monkeypatch):
    broken = tmp_path / "art"
    shutil.copytree(artifacts, broken)
    weights = broken / "models" / f"{TINY}.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # an interrupted copy
    monkeypatch.setenv("SER_ARTIFACTS", str(broken))
    at = with_clip(encode(tone(2.0), ext="flac"), "short.flac")
    assert any(f"{TINY}.safetensors cannot be loaded" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(UNSURE)  # the other model still works
    no_exception(at.run())
    assert "Prediction:" in texts(at) or "unsure" in texts(at)


def test_recording_over_10_s_is_rejected(env):
    at = with_clip(encode(tone(11.0), ext="wav"), "your recording", source="recording")
    assert at.error and "limited to 10 s" in at.error[0].value
    at.session_state[state.KEY_PRED_CLIP["recording"]] = clips.make_clip(
        encode(tone(4.0), ext="wav"), "your recording", "recording"
    )
    no_exception(at.run())
    assert not at.error and "timeline" in charts(at)  # 4 s: judged over windows too


def _answer(at: AppTest, right: str, correct: str | None = None, consent: bool = False) -> AppTest:
    at.radio(key=state.KEY_FB_RIGHT).set_value(right).run()
    if correct is not None:
        at.selectbox(key=state.KEY_FB_CORRECT).set_value(correct).run()
    if consent:
        at.checkbox(key=state.KEY_FB_CONSENT).check().run()
    at.button(key=state.KEY_FB_SUBMIT).click().run()
    return no_exception(at)


def test_feedback_without_consent_stores_no_audio(env):
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    assert at.checkbox(key=state.KEY_FB_CONSENT).value is False  # unticked by default
    assert at.checkbox(key=state.KEY_FB_CONSENT).label == feedback.CONSENT_LABEL
    assert at.button(key=state.KEY_FB_SUBMIT).disabled  # nothing answered yet
    _answer(at, feedback.FB_YES)
    store = FeedbackStore(env)
    rows = store.rows()
    res = at.session_state[state.KEY_PRED_RESULT]["upload"]
    assert len(rows) == 1 and rows[0]["donation"] is None
    assert rows[0]["correct"] == rows[0]["predicted"] == res.verdict.label
    assert rows[0]["model"] == TINY and rows[0]["source"] == "upload"
    assert not list(store.donations.iterdir())
    assert "feedback only" in at.success[0].value
    assert at.button(key=state.KEY_FB_SUBMIT).disabled  # sent once


def test_feedback_with_consent_stores_a_flac(env):
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    res = at.session_state[state.KEY_PRED_RESULT]["upload"]
    other = next(e for e in EMOTIONS if e != res.verdict.label)
    _answer(at, feedback.FB_NO, correct=other, consent=True)
    store = FeedbackStore(env)
    rows = store.rows()
    assert len(rows) == 1 and rows[0]["correct"] == other
    files = list(store.donations.iterdir())
    assert [f.suffix for f in files] == [".flac"] and files[0].name == rows[0]["donation"]
    assert "a.wav" not in files[0].name
    np.testing.assert_allclose(audio.load_audio(files[0]), res.y, atol=1e-3)
    assert "recording" in at.success[0].value


def test_not_sure_feedback_has_no_label(env):
    _answer(with_clip(encode(tone(2.0), ext="wav"), "a.wav"), feedback.FB_NOT_SURE)
    assert FeedbackStore(env).rows()[0]["correct"] is None


def test_feedback_store_failure_is_reported(env, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("SER_DATA_DIR", str(blocker / "sub"))
    at = _answer(with_clip(encode(tone(2.0), ext="wav"), "a.wav"), feedback.FB_YES, consent=True)
    assert at.error and at.error[0].value.startswith("Your feedback was not stored")
    assert not at.success


@pytest.fixture
def webrtc_in_apptest(monkeypatch):
    """streamlit-webrtc looks its session up in ``Runtime.instance()``, which AppTest
    replaces by a Mock that raises AttributeError (the library only expects
    RuntimeError outside a server); say "no session" as it does outside a server."""
    import streamlit_webrtc.component
    import streamlit_webrtc.shutdown

    for mod in (streamlit_webrtc.component, streamlit_webrtc.shutdown):
        monkeypatch.setattr(mod, "get_this_session_info", lambda: None)


def test_live_tab_renders_without_ice_servers(env, webrtc_in_apptest):
    at = page()
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    no_exception(at.run())
    assert not at.error
    assert "START" in at.info[-1].value


def test_bad_ice_setting_is_reported(env, webrtc_in_apptest, monkeypatch):
    monkeypatch.setenv("SER_ICE_SERVERS", "{not json")
    at = page()
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    no_exception(at.run())
    assert at.error and "SER_ICE_SERVERS" in at.error[0].value


def test_live_tab_shows_the_last_session_after_stop(env, webrtc_in_apptest):
    """Stopped, the panel shows the last session's label and timeline (no webrtc needed:
    the history lives in a LivePredictor in session state)."""
    from ser_core.live import LivePredictor

    probs = np.array([0.7, 0.1, 0.05, 0.05, 0.05, 0.05], np.float32)
    session = LivePredictor(lambda y: probs, min_new=0.0)
    for _ in range(3):
        session.buffer.push(tone(0.6), 16_000)
        session.step()
    at = page()
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    at.session_state[state.KEY_LIVE_SESSION] = session
    no_exception(at.run())
    assert "Live label: anger · 70 %" in texts(at) and "Stopped" in texts(at)
    figs = charts(at)
    assert [t["name"] for t in figs["timeline"]["data"]] == list(EMOTIONS)
    assert figs["timeline"]["data"][0]["x"] == [0.6, 1.2, 1.8]
    assert figs["probs"]["data"][0]["x"][0] == 70.0
    # the label after STOP is the last live label; the pooled session says it is pooled
    assert "Whole session: **anger · 70 %**, all 3 predictions pooled" in texts(at)


def test_live_label_and_unsure_warning_are_one_element_and_stop_explains_the_pooled_label(
    env, webrtc_in_apptest
):
    """Issue #28: a stale "unsure 39 %" stayed beside a "72 %" label (two elements, one left
    over); and after STOP the label differed from the last live one with no word why."""
    from ser_core.live import LivePredictor

    sure = np.array([0.05, 0.72, 0.05, 0.08, 0.05, 0.05], np.float32)  # fear 72 %
    unsure = np.array([0.39, 0.2, 0.11, 0.1, 0.1, 0.1], np.float32)  # anger 39 %
    answers = iter([unsure] * 4 + [sure])
    session = LivePredictor(lambda y: next(answers), min_new=0.0)
    for _ in range(4):  # four loud unsure windows, then a quiet sure one
        session.buffer.push(tone(0.6), 16_000)
        session.step()
    session.buffer.push(0.05 * tone(0.6), 16_000)
    at = page()
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    at.session_state[state.KEY_LIVE_SESSION] = session
    session.step()
    no_exception(at.run())
    assert "Live label: fear · 72 %" in texts(at) and not at.warning  # no unsure box left
    assert "Stopped: the last label before STOP" in texts(at)
    pooled = next(m.value for m in at.markdown if m.value.startswith("Whole session"))
    assert pooled.startswith("Whole session: **anger") and "5 predictions pooled" in pooled
    assert "differ from the last label, which judges only the last 3 s before STOP" in pooled

    unsure_session = LivePredictor(lambda y: unsure, min_new=0.0)
    unsure_session.buffer.push(tone(0.6), 16_000)
    unsure_session.step()
    at.session_state[state.KEY_LIVE_SESSION] = unsure_session
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(UNSURE).run()  # unsure below 99 %
    no_exception(at)
    (box,) = at.warning  # the label and its unsure state in one box
    assert box.value == "**Live label: unsure · best guess anger at 39 %**"
    assert not any(m.value.startswith("#### Live label") for m in at.markdown)


def test_store_clip_callback():
    """The uploader / recorder callback copies the file to the clip key, or forgets it."""

    def script():
        import streamlit as st

        from ui import predictor, state

        class Upload:
            name = "mine.m4a"

            def getvalue(self):
                return b"bytes of audio"

        st.session_state["w"] = Upload()
        predictor.store_clip("w", "upload")
        predictor.store_clip("w", "recording")
        st.session_state["up"] = dict(st.session_state[state.KEY_PRED_CLIP["upload"]])
        st.session_state["rec"] = dict(st.session_state[state.KEY_PRED_CLIP["recording"]])
        st.session_state["w"] = None
        predictor.store_clip("w", "upload")
        st.session_state["cleared"] = state.KEY_PRED_CLIP["upload"] not in st.session_state

    at = no_exception(AppTest.from_function(script).run())
    up, rec = at.session_state["up"], at.session_state["rec"]
    assert up["name"] == "mine.m4a" and up["data"] == b"bytes of audio" and up["source"] == "upload"
    assert rec["name"] == "your recording" and rec["id"] == up["id"] and len(up["id"]) == 24
    assert at.session_state["cleared"]


def test_real_uploader_and_recorder_widgets(env):
    """AppTest in Streamlit 1.67 can stage uploads: the widgets' callbacks fill the clip key."""
    at = run_page()
    at.file_uploader(key=state.KEY_PRED_UPLOADER).upload(
        "speech.mp3", encode(tone(2.0), ext="mp3"), "audio/mpeg"
    ).run()
    no_exception(at)
    assert at.session_state[state.KEY_PRED_CLIP["upload"]]["name"] == "speech.mp3"
    assert not at.error and "probs" in charts(at) and "speech.mp3" in texts(at)
    assert "Your last upload" not in texts(at)  # the uploader holds it
    at.file_uploader(key=state.KEY_PRED_UPLOADER).clear().run()
    no_exception(at)
    assert state.KEY_PRED_CLIP["upload"] not in at.session_state and "probs" not in charts(at)

    at.radio(key=state.KEY_PRED_SOURCE).set_value("recording").run()
    at.audio_input(key=state.KEY_PRED_RECORDER).upload("rec.wav", encode(tone(12.0))).run()
    no_exception(at)
    assert at.error and "limited to 10 s" in at.error[0].value
    at.audio_input(key=state.KEY_PRED_RECORDER).upload("rec.wav", encode(tone(2.5))).run()
    no_exception(at)
    assert not at.error and "probs" in charts(at) and "your recording" in texts(at)


# ------------------------------------------------------------------ ensemble (issue #4)
ENSEMBLE = "tiny_ensemble"


@pytest.fixture(scope="module")
def ensemble_artifacts(tmp_path_factory) -> Path:
    """tiny_mel, tiny_chroma and tiny_ensemble (weights 0.7 / 0.3)."""
    from tests.tiny_model import ship_tiny_ensemble

    return ship_tiny_ensemble(tmp_path_factory.mktemp("ensemble"))


def _use(monkeypatch, artifacts: Path, tmp_path: Path) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SER_ONNX_CACHE", str(artifacts.parent / "onnx"))
    monkeypatch.delenv("SER_ICE_SERVERS", raising=False)
    return tmp_path / "data"


def test_ensemble_is_listed_and_predicts(ensemble_artifacts, tmp_path, monkeypatch):
    _use(monkeypatch, ensemble_artifacts, tmp_path)
    at = run_page()
    box = at.selectbox(key=state.KEY_PRED_MODEL)
    from ser_core.inference import best_model_name

    assert box.value == best_model_name() != ENSEMBLE  # the best by seed accuracy stays default
    assert models.model_label(ENSEMBLE) in box.options and len(box.options) == 3
    at.session_state[state.KEY_PRED_CLIP["upload"]] = clips.make_clip(
        encode(tone(2.0), ext="wav"), "a.wav", "upload"
    )
    box.set_value(ENSEMBLE).run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert "weighted ensemble of 2 ResNets (mel 70 %, chroma 30 %)" in texts(at)
    assert "runs in ONNX Runtime" in texts(at)
    res = at.session_state[state.KEY_PRED_RESULT]["upload"]
    assert res.model == ENSEMBLE and res.voice == ""
    bars = charts(at)["probs"]["data"][0]
    assert abs(sum(bars["x"]) - 100) < 0.1
    assert "members use corpus-level normalisation" in at.info[0].value


# ------------------------------------------------------------------ calibrate to my voice (#7)
SPK, SPK_CHROMA = "tiny_spk", "tiny_spk_chroma"


@pytest.fixture(scope="module")
def spk_artifacts(tmp_path_factory) -> Path:
    """tiny_mel (corpus normalisation) and two speaker-normalised models: tiny_spk (mel,
    the default: best card accuracy) and tiny_spk_chroma."""
    from tests.tiny_model import ship_tiny_spk_model

    root = tmp_path_factory.mktemp("spk")
    ship_tiny_model(root)
    ship_tiny_spk_model(root, accuracy=0.9)
    return ship_tiny_spk_model(root, name=SPK_CHROMA, accuracy=0.5, representation="chroma")


@pytest.fixture
def spk_env(spk_artifacts, tmp_path, monkeypatch) -> Path:
    return _use(monkeypatch, spk_artifacts, tmp_path)


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    from tests.test_adapt import _speech

    return _speech(seconds, seed=seed)


def calibrate(at: AppTest, data: bytes, name: str = "me.wav", who: str = "") -> AppTest:
    """Stage calibration audio as the recorder / uploader callback would, then press
    Calibrate."""
    at.session_state[state.KEY_CAL_CLIP] = clips.make_clip(data, name, "calibration")
    if who:
        at.session_state[state.KEY_CAL_NAME] = who
    no_exception(at.run())
    at.button(key=state.KEY_CAL_RUN).click().run()
    return no_exception(at)


def test_unadapted_until_calibrated_then_every_prediction_is_adapted(spk_env):
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    assert at.selectbox(key=state.KEY_PRED_MODEL).value == SPK
    assert "Not adapted to this voice" in at.info[0].value
    before = at.session_state[state.KEY_PRED_RESULT]["upload"]
    assert before.voice == "" and said(at, "Not adapted to this voice") == 1  # once (issue #28)
    assert at.button(key=state.KEY_CAL_RUN).disabled  # no calibration audio yet

    calibrate(at, encode(speech(12.0), ext="flac"), who="ala")
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Adapted to the voice 'ala' (12 s of calibration")
    assert "Calibrated for 'ala' from 12 s of speech" in texts(at)
    after = at.session_state[state.KEY_PRED_RESULT]["upload"]
    assert after.voice and after.adaptation.startswith("Adapted to the voice 'ala'")
    assert not np.array_equal(after.verdict.probs, before.verdict.probs)  # re-predicted
    # the adaptation sentence is said once, under the model; the verdict carries a badge
    assert said(at, "Adapted to the voice 'ala'") == 1 and "Adapted to your voice" in texts(at)
    # the expander closes after calibrating, the success line shows outside it (issue #28)
    assert at.session_state[state.KEY_CAL_EXPANDER] is False and not at.expander[0].proto.expanded
    assert any(s.value.startswith("Calibrated for 'ala'") for s in at.success)
    # the recording tab uses the profile too
    at.session_state[state.KEY_PRED_SOURCE] = "recording"
    at.session_state[state.KEY_PRED_CLIP["recording"]] = clips.make_clip(
        encode(tone(2.0), ext="wav"), "your recording", "recording"
    )
    no_exception(at.run())
    assert at.session_state[state.KEY_PRED_RESULT]["recording"].voice == after.voice
    # nothing was stored: no database, no audio
    assert not (spk_env / "feedback.sqlite3").exists()
    assert at.session_state[state.KEY_VOICE]["kind"] == "audio"

    # another model with another representation: the profile is recomputed for it
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(SPK_CHROMA).run()
    no_exception(at)
    res = at.session_state[state.KEY_PRED_RESULT]["recording"]
    assert res.model == SPK_CHROMA and res.voice and res.voice != after.voice
    assert res.adaptation.startswith("Adapted to the voice 'ala'")

    # forget: unadapted again
    at.button(key=state.KEY_CAL_FORGET).click().run()
    no_exception(at)
    assert at.session_state[state.KEY_PRED_RESULT]["recording"].voice == ""
    assert "Not adapted to this voice" in at.info[0].value


def test_a_long_calibration_adapts_batch_norm_too_and_only_once(spk_env):
    """From 20 s of speech the model's batch-norm statistics adapt too (AdaBN): said under
    the model, done once per model and voice, the speech windows kept in this session only."""
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    calibrate(at, encode(speech(12.0), ext="wav"), who="ala")
    assert "From 20 s of speech" in at.success[0].value
    short = at.session_state[state.KEY_PRED_RESULT]["upload"]
    calibrate(at, encode(speech(40.0, seed=2), ext="wav"), who="ala")
    assert not at.error, [e.value for e in at.error]
    assert "re-estimated on this speech too (AdaBN)" in at.success[0].value
    res = at.session_state[state.KEY_PRED_RESULT]["upload"]
    assert res.voice != short.voice and "AdaBN" in res.adaptation and res.backend == "torch"
    assert not np.allclose(res.verdict.probs, short.verdict.probs)
    voice = at.session_state[state.KEY_VOICE]
    assert voice["windows"].shape[1:] == (48000,) and len(voice["windows"]) >= 20
    from ui import jobs

    # computed through the queue every session shares, which keeps statistics only
    shared = jobs.shared_queue().status(("voice", voice["id"], tuple(voice_reps(at)), "ala"))
    assert shared.state == "done" and shared.result.windows is None
    adapted = dict(at.session_state[state.KEY_ADAPTED])
    assert len(adapted) == 1
    no_exception(at.run())  # a rerun reuses the adapted model
    assert all(at.session_state[state.KEY_ADAPTED][k] is v for k, v in adapted.items())
    assert "information maximisation" not in at.success[0].value  # 40 s < adapt.INFOMAX_SECONDS
    # from a minute the network is tuned to the voice too; speech beyond 2 minutes is not used
    calibrate(at, encode(speech(150.0, seed=3), ext="wav"), who="ala")
    assert not at.error, [e.value for e in at.error]
    assert "scales and shifts tuned to it (information maximisation)" in at.success[0].value
    assert at.session_state[state.KEY_VOICE]["seconds"] <= calibration.CALIBRATION_MAX_SECONDS
    assert at.session_state[state.KEY_PRED_RESULT]["upload"].adaptation.endswith(
        "(information maximisation)."
    )
    at.button(key=state.KEY_CAL_FORGET).click().run()
    no_exception(at)
    assert state.KEY_ADAPTED not in at.session_state


def voice_reps(at: AppTest) -> list[str]:
    return calibration.calibration_representations(models.predictor(at.session_state[state.KEY_PRED_MODEL]))


def test_model_that_cannot_adapt_suggests_one_that_can(spk_env):
    at = run_page()
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(TINY).run()
    no_exception(at)
    msg = at.info[0].value
    assert "corpus-level normalisation; it cannot adapt" in msg and f"**{SPK}** can adapt" in msg
    at.button(key=state.KEY_CAL_SWITCH).click().run()
    no_exception(at)
    assert at.selectbox(key=state.KEY_PRED_MODEL).value == SPK


def test_no_adaptable_model_says_how_to_train_one(env):
    at = run_page()
    assert "cannot adapt" in at.info[0].value and "--norm speaker" in at.info[0].value
    assert not at.error


@pytest.mark.parametrize(
    "data, name, reason",
    [
        (encode(np.zeros(16_000 * 12, np.float32), ext="wav"), "silence.wav", "silent"),
        (encode(speech(2.0), ext="wav"), "short.wav", "'short.wav' lasts 2 s; calibrate with at least 10 s"),
        (b"garbage, not audio " * 50, "broken.ogg", "broken.ogg"),
    ],
)
def test_bad_calibration_keeps_the_previous_voice(spk_env, data, name, reason):
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    calibrate(at, encode(speech(12.0), ext="wav"), who="ala")
    good = at.session_state[state.KEY_PRED_RESULT]["upload"].voice
    calibrate(at, data, name=name)
    assert at.error and at.error[0].value.startswith("Calibration failed")
    assert reason in at.error[0].value
    # the page keeps working and the earlier calibration is kept
    assert at.session_state[state.KEY_PRED_RESULT]["upload"].voice == good
    assert at.success[0].value.startswith("Adapted to the voice 'ala'")
    assert "probs" in charts(at)


def test_profile_is_saved_only_with_consent_and_a_name_and_reloads(spk_env):
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    calibrate(at, encode(speech(12.0), ext="wav"))
    consent = at.checkbox(key=state.KEY_CAL_CONSENT)
    assert consent.value is False and consent.label == calibration.PROFILE_CONSENT_LABEL
    assert at.button(key=state.KEY_CAL_SAVE).disabled  # no consent, no name
    consent.check().run()
    assert at.button(key=state.KEY_CAL_SAVE).disabled  # still no name
    assert not (spk_env / "feedback.sqlite3").exists()
    at.text_input(key=state.KEY_CAL_NAME).input("Ala").run()
    assert not at.button(key=state.KEY_CAL_SAVE).disabled
    at.button(key=state.KEY_CAL_SAVE).click().run()
    no_exception(at)
    assert "Saved the voice profile 'Ala'" in texts(at)
    store = FeedbackStore(spk_env)
    (row,) = store.list_profiles()
    # any model, with its voice warps
    assert row["name"] == "Ala" and row["representations"] == ["chroma", "mel", *adapt.voice_warps("mel")]
    assert store.rows() == [] and not list(store.donations.iterdir())  # no audio anywhere
    # the same name again is refused, the saved one is kept
    at.checkbox(key=state.KEY_CAL_CONSENT).check().run()
    at.button(key=state.KEY_CAL_SAVE).click().run()
    assert at.error and "'Ala' already exists" in at.error[0].value

    # a new browser session: unadapted until the saved profile is picked
    at2 = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    assert "Not adapted" in at2.info[0].value
    at2.selectbox(key=state.KEY_CAL_PICK).set_value("Ala").run()
    at2.button(key=state.KEY_CAL_LOAD).click().run()
    no_exception(at2)
    assert at2.success[0].value.startswith("Adapted to the voice 'Ala'")
    assert "statistics only, so the batch-norm layers are not adapted" in texts(at2)
    assert at2.session_state[state.KEY_PRED_RESULT]["upload"].voice
    at2.selectbox(key=state.KEY_PRED_MODEL).set_value(SPK_CHROMA).run()  # chroma stats saved too
    assert not at2.error and at2.success[0].value.startswith("Adapted to the voice 'Ala'")
    at2.selectbox(key=state.KEY_CAL_PICK).set_value("Ala").run()
    at2.button(key=state.KEY_CAL_DELETE).click().run()
    no_exception(at2)
    assert store.list_profiles() == [] and "Deleted the saved voice profile 'Ala'" in texts(at2)
    assert at2.success[0].value.startswith("Adapted to the voice")  # this session keeps it


def test_live_on_the_fly_adaptation_toggle(spk_env, webrtc_in_apptest):
    from ser_core.live import OnlineAdapter

    at = page()
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    no_exception(at.run())
    assert not at.toggle(key=state.KEY_LIVE_ADAPT).value
    assert at.slider(key=state.KEY_LIVE_WARMUP).value == 10
    assert at.session_state[state.KEY_LIVE_SESSION].adapter is None
    assert said(at, "Not adapted to this voice") == 1  # under the model only (issue #28)
    at.toggle(key=state.KEY_LIVE_ADAPT).set_value(True).run()
    at.slider(key=state.KEY_LIVE_WARMUP).set_value(15).run()
    no_exception(at)
    adapter = at.session_state[state.KEY_LIVE_SESSION].adapter
    assert isinstance(adapter, OnlineAdapter) and adapter.warmup == 15
    assert any(c.value.startswith("Warming up: 0 of 15 s of speech") for c in at.caption)
    # a model that cannot adapt: the toggle is disabled and no adapter runs
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(TINY).run()
    no_exception(at)
    assert at.toggle(key=state.KEY_LIVE_ADAPT).disabled
    assert at.session_state[state.KEY_LIVE_SESSION].adapter is None


def test_on_the_fly_adaptation_says_it_replaces_the_calibration(spk_env, webrtc_in_apptest):
    """Issue #28: switching on-the-fly adaptation on silently replaced an uploaded
    calibration; now the page says so before and after, and the adapter's status too."""
    at = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    calibrate(at, encode(speech(12.0), ext="wav"), who="ala")
    at.radio(key=state.KEY_PRED_SOURCE).set_value("live").run()
    no_exception(at)
    assert "Your calibration ('ala') is used live; adapting on the fly would replace it" in texts(at)
    at.toggle(key=state.KEY_LIVE_ADAPT).set_value(True).run()
    no_exception(at)
    assert "statistics of what you say now replace your calibration ('ala')" in texts(at)
    adapter = at.session_state[state.KEY_LIVE_SESSION].adapter
    assert adapter.predictor.profile is not None  # the calibration is used until the warm-up
    assert any(c.value.startswith("Warming up: 0 of 10 s") for c in at.caption)
    assert said(at, "Adapted to the voice 'ala'") == 1  # the adaptation is said once
    at.button(key=state.KEY_CAL_FORGET).click().run()  # no calibration: nothing to replace
    no_exception(at)
    assert "replace your calibration" not in texts(at) and "would replace it" not in texts(at)


def test_a_functionals_model_predicts_on_the_page(tmp_path, monkeypatch):
    """The shipped openSMILE logistic regression, picked in the model box, predicts an upload."""
    from ser_core import models

    monkeypatch.delenv("SER_ARTIFACTS", raising=False)
    if "logreg_egemaps_spk" not in models.shipped():
        pytest.skip("logreg_egemaps_spk is not shipped in artifacts/models")
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SER_ONNX_CACHE", str(tmp_path / "onnx"))
    at = with_clip(encode(tone(2.0), ext="wav"), "short.wav")
    at.selectbox(key=state.KEY_PRED_MODEL).set_value("logreg_egemaps_spk").run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert "logistic regression on the egemaps functionals" in texts(at)
    assert abs(sum(charts(at)["probs"]["data"][0]["x"]) - 100) < 0.1


def test_concurrent_sessions_get_their_own_results_and_never_another_voice(spk_env):
    """Two browser sessions at once (issue #27): one calibrated with AdaBN, one not. Their
    models predict in parallel threads, each session gets its own clips' results, the
    unadapted one never the other's voice, and the model every session shares is left
    untouched.

    AppTest itself cannot run two scripts at the same time: every ``AppTest.run`` installs a
    process-wide mock ``Runtime`` (media, uploads, caches) and sets it to ``None`` when it
    ends, under the other run's feet (a session then lost its staged clip, about one whole
    run in eight). So the two pages take turns through ``harness``, in whatever order the
    threads reach it, while the two sessions' predictors (the shared model and the AdaBN
    copy) run at the same time in two more threads."""
    import threading

    import torch

    a = with_clip(encode(tone(2.0), ext="wav"), "a.wav")
    b = with_clip(encode(tone(2.0), ext="wav"), "b.wav")
    first = encode(tone(2.0, freq=180.0), ext="wav")  # the clip both sessions predict first below
    plain = models.predictor(SPK).verdict(audio.load_audio(first, name="first.wav")).probs
    calibrate(a, encode(speech(40.0), ext="wav"), who="ala")
    voice = a.session_state[state.KEY_PRED_RESULT]["upload"].voice
    assert voice
    shared = models.predictor(SPK)
    (adapted,) = a.session_state[state.KEY_ADAPTED].values()
    assert adapted is not shared and adapted.module is not shared.module
    before = {k: v.clone() for k, v in shared.module.state_dict().items()} if shared.module else {}
    waves = [
        audio.load_audio(encode(tone(2.0, freq=180.0 + 20 * i), ext="wav"), name="t.wav") for i in range(4)
    ]
    alone = {who: [p.verdict(y).probs for y in waves] for who, p in (("a", adapted), ("b", shared))}
    seen: dict[str, list] = {"a": [], "b": []}
    together: dict[str, list] = {"a": [], "b": []}
    failures: list[BaseException] = []
    harness = threading.Lock()

    def session(at: AppTest, who: str) -> None:
        try:
            for i in range(4):
                clip = encode(tone(2.0, freq=180.0 + 20 * i), ext="wav")
                with harness:
                    at.session_state[state.KEY_PRED_CLIP["upload"]] = clips.make_clip(
                        clip, f"{who}{i}.wav", "upload"
                    )
                    no_exception(at.run())
                res = at.session_state[state.KEY_PRED_RESULT]["upload"]
                seen[who].append((res.name, res.voice, res.verdict.probs.copy()))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    def predict(pred, who: str) -> None:
        try:
            for _ in range(3):
                together[who].extend(pred.verdict(y).probs for y in waves)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=session, args=(at, who)) for at, who in ((a, "a"), (b, "b"))]
    threads += [threading.Thread(target=predict, args=(p, who)) for p, who in ((adapted, "a"), (shared, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not failures, failures
    for who in "ab":  # in parallel, each predictor gives what it gives alone
        assert [n for n, _, _ in seen[who]] == [f"{who}{i}.wav" for i in range(4)]
        assert all(np.allclose(p, q, atol=1e-5) for p, q in zip(together[who], alone[who] * 3, strict=True))
        assert all(np.allclose(p, q, atol=1e-5) for (_, _, p), q in zip(seen[who], alone[who], strict=True))
    assert all(v == voice for _, v, _ in seen["a"]) and all(v == "" for _, v, _ in seen["b"])
    # the same clip: the unadapted session's answer is the shared model's, the other's is not
    assert np.allclose(seen["b"][0][2], plain, atol=1e-6)
    assert not np.allclose(seen["a"][0][2], seen["b"][0][2])
    after = shared.module.state_dict() if shared.module else {}
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_long_upload_is_predicted_through_the_shared_queue(env, monkeypatch):
    """Audio past ui.predictor.QUEUE_FROM_SECONDS goes through the queue every session
    shares (issue #27); the same clip, model and voice is computed once."""
    from ui import jobs, predictor

    monkeypatch.setattr(predictor, "QUEUE_FROM_SECONDS", 5.0)
    data = encode(tone(7.0, freq=260.0), ext="wav")
    at = with_clip(data, "long.wav")
    res = at.session_state[state.KEY_PRED_RESULT]["upload"]
    key = ("timeline", res.clip_id, res.model, res.backend, res.voice)
    done = jobs.shared_queue().status(key)
    assert done.state == "done" and done.result is res.verdict
    other = with_clip(data, "same-clip.wav")  # another session, the same clip: shared
    assert other.session_state[state.KEY_PRED_RESULT]["upload"].verdict is res.verdict


# ------------------------------------------------------------------ in Polish (issue #30)
def in_polish(at: AppTest) -> AppTest:
    at.session_state[state.KEY_LANG] = "pl"
    return at


def test_the_page_in_polish_calibrated_with_a_predicted_clip_and_feedback(spk_env):
    """Issue #30: a Polish session reads the whole page in Polish: the calibration and its
    messages, the verdict, the timeline's captions, the figures (emotion names, axes) and the
    feedback form; the data stays English identifiers.

    The test runs in Polish too (``language("pl")``): AppTest formats the options of the
    widgets it sends back (the model box's ``format_func``) in the test's thread."""
    from ser_core.i18n import emotion_name, language

    with language("pl"):
        at = in_polish(page())
        at.session_state[state.KEY_PRED_SOURCE] = "upload"
        at.session_state[state.KEY_PRED_CLIP["upload"]] = clips.make_clip(
            encode(tone(7.0), ext="wav"), "long.wav", "upload"
        )
        no_exception(at.run())
        assert at.title[0].value == "Rozpoznawanie emocji"
        assert "Brak dopasowania do tego głosu" in at.info[0].value
        calibrate(at, encode(speech(12.0), ext="flac"), who="ala")
        assert not at.error, [e.value for e in at.error]
        assert at.success[0].value.startswith("Dopasowano do głosu 'ala' (12 s mowy kalibracyjnej")
        assert "Skalibrowano dla 'ala' na podstawie 12 s mowy" in texts(at)
        at.radio(key=state.KEY_FB_RIGHT).set_value(feedback.FB_NO).run()
        no_exception(at)
        res = at.session_state[state.KEY_PRED_RESULT]["upload"]
        label = emotion_name(res.verdict.label)
        assert f"### Rozpoznana emocja: {label}" in texts(at) or at.warning
        assert "Przesuwne okna 3-sekundowe co 1 s (5 okien)" in texts(at)
        assert at.radio(key=state.KEY_FB_RIGHT).options == ["Tak", "Nie", "Nie wiem"]
        assert at.radio(key=state.KEY_FB_RIGHT).value == feedback.FB_NO  # the value stays English
        correct = at.selectbox(key=state.KEY_FB_CORRECT)
        assert "smutek" in correct.options and correct.placeholder == "Wybierz emocję"
        figs = charts(at)
        polish = ["złość", "strach", "szczęście", "stan neutralny", "smutek", "zaskoczenie"]
        assert figs["probs"]["data"][0]["y"] == polish
        assert [t["name"] for t in figs["timeline"]["data"]] == polish
        assert figs["probs"]["layout"]["xaxis"]["title"]["text"] == "prawdopodobieństwo (%)"
        assert english_left(at) == []
        # back to English (run from the Polish page): the same result's figures in English again
        at.session_state[state.KEY_LANG] = "en"
        no_exception(at.run())
    assert charts(at)["probs"]["data"][0]["y"] == list(EMOTIONS)
    assert "Calibrated for 'ala' from 12 s of speech" in texts(at)  # said again in English


def test_the_live_tab_in_polish_after_stop(env, webrtc_in_apptest):
    from ser_core.live import LivePredictor

    probs = np.array([0.7, 0.1, 0.05, 0.05, 0.05, 0.05], np.float32)
    session = LivePredictor(lambda y: probs, min_new=0.0)
    for _i in range(3):
        session.buffer.push(tone(0.6), 16_000)
        session.step()
    at = in_polish(page())
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    at.session_state[state.KEY_LIVE_SESSION] = session
    no_exception(at.run())
    assert "Etykieta na żywo: złość · 70 %" in texts(at)
    assert "Cała sesja: **złość · 70 %**, na podstawie wszystkich 3 wyników" in texts(at)
    assert charts(at)["timeline"]["layout"]["xaxis"]["title"]["text"] == "sekundy od naciśnięcia START"
    assert english_left(at) == []
