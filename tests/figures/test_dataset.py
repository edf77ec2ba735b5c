"""Figures of the corpus and of a clip's representations (:mod:`ser_core.figures.dataset`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ser_core import eda, features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.figures import dataset
from ser_core.figures.style import EMOTION_COLORS, GENDER_COLORS
from tests.pages.conftest import write_fake_summaries


@pytest.fixture
def summaries(tmp_path, monkeypatch):
    """``(clips, mel projections)`` of fake corpus summaries (2 speakers, 2 clips per cell)."""
    write_fake_summaries(tmp_path / "eda")
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    return eda.load_clips(), eda.load_projections("mel")


def test_representations_figure(tone_fn):
    reps = features.compute_all(tone_fn(2.0))
    fig = dataset.representations_figure(reps)
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
        assert dataset.representation_figure(reps[n], representation=n).data


def test_representations_figure_draws_curves_in_their_units(tone_fn):
    reps = features.compute_all(tone_fn(2.0))
    fig = dataset.representations_figure({"mel": reps["mel"], "rms": reps["rms"]}, row_px=100)
    heat, line = fig.data
    assert heat.type == "heatmap" and np.asarray(heat.z).shape == reps["mel"][0].shape
    assert line.type == "scatter" and np.allclose(line.y, reps["rms"][0, 0])
    assert line.x[1] == pytest.approx(DEFAULT_CONFIG.hop_length / DEFAULT_CONFIG.sr)
    assert fig.layout.xaxis2.title.text == "time (s)" and fig.layout.height == 2 * 100 + 90
    assert fig.layout.yaxis.title.text == features.get("mel").y_label


def test_representation_figure_one_heatmap_per_channel(tone_fn):
    reps = features.compute_all(tone_fn(2.0))
    hpss = dataset.representation_figure(reps["hpss"], representation="hpss")
    assert len(hpss.data) == 2 and [a.text for a in hpss.layout.annotations] == list(
        features.get("hpss").channels
    )
    assert np.allclose(hpss.data[1].z, reps["hpss"][1])  # real units, not scaled
    assert hpss.layout.coloraxis.colorbar.title.text == features.get("hpss").unit
    assert hpss.layout.title.text == features.get("hpss").title
    zcr = dataset.representation_figure(reps["zcr"], representation="zcr")
    assert zcr.data[0].type == "scatter" and zcr.layout.xaxis.title.text == "time (s)"


def test_emotion_means_figure():
    rng = np.random.default_rng(1)
    means = rng.standard_normal((6, 2, 16, 188)).astype(np.float32)
    fig = dataset.emotion_means_figure(means, representation="hpss")
    assert len(fig.data) == 6 and [a.text for a in fig.layout.annotations] == list(EMOTIONS)
    diff = dataset.emotion_means_figure(means, representation="hpss", difference=True)
    assert diff.layout.coloraxis.cmid == 0
    z = np.stack([d.z for d in diff.data])
    assert np.allclose(z.mean(0), 0, atol=1e-5)
    lines = dataset.emotion_means_figure(rng.standard_normal((6, 1, 1, 188)), representation="rms")
    assert [d.name for d in lines.data] == list(EMOTIONS)


def test_emotion_means_lines_in_the_emotion_colours():
    means = np.arange(6 * 188, dtype=float).reshape(6, 1, 1, 188)
    fig = dataset.emotion_means_figure(means, representation="rms")
    assert [d.line.color for d in fig.data] == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert np.allclose(fig.data[2].y, means[2, 0, 0])
    assert fig.layout.yaxis.title.text.startswith(features.get("rms").y_label)
    heat = dataset.emotion_means_figure(np.ones((6, 1, 4, 10)), representation="mel")
    assert heat.layout.coloraxis.colorscale[0][1] == "#440154"  # Viridis, not the diverging scale


def test_summary_figures(summaries):
    clips, proj = summaries
    for kind in ("box", "violin"):
        for by_gender in (False, True):
            assert dataset.descriptor_figure(clips, column="f0_median", kind=kind, by_gender=by_gender).data
    fig = dataset.projection_figure(clips, proj=proj, method="pca", color="speaker")
    assert "PC1 (30.0 %" in fig.layout.xaxis.title.text
    assert len(fig.data) == 2  # one trace per speaker
    assert dataset.counts_heatmap(clips).data and dataset.duration_figure(clips).data
    assert dataset.counts_bar(clips, column="age").data


def test_descriptor_figure_colours_and_labels(summaries):
    clips, _ = summaries
    fig = dataset.descriptor_figure(clips, column="f0_median")
    assert [d.name for d in fig.data] == list(EMOTIONS)
    assert [d.marker.color for d in fig.data] == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert fig.layout.yaxis.title.text == dataset.descriptor_label("f0_median")
    assert fig.data[0].type == "box" and not fig.layout.showlegend
    by_gender = dataset.descriptor_figure(clips, column="f0_median", kind="violin", by_gender=True)
    assert {d.name: d.marker.color for d in by_gender.data} == GENDER_COLORS
    assert by_gender.data[0].type == "violin" and by_gender.layout.showlegend


def test_projection_figure_by_emotion(summaries):
    clips, proj = summaries
    fig = dataset.projection_figure(clips, proj=proj, method="tsne")
    assert [d.name for d in fig.data] == list(EMOTIONS)
    assert fig.data[0].marker.color == EMOTION_COLORS[EMOTIONS[0]]
    first = clips["emotion"] == EMOTIONS[0]
    assert np.allclose(fig.data[0].x, proj["tsne"][first.to_numpy(), 0])
    assert fig.layout.xaxis.title.text == "t-SNE 1" and fig.layout.legend.title.text == "emotion"


def test_counts_figures_count_clips(summaries):
    clips, _ = summaries
    heat = dataset.counts_heatmap(clips)
    z = np.asarray(heat.data[0].z)
    assert z.shape == (6, 2) and (z == 2).all()  # 2 clips per emotion and speaker
    assert list(heat.data[0].y) == list(EMOTIONS) and list(heat.data[0].x) == ["AA0", "BB0"]
    bar = dataset.counts_bar(clips, column="gender")
    assert [d.name for d in bar.data] == list(EMOTIONS)
    assert [d.marker.color for d in bar.data] == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert bar.layout.yaxis.title.text == "clips" and bar.layout.xaxis.type == "category"


def test_duration_figure_panels_and_model_input_line():
    clips = pd.DataFrame({"emotion": list(EMOTIONS) * 2, "duration": np.linspace(1, 5, 12)})
    fig = dataset.duration_figure(clips)
    assert sorted(a.text for a in fig.layout.annotations) == sorted(EMOTIONS)  # "emotion=" stripped
    assert [d.marker.color for d in fig.data] == [EMOTION_COLORS[e] for e in EMOTIONS]
    lines = fig.layout.shapes
    assert len(lines) == len(EMOTIONS)  # one in each panel
    assert all(s.x0 == s.x1 == DEFAULT_CONFIG.duration and s.line.dash == "dash" for s in lines)


def test_representation_figure_draws_on_a_given_colour_range():
    x = np.random.default_rng(0).normal(-30, 10, (1, 128, 40)).astype(np.float32)
    own = dataset.representation_figure(x, representation="mel")
    assert own.layout.coloraxis.cmin is None and own.layout.coloraxis.cmax is None
    shared = dataset.representation_figure(x, representation="mel", zrange=(-80.0, 20.0))
    assert (shared.layout.coloraxis.cmin, shared.layout.coloraxis.cmax) == (-80.0, 20.0)


def test_figures_speak_polish_inside_a_polish_block(summaries):
    """Axis titles, legend names and category labels follow the run's language (#30)."""
    from ser_core.i18n import emotion_names, language

    clips, proj = summaries
    with language("pl"):
        bar = dataset.counts_bar(clips, column="gender")
        durations = dataset.duration_figure(clips)
        projection = dataset.projection_figure(clips, proj=proj, method="pca")
        polish_emotions = emotion_names()
    assert bar.layout.yaxis.title.text == "nagrania" and bar.layout.xaxis.title.text == "płeć"
    assert [d.name for d in bar.data] == polish_emotions and "złość" in polish_emotions
    assert [d.marker.color for d in bar.data] == [EMOTION_COLORS[e] for e in EMOTIONS]  # same colours
    assert set(bar.data[0].x) == {"kobieta", "mężczyzna"}
    assert durations.layout.xaxis.title.text == "długość (s)"
    assert projection.layout.xaxis.title.text == "PC1 (30.0 % wariancji)"
    assert projection.layout.legend.title.text == "emocja"
    # and back in English outside the block
    assert dataset.counts_bar(clips, column="gender").layout.yaxis.title.text == "clips"
