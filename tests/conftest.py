"""Shared fixtures.

Tests that need the nEMO corpus use the ``nemo_dir`` / ``meta`` fixtures (or
the ``corpus`` marker); they run whenever ``$NEMO_DIR`` (or ``data/nEMO``)
holds the corpus and are skipped, saying why, only when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"

CORPUS_MISSING = (
    "nEMO corpus not found: set NEMO_DIR to the folder holding data.tsv and samples/ "
    "(CI points it at ../shared/nemo)"
)


def _corpus() -> Path | None:
    from ser_core import data

    try:
        return data.find_corpus()
    except Exception:  # noqa: BLE001
        return None


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest installs its script as ``sys.modules["__main__"]`` and leaves it there; a
    later ``multiprocessing`` spawn pool in the same pytest process would re-run that
    script in every child and hang.  Restore the real ``__main__`` after every test."""
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def nemo_dir() -> Path:
    p = _corpus()
    if p is None:
        pytest.skip(CORPUS_MISSING)
    return p


@pytest.fixture(scope="session")
def meta(nemo_dir):
    from ser_core import data

    return data.load_metadata(nemo_dir)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Folder for test output kept after the run (screenshots): ``test-output/``,
    or ``$SER_TEST_OUTPUT`` (``artifacts/screenshots`` refreshes the README's)."""
    out = Path(os.environ.get("SER_TEST_OUTPUT", OUTPUT))
    out.mkdir(parents=True, exist_ok=True)
    return out


def tone(seconds: float = 1.0, *, sr: int = 16_000, freq: float = 220.0, channels: int = 1) -> np.ndarray:
    """A harmonic tone with a little noise, shape (n,) or (n, channels), float32."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 6)) * 0.2
    y = y + 0.01 * np.random.default_rng(0).standard_normal(t.shape)
    y = y.astype(np.float32)
    return y if channels == 1 else np.stack([y * (0.5 + 0.5 * c) for c in range(channels)], 1)


@pytest.fixture
def tone_fn():
    return tone


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Debian chromium with Playwright")
    config.addinivalue_line("markers", "corpus: needs the nEMO corpus")
    os.environ.setdefault("SER_TEST", "1")


def encode(y: np.ndarray, *, sr: int = 16_000, ext: str = "wav") -> bytes:
    """Encode a waveform ``(n,)`` or ``(n, channels)`` to bytes of format ``ext``.

    wav/flac/ogg (Vorbis)/opus (Ogg Opus) via soundfile; mp3, m4a (AAC), aac
    (raw ADTS) and webm (Opus) via PyAV.  Used to make every test fixture at test time.
    """
    import io

    import soundfile as sf

    y = np.asarray(y, dtype=np.float32)
    sf_formats = {
        "wav": ("WAV", "PCM_16"),
        "flac": ("FLAC", "PCM_16"),
        "ogg": ("OGG", "VORBIS"),
        "opus": ("OGG", "OPUS"),
    }
    if ext in sf_formats:
        fmt, sub = sf_formats[ext]
        buf = io.BytesIO()
        sf.write(buf, y, sr, format=fmt, subtype=sub)
        return buf.getvalue()
    import av

    container_fmt, codec, rate = {
        "mp3": ("mp3", "libmp3lame", sr),
        "m4a": ("mp4", "aac", sr),
        "aac": ("adts", "aac", sr),  # raw AAC
        "webm": ("webm", "libopus", 48_000),
    }[ext]
    if rate != sr:
        import soxr

        y = soxr.resample(y, sr, rate)
    channels = 1 if y.ndim == 1 else y.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        planar = np.ascontiguousarray((y if y.ndim == 2 else y[:, None]).T)
        step = 1024
        for i in range(0, planar.shape[1], step):
            frame = av.AudioFrame.from_ndarray(planar[:, i : i + step], format="fltp", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@pytest.fixture
def encode_fn():
    return encode


def make_corpus(
    root: Path,
    *,
    layout: str = "flac",
    speakers=("AA0", "BB0", "CC0"),
    per_emotion: int = 1,
    seconds: float = 1.2,
) -> Path:
    """Write a tiny synthetic corpus in nEMO's layout (upstream quirks included:
    ``.wav`` in file_id, leading spaces in speaker_id).  ``layout="upstream"``
    writes 24 kHz WAV, ``"flac"`` 16 kHz FLAC.  Each emotion gets its own pitch."""
    import soundfile as sf

    from ser_core.config import EMOTIONS

    sr, ext = (24_000, "wav") if layout == "upstream" else (16_000, "flac")
    (root / "samples").mkdir(parents=True, exist_ok=True)
    rows = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
    for si, spk in enumerate(speakers):
        for ei, emo in enumerate(EMOTIONS):
            for k in range(per_emotion):
                stem = f"{spk}_{emo}_{k}"
                y = tone(seconds, sr=sr, freq=150.0 + 40 * ei + 5 * si + k)
                sf.write(root / "samples" / f"{stem}.{ext}", y, sr)
                rows.append(
                    f"{stem}.wav\t{emo}\tZdanie {k}.\tzdanie {k}\t        {spk}\t"
                    f"{'female' if si % 2 else 'male'}\t{20 + si}"
                )
    (root / "data.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    return make_corpus(tmp_path / "nemo")


@pytest.fixture(scope="session")
def tracking_template(tmp_path_factory):
    """A synthetic MLflow store built once per session: ``(path, {run name: run id})``."""
    from tests.tracking_db import make_tracking_db

    root = tmp_path_factory.mktemp("mlflow")
    ids = make_tracking_db(root / "mlflow.db", root / "artifacts")
    return root / "mlflow.db", ids


@pytest.fixture
def tracking_store(tracking_template, tmp_path, monkeypatch):
    """A private copy of the synthetic store with ``$SER_MLFLOW_DB`` pointed at it:
    ``(path, {run name: run id})``."""
    from tests.tracking_db import copy_db

    src, ids = tracking_template
    db = copy_db(src, tmp_path / "mlflow.db")
    monkeypatch.setenv("SER_MLFLOW_DB", str(db))
    monkeypatch.setenv("SER_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    return db, ids
