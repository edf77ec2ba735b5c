"""ser_core.data: corpus discovery, metadata, protocols, download."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from ser_core import audio, data
from ser_core.config import EMOTIONS
from ser_core.errors import DatasetError, DatasetNotFoundError, DownloadError
from tests.conftest import make_corpus


@pytest.mark.parametrize("layout", ["upstream", "flac"])
def test_both_layouts_load(tmp_path, layout):
    root = make_corpus(tmp_path / layout, layout=layout)
    meta = data.load_metadata(root)
    assert len(meta) == 18
    assert set(meta.speaker) == {"AA0", "BB0", "CC0"}  # leading spaces stripped
    assert not meta.file_id.str.endswith(".wav").any()
    assert meta.path.str.endswith(".wav" if layout == "upstream" else ".flac").all()
    assert meta.label.tolist() == [EMOTIONS.index(e) for e in meta.emotion]
    y = audio.load_audio(meta.path[0])
    assert abs(y.shape[0] - 1.2 * 16_000) < 2  # 24 kHz upstream resampled to 16 kHz


def test_env_variable_and_nested_archive_folder(tmp_path, monkeypatch):
    make_corpus(tmp_path / "dl" / "nEMO-main")
    monkeypatch.setenv("NEMO_DIR", str(tmp_path / "dl"))
    assert data.find_corpus() == (tmp_path / "dl" / "nEMO-main").resolve()
    assert data.corpus_available()


def test_missing_corpus_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NEMO_DIR", str(tmp_path / "nothing"))
    monkeypatch.setattr(data, "project_root", lambda: tmp_path)
    with pytest.raises(DatasetNotFoundError) as e:
        data.load_metadata()
    msg = str(e.value)
    assert "nothing" in msg and "NEMO_DIR" in msg and "amu-cai/nEMO" in msg
    assert not data.corpus_available()


def test_missing_audio_and_bad_tsv(tmp_path):
    root = make_corpus(tmp_path / "c")
    next((root / "samples").iterdir()).unlink()
    with pytest.raises(DatasetError, match="no audio"):
        data.load_metadata(root)
    (root / "data.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DatasetError, match="lacks columns"):
        data.load_metadata(root)


def test_seed_split_is_a_stratified_partition(meta):
    table = data.make_seed_split(meta)
    counts = table.split.value_counts()
    assert counts.sum() == len(meta) == 4481
    assert abs(counts["test"] / len(meta) - 0.20) < 0.005
    assert abs(counts["val"] / len(meta) - 0.16) < 0.005
    # stratified: every part has each emotion in the corpus proportion (within 1 point)
    overall = meta.emotion.value_counts(normalize=True)
    for part in ("train", "val", "test"):
        frac = table[table.split == part].emotion.value_counts(normalize=True)
        assert (frac - overall).abs().max() < 0.01


def test_saved_splits_reproduce_and_partition(meta, tmp_path):
    fresh = data.save_splits(meta, directory=tmp_path)
    for name in ("seed", "loso"):
        committed = data.load_split(name)
        regenerated = pd.read_csv(fresh[name], dtype=str)
        pd.testing.assert_frame_equal(committed, regenerated)
    s = data.split_indices(meta, "seed")
    parts = [set(s.train), set(s.val), set(s.test)]
    assert sum(map(len, parts)) == len(meta) and len(set().union(*parts)) == len(meta)


def test_loso_holds_speakers_out(meta):
    speakers = sorted(meta.speaker.unique())
    assert data.n_folds("loso") == len(speakers) == 9
    tested = np.zeros(len(meta), int)
    for k in range(9):
        s = data.split_indices(meta, "loso", fold=k)
        test_spk = set(meta.speaker.iloc[s.test])
        val_spk = set(meta.speaker.iloc[s.val])
        train_spk = set(meta.speaker.iloc[s.train])
        assert test_spk == {speakers[k]}
        assert len(val_spk) == 1 and not val_spk & test_spk
        assert not train_spk & (test_spk | val_spk)
        assert len(s.train) + len(s.val) + len(s.test) == len(meta)
        tested[s.test] += 1
    assert (tested == 1).all()  # every clip is tested exactly once


def test_too_small_corpus_cannot_be_split(tiny_corpus):
    with pytest.raises(DatasetError, match="18 clips"):
        data.make_seed_split(data.load_metadata(tiny_corpus))


def test_split_of_another_corpus_is_refused(tiny_corpus):
    meta = data.load_metadata(tiny_corpus)
    with pytest.raises(DatasetError, match="not in the seed split"):
        data.split_indices(meta, "seed")


def test_download_offline_fails_clearly(tmp_path):
    with pytest.raises(DownloadError) as e:
        data.download(tmp_path / "nEMO", url="http://127.0.0.1:9/nemo.zip", timeout=5)
    assert "127.0.0.1:9" in str(e.value) and "online" in str(e.value)
    assert not (tmp_path / "nEMO").exists()


def test_download_unpacks_an_archive(tmp_path):
    src = make_corpus(tmp_path / "src" / "nEMO-main")
    archive = tmp_path / "nemo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src.rglob("*"):
            zf.write(p, p.relative_to(tmp_path / "src"))
    root = data.download(tmp_path / "out" / "nEMO", url=archive.as_uri())
    assert len(data.load_metadata(root)) == 18
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="zip"):
        data.download(tmp_path / "out2", url=bad.as_uri())


def test_real_corpus_metadata(meta):
    assert len(meta) == 4481 and meta.speaker.nunique() == 9
    assert set(meta.emotion) == set(EMOTIONS)
    assert meta.sentence_id.nunique() == 90
    assert meta.file_id.is_unique
