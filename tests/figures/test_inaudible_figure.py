"""The imperceptible attack's figure: the excess over the threshold and one frame."""

from __future__ import annotations

import numpy as np

from ser_core.figures.inaudible import masking_figure


def test_masking_figure_draws_the_excess_and_the_worst_frame():
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 60, (20, 257))
    psd = theta - 10
    psd[7, 100] = theta[7, 100] + 3  # the one bin above the threshold
    fig = masking_figure(theta, psd, sr=16000, hop_length=256)
    heat, th, pert = fig.data
    assert heat.type == "heatmap" and np.asarray(heat.z).shape == (257, 20)
    assert heat.zmin == -heat.zmax and np.asarray(heat.z)[100, 7] == 3.0
    np.testing.assert_allclose(th.y, np.round(theta[7], 2))  # default: the worst frame
    np.testing.assert_allclose(pert.y, np.round(psd[7], 2))
    assert th.x[-1] == 8000
    assert "0.11 s" in fig.layout.annotations[1].text
    other = masking_figure(theta, psd, frame=3)
    np.testing.assert_allclose(other.data[1].y, np.round(theta[3], 2))
