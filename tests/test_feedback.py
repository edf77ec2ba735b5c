"""ser_core.feedback: consent, concurrency, export round trip."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest

from ser_core import audio, data
from ser_core.feedback import Feedback, FeedbackError, FeedbackStore
from tests.conftest import tone

PROBS = {"anger": 0.7, "fear": 0.1, "happiness": 0.05, "neutral": 0.05, "sadness": 0.05,
         "surprised": 0.05}


def _fb(correct="anger"):
    return Feedback(predicted="anger", correct=correct, model="m", probabilities=PROBS)


def test_nothing_stored_without_consent(tmp_path):
    st = FeedbackStore(tmp_path)
    st.add(_fb(), audio=tone(1.0), consent=False)
    assert st.rows()[0]["donation"] is None and not list(st.donations.iterdir())


def test_donation_has_a_generated_name(tmp_path):
    st = FeedbackStore(tmp_path)
    st.add(_fb(), audio=tone(1.0), consent=True)
    files = list(st.donations.iterdir())
    assert len(files) == 1 and files[0].suffix == ".flac" and len(files[0].stem) == 32
    np.testing.assert_allclose(audio.load_audio(files[0]), tone(1.0), atol=1e-3)


def test_bad_labels_and_unwritable_store(tmp_path):
    st = FeedbackStore(tmp_path)
    with pytest.raises(FeedbackError, match="joy"):
        st.add(Feedback("joy", None, "m", PROBS))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeedbackError, match="cannot open"):
        FeedbackStore(blocker / "sub")


def _writer(args):
    directory, i = args
    st = FeedbackStore(directory)
    st.add(_fb(), audio=tone(0.3, freq=200 + i), consent=i % 2 == 0)
    return i


def test_fifty_concurrent_writers_lose_nothing(tmp_path):
    FeedbackStore(tmp_path)
    with get_context("spawn").Pool(8) as pool:  # processes: real SQLite contention
        done = pool.map(_writer, [(tmp_path, i) for i in range(40)])
    with ThreadPoolExecutor(10) as ex:  # and threads of one process
        done += list(ex.map(_writer, [(tmp_path, i) for i in range(40, 50)]))
    st = FeedbackStore(tmp_path)
    assert sorted(done) == list(range(50)) and len(st.rows()) == 50
    assert len(list(st.donations.glob("*.flac"))) == 25
    assert not list(st.donations.glob("*.partial"))


def test_export_round_trips_into_the_loader(tmp_path):
    st = FeedbackStore(tmp_path / "store")
    for emo in ("anger", "sadness"):
        st.add(_fb(correct=emo), audio=tone(1.0), consent=True)
    st.add(_fb(correct=None), audio=tone(1.0), consent=True)  # no confirmed label: not exported
    out = st.export_nemo(tmp_path / "export")
    meta = data.load_metadata(out)
    assert sorted(meta.emotion) == ["anger", "sadness"] and set(meta.speaker) == {"DON"}
    assert audio.load_audio(meta.path[0]).shape[0] == 16_000


def test_cli_export(tmp_path):
    from ser_core.cli import main

    st = FeedbackStore(tmp_path / "store")
    st.add(_fb(correct="fear"), audio=tone(1.0), consent=True)
    assert main(["feedback", "export", str(tmp_path / "out"), "--data-dir", str(tmp_path / "store")]) == 0
    assert (tmp_path / "out" / "data.tsv").read_text().count("\n") == 2
    assert main(["feedback", "export", "--data-dir", str(tmp_path / "store")]) == 2
