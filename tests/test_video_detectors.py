"""Video detectors on a seeded synthetic scene (squares drifting over a texture): a square
moving 4x too fast and a new shape (a dark cross) are ranked above normal frames and the maps
peak on them; the stream equals batch scoring; bad input is a clear ValueError; save/load."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import adgdm
from adgdm.data.video import Clip
from adgdm.data.video_synth import moving_squares

FAST = {
    "video-diff": dict(size=None),
    "video-ideal": dict(size=None, max_locations=5000),
    "video-pred": dict(size=None, width=32, max_steps=1000, noise_levels=(0.05, 0.1, 0.2), max_level=0.3),
    "video-image": dict(size=None, max_train_frames=120,
                        image_params=dict(width=8, mults=(1, 2), max_steps=150, batch_size=8, train_crop=32)),
}
# what each detector must catch: motion-only misses a new shape, appearance-only a fast square
CATCHES = {"video-diff": ("fast",), "video-image": ("shape",), "video-ideal": ("fast", "shape"),
           "video-pred": ("fast",)}
# share of anomalous frames whose map maximum lies on the object (chance: about 0.08). video-pred's
# maps on this small scene (6 x 8 locations) often peak on a normal square instead: a known
# weakness, kept visible here rather than hidden
PEAK = {"video-diff": 0.6, "video-image": 0.4, "video-ideal": 0.3, "video-pred": 0.15}


@pytest.fixture(scope="module")
def train():
    return [moving_squares(60, seed=s)[0] for s in range(5)]


@pytest.fixture(scope="module")
def tests():
    return {a: moving_squares(60, seed=10, anomaly=a) for a in ("fast", "shape")}


@pytest.fixture(scope="module", params=list(FAST))
def fitted(request, train):
    return request.param, adgdm.make_detector(request.param, random_state=0, **FAST[request.param]).fit(train)


def _peak_hits(maps, labels, boxes, margin=4):
    hits = []
    for t in np.where(labels)[0]:
        r, c = np.unravel_index(int(maps[t].argmax()), maps[t].shape)
        hits.append(boxes[t, 0] - margin <= r < boxes[t, 2] + margin and boxes[t, 1] - margin <= c < boxes[t, 3] + margin)
    return float(np.mean(hits))


def test_anomalies_rank_high_and_maps_peak_on_them(fitted, tests):
    name, det = fitted
    for kind in CATCHES[name]:
        x, y, boxes = tests[kind]
        s, maps = det.score_maps(x)
        assert s.shape == (len(x),) and maps.shape == x.shape
        auc = roc_auc_score(y, s)
        assert auc > 0.75, (name, kind, auc)
        hits = _peak_hits(maps, y, boxes)
        assert hits >= PEAK[name], (name, kind, hits)


def test_stream_equals_batch(fitted, tests):
    name, det = fitted
    det = det.set_params(smooth_frames=3)
    try:
        x = tests["fast"][0][:25]
        batch, bmaps = det.score_maps(x)
        st = det.stream()
        parts, maps = [], []
        for a, b in ((0, 1), (1, 2), (2, 9), (9, 10), (10, 25)):
            s, m = st.update(x[a:b], maps=True)
            parts.append(s)
            maps.append(m)
        np.testing.assert_allclose(np.concatenate(parts), batch, rtol=1e-5, atol=1e-6)  # float32 rounding of batched convolutions
        np.testing.assert_allclose(np.concatenate(maps), bmaps, rtol=0, atol=1e-3 * np.abs(bmaps).max())
    finally:
        det.set_params(smooth_frames=1)


def test_causal_smoothing_is_a_trailing_mean(fitted, tests):
    name, det = fitted
    x = tests["fast"][0][:20]
    raw = det.decision_function(x)
    det.set_params(smooth_frames=4)
    try:
        sm = det.decision_function(x)
    finally:
        det.set_params(smooth_frames=1)
    np.testing.assert_allclose(sm[10], raw[7:11].mean())
    np.testing.assert_allclose(sm[0], raw[0])


def test_bad_inputs_say_what_is_wrong(fitted, tests):
    name, det = fitted
    x = tests["fast"][0]
    with pytest.raises(ValueError, match="empty"):
        det.decision_function([])
    with pytest.raises(ValueError, match="empty"):
        det.decision_function(x[:0])
    with pytest.raises(ValueError, match=r"clip .1. has 40x64 \(HxW\) frames, not the model.s frame size 48x64.*--frame-size 48x64"):
        det.decision_function([x[:10], x[:10, :40]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        det.decision_function(x * 255)
    if det._history() > 0:
        with pytest.raises(ValueError, match="clip 'short' has 1 frame"):
            det.decision_function([Clip("short", x[:1, ..., None])])
    with pytest.raises(ValueError, match="frame size"):
        adgdm.make_detector(name, **FAST[name]).fit([x[:30], x[:30, :40]])


def test_save_load_round_trip(fitted, tests, tmp_path):
    name, det = fitted
    x = tests["shape"][0][:15]
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.decision_function(x), det.decision_function(x))
    r = back.predict_result(x)
    assert r.unit == "frame" and r.anomaly_map.shape == x.shape


def test_a_resizing_detector_still_refuses_frames_of_another_size(train):
    """Issue 30: ``size`` sets the working size only; frames of another shape were stretched to it
    and scored silently (every frame flagged). Frames must have the fitted size, whatever ``size``."""
    det = adgdm.make_detector("video-diff", size=24).fit(train)
    assert det.work_shape_ == (24, 32) and det.frame_shape_ == (48, 64)
    s, maps = det.score_maps(train[0][:10])
    assert s.shape == (10,) and maps.shape == train[0][:10].shape   # maps at the input size
    narrow, half = train[0][:10, :, :40], train[0][:10, ::2, ::2]
    for other in (narrow, half):
        with pytest.raises(ValueError, match=r"clip '1' has \d+x\d+ \(HxW\) frames, not the model's frame size 48x64"):
            det.decision_function([train[0][:10], other])
    with pytest.raises(ValueError, match="clip 'the stream' has 48x40"):
        det.stream().update(narrow)
    with pytest.raises(ValueError, match=r"clip 'the stream' has RGB \(3-channel\) frames; this model was fitted "
                                         r"on gray \(1-channel\) frames.*--frame-channels 1"):
        det.stream().update(np.repeat(train[0][:10, ..., None], 3, axis=3))
    with pytest.raises(ValueError, match=r"clips differ in frame size: '0' is 48x64 \(HxW\) but '1' is 24x32.*"
                                         r"--frame-size 48x64"):
        adgdm.make_detector("video-diff", size=24).fit([train[0], half])


def test_video_default_is_registered():
    from adgdm.modalities import get_modality

    assert get_modality("video").default_detector == "video-obj"
    from adgdm.detectors import detector_class

    assert issubclass(detector_class("video"), detector_class("video-pred"))
    # video-obj (per object, on other scenes) has its own tests: tests/test_video_obj.py
    assert set(adgdm.list_detectors("video")) == set(FAST) | {"video", "video-obj"}
