"""ser_core.eda: descriptors, clip statistics, projections, summary files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ser_core import data, eda
from ser_core.config import EMOTIONS
from ser_core.errors import DatasetError
from tests.conftest import make_corpus, tone


def test_descriptors_of_a_tone():
    d = eda.clip_descriptors(tone(2.0, freq=200.0))
    assert set(d) == set(eda.DESCRIPTORS)
    assert abs(d["duration"] - 2.0) < 1e-6
    assert 190 < d["f0_median"] < 210
    assert d["voiced_fraction"] > 0.8


def test_descriptors_of_silence_have_no_division_by_zero():
    d = eda.clip_descriptors(np.zeros(16_000, np.float32))
    assert np.isnan(d["f0_median"]) and d["voiced_fraction"] == 0
    assert d["speaking_rate"] == 0 and np.isfinite(d["rms_db"])


def test_clip_statistics_and_projection():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2, 5, 30)).astype(np.float16)
    x[:20] += 3  # two groups
    s = eda.clip_statistics(x)
    assert s.shape == (40, 20)
    coords, var = eda.project(s, method="pca")
    assert coords.shape == (40, 2) and var.shape == (2,) and var[0] > var[1]
    assert abs(coords[:20, 0].mean() - coords[20:, 0].mean()) > 1  # groups separate
    coords, none = eda.project(s, method="tsne")
    assert coords.shape == (40, 2) and none is None and np.isfinite(coords).all()
    with pytest.raises(ValueError):
        eda.project(s, method="umap")


def test_build_and_read_summaries(tmp_path, monkeypatch):
    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=2, seconds=0.6))
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "eda"
    eda.build_summaries(meta, ["mel", "zcr", "hpss"], directory=out, workers=1, progress=False)
    clips = eda.load_clips(out)
    assert len(clips) == len(meta) and set(eda.DESCRIPTORS) <= set(clips.columns)
    means = eda.load_emotion_means("hpss", out)
    assert means.shape == (len(EMOTIONS), 2, 128, 188)
    pr = eda.load_projections("mel", out)
    assert pr["pca"].shape == pr["tsne"].shape == (len(meta), 2)
    with pytest.raises(DatasetError):
        eda.load_emotion_means("cqt", out)
    # descriptors can be kept while the representations are rebuilt
    eda.build_summaries(
        meta, ["mel"], directory=out, workers=1, descriptors=False, tsne=False, progress=False
    )
    pd.testing.assert_frame_equal(eda.load_clips(out), clips)


def test_missing_summaries_say_how_to_build(tmp_path):
    with pytest.raises(DatasetError, match="eda-summary"):
        eda.load_clips(tmp_path)


def test_shipped_summaries_cover_the_corpus():
    """artifacts/eda is committed so the page works without the corpus."""
    try:
        clips = eda.load_clips()
    except DatasetError:
        pytest.fail("artifacts/eda is missing: run `python -m ser_core eda-summary`")
    assert len(clips) == 4481 and clips.speaker.nunique() == 9
    from ser_core import features

    for n in features.names():
        assert eda.load_emotion_means(n).shape[0] == 6
        pr = eda.load_projections(n)
        assert pr["pca"].shape == pr["tsne"].shape == (4481, 2)


def test_damaged_summaries_are_a_clear_error(tmp_path):
    (tmp_path / "clips.csv").write_text('file_id,emotion\n"unterminated\n')
    (tmp_path / "emotion_means.npz").write_bytes(b"PK\x03\x04 half written")
    (tmp_path / "projections.npz").write_bytes(b"")
    with pytest.raises(DatasetError, match="rebuild"):
        eda.load_clips(tmp_path)
    with pytest.raises(DatasetError, match="rebuild"):
        eda.load_emotion_means("mel", tmp_path)
    with pytest.raises(DatasetError, match="rebuild"):
        eda.load_projections("mel", tmp_path)
    assert not list(tmp_path.glob(".*partial*"))
