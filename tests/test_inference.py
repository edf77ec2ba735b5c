"""ser_core.inference and `predict --json`: good and bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ser_core import data, models, train
from ser_core.inference import Predictor, best_model_name, predict_files
from tests.conftest import ROOT, encode, make_corpus, tone


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny mel ResNet trained for one epoch, shipped into a temp artifacts dir."""
    tmp = tmp_path_factory.mktemp("inf")
    meta = data.load_metadata(make_corpus(tmp / "c", per_emotion=5, seconds=0.8))
    splits = tmp / "splits"
    data.save_splits(meta, directory=splits)
    old = {k: os.environ.get(k) for k in ("SER_CACHE_DIR", "SER_ARTIFACTS")}
    os.environ["SER_CACHE_DIR"] = str(tmp / "cache")
    os.environ["SER_ARTIFACTS"] = str(tmp / "artifacts")
    try:
        res = train.train(train.TrainConfig(epochs=1, width=8, batch_size=8), meta,
                          splits_dir=splits, log_mlflow=False, progress=False)
        models.save(res.model, train.model_card(res), "tiny_mel")
        yield tmp / "artifacts"
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_predictor_probabilities(shipped):
    p = Predictor.load(directory=shipped / "models")
    assert best_model_name(shipped / "models") == "tiny_mel"
    probs = p.predict(tone(2.0))
    assert probs.shape == (6,) and abs(probs.sum() - 1) < 1e-5
    assert np.isfinite(p.predict(np.zeros(100, np.float32))).all()  # silence, very short


def test_timeline_of_long_audio(shipped):
    p = Predictor.load(directory=shipped / "models")
    tl = p.timeline(tone(10.0))
    assert tl.starts.tolist() == list(range(8)) and tl.probs.shape == (8, 6)
    assert abs(tl.overall.sum() - 1) < 1e-5 and tl.label in ("anger", "fear", "happiness",
                                                            "neutral", "sadness", "surprised")


def test_predict_files_reports_errors_per_input(shipped, tmp_path):
    good = tmp_path / "good.flac"
    good.write_bytes(encode(tone(2.0), ext="flac"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio" * 50)
    out = list(predict_files([str(good), str(bad), str(tmp_path / "missing.wav")],
                             Predictor.load(directory=shipped / "models")))
    assert "probabilities" in out[0] and "error" in out[1] and "error" in out[2]
    assert "bad.wav" in out[1]["error"]


def test_predict_cli_json_lines(shipped, tmp_path):
    good = tmp_path / "g.wav"
    good.write_bytes(encode(tone(4.5), ext="wav"))
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    env = {**os.environ, "SER_ARTIFACTS": str(shipped)}
    r = subprocess.run([sys.executable, "-m", "ser_core", "predict", str(good), str(empty), "--json"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["path"] == str(good) and set(lines[0]["probabilities"]) >= {"anger", "neutral"}
    assert lines[0]["windows"] == 3
    assert lines[1] == {"path": str(empty), "error": f"'{empty}' is empty (0 bytes)"}


def test_unsure_threshold():
    from ser_core.inference import unsure_threshold

    rng = np.random.default_rng(0)
    n = 1000
    conf = rng.uniform(0.2, 1.0, n)  # top probability of each clip
    labels = np.zeros(n, int)
    wrong = conf < 0.45  # below 0.45 the model is always wrong, above always right
    probs = np.repeat(((1 - conf) / 5)[:, None], 6, axis=1)
    probs[np.arange(n), np.where(wrong, 1, 0)] = conf
    t = unsure_threshold(probs, labels)
    assert 0.45 <= t < 0.6  # errors dominate below t, not far above 0.45
