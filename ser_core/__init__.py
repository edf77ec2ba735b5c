"""ser_core: speech emotion recognition on the Polish nEMO corpus.

The library behind the Streamlit dashboard (``streamlit run app.py``) and the
command line (``python -m ser_core --help``).  It has no Streamlit import.

Layers
------
Each module imports only modules of the layers below it (``lint-imports`` checks
it; the order is in ``pyproject.toml``), from the top:

cli                 the command line (``python -m ser_core``)
figures, results_page  Streamlit-free plotly figures; the generated results page
train, ensemble     training one model on a fold; the weighted ensemble's search
evaluate            shipped models on a test part, LOSO, AdaBN and INT8 reports
crosscorpus, conditioned
                    cross-corpus reports; conditioned training copies (cached)
inference, explain, attacks, live, feedback, eda
                    the predictor; explanations and their deletion metric;
                    adversarial attacks and the robustness curve; the live
                    microphone; donated feedback; corpus summaries
inputs, export, leaderboard, runs
                    a model's input arrays; ONNX; MLflow runs as tables; a
                    training run's configuration, result, card and predictions
adapt, cache        adapting to a voice; the on-disk feature cache
models, augment, conditions, torch_frontend, sonify, adversary
                    the model zoo, shipped models and the one prediction loop
                    (:func:`ser_core.models.predict_logits`); augmentations; rooms,
                    noises, microphones and codecs; a differentiable front end;
                    log-mel back to audio; the speaker adversary
functionals         openSMILE utterance functionals
features            the registry of the 13 representations, normalisation statistics
audio, data, metrics, tracking
                    decoding; the corpus and its protocols; classification and
                    calibration metrics; the MLflow store
ravdess             the second corpus, RAVDESS (re-exported by data)
config, errors      the audio/feature contract; the :class:`SERError` hierarchy
"""

from .config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig
from .errors import SERError

__version__ = "0.1.0"
__all__ = ["DEFAULT_CONFIG", "EMOTIONS", "FeatureConfig", "SERError", "__version__"]
