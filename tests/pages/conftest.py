"""Fixtures of the page tests: fake corpus summaries, AppTest factories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ser_core import eda, features
from ser_core.config import EMOTIONS

ROOT = Path(__file__).resolve().parents[2]


def write_fake_summaries(directory: Path, *, n_per_cell: int = 2, tsne: bool = True) -> Path:
    """Write small random ``clips.csv`` / ``emotion_means.npz`` / ``projections.npz``.

    The files have the layout of ``python -m ser_core eda-summary`` (real
    representation shapes, 2 speakers) but random numbers: enough for pages.
    """
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for spk, gender, age in [("AA0", "female", 25), ("BB0", "male", 31)]:
        for e in EMOTIONS:
            for k in range(n_per_cell):
                rows.append(
                    {
                        "file_id": f"{spk}_{e}_{k}",
                        "emotion": e,
                        "speaker": spk,
                        "gender": gender,
                        "age": age,
                        "sentence_id": k,
                    }
                )
    clips = pd.DataFrame(rows)
    for col in eda.DESCRIPTORS:
        clips[col] = rng.uniform(0.5, 4.0, len(clips)).round(4)
    clips.loc[0, "f0_median"] = np.nan  # silence: pyin found no voiced frame
    clips.to_csv(directory / "clips.csv", index=False)
    means, proj = {}, {}
    for name in features.names():
        c, b, t = features.output_shape(name)
        means[name] = rng.standard_normal((len(EMOTIONS), c, b, t)).astype(np.float16)
        proj[f"{name}/pca"] = rng.standard_normal((len(clips), 2)).astype(np.float16)
        proj[f"{name}/pca_var"] = np.array([0.3, 0.1], np.float32)
        if tsne:
            proj[f"{name}/tsne"] = rng.standard_normal((len(clips), 2)).astype(np.float16)
    np.savez_compressed(directory / "emotion_means.npz", **means)
    np.savez_compressed(directory / "projections.npz", **proj)
    return directory


@pytest.fixture(scope="session")
def _fake_artifacts(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    write_fake_summaries(root / "eda")
    (root / "models").mkdir()
    (root / "models" / "mel_cnn_seed.safetensors").write_bytes(b"")
    return root


@pytest.fixture
def fake_artifacts(_fake_artifacts, monkeypatch) -> Path:
    """``$SER_ARTIFACTS`` pointed at fake summaries and one (empty) model file."""
    monkeypatch.setenv("SER_ARTIFACTS", str(_fake_artifacts))
    return _fake_artifacts


@pytest.fixture
def no_corpus(tmp_path, monkeypatch) -> Path:
    """``$NEMO_DIR`` pointed at an empty folder (skips when data/nEMO holds a corpus)."""
    from ser_core import data

    empty = tmp_path / "no-corpus"
    empty.mkdir()
    monkeypatch.setenv("NEMO_DIR", str(empty))
    if data.corpus_available():
        pytest.skip("a corpus under data/nEMO is found even with NEMO_DIR empty")
    return empty


@pytest.fixture
def no_summaries(tmp_path, monkeypatch) -> Path:
    """``$SER_ARTIFACTS`` pointed at an empty folder: no summaries, no models."""
    empty = tmp_path / "no-artifacts"
    empty.mkdir()
    monkeypatch.setenv("SER_ARTIFACTS", str(empty))
    return empty


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory) -> Path:
    """One tiny shipped model (``tests.tiny_model``), made once per module."""
    from tests.tiny_model import ship_tiny_model

    return ship_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_env(tiny_artifacts, tmp_path, monkeypatch) -> Path:
    """The app on :func:`tiny_artifacts`, with a fresh data folder and no ICE servers."""
    monkeypatch.setenv("SER_ARTIFACTS", str(tiny_artifacts))
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SER_ONNX_CACHE", str(tiny_artifacts.parent / "onnx"))
    monkeypatch.delenv("SER_ICE_SERVERS", raising=False)
    return tiny_artifacts
