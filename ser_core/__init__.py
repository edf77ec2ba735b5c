"""ser_core: speech emotion recognition on the Polish nEMO corpus.

The library behind the Streamlit dashboard (``streamlit run app.py``) and the
command line (``python -m ser_core --help``).  It has no Streamlit import.

Modules
-------
config    the audio/feature contract (16 kHz mono, 3 s clips, six emotions)
errors    the :class:`SERError` hierarchy
audio     decoding (wav, flac, ogg, mp3, m4a, webm), resampling, padding
data      the corpus, its metadata and the ``seed`` / ``loso`` protocols
features  the registry of the 13 representations
cache     the on-disk feature cache and normalisation statistics
augment   feature-space augmentations per representation family
eda       corpus summaries for the dataset page
leaderboard  MLflow runs as tidy tables for the leaderboard page
"""

from .config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig
from .errors import SERError

__version__ = "0.1.0"
__all__ = ["DEFAULT_CONFIG", "EMOTIONS", "FeatureConfig", "SERError", "__version__"]
