"""``train --conditions``: recording conditions as augmentation (ser_core.conditioned)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import cache, conditioned, data, evaluate, inputs, models, train
from ser_core import conditions as cond
from ser_core import leaderboard as lb
from ser_core.errors import ConfigError
from ser_core.runs import predictions_name

CONDITIONS = ("pink_10db", "telephone")


@pytest.fixture
def tiny_env(tmp_path, monkeypatch):
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=5, seconds=0.8))
    data.save_splits(meta, directory=tmp_path / "splits")
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))  # the splits are tmp_path/splits
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "mlflow.db"))
    monkeypatch.setenv("SER_MLFLOW_ARTIFACTS", str(tmp_path / "mlart"))
    # a few dozen copies: in this process (a worker pool costs more than it saves here)
    monkeypatch.setattr(cache, "MIN_CLIPS_PER_WORKER", 10**6)
    return meta, tmp_path / "splits"


def _copy_files(tmp_path) -> dict:
    return {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / conditioned.FOLDER).rglob("*.npy")}


def test_a_conditions_run_is_logged_cached_and_repeatable(tiny_env, tmp_path, monkeypatch):
    from ser_core.cli import main

    meta, splits = tiny_env
    argv = [
        *("train", "--nemo-dir", str(tmp_path / "c"), "--protocol", "loso", "--fold", "0"),
        *("--norm", "speaker", "--epochs", "1", "--width", "8", "--batch-size", "8"),
        *("--conditions", *CONDITIONS, "--condition-prob", "0.7", "--condition-copies", "2"),
        *("--ship", "cond", "--ship-dir", str(tmp_path / "held")),
    ]
    assert main(argv) == 0
    card = models.load("cond", directory=tmp_path / "held").card
    t = card["training"]
    assert t["conditions"] == list(CONDITIONS) and t["condition_prob"] == 0.7 and t["condition_copies"] == 2
    assert "statistics under that condition" in t["conditions_normalisation"]
    assert "--conditions pink_10db telephone --condition-prob 0.7" in card["reproduce"]
    # MLflow: the parameters, and an input tag of its own
    runs = lb.load_runs()
    row = runs.iloc[0]
    assert row["input"] == "mel-spk+cond" and row["params"]["condition_prob"] == "0.7"
    assert "pink_10db" in row["params"]["conditions"]
    # the plain recipe's LOSO lookup does not take it; its own recipe's does
    assert evaluate._fold_runs(runs, "resnet18", "mel-spk").empty
    assert len(evaluate._fold_runs(runs, "resnet18", evaluate._input_tag(card))) == 1
    # K copies of every training clip, cached per condition, seed and representation
    split = data.split_indices(meta, "loso", fold=0, directory=splits)
    files = _copy_files(tmp_path)
    assert len(files) == 2 * len(split.train)
    assert {p.parent.parent.name for p in files} <= {"pink_10db-s0", "telephone-s0"}
    assert all(p.parent.name.startswith("mel-") for p in files)
    # its held-out predictions keep apart from the plain recipe's
    saved = np.load(tmp_path / "predictions" / "resnet18-mel-spk-loso-fold0-cond.npz")
    assert not (tmp_path / "predictions" / "resnet18-mel-spk-loso-fold0.npz").exists()

    # the same recipe again: nothing rendered (the copies are read back), the same model
    def no_render(*args, **kwargs):
        raise AssertionError("a cached copy was rendered again")

    monkeypatch.setattr(cond, "render", no_render)
    tc = train.TrainConfig(
        protocol="loso",
        norm="speaker",
        epochs=1,
        width=8,
        batch_size=8,
        conditions=CONDITIONS,
        condition_prob=0.7,
    )
    again = train.train(tc, meta, splits_dir=splits, log_mlflow=False, progress=False)
    np.testing.assert_array_equal(again.predictions["test_logits"], saved["test_logits"])
    assert _copy_files(tmp_path) == files  # not rewritten either


def test_copies_are_seeded_and_normalised_per_speaker_and_condition(tiny_env, monkeypatch):
    meta, splits = tiny_env
    split = data.split_indices(meta, "loso", fold=0, directory=splits)
    spk = meta["speaker"].astype(str).to_numpy()
    seen = []
    pool = cond.babble_pool

    def spy(m, *, exclude_speakers, **kw):
        seen.append(set(exclude_speakers))
        return pool(m, exclude_speakers=exclude_speakers, **kw)

    monkeypatch.setattr(cond, "babble_pool", spy)
    rows = split.train[:6]
    kw = dict(kind="features", representation="mel", conditions=("babble_10db", "telephone"), copies=2)
    x = conditioned.training_copies(meta, rows, split=split, seed=0, norm=None, **kw)
    # babble never holds a validation or test voice
    assert seen == [set(spk[split.val]) | set(spk[split.test])]
    assert x.shape[:2] == (6, 2) and x.dtype == np.float16
    # each (speaker, condition) group normalised with its own statistics: zero mean per bin
    _, names = conditioned.conditioned_inputs(meta, rows, seed=0, exclude_speakers=seen[0], **kw)
    for c in set(names.ravel()):
        group = x[names == c].astype(np.float32)
        assert np.abs(group.mean(axis=(0, 3))).max() < 1e-2
    # a seed draws the same copies; another seed other ones, cached apart
    raw, _ = conditioned.conditioned_inputs(meta, rows, seed=0, exclude_speakers=[], **kw)
    assert np.array_equal(
        raw, conditioned.conditioned_inputs(meta, rows, seed=0, exclude_speakers=[], **kw)[0]
    )
    other, _ = conditioned.conditioned_inputs(meta, rows, seed=1, exclude_speakers=[], **kw)
    assert not np.array_equal(raw, other)
    # a copy is featurised exactly as the clean cache featurises its clip
    kw["conditions"], kw["copies"] = ("clean",), 1
    same, _ = conditioned.conditioned_inputs(meta, rows, seed=0, exclude_speakers=[], **kw)
    np.testing.assert_array_equal(same[:, 0], inputs.model_inputs(meta, "features", "mel")[rows])


def test_swap_copies_replaces_with_the_given_probability():
    x = np.zeros((1000, 3), np.float32)
    copies = np.stack([np.full((1000, 3), 1.0), np.full((1000, 3), 2.0)], axis=1)
    out = conditioned.swap_copies(x.copy(), copies, prob=0.3, rng=np.random.default_rng(0))
    swapped = out[:, 0] > 0
    assert 0.25 < swapped.mean() < 0.35 and set(np.unique(out[swapped, 0])) == {1.0, 2.0}
    again = conditioned.swap_copies(x.copy(), copies, prob=0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"conditions": ("pink_10db", "nope")}, "nope.*telephone"),  # the valid names listed
        ({"conditions": ("babble_10db",)}, "held-out speakers"),  # every seed voice is tested
        ({"conditions": ("telephone",), "condition_prob": 0.0}, "condition_prob"),
        ({"conditions": ("telephone",), "condition_copies": 0}, "condition_copies"),
        ({"conditions": ("telephone",), "model": "wave_cnn"}, "representations and functionals"),
    ],
)
def test_bad_conditions_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        train.TrainConfig(**bad)


def test_plain_runs_keep_their_names_and_a_list_is_a_tuple():
    plain = train.TrainConfig(norm="speaker", protocol="loso", fold=3)
    assert plain.conditions == () and plain.tag == "mel-spk"
    assert predictions_name(plain) == "resnet18-mel-spk-loso-fold3"
    tc = train.TrainConfig(norm="speaker", protocol="loso", fold=3, seed=1, conditions=["telephone"])
    assert tc.conditions == ("telephone",) and tc.tag == "mel-spk+cond"
    assert tc.run_name() == "resnet18-mel-spk+cond-loso-fold3-s1"  # #28: the seed in the name
    assert predictions_name(tc) == "resnet18-mel-spk-loso-fold3-s1-cond"
    card = {"input": {"name": "mel"}, "normalization": {"kind": "speaker"}, "training": {"conditions": []}}
    assert evaluate._input_tag(card) == "mel-spk"
    card["training"]["conditions"] = ["telephone"]
    assert evaluate._input_tag(card) == "mel-spk+cond"
