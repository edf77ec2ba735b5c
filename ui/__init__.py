"""Streamlit helpers of the dashboard's pages, one module per concern.

The pages under ``pages/`` stay thin (layout and calls) and import these modules;
the figures they draw come from :mod:`ser_core.figures`, which uses no Streamlit.

- :mod:`ui.state`: every session-state key, helpers on stored widget values;
- :mod:`ui.errors`: showing a :class:`~ser_core.errors.SERError` on the page;
- :mod:`ui.navigation`: keeping a page inside ``app.py``'s navigation;
- :mod:`ui.loaders`: cached corpus metadata and corpus summaries;
- :mod:`ui.clips`: audio decoding, uploads, playback;
- :mod:`ui.models`: shipped models, cached predictors, the model picker, model cards;
- :mod:`ui.dataset`, :mod:`ui.leaderboard`: helpers of those pages;
- :mod:`ui.predictor`, :mod:`ui.feedback`, :mod:`ui.calibration`, :mod:`ui.first_use`,
  :mod:`ui.live`: the predictor page's clip analysis, feedback form, voice
  calibration, first-use "talk for 20 s" step and live microphone;
- :mod:`ui.explain`, :mod:`ui.adversarial`: the explain and adversarial pages.

Nothing here imports a page; ``ser_core`` never imports this package.
"""
