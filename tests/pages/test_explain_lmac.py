"""The explain page's fifth method, L-MAC (#29), with AppTest: a tiny model trained at test
time and a decoder for it (random weights: the page, not the training, is tested here; the
training is in tests/test_lmac.py)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from ser_core import models
from ser_core.i18n import language
from tests.conftest import encode, tone
from tests.pages.english import english_left
from tests.pages.test_explain_page import charts, no_exception, texts, with_upload
from tests.tiny_model import TINY, ship_tiny_model
from ui import state

L = importlib.import_module("ser_core.explain.lmac")  # the module (``explain.lmac`` is the explainer)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """The tiny model and an L-MAC decoder made for it."""
    from ser_core.explain.lmac_training import LMACResult, save_lmac

    root = ship_tiny_model(tmp_path_factory.mktemp("explain_lmac"))
    loaded = models.load(TINY, directory=root / "models")
    card = json.loads((root / "models" / f"{TINY}.json").read_text())
    decoder_card = {
        "name": f"lmac_{TINY}",
        "classifier": {"name": TINY, "fingerprint": L.classifier_fingerprint(loaded.module)},
        "architecture": {"name": "LMACDecoder", "kwargs": {"width": 8, "hidden": 8, "n_classes": 6}},
        "normalization": {k: card["normalization"][k] for k in ("mean", "std")},
        "top_db": 80.0,
    }
    save_lmac(LMACResult(L.LMACDecoder(width=8, hidden=8), decoder_card), directory=root / "xai")
    return root


@pytest.fixture
def env(artifacts, tmp_path, monkeypatch, no_corpus) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_ONNX_CACHE", str(tmp_path / "onnx"))
    return artifacts


def test_l_mac_is_the_fifth_map_and_its_own_mask_can_be_heard(env):
    at = with_upload(encode(tone(2.0), ext="wav"), "lmac.wav")
    figs = charts(at)
    titles = [a["text"] for a in figs["maps"]["layout"]["annotations"]]
    assert titles == ["Grad-CAM", "LRP", "SmoothGrad", "LIME", "L-MAC"]
    assert "L-MAC is a mask from 0 (removed) to 1 (kept)" in texts(at)
    audio_before = len(at.get("audio"))
    at.selectbox(key=state.KEY_XAI_LISTEN).set_value("lmac").run()
    no_exception(at)
    assert "**L-MAC's own mask**, every bin at its gain, with the clip's own phase" in texts(at)
    assert len(at.get("audio")) == audio_before + 1
    heard = next(m.value for m in at.markdown if m.value.startswith("What the model hears: in the kept part"))
    assert heard.count(" %") == 2  # the explained class's probability in the kept part and in the rest
    assert not at.error, [e.value for e in at.error]


def test_l_mac_in_polish(env):
    at = with_upload(encode(tone(2.0), ext="wav"), "lmac_pl.wav", **{state.KEY_LANG: "pl"})
    with language("pl"):
        at.selectbox(key=state.KEY_XAI_LISTEN).set_value("lmac").run()
    no_exception(at)
    assert english_left(at) == []
    assert (
        "**Maska L-MAC w całości**, każdy przedział ze swoim wzmocnieniem, z własną fazą nagrania"
        in texts(at)
    )


def test_a_network_without_a_decoder_says_which_have_one(env, tmp_path, monkeypatch):
    monkeypatch.setattr(L, "lmac_dir", lambda: tmp_path)  # no decoders at all
    at = with_upload(encode(tone(2.0), ext="wav"), "none.wav")
    titles = [a["text"] for a in charts(at)["maps"]["layout"]["annotations"]]
    assert "L-MAC" not in titles
    assert "L-MAC needs a decoder trained on the chosen network" in texts(at)
