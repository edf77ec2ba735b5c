"""ser_core.live: the rolling buffer of the live microphone and the prediction history."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ser_core.config import EMOTIONS
from ser_core.errors import AudioTooShortError, ConfigError
from ser_core.live import (
    LivePredictor,
    RollingBuffer,
    frame_to_array,
    ice_servers,
    to_mono_float,
)
from ser_core.live_batch import LiveBatcher
from tests.threads import run_alongside

SR_IN = 48_000
FRAME = 960  # 20 ms at 48 kHz, what WebRTC (Opus) delivers
#: The streaming soxr resampler emits in blocks and holds back up to ~40 ms.
LAG = 0.05


def sine(seconds: float, freq: float = 440.0, sr: int = SR_IN, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def frames(y: np.ndarray, size: int = FRAME):
    for i in range(0, len(y), size):
        yield y[i : i + size]


def peak_hz(y: np.ndarray, sr: int = 16_000) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)])


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))


# ----------------------------------------------------------------- sample conversion
def test_to_mono_float_formats():
    left, right = np.array([16384, -32768], np.int16), np.array([0, 0], np.int16)
    inter = np.column_stack([left, right]).ravel()  # L R L R
    np.testing.assert_allclose(to_mono_float(inter, channels=2), [0.25, -0.5])
    np.testing.assert_allclose(to_mono_float(np.column_stack([left, right])), [0.25, -0.5])
    np.testing.assert_allclose(to_mono_float(left), [0.5, -1.0])
    np.testing.assert_allclose(to_mono_float(np.array([0.5, -0.25], np.float64)), [0.5, -0.25])
    np.testing.assert_allclose(to_mono_float(np.array([1 << 30], np.int32)), [0.5])
    assert to_mono_float(left).dtype == np.float32
    with pytest.raises(ValueError, match="channels"):
        to_mono_float(np.zeros(5, np.int16), channels=2)


@pytest.mark.parametrize(
    "fmt,layout",
    [("s16", "stereo"), ("s16", "mono"), ("fltp", "stereo"), ("s16p", "stereo"), ("flt", "mono")],
)
def test_frame_to_array_packed_and_planar(fmt, layout):
    av = pytest.importorskip("av")
    channels = 2 if layout == "stereo" else 1
    dtype = np.int16 if fmt.startswith("s16") else np.float32
    data = np.arange(FRAME * channels).reshape(FRAME, channels).astype(dtype)  # (n, channels)
    planar = fmt.endswith("p")
    arr = data.T if planar else data.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=layout)
    frame.sample_rate = SR_IN
    out, sr = frame_to_array(frame)
    assert sr == SR_IN and out.shape == (FRAME, channels)
    np.testing.assert_array_equal(out, data)


# ----------------------------------------------------------------- rolling buffer
def test_keeps_exactly_the_last_3_s_at_16k():
    buf = RollingBuffer(seconds=3.0, sr=16_000)
    ramp = np.arange(5 * 16_000, dtype=np.float32)
    for f in frames(ramp, 320):  # 16 kHz in: no resampling, the exact samples come back
        buf.push(f, 16_000)
    w = buf.window()
    assert w.shape == (48_000,) and w.dtype == np.float32
    np.testing.assert_array_equal(w, ramp[-48_000:])
    assert buf.seconds == 3.0 and buf.total_seconds == 5.0
    buf.push(ramp[:7], 16_000)  # wrap-around mid-ring keeps the order
    np.testing.assert_array_equal(buf.window(), np.concatenate([ramp[-48_000 + 7 :], ramp[:7]]))


def test_partial_buffer_and_huge_frame():
    buf = RollingBuffer(seconds=3.0)
    buf.push(np.ones(1000, np.float32), 16_000)
    assert buf.window().shape == (1000,) and buf.seconds == 1000 / 16_000
    big = np.arange(100_000, dtype=np.float32)
    buf.push(big, 16_000)  # one frame longer than the buffer
    np.testing.assert_array_equal(buf.window(), big[-48_000:])
    buf.clear()
    assert buf.window().shape == (0,) and buf.total_seconds == 0


@pytest.mark.parametrize("kind", ["int16_stereo", "int16_mono", "float_stereo", "float_mono"])
def test_48k_frames_become_16k_mono(kind):
    y = sine(5.0)  # 440 Hz at 0.5
    if kind.startswith("int16"):
        y = np.round(y * 32767).astype(np.int16)
    stereo = kind.endswith("stereo")
    buf = RollingBuffer()
    for f in frames(y):
        if stereo:  # interleaved L R, the right channel silent: the mono mix halves
            buf.push(np.column_stack([f, np.zeros_like(f)]).ravel(), SR_IN, channels=2)
        else:
            buf.push(f, SR_IN)
    w = buf.window()
    assert w.shape == (48_000,) and w.dtype == np.float32
    assert 0 <= 5.0 - buf.total_seconds < LAG  # the resampler holds back a few ms
    assert abs(peak_hz(w) - 440) < 2
    expected = 0.5 / np.sqrt(2) * (0.5 if stereo else 1.0)
    assert abs(rms(w) - expected) < 0.01 * expected


def test_resampling_is_continuous_across_frames():
    """A streaming resampler: frame edges leave no clicks (compare with one-shot)."""
    import soxr

    y = sine(4.0, freq=300.0)
    buf = RollingBuffer()
    for f in frames(y, 441):  # odd frame size: 441 samples are 147 at 16 kHz
        buf.push(f, SR_IN)
    ref = soxr.resample(y, SR_IN, 16_000, quality="HQ")
    w = buf.window()
    lag = int(round(16_000 * 4.0)) - int(round(buf.total_seconds * 16_000))
    seg = ref[len(ref) - lag - len(w) : len(ref) - lag]
    assert np.abs(w[100:-100] - seg[100:-100]).max() < 1e-3
    assert np.abs(np.diff(w)).max() < 2 * np.abs(np.diff(ref)).max()


def test_rate_change_restarts_the_resampler():
    buf = RollingBuffer()
    for f in frames(sine(1.0, sr=44_100), 441):
        buf.push(f, 44_100)
    for f in frames(sine(3.0)):
        buf.push(f, SR_IN)
    assert abs(peak_hz(buf.window()) - 440) < 2 and 0 <= 4.0 - buf.total_seconds < 2 * LAG


def test_concurrent_pushes_and_reads():
    buf = RollingBuffer()
    n_threads, per_thread = 4, 200
    errors: list[BaseException] = []
    frame = np.full(FRAME, 1000, np.int16)

    def writer():
        try:
            for _ in range(per_thread):
                buf.push(frame, SR_IN)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader(stop):
        try:
            while not stop.is_set():
                w = buf.window()
                assert w.ndim == 1 and len(w) <= buf.capacity
                assert np.isfinite(w).all()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    run_alongside([writer] * n_threads, [reader] * 2)
    assert not errors, errors
    total_in = n_threads * per_thread * FRAME / SR_IN  # 16 s of audio
    assert 0 <= total_in - buf.total_seconds < LAG  # nothing lost, nothing doubled
    w = buf.window()
    assert w.shape == (48_000,)
    np.testing.assert_allclose(w[100:-100], 1000 / 32768, atol=1e-3)  # constant in, constant out


# ----------------------------------------------------------------- live predictor
class FakeModel:
    """Probabilities that say how loud the window was and how long (for checks)."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, y: np.ndarray) -> np.ndarray:
        self.calls.append(len(y))
        p = np.full(len(EMOTIONS), 0.1, np.float32)
        p[0 if rms(y) > 0.1 else 3] = 0.5  # loud: anger, quiet: neutral
        return p


def test_live_predictor_history():
    model = FakeModel()
    live = LivePredictor(model, min_new=0.25, min_seconds=0.5)
    assert live.step() is None and live.latest is None  # nothing buffered
    t, p = live.history()
    assert t.shape == (0,) and p.shape == (0, 6)
    live.buffer.push(sine(0.3, sr=16_000), 16_000)
    assert live.step() is None  # under min_seconds
    live.buffer.push(sine(0.3, sr=16_000), 16_000)
    first = live.step()
    assert first is not None and first.label == "anger" and abs(first.time - 0.6) < 1e-6
    assert live.step() is None  # no new audio since
    assert live.step(force=True) is not None
    live.buffer.push(np.zeros(16_000 * 4, np.float32), 16_000)  # 4 s of silence
    quiet = live.step()
    assert quiet.label == "neutral" and quiet.rms == 0.0 and quiet.confidence == 0.5
    assert model.calls == [9600, 9600, 48_000]  # the window grows to 3 s and stays there
    times, probs = live.history()
    np.testing.assert_allclose(times, [0.6, 0.6, 4.6])
    assert probs.shape == (3, 6) and len(live) == 3
    live.reset()
    assert len(live) == 0 and live.buffer.total_seconds == 0


def test_live_predictor_twice_a_second_from_frames():
    """Polled after every 0.5 s of 48 kHz frames, it predicts each time from the second
    poll on (at the first, under 0.5 s has come out of the resampler), on the last 3 s."""
    model = FakeModel()
    live = LivePredictor(model)
    y = sine(6.0)
    per_poll = int(0.5 * SR_IN)
    for i in range(0, len(y), per_poll):
        for f in frames(y[i : i + per_poll]):
            live.buffer.push(f, SR_IN)
        live.step()
    times, probs = live.history()
    assert len(times) == 11 and np.all(np.diff(times) > 0.45) and times[0] > 0.9
    assert model.calls[-1] == 48_000 and (probs.argmax(1) == 0).all()


def test_history_is_bounded():
    live = LivePredictor(FakeModel(), min_new=0.0, min_seconds=0.0, max_history=5)
    for _ in range(8):
        live.buffer.push(np.ones(160, np.float32), 16_000)
        live.step()
    assert len(live) == 5 and live.history()[0][0] == pytest.approx(0.04)


def test_concurrent_frames_and_steps():
    live = LivePredictor(FakeModel(), min_new=0.0)
    done = threading.Event()

    def feed():
        for f in frames(sine(8.0)):
            live.buffer.push(f, SR_IN)
        done.set()

    t = threading.Thread(target=feed)
    t.start()
    while not done.is_set():
        live.step()
    t.join()
    live.step()
    times, probs = live.history()
    assert len(times) >= 1 and np.all(np.diff(times) >= 0) and probs.shape[1] == 6


# ----------------------------------------------------------------- the shared batcher
class ManyModel(FakeModel):
    """A model with ``predict_many``: records the size of every batch."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def predict_many(self, waveforms):
        self.batches.append(len(waveforms))
        return np.stack([self(y) for y in waveforms])


def _talking(model, seconds=1.0, amp=0.5, **kwargs):
    live = LivePredictor(model, predict_many=getattr(model, "predict_many", None), **kwargs)
    live.buffer.push(sine(seconds, sr=16_000, amp=amp), 16_000)
    return live


def test_batcher_predicts_sessions_sharing_a_model_in_one_call():
    shared, other = ManyModel(), FakeModel()
    loud, quiet = _talking(shared), _talking(shared, amp=0.01)
    alone = _talking(other)
    batcher = LiveBatcher()
    for s in (loud, quiet, alone):
        batcher.add(s)
    assert len(batcher) == 3 and loud in batcher
    assert batcher.tick() == 3
    assert shared.batches == [2] and len(other.calls) == 1  # one batch of two; one by one
    assert loud.latest.label == "anger" and quiet.latest.label == "neutral" and alone.latest.label == "anger"
    assert loud.latest.time == pytest.approx(1.0)
    assert batcher.tick() == 0  # no new audio: nothing is predicted again
    loud.buffer.push(sine(0.5, sr=16_000), 16_000)
    assert batcher.tick() == 1 and shared.batches == [2, 1] and len(loud) == 2
    batcher.discard(quiet)
    quiet.buffer.push(sine(1.0, sr=16_000), 16_000)
    assert batcher.tick() == 0 and len(quiet) == 1  # STOP: no longer predicted


def test_a_crowd_is_re_predicted_less_often():
    """Past ``crowd`` sessions, each is re-predicted every ``crowd_every`` s of audio at most,
    whatever it asks; alone again, at its own pace."""
    a, b = _talking(ManyModel(), min_new=0.5), _talking(ManyModel(), min_new=0.5)
    batcher = LiveBatcher(crowd=1, crowd_every=0.9)
    batcher.add(a)
    batcher.add(b)
    assert batcher.crowded and batcher.tick() == 2
    for s in (a, b):
        s.buffer.push(sine(0.5, sr=16_000), 16_000)
    assert batcher.tick() == 0  # 0.5 s new: enough alone, not in a crowd
    for s in (a, b):
        s.buffer.push(sine(0.4, sr=16_000), 16_000)
    assert batcher.tick() == 2 and a.latest.time == pytest.approx(1.9)
    batcher.discard(b)
    a.buffer.push(sine(0.5, sr=16_000), 16_000)
    assert not batcher.crowded and batcher.tick() == 1


def test_batcher_gives_the_same_points_as_stepping_alone():
    a, b = _talking(ManyModel(), 2.0), _talking(ManyModel(), 2.0)
    batcher = LiveBatcher()
    batcher.add(a)
    batcher.tick()
    b.step()
    assert a.latest.time == b.latest.time and a.latest.rms == b.latest.rms
    np.testing.assert_array_equal(a.latest.probs, b.latest.probs)


def test_batcher_forgets_a_session_that_is_gone():
    batcher = LiveBatcher()
    batcher.add(_talking(ManyModel()))  # nothing else holds it: a session released by the server
    import gc

    gc.collect()
    assert len(batcher) == 0 and batcher.tick() == 0


def test_a_failing_model_is_one_sentence_for_its_sessions_only():
    class Broken(ManyModel):
        def predict_many(self, waveforms):
            raise AudioTooShortError("compare functionals need at least 0.1 s of audio, got 0.00 s")

    broken, fine = _talking(Broken()), _talking(ManyModel())
    batcher = LiveBatcher()
    batcher.add(broken)
    batcher.add(fine)
    assert batcher.tick() == 1
    assert broken.latest is None and broken.failure.startswith("The live prediction failed: compare")
    assert fine.latest is not None and fine.failure == ""


def test_a_window_taken_before_a_reset_is_not_recorded():
    live = _talking(ManyModel())
    window = live.take()
    assert live.take() is None  # taken once
    live.reset()
    assert live.record(window, np.full(6, 1 / 6)) is None and len(live) == 0
    live.buffer.push(sine(1.0, sr=16_000), 16_000)
    assert live.take() is not None  # the new session starts afresh


def test_the_batcher_thread_keeps_every_session_updating():
    model = ManyModel()
    sessions = [_talking(model, 0.0, min_new=0.25) for _ in range(5)]
    batcher = LiveBatcher(interval=0.01, crowd=5)
    for s in sessions:
        batcher.add(s)
    batcher.start()
    batcher.start()  # a second start does nothing
    try:
        for _ in range(4):
            for s in sessions:
                s.buffer.push(sine(0.5, sr=16_000), 16_000)
            deadline = threading.Event()
            for _ in range(200):
                if all(len(s) >= 1 and s.latest.time >= s.buffer.total_seconds - 1e-6 for s in sessions):
                    break
                deadline.wait(0.01)
    finally:
        batcher.stop()
    assert all(len(s) == 4 for s in sessions)  # one point per half second of audio each
    assert sum(model.batches) == 20  # each window predicted once
    assert batcher.last_round[1] >= 1


# ----------------------------------------------------------------- settings
def test_ice_servers(monkeypatch):
    monkeypatch.delenv("SER_ICE_SERVERS", raising=False)
    assert ice_servers() == []  # none by default: localhost needs none
    monkeypatch.setenv("SER_ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    assert ice_servers() == [{"urls": ["stun:stun.example.org:3478"]}]
    assert (
        ice_servers({"urls": "turn:t.example.org", "username": "u", "credential": "c"})[0]["username"] == "u"
    )
    monkeypatch.setenv("SER_ICE_SERVERS", "  ")
    assert ice_servers() == []
    for bad in ("{oops", '"stun:x"', '[{"username": "u"}]'):
        with pytest.raises(ConfigError):
            ice_servers(bad)


# ----------------------------------------------------------------- on-the-fly adaptation
class FakeAdaptable:
    """A speaker-normalised model stand-in: 'anger' unadapted, 'sadness' once adapted
    (and the profile it was adapted with)."""

    from ser_core.config import DEFAULT_CONFIG as cfg

    def __init__(self, profile=None):
        self.profile = profile

    def needed_representations(self):
        return ["mel"]

    def profile_representations(self):
        return self.needed_representations()

    def adapted(self, profile):
        return FakeAdaptable(profile)

    def adaptation(self):
        return "Not adapted to this voice." if self.profile is None else "Adapted."

    def predict(self, y):
        p = np.zeros(len(EMOTIONS), np.float32)
        p[4 if self.profile is not None else 0] = 1.0
        return p


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    from tests.test_adapt import _speech as speech

    return speech(seconds, seed=seed)


def _stream(adapter, y, sizes):
    """Push ``y`` through a 16-kHz rolling buffer in blocks, observing after each."""
    buf = RollingBuffer()
    i = k = 0
    while i < len(y):
        n = int(sizes[k % len(sizes)])
        buf.push(y[i : i + n], 16_000)
        adapter.observe(*buf.snapshot())
        i, k = i + n, k + 1
    return buf


def test_online_adapter_converges_to_the_batch_statistics():
    """Blocks of irregular sizes; each frame counted once; the running estimates match
    the statistics of a calibration of the same audio (voice_profile)."""
    from ser_core import adapt
    from ser_core.live import OnlineAdapter

    y = _speech(20.0, seed=2)
    ad = OnlineAdapter(FakeAdaptable(), warmup=10.0)
    sizes = np.random.default_rng(0).integers(300, 9000, 50)
    buf = _stream(ad, y, sizes)
    hop, n_fft = ad.cfg.hop_length, ad.cfg.n_fft
    # one frame per hop, none twice; audio before the first full 3-s window (at most one
    # block) is not seen
    frames = ad.running["mel"].frames
    assert (len(y) - n_fft - sizes.max()) // hop <= frames <= (len(y) - n_fft) // hop
    assert ad.observe(*buf.snapshot()) == 0  # the same window again adds nothing
    batch = adapt.voice_profile(y).stats["mel"]
    got = ad.profile().stats["mel"]
    assert np.abs(got.mean - batch.mean).max() < 0.15 * batch.std.min()
    ratio = got.std / batch.std
    assert ratio.min() > 0.9 and ratio.max() < 1.1
    # another block pattern gives the same frames (the frame grid follows the stream)
    ad2 = OnlineAdapter(FakeAdaptable())
    _stream(ad2, y, [4000])
    np.testing.assert_allclose(ad2.profile().stats["mel"].mean, got.mean, atol=0.5)  # dB


def test_online_adapter_skips_silence_and_waits_for_the_warmup():
    from ser_core.live import OnlineAdapter

    ad = OnlineAdapter(FakeAdaptable(), warmup=5.0)
    _stream(ad, np.zeros(16_000 * 8, np.float32), [8000])
    assert ad.seconds == 0 and not ad.ready and "Warming up: 0 of 5 s" in ad.status()
    with pytest.raises(Exception, match="empty"):
        ad.profile()
    live = LivePredictor(FakeAdaptable().predict, min_new=0.0, adapter=ad)
    y = _speech(9.0)
    labels, seconds = [], []
    for i in range(0, len(y), 8000):
        live.buffer.push(y[i : i + 8000], 16_000)
        p = live.step()
        labels.append(p.label)
        seconds.append((ad.seconds, p.adapted))
    # unadapted until 5 s of speech were counted, adapted from then on
    assert all(lab == "anger" and not a for lab, (s, a) in zip(labels, seconds) if s < 5.0)
    assert labels[-1] == "sadness" and seconds[-1][1] and seconds[-1][0] >= 5.0
    assert ad.current().profile.name == "live" and "Adapted on the fly" in ad.status()
    live.reset()  # a new session starts afresh
    assert ad.seconds == 0 and not ad.ready


def test_online_adapter_with_a_model_that_cannot_adapt():
    from ser_core.live import OnlineAdapter

    class Corpus(FakeAdaptable):
        def needed_representations(self):
            return []

        def adaptation(self):
            return "This model uses corpus-level normalisation; it cannot adapt to a voice."

    ad = OnlineAdapter(Corpus(), warmup=1.0)
    _stream(ad, _speech(6.0), [4000])
    assert not ad.can_adapt and not ad.ready and ad.current().profile is None
    assert "cannot adapt" in ad.status()
    ad.use(FakeAdaptable())  # other representations: statistics start afresh
    assert ad.can_adapt and ad.seconds == 0


def test_the_whole_session_is_pooled_by_loudness():
    """After STOP the page shows the last label and this pooled one (issue #28)."""
    live = LivePredictor(FakeModel(), min_new=0.0)
    assert live.overall() is None
    live.buffer.push(sine(0.6, sr=16_000), 16_000)  # loud: anger
    live.step()
    live.buffer.push(np.full(16_000 * 3, 1e-3, np.float32), 16_000)  # a quiet 3 s: neutral
    live.step()
    assert live.latest.label == "neutral"
    overall = live.overall()
    assert overall.shape == (6,) and EMOTIONS[int(overall.argmax())] == "anger"  # the loud one counts more
    rms = np.array([p.rms for p in [*live._history]])
    _, probs = live.history()
    np.testing.assert_allclose(overall, (probs * rms[:, None]).sum(0) / rms.sum(), rtol=1e-5)


def test_on_the_fly_status_says_it_replaced_a_calibration():
    from types import SimpleNamespace

    from ser_core.live import OnlineAdapter

    ad = OnlineAdapter(FakeAdaptable(profile=SimpleNamespace(name="ala")), warmup=1.0)
    assert ad.status() == "Warming up: 0 of 1 s of speech heard; until then, your calibration is used."
    _stream(ad, _speech(5.0), [4000])
    assert ad.ready and ad.status().endswith("in this session, in place of your calibration 'ala'.")
    plain = OnlineAdapter(FakeAdaptable(), warmup=1.0)
    assert plain.status().endswith("until then, the model is not adapted.")
    _stream(plain, _speech(5.0), [4000])
    assert plain.status().endswith("speech in this session.")
