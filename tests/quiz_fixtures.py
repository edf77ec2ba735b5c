"""Models and quizzes for the tests of the class quiz (ser_core.quiz, its page, its browser test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ser_core import quiz
from ser_core.config import EMOTIONS
from tests.tiny_model import TINY, ship_tiny_model

ROOT = Path(__file__).resolve().parents[1]
#: The tiny network shipped again as a LOSO fold-0 model that never heard EB0.
FOLD = "tiny_mel_fold0"


def ship_quiz_models(root: Path) -> Path:
    """Tiny models for quizzes on the real corpus: ``tiny_mel`` (seed split) in
    ``models/``, the same network as the LOSO fold model ``tiny_mel_fold0`` (held-out
    speaker EB0) in ``heldout/``, and the project's saved splits.  Returns the artifacts
    folder, for ``$SER_ARTIFACTS``."""
    artifacts = ship_tiny_model(root)
    shutil.copytree(ROOT / "artifacts" / "splits", artifacts / "splits", dirs_exist_ok=True)
    card = json.loads((artifacts / "models" / f"{TINY}.json").read_text())
    card["training"] = {**card.get("training", {}), "protocol": "loso", "fold": 0}
    card["heldout_speaker"] = "EB0"
    held = artifacts / "heldout"
    held.mkdir(exist_ok=True)
    (held / f"{FOLD}.json").write_text(json.dumps(card))
    shutil.copy(artifacts / "models" / f"{TINY}.safetensors", held / f"{FOLD}.safetensors")
    return artifacts


def handmade_quiz(directory: Path, *, predicted: list[str] | None = None) -> tuple[quiz.Quiz, str]:
    """A six-clip quiz stored without corpus or model: clip i is ``EMOTIONS[i]``; the model
    answers ``predicted`` (default: right on all but the last, which it calls anger)."""
    clips = pd.DataFrame(
        {"file_id": [f"EB0_{e}_1" for e in EMOTIONS], "emotion": list(EMOTIONS), "speaker": ["EB0"] * 6}
    )
    predicted = predicted or [*EMOTIONS[:5], "anger"]
    probs = np.full((6, 6), 0.02)
    for i, p in enumerate(predicted):
        probs[i, EMOTIONS.index(p)] = 0.9
    return quiz.store_quiz(clips, probs, mode="heard", model_name="handmade", seed=0, directory=directory)
