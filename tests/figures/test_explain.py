"""Figures of the explanations (:mod:`ser_core.figures.explain`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ser_core.errors import ConfigError
from ser_core.figures import explain


def curve(probs: list[float]) -> SimpleNamespace:
    """A stand-in for ``DeletionCurve`` (the figure reads fractions, probs and auc)."""
    f = np.linspace(0, 1, len(probs))
    p = np.asarray(probs, float)
    return SimpleNamespace(fractions=f, probs=p, auc=float(np.trapezoid(p, f)))


def test_display_map_sums_channels():
    rel = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    out = explain.display_map(rel)
    assert out.shape == (3, 4) and out.dtype == np.float32 and out[0, 0] == 0 + 12


def test_method_title():
    assert explain.method_title("gradcam") == "Grad-CAM" and explain.method_title("lrp") == "LRP"
    assert explain.method_title("random") == "random order" and explain.method_title("other") == "other"


def test_maps_figure_shared_scale():
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((64, 188))
    maps = {"gradcam": rng.uniform(0, 2, (64, 188)), "lrp": rng.standard_normal((64, 188))}
    fig = explain.maps_figure(maps, mel=mel, opacity=0.5)
    assert [a.text for a in fig.layout.annotations] == ["Grad-CAM", "LRP"]
    assert len(fig.data) == 4  # grey log-mel + relevance, per map
    back, cam = fig.data[0], fig.data[1]
    assert back.colorscale[0][1] == "rgb(0, 0, 0)" and np.allclose(back.z, mel)  # grey underneath
    assert cam.opacity == 0.5 and cam.coloraxis == "coloraxis" and fig.data[3].coloraxis == "coloraxis"
    assert np.abs(np.asarray(fig.data[3].z)).max() == pytest.approx(1.0)  # scaled to -1..1
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (-1, 1)
    assert fig.layout.xaxis.title.text == "time (s)" and fig.layout.yaxis.title.text == "mel band"


def test_maps_figure_own_units():
    rng = np.random.default_rng(0)
    maps = {"gradcam": rng.uniform(0, 2, (8, 10)), "lrp": rng.standard_normal((8, 10))}
    fig = explain.maps_figure(maps, mel=np.zeros((8, 10)), shared=False)
    assert np.allclose(fig.data[1].z, maps["gradcam"])  # raw values
    assert fig.data[1].coloraxis == "coloraxis2" and fig.data[3].coloraxis == "coloraxis3"
    cam, lrp = fig.layout.coloraxis2, fig.layout.coloraxis3
    assert cam.cmin == 0 and cam.colorscale == tuple(tuple(c) for c in explain.POSITIVE_SCALE)
    assert lrp.cmin == -lrp.cmax and lrp.colorbar.title.text == explain.UNITS["lrp"]


def test_deletion_figure_lines_colours_and_markers():
    curves = {"gradcam": curve([0.9, 0.5, 0.1]), "random": curve([0.9, 0.8, 0.7])}
    fig = explain.deletion_figure(curves)
    cam, rnd = fig.data
    assert cam.name == f"Grad-CAM (AUC {curves['gradcam'].auc:.3f})" and rnd.name.startswith("random order")
    assert cam.line.color == explain.METHOD_COLORS["gradcam"] and rnd.line.dash == "dash"
    assert list(cam.x) == [0.0, 50.0, 100.0] and list(cam.y) == [90.0, 50.0, 10.0]
    assert sorted(s.x0 for s in fig.layout.shapes) == [10, 20]  # the drop-at markers
    assert fig.layout.yaxis.title.text == "probability of the explained class (%)"


def test_deletion_figure_marks_a_class_below_chance():
    """A curve starting near 0 (a class the model rejects) gets "AUC n/a" and a note (#28)."""
    curves = {"lrp": curve([0.001, 0.0, 0.0]), "random": curve([0.001, 0.001, 0.0])}
    fig = explain.deletion_figure(curves, n_classes=6)
    assert [t.name for t in fig.data] == ["LRP (AUC n/a)", "random order (AUC n/a)"]
    notes = [a.text for a in fig.layout.annotations if "chance" in a.text]
    assert len(notes) == 1 and "0.1 %" in notes[0] and "16.7 %" in notes[0]
    # above chance: scored as before, no note
    fig = explain.deletion_figure({"lrp": curve([0.9, 0.1, 0.0])}, n_classes=6)
    assert fig.data[0].name.startswith("LRP (AUC 0.") and not [
        a for a in fig.layout.annotations if "chance" in a.text
    ]


def test_maps_figure_axis_follows_the_representation():
    rng = np.random.default_rng(0)
    mfcc = rng.standard_normal((40, 20))
    fig = explain.maps_figure({"lrp": rng.standard_normal((40, 20))}, mel=mfcc, y_label="MFCC coefficient")
    assert (
        fig.layout.yaxis.title.text == "MFCC coefficient" and "MFCC coefficient" in fig.data[1].hovertemplate
    )
    with pytest.raises(ConfigError, match=r"\(40, 20\)"):
        explain.maps_figure({"lrp": np.zeros((40, 20))}, mel=np.zeros((128, 20)))


def test_figures_in_polish():
    """#30: axis titles, legend names and notes follow the run's language."""
    from ser_core.i18n import language

    curves = {"lrp": curve([0.001, 0.0, 0.0]), "random": curve([0.001, 0.001, 0.0])}
    with language("pl"):
        fig = explain.deletion_figure(curves, n_classes=6)
        maps = explain.maps_figure({"lrp": np.ones((8, 10))}, mel=np.zeros((8, 10)), shared=False)
    assert fig.layout.xaxis.title.text == "usunięte komórki, od najistotniejszych (%)"
    assert fig.layout.yaxis.title.text == "prawdopodobieństwo wyjaśnianej klasy (%)"
    assert [t.name for t in fig.data] == ["LRP (AUC b.d.)", "kolejność losowa (AUC b.d.)"]
    assert any("poniżej poziomu losowego" in a.text for a in fig.layout.annotations)
    assert maps.layout.xaxis.title.text == "czas (s)" and maps.layout.yaxis.title.text == "pasmo melowe"
    assert maps.layout.coloraxis2.colorbar.title.text == "udział w logicie"
    assert explain.method_title("random") == "random order"  # English again outside the block
