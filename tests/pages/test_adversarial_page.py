"""The adversarial page, run on its own with AppTest, on a tiny mel model trained at test time.

The uploader's ``on_change`` callback copies the file into
``st.session_state[state.KEY_ADV_CLIP]`` and the page attacks whatever is
there, so the tests put clips there directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from ser_core import attacks, figures
from ser_core.config import EMOTIONS
from tests.conftest import encode, tone
from tests.pages.english import english_left
from tests.tiny_model import TINY, ship_tiny_model
from ui import adversarial, clips, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_adversarial.py")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return ship_tiny_model(tmp_path_factory.mktemp("adversarial"))


@pytest.fixture
def env(artifacts, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_ONNX_CACHE", str(artifacts.parent / "onnx"))
    (artifacts / "attacks" / "robustness.csv").unlink(missing_ok=True)
    return artifacts


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def with_upload(data: bytes, name: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.KEY_ADV_SOURCE] = adversarial.ADV_SOURCE_UPLOAD
    at.session_state[state.KEY_ADV_CLIP] = clips.make_clip(data, name, "upload")
    return no_exception(at.run())


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> dict[str, dict]:
    return {
        el.proto.id.rsplit(".", 1)[-1]: json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if el.proto.id
    }


def array(v) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(v, dict):
        import base64

        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        shape = v.get("shape")
        if shape:
            a = a.reshape([int(n) for n in str(shape).split(",")])
        return a
    return np.asarray(v, float)


def texts(at: AppTest) -> str:
    return "\n".join(
        [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    )


def test_no_mel_model_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "empty"))
    at = no_exception(AppTest.from_file(PAGE, default_timeout=60).run())
    assert "--representation mel" in at.info[0].value


def test_upload_only_without_corpus(env, no_corpus):
    at = no_exception(AppTest.from_file(PAGE, default_timeout=120).run())
    assert at.title[0].value == "Adversarial examples"
    assert at.radio(key=state.KEY_ADV_SOURCE).options == [adversarial.ADV_SOURCE_UPLOAD]
    assert at.selectbox(key=state.KEY_ADV_MODEL).value == TINY
    assert "Upload a recording" in texts(at)
    assert not at.metric  # nothing to attack yet


def test_spectrogram_attack_and_slider(env, no_corpus):
    at = with_upload(encode(tone(2.0), ext="flac"), "tone.flac")
    assert not at.error, [e.value for e in at.error]
    slider = at.select_slider(key=state.KEY_ADV_EPS["spectrogram"])
    assert slider.value == 0.01 and list(slider.options) == [
        figures.attacks.format_epsilon(e) for e in attacks.DEFAULT_EPSILONS
    ]
    assert "normalised** model input" in texts(at)
    m = metrics(at)
    assert m["SNR of the perturbation"].endswith(" dB")
    figs = charts(at)
    assert {"probs", "spectrograms"} <= set(figs)
    assert [b["name"] for b in figs["probs"]["data"]] == [
        "original",
        "adversarial (model input)",
        "adversarial, with the clip's own phase",  # the attack heard without a guessed phase (#29)
        "original, Griffin-Lim audio",
        "adversarial, Griffin-Lim audio",
    ]
    assert len(figs["spectrograms"]["data"]) == 3
    # the clip; the window and the attack on its own STFT (original phase, #29), first; then the
    # two Griffin-Lim reconstructions, labelled as a comparison
    assert len(at.get("audio")) == 5
    md = [m.value for m in at.markdown]
    own = next(
        i
        for i, m in enumerate(md)
        if m.startswith("**Adversarial spectrogram, with the clip's own phase** → ")
    )
    gl = md.index("**For comparison: Griffin-Lim**, from the log-mel alone")
    assert md[own - 1].startswith("**Original** → ") and own < gl
    assert md[gl + 1].startswith("**Original spectrogram, Griffin-Lim** → ")
    assert "Robustness curve" in [h.value for h in at.header]
    assert "attack-eval" in texts(at)  # no robustness file yet: how to make it

    at = no_exception(slider.set_value(0.0).run())
    assert metrics(at)["SNR of the perturbation"] == "∞ (no change)"
    assert "Epsilon 0: nothing changes" in texts(at)
    assert "nothing to survive" in texts(at) and "the trip through sound" not in texts(at)
    prediction = at.metric[0].proto
    assert prediction.delta == "unchanged" and prediction.direction == MetricProto.MetricDirection.NONE
    spec = charts(at)["spectrograms"]["data"]
    assert array(spec[2]["z"]).shape == (128, 188) and np.abs(array(spec[2]["z"])).max() == 0

    at = no_exception(at.select_slider(key=state.KEY_ADV_EPS["spectrogram"]).set_value(0.1).run())
    snr = metrics(at)["SNR of the perturbation"]
    assert snr.endswith(" dB") and float(snr.split()[0]) < 40


def test_waveform_attack_targeted(env, no_corpus):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.KEY_ADV_SOURCE] = adversarial.ADV_SOURCE_UPLOAD
    at.session_state[state.KEY_ADV_CLIP] = clips.make_clip(encode(tone(3.0)), "t.wav", "upload")
    at.session_state[state.KEY_ADV_DOMAIN] = "waveform"
    at.session_state[state.KEY_ADV_ATTACK["waveform"]] = "pgd_wave"
    at.session_state[state.KEY_ADV_TARGET] = "sadness"
    at = no_exception(at.run())
    assert not at.error, [e.value for e in at.error]
    assert at.select_slider(key=state.KEY_ADV_EPS["waveform"]).value == 1e-4
    assert "sample amplitude" in texts(at)
    names = [b["name"] for b in charts(at)["probs"]["data"]]
    assert names == ["original", "adversarial (model input)", "adversarial audio (16-bit WAV)"]
    assert "reached the target" in texts(at) or "did not reach the target" in texts(at)


def test_bad_upload_is_an_error_not_a_traceback(env, no_corpus):
    at = with_upload(b"not audio at all", "x.wav")
    assert at.error and "x.wav" in at.error[0].value


def test_robustness_curve_marks_the_epsilon(env, no_corpus):
    attacks.save_robustness(robustness_rows(), env / "attacks" / "robustness.csv")
    at = with_upload(encode(tone(2.0)), "tone.wav")
    fig = charts(at)["curve"]
    assert fig["layout"]["xaxis"]["type"] == "log"
    clean, overall = fig["data"][:2]
    assert clean["name"] == "no attack: 90.0 %" and clean["line"]["dash"] == "dot"  # a legend entry
    assert array(overall["x"]).tolist() == [0.01, 0.05]
    assert array(overall["y"]).tolist() == [85.0, 65.0]
    shapes = fig["layout"]["shapes"]
    assert any(s.get("x0") == 0.01 for s in shapes)  # this clip's epsilon (data value)
    assert "on 12 clips" in texts(at)
    assert all(
        a["yref"] == "paper" and a["y"] >= 1 for a in fig["layout"]["annotations"]
    )  # no text on the curve

    # the waveform slider is in other units: the curve says so and marks nothing
    at.session_state[state.KEY_ADV_DOMAIN] = "waveform"
    at = no_exception(at.run())
    assert "cannot be compared" in texts(at)
    assert not charts(at)["curve"]["layout"].get("shapes")


def test_corpus_clip(env, meta):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at = no_exception(at.run())
    assert at.radio(key=state.KEY_ADV_SOURCE).value == adversarial.ADV_SOURCE_CORPUS
    clip = at.selectbox(key=state.KEY_ADV_FILE).value
    assert clip and at.selectbox(key=state.KEY_ADV_EMOTION).value == "anger"
    assert f"**{clip}** · labelled **anger**" in texts(at)
    assert "SNR of the perturbation" in metrics(at)


def test_outcome_words_agree_with_each_other(env, no_corpus):
    """#28: "does not survive the trip through sound" only where the attack flipped the
    label; the prediction's delta has no arrow; FGSM says why it is not monotonic in ε."""
    at = with_upload(encode(tone(2.0), ext="flac"), "tone.flac")
    for eps in (0.01, 0.1):
        at = no_exception(at.select_slider(key=state.KEY_ADV_EPS["spectrogram"]).set_value(eps).run())
        text = texts(at)
        changed = "the attack changed the label" in text
        assert changed != ("the attack did not change the label" in text)
        assert ("the trip through sound" in text) == changed
        assert ("nothing to survive" in text) == (not changed)
        prediction = at.metric[0].proto
        assert prediction.direction == MetricProto.MetricDirection.NONE  # no arrow on a label
        assert prediction.delta.startswith("was ") if changed else prediction.delta == "unchanged"
        assert "single step of size ε" in text and "not monotonic in ε" in text
    at.session_state[state.KEY_ADV_ATTACK["spectrogram"]] = "pgd"
    at = no_exception(at.run())
    assert "PGD takes 10 small steps" in texts(at)


# ------------------------------------------------------------------ issue #30
def robustness_rows() -> pd.DataFrame:
    rows = []
    for e in (0.0, 0.01, 0.05):
        row = {
            "model": TINY,
            "attack": "fgsm",
            "domain": "spectrogram",
            "steps": 1,
            "protocol": "seed",
            "epsilon": e,
            "n": 12,
            "accuracy": 0.9 - e * 5,
            "snr_db": np.inf if e == 0 else 30.0,
        }
        row.update({emo: 0.8 for emo in EMOTIONS})
        rows.append(row)
    return pd.DataFrame(rows)


def test_the_page_in_polish_after_an_attack(env, no_corpus):
    """#30: a Polish session runs an attack and reads its outcome, the charts and the
    robustness curve with nothing English left (FGSM, PGD, SNR, Griffin-Lim stay)."""
    attacks.save_robustness(robustness_rows(), env / "attacks" / "robustness.csv")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.KEY_LANG] = "pl"
    at.session_state[state.KEY_ADV_SOURCE] = adversarial.ADV_SOURCE_UPLOAD
    at.session_state[state.KEY_ADV_CLIP] = clips.make_clip(encode(tone(2.0)), "ton.wav", "upload")
    at = no_exception(at.run())
    assert not at.error, [e.value for e in at.error]
    assert {"probs", "spectrograms", "curve"} <= set(charts(at))
    assert english_left(at) == []
    assert at.title[0].value == "Przykłady adwersarialne"
    assert "Predykcja po ataku" in metrics(at)
    assert "atak zmienił etykietę" in texts(at) or "atak nie zmienił etykiety" in texts(at)
    assert "Linia ciągła: FGSM, jeden krok, na 12 nagraniach" in texts(at)
    names = [b["name"] for b in charts(at)["probs"]["data"]]
    assert names[:2] == ["oryginał", "adwersarialne (wejście modelu)"]
    assert any(
        m.value.startswith("**Spektrogram adwersarialny, z własną fazą nagrania** → ") for m in at.markdown
    )
