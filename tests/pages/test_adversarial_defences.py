"""The adversarial page's Defences section (issue #29), with AppTest, on a tiny mel model
trained at test time, a small attack budget and hand-made result files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ser_core.config import EMOTIONS
from tests.conftest import encode, tone
from tests.pages.english import english_left
from tests.tiny_model import TINY, ship_tiny_model
from ui import adversarial, clips, defences, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_adversarial.py")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return ship_tiny_model(tmp_path_factory.mktemp("defences"))


@pytest.fixture
def env(artifacts, monkeypatch) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_ONNX_CACHE", str(artifacts.parent / "onnx"))
    monkeypatch.setattr(defences, "DEF_STEPS", 2)
    monkeypatch.setattr(defences, "DEF_EOT", 2)
    for name in ("defences.csv", "margin.csv"):
        (artifacts / "attacks" / name).unlink(missing_ok=True)
    return artifacts


def write_results(artifacts: Path) -> None:
    """Small result files: mp3 stops the naive PGD at 2e-4, the adaptive one does not."""
    rows = []
    acc = {
        ("none", "naive", "fgsm_wave"): (0.9, 0.7, 0.5),
        ("none", "naive", "pgd_wave"): (0.9, 0.3, 0.1),
        ("mp3", "naive", "fgsm_wave"): (0.85, 0.8, 0.7),
        ("mp3", "naive", "pgd_wave"): (0.85, 0.8, 0.4),
        ("mp3", "adaptive", "eot_pgd"): (0.85, 0.2, 0.05),
    }
    for (d, who, attack), accs in acc.items():
        for eps, a in zip((0.0, 2e-4, 5e-4), accs):
            rows.append(
                {"model": TINY, "defence": d, "attacker": who, "attack": attack, "steps": 5, "eot": 1,
                 "epsilon": eps, "n": 100, "accuracy": a, "success": 0.0, "snr_db": 40.0,
                 **{e: a for e in EMOTIONS}}
            )  # fmt: skip
    (artifacts / "attacks").mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(artifacts / "attacks" / "defences.csv", index=False)
    margin = [
        {"model": TINY, "attack": attack, "emotion": emo, "snr_bin": label, "snr_lo": lo, "snr_hi": lo + 10,
         "n": 5, "success": s}
        for attack in ("fgsm_wave", "pgd_wave")
        for emo in ("all", *EMOTIONS)
        for label, lo, s in (("30–40 dB", 30.0, 0.6), ("40–50 dB", 40.0, 0.2))
    ]  # fmt: skip
    pd.DataFrame(margin).to_csv(artifacts / "attacks" / "margin.csv", index=False)


def page(lang: str = "en", *, pressed: bool = False) -> AppTest:
    """The page on a 2-s tone; ``pressed``: as if the button had been pressed for the
    default settings (a Polish run cannot click: AppTest formats the model picker's
    options in English when it sends the widgets back)."""
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.session_state[state.KEY_LANG] = lang
    at.session_state[state.KEY_ADV_SOURCE] = adversarial.ADV_SOURCE_UPLOAD
    clip = clips.make_clip(encode(tone(2.0)), "tone.wav", "upload")
    at.session_state[state.KEY_ADV_CLIP] = clip
    if pressed:
        at.session_state[state.KEY_DEF_REQUEST] = (clip["id"], TINY, "mp3", defences.DEF_DEFAULT_EPS)
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(
        [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    )


def chart(at: AppTest, name: str) -> dict | None:
    for el in at.get("plotly_chart"):
        if el.proto.id.endswith(f"defences.{name}"):
            return json.loads(el.proto.spec)
    return None


def test_runs_only_when_asked_and_says_how_to_get_the_curves(env, no_corpus):
    at = page()
    assert "Defences" in [h.value for h in at.header]
    assert "Runs PGD (2 steps) twice on this clip" in texts(at)
    assert state.KEY_DEF_REQUEST not in at.session_state
    assert "No defence results for tiny_mel yet" in texts(at)
    assert "No per-emotion results for tiny_mel yet" in texts(at)
    assert at.selectbox(key=state.KEY_DEF_DEFENCE).options == [
        "MP3 round trip (32 kb/s)",
        "Opus round trip (16 kb/s)",
        "Resampling down and back (8 kHz)",
        "Median smoothing (5 samples)",
        "Quantisation (8 bits)",
        "Resampling down and back, random parameter per call",
    ]


def test_clean_naive_and_adaptive_through_the_defence(env, no_corpus):
    at = page()
    n_audio = len(at.get("audio"))
    at.selectbox(key=state.KEY_DEF_DEFENCE).set_value("quantise")
    at = ok(at.button(key=state.KEY_DEF_RUN).click().run())
    assert len(at.get("audio")) == n_audio + 3
    text = texts(at)
    assert text.count("Through the defence: ") == 3
    assert "the defended model says" in text
    assert text.count("Without the defence: ") == 2
    # another epsilon hides the result until the button is pressed again
    at.select_slider(key=state.KEY_DEF_EPS).set_value(1e-3)
    at = ok(at.run())
    assert "Through the defence: " not in texts(at)


def test_curves_lesson_and_margin_from_the_files(env, no_corpus):
    write_results(env)
    at = page()
    text = texts(at)
    assert (
        "On 100 test clips, `mp3` at ε = 0.0002 keeps 80 % accuracy against the naive PGD (clean: 85 %), "
        "so it looks like a defence. The adaptive attacker, who attacks through it, brings it down to 20 %."
    ) in text
    curves = chart(at, "curves")
    names = {t.get("name") for t in curves["data"]}
    assert {"naive PGD", "naive FGSM", "adaptive PGD (EOT + BPDA)", "PGD, no defence", "no attack"} <= names
    margin = chart(at, "margin")
    assert margin is not None and len(margin["data"]) == 2 * 7


def test_the_section_in_polish(env, no_corpus):
    write_results(env)
    at = page("pl", pressed=True)
    assert english_left(at) == []
    assert "Obrony" in [h.value for h in at.header]
    assert "Atakujący adaptacyjny, który atakuje przez nią, obniża trafność do 20 %." in texts(at)
    assert texts(at).count("Przez obronę: ") == 3
