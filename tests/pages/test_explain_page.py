"""The explain (XAI) page, run on its own with AppTest, on a tiny model trained at test time.

Uploads reach the page only through ``st.session_state[state.KEY_XAI_UPLOAD]`` (a
:func:`clips.make_clip` dict set by the uploader's ``on_change``), so tests put clips
there directly.  Small explainer budgets (LIME 32 samples, ...) keep the runs fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ser_core.config import EMOTIONS
from ser_core.explain import EXPLAINERS, save_deletion_table
from ser_core.i18n import emotion_names, language
from tests.conftest import encode, make_corpus, tone
from tests.pages.english import english_left
from tests.tiny_model import TINY, ship_tiny_model
from ui import clips, explain, state

#: The scores #29 adds to deletion (insertion AUC and SpeechBrain's mask scores).
NEW_SCORES = ("insertion_auc", "ai", "ad", "ag", "ff", "fid_in")
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "3_explain.py")
#: The methods that explain the tiny model (L-MAC needs a decoder trained on the network).
METHODS = [m for m, ex in EXPLAINERS.items() if ex.available is None]


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
    # scores shown as text: start in %, AUC a fraction, drops in percentage points
    assert scores["start"].str.endswith(" %").all() and scores["auc"].str.fullmatch(r"\d\.\d{3}").all()
    assert scores["drop10"].str.endswith(" pt").all() and scores["drop20"].str.endswith(" pt").all()
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
    # a new top-k only masks the clip again, once with its own phase and once through
    # Griffin-Lim (#29); no map is recomputed and the all-bins reconstruction is cached
    at.slider(key=state.KEY_XAI_TOPK).set_value(35).run()
    no_exception(at)
    after = dict(explain.XAI_COMPUTED)
    for phase in ("listen:original", "listen:griffin-lim"):
        assert after.pop(phase) == before.pop(phase) + 1
    assert after == before


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
        (b"this is not audio, just text " * 40, "notes.wav", "cannot be read as audio"),
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


# ------------------------------------------------------------------ issue #28
def copied_artifacts(src: Path, dst: Path, *, temperature: float | None = None) -> Path:
    """A copy of the tiny model's artifacts; ``temperature`` rewrites its calibration
    (a tiny one makes the model near-certain, so the other classes get ~0 %)."""
    import shutil

    shutil.copytree(src, dst)
    if temperature is not None:
        card_path = dst / "models" / f"{TINY}.json"
        card = json.loads(card_path.read_text())
        card["calibration"]["temperature"] = temperature
        card_path.write_text(json.dumps(card))
    return dst


def test_a_class_the_model_rejects_warns_and_is_not_scored(env, tmp_path, monkeypatch):
    art = copied_artifacts(env, tmp_path / "peaked", temperature=1e-3)
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    at = with_upload(encode(tone(2.0, freq=220.0), ext="wav"), "e.wav")
    assert not at.warning  # the predicted class is always above chance
    # the class the model gives least: ~0 % with this temperature
    probs = charts(at)["probs"]["data"][0]
    lowest = min(zip(probs["x"], probs["y"]))[1]
    at.selectbox(key=state.KEY_XAI_TARGET).set_value(lowest).run()
    no_exception(at)
    assert len(at.warning) == 1
    warning = at.warning[0].value
    assert f"**{lowest}**" in warning and "below chance (17 %)" in warning and "n/a" in warning
    # #29: ~0 %, so the one sentence says the maps and scores mean nothing
    assert "almost no probability" in warning and "meaningless" in warning
    scores = at.dataframe[0].value
    assert scores["start"].map(lambda v: float(v.split()[0])).lt(100 / 6).all()
    assert (scores[["auc", "drop10", "drop20"]] == "n/a").all().all()
    # #29: the other faithfulness scores are n/a as well, and so is the insertion legend
    assert (scores[list(NEW_SCORES)] == "n/a").all().all()
    assert all(t["name"].endswith("(AUC n/a)") for t in charts(at)["insertion"]["data"])
    fig = charts(at)["deletion"]
    assert all(t["name"].endswith("(AUC n/a)") for t in fig["data"])
    assert any("below chance" in a.get("text", "") for a in fig["layout"]["annotations"])
    # the same warning in Polish, nothing English left
    at.session_state[state.KEY_LANG] = "pl"
    no_exception(at.run())
    assert english_left(at) == []
    assert len(at.warning) == 1 and "prawie zerowe prawdopodobieństwo" in at.warning[0].value


def corpus_with_splits(tmp_path: Path, artifacts: Path, monkeypatch) -> pd.DataFrame:
    """A synthetic corpus (54 clips, 3 speakers) and the seed split file the tiny model's
    card points at, in a copy of its artifacts; returns the metadata."""
    from ser_core import data

    corpus = make_corpus(tmp_path / "nemo", seconds=1.0, per_emotion=3)
    art = copied_artifacts(artifacts, tmp_path / "artifacts")
    meta = data.load_metadata(corpus)
    data.save_splits(meta, directory=art / "splits")
    monkeypatch.setenv("NEMO_DIR", str(corpus))
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    return meta


def test_clip_picker_marks_splits_defaults_to_test_and_reaches_every_clip(artifacts, tmp_path, monkeypatch):
    from ser_core import data

    meta = corpus_with_splits(tmp_path, artifacts, monkeypatch)
    sp = data.split_indices(meta, "seed")
    part = {meta["file_id"].iloc[i]: name for name in ("train", "val", "test") for i in getattr(sp, name)}
    at = no_exception(page().run())
    assert at.selectbox(key=state.KEY_XAI_SPLIT).value == "test"
    clip = at.selectbox(key=state.KEY_XAI_FILE)
    assert clip.options and all(" · test · " in o for o in clip.options)
    assert all(part[o.split(" · ")[0]] == "test" for o in clip.options)
    assert "A **test** clip" in texts(at) and f"Acted emotion: **{EMOTIONS[0]}**" in texts(at)
    # training clips are labelled, and the verdict says what that means
    at.selectbox(key=state.KEY_XAI_SPLIT).set_value("train").run()
    no_exception(at)
    assert all(" · training · " in o for o in at.selectbox(key=state.KEY_XAI_FILE).options)
    assert "A **training** clip" in texts(at)
    # no filter: every clip of the corpus is in the list
    at.selectbox(key=state.KEY_XAI_SPLIT).set_value("all").run()
    at.selectbox(key=state.KEY_XAI_EMOTION).set_value("any").run()
    no_exception(at)
    ids = [o.split(" · ")[0] for o in at.selectbox(key=state.KEY_XAI_FILE).options]
    assert sorted(ids) == sorted(meta["file_id"]) and len(ids) == 54
    # previous / next walk the list (wrapping), random picks another clip of it
    first = at.selectbox(key=state.KEY_XAI_FILE).value
    at.button(key=state.KEY_XAI_NEXT).click().run()
    assert at.selectbox(key=state.KEY_XAI_FILE).value == ids[1]
    at.button(key=state.KEY_XAI_PREV).click().run()
    at.button(key=state.KEY_XAI_PREV).click().run()
    assert at.selectbox(key=state.KEY_XAI_FILE).value == ids[-1]
    at.button(key=state.KEY_XAI_RANDOM).click().run()
    no_exception(at)
    picked = at.selectbox(key=state.KEY_XAI_FILE).value
    assert picked in ids and picked != ids[-1] and first == ids[0]
    assert f"**{picked}**" in texts(at)
    # a speaker filter narrows the list to that speaker
    at.selectbox(key=state.KEY_XAI_SPEAKER).set_value("BB0").run()
    no_exception(at)
    assert all(o.startswith("BB0_") for o in at.selectbox(key=state.KEY_XAI_FILE).options)


def test_dataset_table_of_another_model_says_so(env, tmp_path, monkeypatch):
    art = copied_artifacts(env, tmp_path / "artifacts")
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    rows = pd.DataFrame(
        [
            {"method": m, "emotion": e, "n": 2, "auc": 0.2, "drop10": 0.2, "drop20": 0.3}
            for m in [*METHODS, "random"]
            for e in ["all", *EMOTIONS]
        ]
    )
    save_deletion_table(rows, {"model": "resnet18_mel", "n_clips": 300, "seconds": 845.7})
    at = with_upload(encode(tone(2.0), ext="wav"), "f.wav")
    note = at.info[0].value
    assert "This table is for **resnet18_mel**, not for tiny_mel" in note and "14 minutes" in note
    # #29: the command now writes every score, to faithfulness_<model>.json
    assert f"--model {TINY}" in note and f"faithfulness_{TINY}.json" in note
    # the chosen model's own table, when there is one, is shown instead
    save_deletion_table(rows, {"model": TINY, "n_clips": 12}, art / "xai" / f"deletion_{TINY}.json")
    at = with_upload(encode(tone(2.0), ext="wav"), "f.wav")
    assert not at.info and f"**{TINY}** on 12 clips" in texts(at)


def test_the_explorers_clip_opens_with_its_split(artifacts, tmp_path, monkeypatch):
    """A training clip last shown in the dataset explorer opens here, the split filter
    set to "training clips" so that it is in the list."""
    from ser_core import data

    meta = corpus_with_splits(tmp_path, artifacts, monkeypatch)
    fid = meta["file_id"].iloc[int(data.split_indices(meta, "seed").train[0])]
    at = no_exception(page(**{state.CURRENT_CLIP: {"label": fid, "file_id": fid}}).run())
    assert at.selectbox(key=state.KEY_XAI_SPLIT).value == "train"
    assert at.selectbox(key=state.KEY_XAI_FILE).value == fid and "A **training** clip" in texts(at)


# ------------------------------------------------------------------ issue #29
def listen_texts(at: AppTest) -> list[str]:
    """The listening section's labels and captions, in page order."""
    start = next(i for i, m in enumerate(at.markdown) if m.value.startswith(("**Original**", "**Oryginał**")))
    return [m.value for m in at.markdown][start:]


def test_listening_plays_the_original_phase_first_and_griffin_lim_as_a_comparison(env):
    at = with_upload(encode(tone(4.0, freq=210.0), ext="wav"), "g.wav")
    assert not at.error, [e.value for e in at.error]
    labels = listen_texts(at)
    assert labels[:2] == [
        "**Original** (the 3 s the model sees)",
        "**Top 20 % of Grad-CAM**, with the clip's own phase",
    ]
    assert labels[2:5] == [
        "**For comparison: Griffin-Lim**, from the log-mel alone",
        "**All bins**, through Griffin-Lim",
        "**Top 20 % of Grad-CAM**, through Griffin-Lim",
    ]
    captions = [c.value for c in at.caption]
    assert any("inverted with the original phase" in c for c in captions)
    assert any(
        c.startswith(
            "Griffin-Lim guesses the phase, so it sounds metallic for reasons unrelated to the model"
        )
        and "compare it with its all-bins reconstruction, not with the original" in c
        for c in captions
    )
    # the verdict's clip, then the original, the original-phase top bins, Griffin-Lim all and top
    assert len(at.get("audio")) == 5
    # a predicted class is never below chance: no warning over the maps
    assert not at.warning


def test_original_phase_audio_is_the_clip_with_every_bin_and_keys_on_the_phase(env):
    """The cached WAVs: with every bin, the original phase gives the model's window back
    (SNR >= 40 dB after 16-bit WAV), Griffin-Lim does not; the phase is part of the key."""
    import io

    import numpy as np
    import soundfile as sf

    from ser_core.config import DEFAULT_CONFIG as cfg

    window = tone(3.0, freq=230.0)
    rel = np.random.default_rng(0).random((1, cfg.n_mels, cfg.n_frames))

    def wav(phase: str, relevance=None, k: float = 1.0) -> np.ndarray:
        data = explain.xai_listen_wav("key-test", TINY, "m", 0, "o", k, phase, window, relevance, cfg)
        return sf.read(io.BytesIO(data), dtype="float32")[0]

    def snr(est: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(window**2) / np.sum((window - est) ** 2)))

    assert snr(wav("original")) >= 40 and snr(wav("griffin-lim")) < 10
    kept = wav("original", rel, 0.2)
    assert 0 < np.sum(kept**2) < np.sum(window**2)


def test_the_target_warning_grades_a_class_below_chance():
    """#29: above chance nothing; below chance the deletion test cannot check the maps; near
    0 % one sentence says the maps and scores are meaningless."""
    args = {"model_name": TINY, "emotion": "fear", "n_classes": 6}
    assert explain.xai_target_warning(0.2, **args) is None
    below = explain.xai_target_warning(0.1, **args)
    assert "below chance (17 %)" in below and "cannot check them" in below and "meaningless" not in below
    near_zero = explain.xai_target_warning(0.004, **args)
    assert near_zero.startswith(f"{TINY} gives **fear** almost no probability on this clip, 0.4 %")
    assert "meaningless" in near_zero and near_zero.count(". ") == 0
    with language("pl"):
        polish = explain.xai_target_warning(0.004, **args)
    assert "prawie zerowe prawdopodobieństwo" in polish and "**strach**" in polish


# ------------------------------------------------------------------ issue #30
def test_the_page_in_polish_after_an_explanation(env, tmp_path, monkeypatch):
    """#30: a Polish session sees the maps, the deletion test, the listening section and the
    dataset-level note with nothing English left (method names and commands stay)."""
    art = copied_artifacts(env, tmp_path / "artifacts")
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    rows = pd.DataFrame(
        [
            {"method": m, "emotion": e, "n": 2, "auc": 0.2, "drop10": 0.2, "drop20": 0.3}
            for m in [*METHODS, "random"]
            for e in ["all", *EMOTIONS]
        ]
    )
    save_deletion_table(rows, {"model": "resnet18_mel", "n_clips": 300, "seconds": 845.7})
    at = with_upload(encode(tone(2.0), ext="wav"), "pl.wav", **{state.KEY_LANG: "pl"})
    assert not at.error, [e.value for e in at.error]
    assert {"maps", "deletion"} <= set(charts(at))
    assert english_left(at) == []
    assert at.title[0].value == "Wyjaśnienia (XAI)"
    assert "Na co patrzy model" in [s.value for s in at.subheader]
    # #29: the original phase first, Griffin-Lim labelled as a comparison
    labels = listen_texts(at)
    assert labels[1] == "**Najistotniejsze 20 % według Grad-CAM**, z własną fazą nagrania"
    assert labels[2] == "**Dla porównania: Griffin-Lim**, z samego spektrogramu log-mel"
    assert any(c.value.startswith("Griffin-Lim zgaduje fazę, więc brzmi metalicznie") for c in at.caption)
    assert "Ta tabela dotyczy modelu **resnet18_mel**" in at.info[0].value and "14 minut" in at.info[0].value
    scores = at.dataframe[0].value
    assert scores["method"].iloc[-1] == "kolejność losowa" and scores["drop10"].str.endswith(" p.p.").all()
    per = at.dataframe[2].value
    per = per.data if hasattr(per, "data") else per  # a Styler
    with language("pl"):
        polish = emotion_names()
    assert list(per.columns) == polish and polish[0] == "złość"


def test_the_clip_picker_in_polish(artifacts, tmp_path, monkeypatch):
    """#30: the corpus picker's filters, its clip labels and the verdict in Polish."""
    corpus_with_splits(tmp_path, artifacts, monkeypatch)
    at = no_exception(page(**{state.KEY_LANG: "pl"}).run())
    assert english_left(at) == []
    clip = at.selectbox(key=state.KEY_XAI_FILE)
    assert clip.label.startswith("Nagranie: filtry spełnia") and all(
        " · testowe · " in o for o in clip.options
    )
    assert "Nagranie **testowe**" in texts(at) and "Odgrywana emocja: **złość**" in texts(at)
    assert at.selectbox(key=state.KEY_XAI_SPLIT).options[0] == "nagrania testowe"


# ------------------------------------------------------------------ issue #29: faithfulness
def faithfulness_rows(methods: list[str]) -> pd.DataFrame:
    """A result table with every score, per method and emotion (made-up numbers)."""
    return pd.DataFrame(
        [
            {
                "method": m,
                "emotion": e,
                "n": 2,
                "auc": 0.1 * i,
                "drop10": 0.2,
                "drop20": 0.3,
                "insertion_auc": 0.5 + 0.05 * i,
                "ai": 25.0,
                "ad": 40.0 + i,
                "ag": 5.5,
                "ff": 0.25,
                "fid_in": 0.5,
            }
            for i, m in enumerate([*methods, "random"])
            for e in ["all", *EMOTIONS]
        ]
    )


def test_the_clip_gets_insertion_and_every_faithfulness_score(env):
    """#29: next to the deletion chart an insertion chart; the clip's table has every score
    per method, each column with a one-line help saying which way is better."""
    at = with_upload(encode(tone(2.0, freq=240.0), ext="wav"), "h.wav")
    assert not at.error, [e.value for e in at.error]
    figs = charts(at)
    lines = figs["insertion"]["data"]
    assert [t["name"].split(" (AUC")[0] for t in lines] == [
        *["Grad-CAM", "LRP", "SmoothGrad", "LIME"],
        "random order",
    ]
    assert lines[0]["x"][0] == 0 and lines[0]["x"][-1] == 100
    assert "inserted" in figs["insertion"]["layout"]["xaxis"]["title"]["text"]
    scores = at.dataframe[0].value
    assert list(scores.columns) == ["method", "start", "auc", "drop10", "drop20", *NEW_SCORES]
    assert scores["insertion_auc"].str.fullmatch(r"\d\.\d{3}").all()
    assert scores["ai"].isin(["0 %", "100 %"]).all() and scores["fid_in"].isin(["0 %", "100 %"]).all()
    assert scores["ad"].str.endswith(" %").all() and scores["ff"].str.endswith(" pt").all()
    assert any("insertion test" in c.value and "top 20 %" in c.value for c in at.caption)
    config = explain.xai_scores_config()
    for score in ("auc", "drop10", "drop20", *NEW_SCORES):
        helptext = config[score]["help"]
        assert "\n" not in helptext and ("higher is better" in helptext or "lower is better" in helptext)


def test_dataset_table_with_every_score_and_the_per_emotion_choice(env, tmp_path, monkeypatch):
    """#29: faithfulness.json gives the dataset table every column and the per-emotion radio
    every score; it is preferred to an older deletion.json."""
    from ser_core.explain import faithfulness_table_path

    art = copied_artifacts(env, tmp_path / "artifacts")
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    old = faithfulness_rows(METHODS)[["method", "emotion", "n", "auc", "drop10", "drop20"]]
    save_deletion_table(old, {"model": TINY, "n_clips": 6})
    info = {"model": TINY, "n_clips": 12, "mask": {"top_k": 0.2, "own_masks": []}}
    save_deletion_table(faithfulness_rows(METHODS), info, faithfulness_table_path())
    at = with_upload(encode(tone(2.0), ext="wav"), "i.wav")
    assert "on 12 clips" in texts(at)
    assert "AI, AD, AG, FF and Fid-In on the top 20 % of each map's bins." in texts(at)
    overall = at.dataframe[1].value
    assert list(overall.columns) == ["method", "n", "auc", "drop10", "drop20", *NEW_SCORES]
    assert list(overall["ff"]) == ["25.0 pt"] * 5 and list(overall["fid_in"]) == ["50 %"] * 5
    radio = at.radio(key=state.KEY_XAI_TABLE_SCORE)
    assert radio.options[:3] == ["deletion AUC", "drop @ 10 %", "drop @ 20 %"] and len(radio.options) == 9
    radio.set_value("ad").run()
    no_exception(at)
    per = at.dataframe[2].value
    per = per.data if hasattr(per, "data") else per  # a Styler
    assert list(per.columns) == list(EMOTIONS) and per.iloc[1, 0] == pytest.approx(41.0)
    assert any(c.value.startswith("Per emotion: average drop, AD (lower is better)") for c in at.caption)


def test_an_old_deletion_table_still_shows_and_says_what_is_missing(env, tmp_path, monkeypatch):
    art = copied_artifacts(env, tmp_path / "artifacts")
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    old = faithfulness_rows(METHODS)[["method", "emotion", "n", "auc", "drop10", "drop20"]]
    save_deletion_table(old, {"model": TINY, "n_clips": 6})
    at = with_upload(encode(tone(2.0), ext="wav"), "j.wav")
    assert "holds the deletion scores only" in texts(at) and f"faithfulness_{TINY}.json" in texts(at)
    assert list(at.dataframe[1].value.columns) == ["method", "n", "auc", "drop10", "drop20"]
    assert len(at.radio(key=state.KEY_XAI_TABLE_SCORE).options) == 3


def test_the_faithfulness_scores_in_polish(env, tmp_path, monkeypatch):
    """#29 and #30: the insertion chart, the clip's table and the dataset table in Polish."""
    from ser_core.explain import faithfulness_table_path

    art = copied_artifacts(env, tmp_path / "artifacts")
    monkeypatch.setenv("SER_ARTIFACTS", str(art))
    info = {"model": TINY, "n_clips": 12, "mask": {"top_k": 0.2, "own_masks": []}}
    save_deletion_table(faithfulness_rows(METHODS), info, faithfulness_table_path())
    at = with_upload(encode(tone(2.0), ext="wav"), "k.wav", **{state.KEY_LANG: "pl"})
    assert not at.error, [e.value for e in at.error]
    assert english_left(at) == []
    assert "AI, AD, AG, FF i Fid-In liczone na najistotniejszych 20 % komórek każdej mapy." in texts(at)
    assert any(c.value.startswith("Po prawej test wstawiania") for c in at.caption)
    fig = charts(at)["insertion"]
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("komórki wstawione")
    assert at.dataframe[0].value["ff"].str.endswith(" p.p.").all()
    assert at.radio(key=state.KEY_XAI_TABLE_SCORE).options[3] == "AUC wstawiania"
