"""One contract for every registered detector of every modality (tables have the deeper suite in
test_contract.py): shapes, determinism, clone, save/load, threshold/predict/predict_proba, the
typed result, explanations and each modality's bad inputs. A toy modality at the end passes the
same contract: adding a modality is an adapter plus detectors."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import adgdm
from adgdm.detectors import detector_class, list_detectors
from adgdm.io import ModelFileError
from adgdm.results import Prediction
from conftest import FAST as TABLE_FAST

SERIES_FAST = {
    "series": dict(window=16),
    "series-recon": dict(window=16, width=8, depth=1, max_steps=20),
    "series-impute": dict(window=16, width=8, depth=1, max_steps=20),
    "series-forecast": dict(window=16, width=8, depth=1, max_steps=20),
    "tsb-subpca": dict(window=16),
    "tsb-iforest": dict(window=16, n_estimators=10),
    "tsb-matrixprofile": dict(window=16, engine="numpy"),
    "series-cycle": dict(window=16, copies=1),
    "series-pre": dict(window=32, steps=1, n_samples=1),
    "series-fuse": dict(parts="series:window=16+tsb-subpca:window=16"),
    "series-auto": dict(candidates="series:window=16+tsb-subpca:window=16", min_units=10),
}
IMAGE_FAST = {
    "image": dict(width=4, mults=(1, 2), max_steps=3, batch_size=4, train_crop=16, global_size=4),
    "image-patch": dict(max_train_patches=500),
    "image-patchknn": dict(max_train_patches=500),
    "image-cycle": dict(width=4, mults=(1, 2), max_steps=3, batch_size=4, train_crop=16),
    "image-recon": dict(width=8, mults=(1, 2), max_steps=3, train_crop=16, noise_levels=(0.2,), steps=2),
    "image-cond": dict(width=8, mults=(1, 2), max_steps=3, train_crop=16, steps=2),
    "image-feat": dict(size=32, width=16, depth=1, max_steps=3, noise_levels=(0.1,)),
    "image-patchcore": dict(size=32),
    "image-feat-ideal": dict(size=32),
    "image-feat-seg": dict(size=32, width=16, depth=1, max_steps=3, noise_levels=(0.1,), head_images=8, head_proj=8,
                           head_width=8, head_steps=3, head_batch=4, head_level=0.1),
    "image-feat-global": dict(size=32, local_params=dict(width=16, depth=1, max_steps=3, noise_levels=(0.1,)),
                              global_size=4),
    "image-auto": dict(candidates="image:width=4,mults=1|2,max_steps=3,batch_size=4,train_crop=16,global_size=4"
                                  "+image-patchknn:max_train_patches=500", n_anomalies=10, min_units=10),
    "image-split": dict(score="image:width=4&mults=1|2&max_steps=3&batch_size=4&train_crop=16&global_size=4",
                        maps="image-patchknn:max_train_patches=500"),
}
_IMG_TINY = dict(width=4, mults=(1, 2), max_steps=3, batch_size=4, train_crop=16, global_size=4)
VIDEO_FAST = {
    "video-pred": dict(size=None, width=16, depth=1, max_steps=3, noise_levels=(0.1,), n_repeats=1),
    "video": dict(size=None, width=16, depth=1, max_steps=3, noise_levels=(0.1,), n_repeats=1),
    "video-ideal": dict(size=None, max_locations=500),
    "video-image": dict(size=None, max_train_frames=20, image_params=_IMG_TINY),
    "video-diff": dict(size=None),
    "video-obj": dict(size=None, min_area=4),
}
_MM_TINY = dict(image_encoder="pixels", text_encoder="hash", n_components=4)
_MM_NET = dict(width=16, depth=1, max_steps=20, noise_levels=(0.1,), n_repeats=1)
MULTIMODAL_FAST = {
    "mm-cross": dict(_MM_TINY, **_MM_NET),
    "mm-late": dict(_MM_TINY),
    "mm-early": dict(_MM_TINY),
    "multimodal": dict(_MM_TINY, **_MM_NET),
}
# detectors that cannot be saved, and why (the error must say so)
UNSAVEABLE = {"tsb-iforest": "IsolationForest"}
NAMES = list_detectors(None)


def test_every_registered_detector_is_covered():
    covered = set(TABLE_FAST) | set(SERIES_FAST) | set(IMAGE_FAST) | set(VIDEO_FAST) | set(MULTIMODAL_FAST)
    assert set(NAMES) == covered, set(NAMES) ^ covered
    for name in NAMES:
        assert detector_class(name).modality in ("tabular", "series", "image", "video", "multimodal")
        assert isinstance(detector_class(name)(), adgdm.detectors.BaseDetector)


def _series(T=400, seed=0):
    t = np.arange(T)
    rng = np.random.default_rng(seed)
    return np.stack([np.sin(2 * np.pi * t / 16), np.cos(2 * np.pi * t / 20)], 1) + 0.05 * rng.normal(size=(T, 2))


def _images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return (0.5 + 0.05 * rng.normal(size=(n, 16, 16))).clip(0, 1)


def _video(T=40, seed=0):
    """Two small clips of a textured scene with a bright square drifting right."""
    rng = np.random.default_rng(seed)
    bg = 0.4 + 0.05 * rng.random((32, 32))
    clip = np.repeat(bg[None], T, axis=0)
    for t in range(T):
        c = t % 24
        clip[t, 10:18, c:c + 8] = 0.9
    return [clip[: T // 2], clip[T // 2:]]


def _video_test():
    clip = _video(12, seed=1)[0].copy()
    clip[-2:, 4:12, 4:12] = 0.0  # a dark patch appears
    return clip


def _records(n=60, seed=0, swap=0):
    """Records of an image, a caption and a number that go together (the caption names the image's
    brightness); the last ``swap`` records get another record's caption."""
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 3, n)
    imgs = (0.2 + 0.3 * level[:, None, None] + 0.03 * rng.normal(size=(n, 8, 8))).clip(0, 1)
    words = np.array(["dark", "grey", "bright"])
    text = [f"a {words[v]} square" for v in level]
    if swap:
        text[-swap:] = [f"a {words[(v + 1) % 3]} square" for v in level[-swap:]]
    return {"image": imgs, "text": text, "size": level + 0.1 * rng.normal(size=n)}


def _len(X):
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


DATA = {"multimodal": _records, "tabular": lambda: np.random.default_rng(0).normal(size=(150, 4)),
        "series": _series, "image": _images, "video": lambda: _video(60)}
TEST = {"multimodal": lambda: _records(8, seed=1, swap=2), "tabular": lambda: np.vstack([np.random.default_rng(1).normal(size=(20, 4)), np.full((3, 4), 8.0)]),
        "series": lambda: np.vstack([_series(200, seed=1)[:150], _series(200, seed=1)[150:] + [4.0, 0.0]]),
        "image": lambda: np.concatenate([_images(4, seed=1), np.ones((1, 16, 16))]),
        "video": _video_test}


def make(name, random_state=0, **kw):
    cls = detector_class(name)
    params = {**TABLE_FAST.get(name, {}), **SERIES_FAST.get(name, {}), **IMAGE_FAST.get(name, {}), **VIDEO_FAST.get(name, {}),
              **MULTIMODAL_FAST.get(name, {}), **kw}
    if "random_state" in cls().get_params():
        params.setdefault("random_state", random_state)
    return cls(**params)


@pytest.fixture(scope="module", params=NAMES)
def case(request):
    name = request.param
    mod = detector_class(name).modality
    return name, mod, make(name).fit(DATA[mod]()), TEST[mod]()


def test_scores_shape_dtype_and_training_scores(case):
    name, mod, det, X = case
    s = det.decision_function(X)
    assert s.dtype == np.float64 and np.isfinite(s).all()
    assert s.shape == (_len(X),)
    assert det.decision_scores_.ndim == 1 and np.isfinite(det.decision_scores_).all()
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))


def test_threshold_predict_and_probabilities_agree(case):
    name, mod, det, X = case
    s = det.decision_function(X)
    np.testing.assert_array_equal(det.predict(X), (s > det.threshold_).astype(int))
    for method in ("linear", "rank", "calibrated"):
        p = det.predict_proba(X, method=method)
        assert p.shape == (_len(X), 2) and ((p >= 0) & (p <= 1)).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    p = det.predict_proba(X, method="calibrated")[:, 1]
    np.testing.assert_array_equal(p > 0.5, s > det.threshold_)
    with pytest.raises(ValueError, match="unknown method"):
        det.predict_proba(X, method="nope")


def test_typed_prediction_result(case):
    name, mod, det, X = case
    r = det.predict_result(X)
    assert isinstance(r, Prediction) and len(r) == _len(X)
    np.testing.assert_array_equal(r.score, det.decision_function(X))
    np.testing.assert_array_equal(r.label, det.predict(X))
    np.testing.assert_allclose(r.probability, det.predict_proba(X, method="calibrated")[:, 1])
    assert r.threshold == det.threshold_
    assert r.unit == {"tabular": "row", "series": "step", "image": "image", "video": "frame",
                      "multimodal": "record"}[mod]
    if mod in ("image", "video"):
        assert r.anomaly_map.shape == X.shape[:3]
        np.testing.assert_array_equal(r.anomaly_map, det.anomaly_map(X))
    else:
        assert r.anomaly_map is None


def test_explain(case):
    name, mod, det, X = case
    c = det.explain(X)
    assert np.isfinite(c).all()
    if mod == "multimodal":
        assert c.shape == (_len(X), len(det.modalities_)) and (c >= 0).all()
        return
    expected = {"tabular": X.shape, "series": X.shape, "image": X.shape[:3], "video": X.shape[:3]}[mod]
    assert c.shape == expected
    if mod not in ("image", "video"):
        assert (c >= 0).all()


def test_deterministic_under_random_state(case):
    name, mod, det, X = case
    again = make(name).fit(DATA[mod]())
    np.testing.assert_array_equal(again.decision_function(X), det.decision_function(X))
    assert again.threshold_ == det.threshold_


def test_clone_is_unfitted(case):
    name, mod, det, X = case
    c = clone(det)
    assert type(c) is type(det) and c.get_params() == det.get_params()
    assert not hasattr(c, "threshold_")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        c.decision_function(X)
    with pytest.raises(NotFittedError):
        c.predict_result(X)


def test_save_load_identical_or_says_why(case, tmp_path):
    name, mod, det, X = case
    if name in UNSAVEABLE:
        with pytest.raises(NotImplementedError, match=f"cannot be saved.*{UNSAVEABLE[name]}"):
            det.save(tmp_path / "m")
        return
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert type(back) is type(det)
    np.testing.assert_array_equal(back.decision_function(X), det.decision_function(X))
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)
    assert back.threshold_ == det.threshold_
    # a truncated weights file is a ModelFileError, never a silent wrong model
    w = tmp_path / "m" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(ModelFileError):
        adgdm.load(tmp_path / "m")


BAD = {
    # (NaN is no error for detectors that handle blank cells, e.g. diffusion; inf is for all)
    "tabular": [(lambda X: X[:, :3], "features"), (lambda X: np.where(np.arange(4) == 1, np.inf, X), "non-finite|infinite|contains inf")],
    "series": [(lambda X: X[:, :1], "channels"), (lambda X: X[:, :, None], r"\(T, channels\)|2-D|shape")],
    "image": [(lambda X: np.full((2, 16, 16, 5), 0.5), "channel"), (lambda X: np.zeros((2, 3)), "image|shape|dimension")],
    "video": [(lambda X: np.full((6, 32, 32, 3), 0.5), "channel"), (lambda X: np.zeros((2, 3)), "shape"),
              (lambda X: X[:, :16], "frame size|fitted on frames"), (lambda X: X[:1], "needs at least"),
              (lambda X: [], "empty"), (lambda X: X * 255, r"\[0, 1\]")],
    "multimodal": [(lambda X: {k: v for k, v in X.items() if k != "text"}, "modality 'text' is missing"),
                   (lambda X: {**X, "text": X["text"][:3] + [" "] + X["text"][4:]}, "record 3: text 'text' is empty"),
                   (lambda X: {**X, "image": X["image"][:, :4]}, "image shape mismatch"),
                   (lambda X: {**X, "size": np.where(np.arange(8) == 5, np.nan, X["size"])}, "record 5: numeric 'size'"),
                   (lambda X: {**X, "text": X["text"][:5]}, "has 5 records")],
}


def test_bad_input_names_the_problem(case):
    name, mod, det, X = case
    for build, msg in BAD[mod]:
        if msg == "needs at least" and det._history() == 0:
            continue  # a per-frame detector scores a one-frame clip
        with pytest.raises(ValueError, match=msg):
            det.decision_function(build(X))


# --- a toy modality: an adapter plus one detector --------------------------------------------------
from adgdm.detectors import BaseDetector, register  # noqa: E402
from adgdm.detectors.registry import _REGISTRY  # noqa: E402
from adgdm.modalities import Modality, register_modality  # noqa: E402


class Bags(Modality):
    """Records that are bags of 2-D points: ``[array (k_i, 2), ...]``; a score per bag."""

    name, unit = "bags", "bag"
    fitted_meta = ("n_features_in_",)

    def check(self, det, X, fitting):
        if not isinstance(X, (list, tuple)) or not X:
            raise ValueError("bags must be a non-empty list of (k, 2) arrays")
        bags = [np.asarray(b, dtype=np.float64) for b in X]
        if any(b.ndim != 2 or b.shape[1] != 2 or len(b) == 0 or not np.isfinite(b).all() for b in bags):
            raise ValueError("every bag must be a finite (k >= 1, 2) array")
        if fitting:
            det.n_features_in_ = 2
        # fold each bag into one unit: its mean and spread
        return np.array([np.r_[b.mean(axis=0), b.std(axis=0)] for b in bags])

    def _meta_value(self, key, value):
        return int(value)


class BagDetector(BaseDetector):
    """Distance of a bag's summary to the training summaries' mean, in their spread."""

    name, modality = "toy-bags", "bags"

    def __init__(self, contamination: float = 0.1):
        self.contamination = contamination

    def _fit(self, units):
        self.mu_, self.sd_ = units.mean(axis=0), units.std(axis=0) + 1e-9
        return None

    def _score(self, units):
        return np.sqrt((((units - self.mu_) / self.sd_) ** 2).sum(axis=1))

    def _get_state(self):
        return {}, {"mu_": self.mu_, "sd_": self.sd_}

    def _set_state(self, meta, arrays):
        self.mu_, self.sd_ = arrays["mu_"], arrays["sd_"]


@pytest.fixture
def toy():
    register_modality(Bags())
    register(BagDetector)
    yield
    _REGISTRY.pop("toy-bags", None)


def test_a_toy_modality_passes_the_same_contract(toy, tmp_path):
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(int(rng.integers(3, 9)), 2)) for _ in range(60)]
    test = train[:5] + [rng.normal(size=(6, 2)) + 6.0]
    det = adgdm.make_detector("toy-bags").fit(train)
    s = det.decision_function(test)
    assert s.shape == (6,) and s.argmax() == 5
    r = det.predict_result(test)
    assert r.unit == "bag" and r.label[5] == 1
    np.testing.assert_array_equal(det.predict(test), (s > det.threshold_).astype(int))
    det.save(tmp_path / "toy")
    np.testing.assert_array_equal(adgdm.load(tmp_path / "toy").decision_function(test), s)
    assert not hasattr(clone(det), "threshold_")
    with pytest.raises(ValueError, match="finite"):
        det.decision_function([np.array([[np.nan, 0.0]])])
