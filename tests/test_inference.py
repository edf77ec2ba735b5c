"""ser_core.inference and `predict --json`: good and bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ser_core.errors import SERError
from ser_core.inference import Predictor, best_model_name, predict_files
from tests.conftest import ROOT, encode, tone


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny mel ResNet trained for one epoch, shipped into a temp artifacts dir."""
    from tests.tiny_model import ship_tiny_model

    return ship_tiny_model(tmp_path_factory.mktemp("inf"))


def test_predictor_probabilities(shipped):
    p = Predictor.load(directory=shipped / "models")
    assert best_model_name(shipped / "models") == "tiny_mel"
    probs = p.predict(tone(2.0))
    assert probs.shape == (6,) and abs(probs.sum() - 1) < 1e-5
    assert np.isfinite(p.predict(np.zeros(100, np.float32))).all()  # silence, very short


def test_predict_many_batches_windows_of_any_length_as_predict_does(shipped):
    """The live batcher predicts several sessions' windows (0.5 s to 3 s and longer) in one
    call: the same answers as one predict per window."""
    p = Predictor.load(directory=shipped / "models")
    windows = [tone(0.5), tone(2.0, freq=300.0), 0.3 * tone(3.0), tone(4.0, freq=900.0)]
    many = p.predict_many(windows)
    assert many.shape == (4, 6) and many.dtype == np.float32
    np.testing.assert_allclose(many, np.stack([p.predict(y) for y in windows]), atol=1e-5)
    assert p.predict_many([]).shape == (0, 6)


def test_timeline_of_long_audio(shipped):
    p = Predictor.load(directory=shipped / "models")
    tl = p.timeline(tone(10.0))
    assert tl.starts.tolist() == list(range(8)) and tl.probs.shape == (8, 6)
    assert abs(tl.overall.sum() - 1) < 1e-5 and tl.label in (
        "anger",
        "fear",
        "happiness",
        "neutral",
        "sadness",
        "surprised",
    )


def test_predict_files_reports_errors_per_input(shipped, tmp_path):
    good = tmp_path / "good.flac"
    good.write_bytes(encode(tone(2.0), ext="flac"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio" * 50)
    out = list(
        predict_files(
            [str(good), str(bad), str(tmp_path / "missing.wav")], Predictor.load(directory=shipped / "models")
        )
    )
    assert "probabilities" in out[0] and "error" in out[1] and "error" in out[2]
    assert "bad.wav" in out[1]["error"]


def test_predict_files_expands_folders(shipped, tmp_path):
    """A folder stands for its audio files (recursively, sorted; other and hidden files
    skipped); a folder without audio is one error."""
    d = tmp_path / "clips"
    (d / "sub").mkdir(parents=True)
    (d / ".hidden").mkdir()
    (d / "b.wav").write_bytes(encode(tone(1.0), ext="wav"))
    (d / "sub" / "a.FLAC").write_bytes(encode(tone(1.0), ext="flac"))
    (d / ".hidden" / "c.wav").write_bytes(encode(tone(1.0), ext="wav"))
    (d / "notes.txt").write_text("not audio")
    (tmp_path / "empty").mkdir()
    out = list(predict_files([str(d), str(tmp_path / "empty")], Predictor.load(directory=shipped / "models")))
    assert [r["path"] for r in out] == [str(d / "b.wav"), str(d / "sub" / "a.FLAC"), str(tmp_path / "empty")]
    assert "probabilities" in out[0] and "probabilities" in out[1]
    assert out[2]["error"].startswith("no audio files (wav, flac") and "empty" in out[2]["error"]


def test_predict_cli_json_lines(shipped, tmp_path):
    good = tmp_path / "g.wav"
    good.write_bytes(encode(tone(4.5), ext="wav"))
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    env = {**os.environ, "SER_ARTIFACTS": str(shipped)}
    r = subprocess.run(
        [sys.executable, "-m", "ser_core", "predict", str(good), str(empty), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["path"] == str(good) and set(lines[0]["probabilities"]) >= {"anger", "neutral"}
    assert lines[0]["windows"] == 3
    assert lines[1] == {"path": str(empty), "error": f"'{empty}' is empty (0 bytes)"}


def test_predict_cli_with_damaged_weights_is_a_message(shipped, tmp_path):
    import shutil

    broken = tmp_path / "art"
    shutil.copytree(shipped, broken)
    weights = next((broken / "models").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])  # an interrupted copy
    good = tmp_path / "g.wav"
    good.write_bytes(encode(tone(1.0), ext="wav"))
    r = subprocess.run(
        [sys.executable, "-m", "ser_core", "predict", str(good), "--json"],
        cwd=ROOT,
        env={**os.environ, "SER_ARTIFACTS": str(broken)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"error: the weights {weights} cannot be loaded" in r.stderr


def test_unsure_threshold():
    from ser_core.metrics import unsure_threshold

    rng = np.random.default_rng(0)
    n = 1000
    conf = rng.uniform(0.2, 1.0, n)  # top probability of each clip
    labels = np.zeros(n, int)
    wrong = conf < 0.45  # below 0.45 the model is always wrong, above always right
    probs = np.repeat(((1 - conf) / 5)[:, None], 6, axis=1)
    probs[np.arange(n), np.where(wrong, 1, 0)] = conf
    t = unsure_threshold(probs, labels)
    assert 0.45 <= t < 0.6  # errors dominate below t, not far above 0.45


# ----------------------------------------------------------------- back ends and verdicts
def test_onnx_backend_matches_torch_and_is_cached(shipped, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ONNX_CACHE", str(tmp_path / "onnx"))
    d = shipped / "models"
    torch_p = Predictor.load(directory=d)
    onnx_p = Predictor.load(directory=d, backend="onnx")
    auto_p = Predictor.load(directory=d, backend="auto")
    assert (torch_p.backend, onnx_p.backend, auto_p.backend) == ("torch", "onnx", "onnx")
    assert len(list((tmp_path / "onnx").glob("tiny_mel-*.onnx"))) == 1  # exported once, reused
    y = tone(7.0)
    np.testing.assert_allclose(onnx_p.predict(y), torch_p.predict(y), atol=1e-5)
    np.testing.assert_allclose(onnx_p.timeline(y).probs, torch_p.timeline(y).probs, atol=1e-5)
    assert onnx_p.describe()["backend"] == "onnx"
    copy = next((tmp_path / "onnx").glob("tiny_mel-*.onnx"))
    copy.write_bytes(copy.read_bytes()[:200])  # a damaged cached export is made afresh
    again = Predictor.load(directory=d, backend="onnx")
    np.testing.assert_allclose(again.predict(y), torch_p.predict(y), atol=1e-5)
    with pytest.raises(SERError, match="backend"):
        Predictor.load(directory=d, backend="tensorrt")


def test_auto_backend_falls_back_to_torch(shipped, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SER_ONNX_CACHE", str(blocker / "onnx"))  # the export cannot be written
    with pytest.warns(RuntimeWarning, match="using PyTorch"):
        p = Predictor.load(directory=shipped / "models", backend="auto")
    assert p.backend == "torch" and p.predict(tone(1.0)).shape == (6,)
    with pytest.raises(SERError, match="ONNX Runtime"):
        Predictor.load(directory=shipped / "models", backend="onnx")


def test_verdict_short_long_and_unsure(shipped):
    p = Predictor.load(directory=shipped / "models")
    short = p.verdict(tone(2.0))
    assert short.timeline is None and short.elapsed_ms > 0 and short.seconds == 2.0
    np.testing.assert_allclose(short.probs, p.predict(tone(2.0)))
    long = p.verdict(tone(10.0))  # never only the first 3 s: sliding windows
    assert len(long.timeline.starts) == 8 and np.array_equal(long.probs, long.timeline.overall)
    assert long.label == long.timeline.label
    from ser_core.inference import Verdict

    probs = np.array([0.38, 0.3, 0.1, 0.1, 0.07, 0.05], np.float32)
    unsure = Verdict(probs, None, 1.0, 1.0, unsure_below=0.5)
    assert unsure.unsure and unsure.message() == "The model is unsure: its best guess is anger at 38 %"
    sure = Verdict(probs, None, 1.0, 1.0, unsure_below=0.3)
    assert not sure.unsure and sure.message() == "anger (38 %)"


def test_best_adaptable_model_ranks_by_loso_when_every_card_has_it(tmp_path):
    from ser_core.errors import UnknownNameError
    from ser_core.inference import best_adaptable_model

    def card(name, *, norm="speaker", seed=0.9, loso=None):
        metrics = {"seed": {"accuracy": seed}, **({"loso": {"accuracy": loso}} if loso else {})}
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"normalization": {"kind": norm}, "metrics": metrics})
        )
        (tmp_path / f"{name}.safetensors").write_bytes(b"")

    with pytest.raises(UnknownNameError, match="--norm speaker"):
        best_adaptable_model(tmp_path)
    card("plain", norm="corpus", seed=0.95, loso=0.5)  # cannot adapt, however good
    card("a", seed=0.88, loso=0.44)
    card("b", seed=0.86)
    assert best_adaptable_model(tmp_path) == "a"  # b has no LOSO result: seed decides
    card("b", seed=0.86, loso=0.46)
    assert best_adaptable_model(tmp_path) == "b"  # better on a voice it never heard
    assert best_adaptable_model(tmp_path, protocol="seed") == "a"
