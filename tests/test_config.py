"""ser_core.config: the audio contract."""

import dataclasses

import pytest

from ser_core.config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig
from ser_core.errors import ConfigError


def test_contract():
    assert EMOTIONS == ("anger", "fear", "happiness", "neutral", "sadness", "surprised")
    c = DEFAULT_CONFIG
    assert (c.sr, c.duration, c.n_samples, c.n_frames) == (16_000, 3.0, 48_000, 188)


def test_frozen_and_hashable():
    c = FeatureConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.sr = 8000  # type: ignore[misc]
    assert hash(c) == hash(FeatureConfig()) and c.digest() == FeatureConfig().digest()
    assert c.replace(n_mels=64).digest() != c.digest()


@pytest.mark.parametrize(
    "bad", [dict(sr=0), dict(duration=0), dict(align="left"), dict(hop_length=2048), dict(fmax=9000.0)]
)
def test_invalid_values_name_themselves(bad):
    with pytest.raises(ConfigError) as e:
        FeatureConfig(**bad)
    assert repr(next(iter(bad.values()))) in str(e.value)
