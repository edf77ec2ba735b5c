"""RAVDESS, the second corpus: metadata from file names, its protocols, and ``evaluate --protocol xcorpus``."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_core import crosscorpus, data
from ser_core.config import EMOTIONS
from ser_core.errors import DatasetError, DatasetNotFoundError, UnknownNameError
from tests.conftest import make_corpus, tone

RAVDESS_MISSING = (
    "RAVDESS not found: set RAVDESS_DIR to the folder holding Audio_Speech_Actors_01-24/ (../shared/ravdess)"
)


def _names(actor: int) -> list[str]:
    """Every speech clip name of an actor in upstream's scheme (60: neutral has one intensity)."""
    out = []
    for emo in range(1, 9):
        for intensity in (1,) if emo == 1 else (1, 2):
            for statement in (1, 2):
                for rep in (1, 2):
                    out.append(f"03-01-{emo:02d}-{intensity:02d}-{statement:02d}-{rep:02d}-{actor:02d}")
    return out


def make_ravdess(
    root, *, actors=(1, 2, 3, 4), top: bool = True, seconds: float = 0.4, opus=(1,), full: bool = True
):
    """A tiny RAVDESS tree: upstream's 48 kHz WAV, and 16 kHz Ogg/Opus for the ``opus`` actors.
    ``full=False``: one clip per emotion (normal intensity, first statement and repetition)."""
    base = root / "Audio_Speech_Actors_01-24" if top else root
    for a in actors:
        d = base / f"Actor_{a:02d}"
        d.mkdir(parents=True)
        for i, name in enumerate(n for n in _names(a) if full or n[9:17] == "01-01-01"):
            emo = int(name[6:8])
            if a in opus:
                sf.write(
                    d / f"{name}.ogg", tone(seconds, freq=150 + 30 * emo + i % 3), 16_000, subtype="OPUS"
                )
            else:
                sf.write(d / f"{name}.wav", tone(seconds, sr=48_000, freq=150 + 30 * emo), 48_000)
    return root


def test_metadata_from_names(tmp_path, monkeypatch):
    root = make_ravdess(tmp_path / "r")
    meta = data.load_ravdess_metadata(root)
    assert len(meta) == 4 * 44 and list(meta["file_id"]) == sorted(meta["file_id"])
    assert set(meta["emotion"]) == set(EMOTIONS)  # calm and disgust left out
    assert meta["emotion"].value_counts()["neutral"] == 4 * 4
    assert (meta["label"] == meta["emotion"].map(EMOTIONS.index)).all()
    row = meta.set_index("file_id").loc["03-01-05-02-01-02-03"]
    assert (row["emotion"], row["speaker"], row["gender"], row["intensity"]) == (
        "anger",
        "A03",
        "male",
        "strong",
    )
    assert (row["sentence_id"], row["text"], row["repetition"], row["age"]) == (
        0,
        "kids are talking by the door",
        2,
        -1,
    )
    assert meta.set_index("file_id").loc["03-01-08-01-02-01-02", "emotion"] == "surprised"
    assert set(meta.loc[meta["speaker"] == "A02", "gender"]) == {"female"}
    assert set(meta["corpus"]) == {"ravdess"}
    assert {p.rsplit(".", 1)[1] for p in meta.loc[meta["speaker"] == "A01", "path"]} == {"ogg"}
    assert {p.rsplit(".", 1)[1] for p in meta.loc[meta["speaker"] == "A04", "path"]} == {"wav"}
    every = data.load_ravdess_metadata(root, emotions="all")
    assert len(every) == 4 * 60 and set(every.loc[every["label"] < 0, "emotion"]) == {"calm", "disgust"}
    # the folder of the Actor_XX folders itself, and $RAVDESS_DIR
    assert len(data.load_ravdess_metadata(root / "Audio_Speech_Actors_01-24")) == len(meta)
    monkeypatch.setenv(data.RAVDESS_ENV, str(root))
    assert data.ravdess_available() and data.find_ravdess() == (root / "Audio_Speech_Actors_01-24").resolve()
    with pytest.raises(UnknownNameError, match="'some'"):
        data.load_ravdess_metadata(root, emotions="some")


def test_wav_is_read_before_the_opus_copy_and_song_is_skipped(tmp_path):
    root = make_ravdess(tmp_path / "r", actors=(1,), top=False, opus=())
    d = root / "Actor_01"
    sf.write(d / "03-01-05-01-01-01-01.ogg", tone(0.4), 16_000, subtype="OPUS")
    sf.write(d / "03-02-05-01-01-01-01.wav", tone(0.4), 16_000)  # song: not read
    (d / "notes.txt").write_text("not audio")
    meta = data.load_ravdess_metadata(root)
    assert len(meta) == 44
    assert meta.set_index("file_id").loc["03-01-05-01-01-01-01", "path"].endswith(".wav")


def test_clear_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(tmp_path / "none"))):
        data.load_ravdess_metadata(tmp_path / "none")
    assert not data.ravdess_available(tmp_path / "none")
    bad = tmp_path / "bad" / "Actor_01"
    bad.mkdir(parents=True)
    sf.write(bad / "kids-angry.wav", tone(0.2), 16_000)
    with pytest.raises(DatasetError, match="kids-angry.wav"):
        data.load_ravdess_metadata(tmp_path / "bad")
    (bad / "kids-angry.wav").unlink()
    with pytest.raises(DatasetError, match="no RAVDESS speech clips"):
        data.load_ravdess_metadata(tmp_path / "bad")


def _rav_meta(actors=range(1, 25)) -> pd.DataFrame:
    ids = [n for a in actors for n in _names(a) if n[6:8] not in ("02", "07")]
    codes = {
        "01": "neutral",
        "03": "happiness",
        "04": "sadness",
        "05": "anger",
        "06": "fear",
        "08": "surprised",
    }
    return pd.DataFrame(
        {
            "file_id": ids,
            "emotion": [codes[i[6:8]] for i in ids],
            "speaker": [f"A{i[-2:]}" for i in ids],
        }
    )


def test_leave_actors_out_folds_are_disjoint_and_cover():
    meta = _rav_meta()
    table = data.make_lao_split(meta)
    folds = [c for c in table if c.startswith("fold")]
    assert len(folds) == data.RAVDESS_LAO_FOLDS == data.n_folds("ravdess_lao") == 6
    tested = []
    for k, col in enumerate(folds):
        by = {p: set(meta.loc[table[col] == p, "speaker"]) for p in ("train", "val", "test")}
        assert len(by["test"]) == len(by["val"]) == 4 and len(by["train"]) == 16
        assert not (by["test"] & by["val"]) and not (by["train"] & (by["test"] | by["val"]))
        assert by["val"] == set(meta.loc[table[folds[(k + 1) % 6]] == "test", "speaker"])
        genders = [int(s[1:]) % 2 for s in by["test"]]
        assert sum(genders) == 2  # two male, two female
        tested += sorted(by["test"])
    assert sorted(tested) == sorted(set(meta["speaker"]))  # every actor tested exactly once
    with pytest.raises(DatasetError, match="cannot cut 24 actors into 30"):
        data.make_lao_split(meta, n_folds=30)


def test_protocols_over_both_corpora(tmp_path):
    nemo = data.load_metadata(make_corpus(tmp_path / "n", per_emotion=2, seconds=0.3))
    splits = tmp_path / "splits"
    data.save_splits(nemo, directory=splits)
    rav = data.load_ravdess_metadata(make_ravdess(tmp_path / "r", actors=(1, 2, 3), opus=()))
    both = data.combined_metadata(nemo, rav)
    assert len(both) == len(nemo) + len(rav) and list(both.columns) == list(rav.columns)
    assert set(both.loc[: len(nemo) - 1, "corpus"]) == {"nemo"}
    is_rav = (both["corpus"] == "ravdess").to_numpy()

    x = data.split_indices(both, "xcorpus", directory=splits)
    assert set(x.test) == set(np.flatnonzero(is_rav))
    seed = data.split_indices(nemo, "seed", directory=splits)
    assert set(x.train) == set(seed.train) and set(x.val) == set(seed.val)  # seed test: unused

    loso = pd.read_csv(splits / "loso.csv")
    for k in range(3):
        f = data.split_indices(both, "both_loso", fold=k, directory=splits)
        plain = data.split_indices(nemo, "loso", fold=k, directory=splits)
        assert set(f.train) == set(plain.train) | set(np.flatnonzero(is_rav))
        assert (set(f.val), set(f.test)) == (set(plain.val), set(plain.test))
    assert len([c for c in loso if c.startswith("fold")]) == 3

    with pytest.raises(DatasetError, match="cannot cut 3 actors into 6"):
        data.split_indices(both, "ravdess_lao", directory=splits)
    with pytest.raises(DatasetError, match="needs RAVDESS"):
        data.cross_split_table(nemo, "xcorpus", directory=splits)
    with pytest.raises(UnknownNameError, match="'lopo'"):
        data.cross_split_table(both, "lopo")
    assert data.PROTOCOLS == ("seed", "loso")  # the saved splits are untouched
    assert data.n_folds("xcorpus") == 1


def test_calibration_clips_fill_the_budget():
    secs = np.full(44, 3.5)
    assert list(crosscorpus.calibration_clips(secs, budget=None)) == list(range(44))
    pick = crosscorpus.calibration_clips(secs, budget=30.0, seed=1)
    assert len(pick) == 9 and secs[pick].sum() >= 30 and secs[pick[:-1]].sum() < 30
    assert list(pick) == sorted(pick) and list(pick) == list(
        crosscorpus.calibration_clips(secs, budget=30.0, seed=1)
    )
    assert len(crosscorpus.calibration_clips(secs[:3], budget=30.0)) == 3


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A fake speaker-normalised model (``m_speaker``) and a corpus-normalised one (``m_corpus``)."""
    from tests.test_evaluate import _ship_card

    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    for norm in ("speaker", "corpus"):
        _ship_card(tmp_path / "a" / "models", norm)
    return tmp_path / "a"


def test_cli_evaluate_xcorpus(tmp_path, shipped, capsys):
    from ser_core import cli

    root = make_ravdess(tmp_path / "r", actors=(1, 2), seconds=1.0, full=False)
    args = ["evaluate", "--protocol", "xcorpus", "--ravdess-dir", str(root), "--no-mlflow"]
    assert cli.main([*args, "--model", "m_speaker", "--calibrate", "all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_test"] == 12 and report["n_actors"] == 2 and report["calibration"]["seconds"] == "all"
    for cond in ("uncalibrated", "calibrated"):
        r = report[cond]
        assert 0 <= r["accuracy"] <= 1 and r["ua"] == r["macro_recall"]
        assert np.asarray(r["confusion"]).sum() == 12
    a1 = report["actors"][0]
    assert a1["actor"] == "A01" and a1["n"] == a1["calibration_clips"] == 6 and not a1["adabn"]
    assert report["uncalibrated"]["actor_mean"] == pytest.approx(
        np.mean([a["accuracy"] for a in report["actors"]])
    )

    assert cli.main([*args, "--model", "m_corpus"]) == 0
    out = capsys.readouterr().out
    assert (
        "m_corpus on RAVDESS (12 clips, 2 actors" in out
        and "A02" in out
        and "calibrated per actor" not in out
    )
    assert cli.main([*args, "--model", "m_corpus", "--calibrate"]) == 2
    assert "cannot adapt to a voice" in capsys.readouterr().err
    assert cli.main(["evaluate", "--protocol", "seed", "--calibrate"]) == 2


def test_xcorpus_report_logs_to_mlflow(tmp_path, shipped, monkeypatch):
    import mlflow

    from ser_core import evaluate, tracking

    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "mlflow.db"))
    monkeypatch.setenv("SER_MLFLOW_ARTIFACTS", str(tmp_path / "mlart"))
    meta = data.load_ravdess_metadata(make_ravdess(tmp_path / "r", actors=(1, 2), seconds=1.0, full=False))
    report = evaluate.xcorpus_report("m_speaker", meta, calibrate=True, seconds=5.0)
    assert report["calibration"]["seconds"] == 5.0 and report["actors"][0]["calibration_clips"] == 5
    run = mlflow.MlflowClient(tracking.tracking_uri()).get_run(evaluate.log_xcorpus(report))
    assert run.data.params["model"] == "m_speaker" and run.data.params["calibration_seconds"] == "5.0"
    assert run.data.metrics["calibrated_acc_A02"] == report["actors"][1]["calibrated"]
    assert run.data.metrics["uncalibrated_ua"] == pytest.approx(report["uncalibrated"]["ua"])


@pytest.fixture(scope="module")
def ravdess_dir():
    if not data.ravdess_available():
        pytest.skip(RAVDESS_MISSING)
    return data.find_ravdess()


def test_the_real_copy(ravdess_dir):
    meta = data.load_ravdess_metadata(ravdess_dir)
    assert len(meta) == 1056 and meta["speaker"].nunique() == 24
    assert (meta.groupby("speaker").size() == 44).all()
    counts = meta["emotion"].value_counts().to_dict()
    assert counts == {e: 96 if e == "neutral" else 192 for e in EMOTIONS}
    assert len(data.load_ravdess_metadata(ravdess_dir, emotions="all")) == 1440
    from ser_core.audio import load_audio

    y = load_audio(meta["path"].iloc[0], sr=16_000)  # the Opus copy decodes
    assert 2.9 <= len(y) / 16_000 <= 5.4 and np.abs(y).max() > 0.01


def test_inputs_of_both_corpora_keep_separate_caches(tmp_path, monkeypatch):
    from ser_core import cache, inputs
    from ser_core.runs import TrainConfig

    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    nemo = data.load_metadata(make_corpus(tmp_path / "n", seconds=0.3))
    rav = data.load_ravdess_metadata(
        make_ravdess(tmp_path / "r", actors=(1,), seconds=0.3, full=False, opus=())
    )
    both = data.combined_metadata(nemo, rav)
    x = inputs.model_inputs(both, "features", "rms")
    assert x.shape[0] == len(both)
    np.testing.assert_array_equal(x[: len(nemo)], inputs.model_inputs(nemo, "features", "rms"))
    np.testing.assert_array_equal(x[len(nemo) :], inputs.model_inputs(rav, "features", "rms"))
    nemo_entry, rav_entry = cache.entry_dir("rms"), cache.entry_dir("rms", root=data.ravdess_cache_root())
    assert (nemo_entry / "clips.txt").read_text().split() == list(nemo["file_id"])
    assert (rav_entry / "clips.txt").read_text().split() == list(rav["file_id"])
    tc = TrainConfig(model="logreg", representation="egemaps", norm="speaker", protocol="both_loso", fold=2)
    assert tc.run_name() == "logreg-egemaps-spk-both_loso-fold2"
