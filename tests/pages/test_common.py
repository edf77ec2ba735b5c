"""The shared page helpers of ``pages/common.py`` (no Streamlit script run needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pages import common
from ser_core import audio, eda, features
from ser_core.config import EMOTIONS
from ser_core.errors import AudioDecodeError

from .conftest import write_fake_summaries


class FakeUpload:
    """What ``st.file_uploader`` returns, as far as the helpers care."""

    def __init__(self, blob: bytes, name: str) -> None:
        self._blob, self.name = blob, name

    def getvalue(self) -> bytes:
        return self._blob


def test_minmax_and_stack():
    z = common.minmax(np.array([[2.0, 4.0], [3.0, 6.0]]))
    assert z.dtype == np.float32 and z.min() == 0 and z.max() == 1
    assert not common.minmax(np.full((3, 4), 7.0)).any()  # constant: zeros, no NaN
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    s = common.stack_channels(x)
    assert s.shape == (6, 4) and (s[3:] == x[1]).all()  # channel 1 above channel 0


def test_frame_times():
    t = common.frame_times(188)
    assert t[0] == 0 and t[1] == pytest.approx(0.016) and t[-1] == pytest.approx(2.992)


def test_upload_to_waveform(tone_fn):
    y = tone_fn(1.5)
    out = common.waveform_from_upload(FakeUpload(audio.encode_wav(y), "tone.wav"))
    assert out.dtype == np.float32 and out.shape == y.shape
    with pytest.raises(AudioDecodeError):
        common.waveform_from_upload(FakeUpload(b"not audio at all" * 10, "junk.mp3"))


def test_report_errors_swallows_only_ser_errors():
    with common.report_errors():
        raise AudioDecodeError("bad file")  # shown, not raised
    with pytest.raises(ZeroDivisionError), common.report_errors():
        _ = 1 / 0


def test_representations_figure(tone_fn):
    reps = features.compute_all(tone_fn(2.0))
    fig = common.representations_figure(reps)
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == 13
    for t, n in zip(titles, features.names()):
        assert t.startswith(features.get(n).title)
    assert "stacked" in titles[features.names().index("hpss")]
    heat = [d for d in fig.data if d.type == "heatmap"]
    assert len(heat) == 11 and all(np.min(d.z) >= 0 and np.max(d.z) <= 1 for d in heat)
    assert [d.type for d in fig.data].count("scatter") == 2
    assert 1800 <= fig.layout.height <= 2200
    for n in ("mel", "hpss", "zcr"):
        assert common.representation_figure(reps[n], n).data


def test_emotion_means_figure():
    rng = np.random.default_rng(1)
    means = rng.standard_normal((6, 2, 16, 188)).astype(np.float32)
    fig = common.emotion_means_figure(means, "hpss")
    assert len(fig.data) == 6 and [a.text for a in fig.layout.annotations] == list(EMOTIONS)
    diff = common.emotion_means_figure(means, "hpss", difference=True)
    assert diff.layout.coloraxis.cmid == 0
    z = np.stack([d.z for d in diff.data])
    assert np.allclose(z.mean(0), 0, atol=1e-5)
    lines = common.emotion_means_figure(rng.standard_normal((6, 1, 1, 188)), "rms")
    assert [d.name for d in lines.data] == list(EMOTIONS)


def test_summary_figures(tmp_path, monkeypatch):
    write_fake_summaries(tmp_path / "eda")
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    clips = eda.load_clips()
    proj = eda.load_projections("mel")
    for kind in ("box", "violin"):
        for by_gender in (False, True):
            assert common.descriptor_figure(clips, "f0_median", kind=kind, by_gender=by_gender).data
    fig = common.projection_figure(clips, proj, method="pca", color="speaker")
    assert "PC1 (30.0 %" in fig.layout.xaxis.title.text
    assert len(fig.data) == 2  # one trace per speaker
    assert common.counts_heatmap(clips).data and common.duration_figure(clips).data
    assert common.counts_bar(clips, "age").data


def test_summary_stamps_follow_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    assert common.summary_stamp("clips") is None and common.model_files() == []
    write_fake_summaries(tmp_path / "eda")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.safetensors").write_bytes(b"")
    assert common.summary_stamp("means") is not None
    assert common.model_files() == ["a.safetensors"]


def test_clip_helpers():
    meta = pd.DataFrame(
        {
            "file_id": ["S1_anger_2", "S1_anger_1", "S1_fear_1"],
            "emotion": ["anger", "anger", "fear"],
            "speaker": ["S1"] * 3,
            "gender": ["male"] * 3,
            "age": [30] * 3,
            "sentence_id": [5, 1, 1],
        }
    )
    assert common.clip_options(meta, "anger", "S1")["sentence_id"].tolist() == [1, 5]
    assert common.speaker_label(meta, "S1") == "S1 (male, 30)"


def test_damaged_summary_is_a_dataset_error(tmp_path, monkeypatch):
    from ser_core.errors import DatasetError

    (tmp_path / "eda").mkdir()
    (tmp_path / "eda" / "emotion_means.npz").write_bytes(b"PK\x03\x04 half written")
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    with pytest.raises(DatasetError, match="eda-summary"):
        common.emotion_means("mel")


def test_curves_figure_puts_accuracies_below_losses():
    rows = [
        (e, k, v)
        for e in (1, 2)
        for k, v in (
            ("train_loss", 1.5),
            ("val_loss", 1.4),
            ("val_accuracy", 0.5),
            ("lr", 1e-3),
            ("speaker_accuracy", 0.2),
        )
    ]
    fig = common.curves_figure(pd.DataFrame(rows, columns=["epoch", "metric", "value"]), best_epoch=2)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {
        "train loss",
        "validation loss",
        "validation accuracy",
        "speaker adversary (training)",
    }  # the learning rate is not drawn
    assert by_name["speaker adversary (training)"].yaxis == by_name["validation accuracy"].yaxis == "y2"
    assert list(by_name["speaker adversary (training)"].y) == [20.0, 20.0]  # in per cent
