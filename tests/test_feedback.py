"""ser_core.feedback: consent, concurrency, export round trip."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest

from ser_core import audio, data
from ser_core.errors import FeedbackError
from ser_core.feedback import Feedback, FeedbackStore
from tests.conftest import tone

PROBS = {"anger": 0.7, "fear": 0.1, "happiness": 0.05, "neutral": 0.05, "sadness": 0.05, "surprised": 0.05}


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


# ----------------------------------------------------------------- voice profiles
def _profile(seed: int = 0, name: str = "") -> str:
    from ser_core.adapt import VoiceProfile
    from ser_core.features import NormStats

    rng = np.random.default_rng(seed)
    stats = NormStats(
        rng.normal(size=(1, 128, 1)).astype(np.float32),
        rng.uniform(1, 2, size=(1, 128, 1)).astype(np.float32),
    )
    return VoiceProfile({"mel": stats}, 12.0 + seed, name).to_json()


def test_profile_round_trip_list_and_delete(tmp_path):
    from ser_core.adapt import VoiceProfile

    st = FeedbackStore(tmp_path)
    assert st.list_profiles() == []
    assert st.save_profile("  Ala  Kowalska ", _profile(1, name="ignored")) == "Ala Kowalska"
    st.save_profile("Łukasz", _profile(2))
    assert [p["name"] for p in st.list_profiles()] == ["Ala Kowalska", "Łukasz"]
    row = st.list_profiles()[0]
    assert row["representations"] == ["mel"] and row["seconds"] == 13.0 and "profile" not in row
    prof = st.load_profile("Ala Kowalska")
    want = VoiceProfile.from_json(_profile(1))
    assert prof.name == "Ala Kowalska" and prof.seconds == 13.0
    np.testing.assert_array_equal(prof.stats["mel"].mean, want.stats["mel"].mean)
    st.delete_profile("Łukasz")
    with pytest.raises(FeedbackError, match=r"no saved voice profile named 'Łukasz' \(saved: Ala Kowalska\)"):
        st.load_profile("Łukasz")
    with pytest.raises(FeedbackError, match="to delete"):
        st.delete_profile("Łukasz")
    # the feedback table is untouched and no audio was written
    assert st.rows() == [] and not list(st.donations.iterdir())


def test_existing_name_is_refused_unless_overwritten(tmp_path):
    st = FeedbackStore(tmp_path)
    st.save_profile("ala", _profile(1))
    with pytest.raises(FeedbackError, match="'ala' already exists"):
        st.save_profile("ala", _profile(2))
    assert st.load_profile("ala").seconds == 13.0  # the first one is kept
    created = st.list_profiles()[0]["created"]
    st.save_profile("ala", _profile(2), overwrite=True)
    assert st.load_profile("ala").seconds == 14.0
    assert st.list_profiles()[0]["created"] == created


@pytest.mark.parametrize(
    "name, match",
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * 41, "at most 40"),
        ("a/b", "only letters"),
        ("<script>", "only letters"),
        ("-dash", "start with"),
    ],
)
def test_profile_names_are_validated(tmp_path, name, match):
    with pytest.raises(FeedbackError, match=match):
        FeedbackStore(tmp_path).save_profile(name, _profile())


@pytest.mark.parametrize("text", ["not json", '{"stats": {}, "seconds": 1}', "[]"])
def test_only_voice_profiles_are_stored(tmp_path, text):
    st = FeedbackStore(tmp_path)
    with pytest.raises(FeedbackError, match="voice profile"):
        st.save_profile("ala", text)
    assert st.list_profiles() == []


def _profile_writer(args):
    directory, i = args
    st = FeedbackStore(directory)
    try:
        st.save_profile(f"voice {i % 10}", _profile(i))
        return i
    except FeedbackError as err:
        assert "already exists" in str(err)
        return -1


def test_concurrent_profile_writers(tmp_path):
    """20 processes and 10 threads race to save 10 names: each name is saved once,
    the others are refused with a clear error, nothing is corrupted."""
    FeedbackStore(tmp_path)
    with get_context("spawn").Pool(8) as pool:
        got = pool.map(_profile_writer, [(tmp_path, i) for i in range(20)])
    with ThreadPoolExecutor(10) as ex:
        got += list(ex.map(_profile_writer, [(tmp_path, i) for i in range(20, 30)]))
    st = FeedbackStore(tmp_path)
    assert sum(g >= 0 for g in got) == 10
    assert [p["name"] for p in st.list_profiles()] == [f"voice {k}" for k in range(10)]
    for k in range(10):
        assert st.load_profile(f"voice {k}").stats["mel"].mean.shape == (1, 128, 1)
