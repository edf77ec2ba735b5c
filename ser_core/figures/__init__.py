"""Plotly figures of the library's results, as :mod:`librosa.display` draws librosa's.

Plain functions: the data first, options keyword-only, a ``plotly.graph_objects.Figure``
back. They use no Streamlit (the dashboard's pages show them with ``st.plotly_chart``),
so they work in notebooks and are tested on what they draw.

- :mod:`~ser_core.figures.style`: the emotion and gender colours, array helpers;
- :mod:`~ser_core.figures.dataset`: the corpus and a clip's representations;
- :mod:`~ser_core.figures.predictor`: one prediction (probabilities, timeline, audio);
- :mod:`~ser_core.figures.leaderboard`: training runs, ensembles, adaptation;
- :mod:`~ser_core.figures.explain`: relevance maps and deletion curves;
- :mod:`~ser_core.figures.attacks`: adversarial attacks and robustness.

The names of every module but :mod:`~ser_core.figures.attacks` are re-exported here;
``figures.attacks.probability_figure`` differs from ``figures.probability_figure``.
"""

from __future__ import annotations

from ser_core.figures import attacks, dataset, explain, leaderboard, predictor, style
from ser_core.figures.dataset import (
    counts_bar,
    counts_heatmap,
    descriptor_figure,
    descriptor_label,
    duration_figure,
    emotion_means_figure,
    projection_figure,
    representation_figure,
    representations_figure,
)
from ser_core.figures.explain import deletion_figure, display_map, insertion_figure, maps_figure, method_title
from ser_core.figures.leaderboard import (
    COMPARE_COLORS,
    CURVE_STYLE,
    PROTOCOL_TITLES,
    accuracy_figure,
    adaptation_figure,
    compare_f1_figure,
    conditions_heatmap,
    confusion_figure,
    curves_figure,
    ensemble_figure,
    f1_heatmap,
    importance_figure,
    model_colors,
    new_voices_figure,
    protocol_name,
)
from ser_core.figures.predictor import (
    display_mel,
    mel_figure,
    probability_figure,
    timeline_figure,
    waveform_figure,
)
from ser_core.figures.style import (
    DISPLAY_PER_BIN,
    EMOTION_COLORS,
    GENDER_COLORS,
    frame_times,
    is_curve,
    minmax,
    row_title,
    stack_channels,
    standardise_bins,
)

__all__ = [
    "COMPARE_COLORS",
    "CURVE_STYLE",
    "DISPLAY_PER_BIN",
    "EMOTION_COLORS",
    "GENDER_COLORS",
    "PROTOCOL_TITLES",
    "accuracy_figure",
    "adaptation_figure",
    "attacks",
    "compare_f1_figure",
    "conditions_heatmap",
    "confusion_figure",
    "counts_bar",
    "counts_heatmap",
    "curves_figure",
    "dataset",
    "deletion_figure",
    "descriptor_figure",
    "descriptor_label",
    "display_map",
    "display_mel",
    "duration_figure",
    "emotion_means_figure",
    "ensemble_figure",
    "explain",
    "f1_heatmap",
    "frame_times",
    "importance_figure",
    "insertion_figure",
    "is_curve",
    "leaderboard",
    "maps_figure",
    "mel_figure",
    "method_title",
    "minmax",
    "model_colors",
    "new_voices_figure",
    "predictor",
    "probability_figure",
    "projection_figure",
    "protocol_name",
    "representation_figure",
    "representations_figure",
    "row_title",
    "stack_channels",
    "standardise_bins",
    "style",
    "timeline_figure",
    "waveform_figure",
]
