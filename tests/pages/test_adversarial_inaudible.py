"""The adversarial page's "An attack you cannot hear" section (issue #29), with AppTest,
on a tiny mel model trained at test time and a small iteration budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import encode, tone
from tests.pages.english import english_left
from tests.tiny_model import TINY, ship_tiny_model
from ui import adversarial, clips, inaudible, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_adversarial.py")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return ship_tiny_model(tmp_path_factory.mktemp("inaudible"))


@pytest.fixture
def env(artifacts, monkeypatch) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_ONNX_CACHE", str(artifacts.parent / "onnx"))
    monkeypatch.setattr(inaudible, "INA_OPTIONS", {"epsilon": 0.02, "stage1_steps": 8, "stage2_steps": 6})
    return artifacts


def page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.session_state[state.KEY_LANG] = lang
    at.session_state[state.KEY_ADV_SOURCE] = adversarial.ADV_SOURCE_UPLOAD
    at.session_state[state.KEY_ADV_CLIP] = clips.make_clip(encode(tone(2.0)), "tone.wav", "upload")
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def masking_chart(at: AppTest) -> dict | None:
    for el in at.get("plotly_chart"):
        if el.proto.id.endswith("inaudible.masking"):
            return json.loads(el.proto.spec)
    return None


def test_runs_only_when_asked(env, no_corpus):
    at = page()
    assert "An attack you cannot hear" in [h.value for h in at.header]
    assert "Press the button to attack this clip (8 + 6 steps at most)." in texts(at)
    assert masking_chart(at) is None and state.KEY_INA_REQUEST not in at.session_state


def test_attack_margin_figure_and_abx_trial(env, no_corpus):
    at = page()
    at = ok(at.button(key=state.KEY_INA_RUN).click().run())
    labels = {m.label: m.value for m in at.metric}
    assert labels["Largest excess over the threshold"].endswith(" dB")
    assert float(labels["Largest excess over the threshold"].split()[0]) <= 0  # enforced by default
    assert labels["SNR of the perturbation"].endswith(" dB")
    assert "Prediction after the attack" in labels
    assert "the full pipeline hears" in texts(at)
    fig = masking_chart(at)
    assert fig is not None and [t["type"] for t in fig["data"]] == ["heatmap", "scatter", "scatter"]
    assert len(at.get("audio")) >= 4  # the clip, A, B and X

    trials = at.session_state[state.KEY_INA_TRIALS]
    ((key, trial),) = trials.items()
    assert trial["attacked"] in "AB" and trial["x"] in "AB" and trial["answer"] is None
    at = ok(at.button(key=state.KEY_INA_ANSWER[trial["x"]]).click().run())
    assert at.success and at.success[0].value == f"Right: X was {trial['x']}."
    other = "B" if trial["attacked"] == "A" else "A"
    assert f"**{trial['attacked']}** was the attacked clip, **{other}** the original." in texts(at)
    assert "Your score this session: 1 of 1 right (guessing gets half)." in texts(at)
    assert at.button(key=state.KEY_INA_ANSWER["A"]).disabled  # one answer per trial

    at = ok(at.button(key=state.KEY_INA_NEW).click().run())
    trial2 = at.session_state[state.KEY_INA_TRIALS][key]
    assert trial2["answer"] is None and not at.success
    wrong = "B" if trial2["x"] == "A" else "A"
    at = ok(at.button(key=state.KEY_INA_ANSWER[wrong]).click().run())
    assert at.warning[0].value == f"Wrong: X was {trial2['x']}."
    assert "Your score this session: 1 of 2 right (guessing gets half)." in texts(at)


def test_the_section_in_polish(env, no_corpus, monkeypatch):
    """Polish, after an attack and an answer, in one run (everything put in session state:
    AppTest formats the model picker's options in English when a Polish page runs again).
    The defences section below this one is left out: its own test checks its Polish."""
    import ui.defences

    monkeypatch.setattr(ui.defences, "defence_section", lambda *a, **k: None)
    at = AppTest.from_file(PAGE, default_timeout=240)
    clip = clips.make_clip(encode(tone(2.0)), "ton.wav", "upload")
    request = (clip["id"], TINY, None)
    for key, value in {
        state.KEY_LANG: "pl",
        state.KEY_ADV_SOURCE: adversarial.ADV_SOURCE_UPLOAD,
        state.KEY_ADV_CLIP: clip,
        state.KEY_INA_REQUEST: request,
        state.KEY_INA_TRIALS: {"|".join(str(v) for v in request): {"attacked": "B", "x": "A", "answer": "A"}},
        state.KEY_INA_SCORE: {"right": 1, "total": 1},
    }.items():
        at.session_state[key] = value
    at = ok(at.run())
    assert english_left(at) == []
    assert "Atak, którego nie słychać" in [h.value for h in at.header]
    assert at.success[0].value == "Dobrze: X to A."
    assert "Wynik w tej sesji: 1 z 1 poprawnie (zgadując, trafia się w połowie przypadków)." in texts(at)
    assert masking_chart(at) is not None
