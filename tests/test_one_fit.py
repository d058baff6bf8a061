"""One fit for every detector (issue 29): ``fit``, ``decision_function``, ``predict_result``,
``explain`` and ``_check_fitted`` are BaseDetector's only; every registered detector fits through
it (input validated once, the calibration split, ``_finish_fit``) and validates a batch once."""
from __future__ import annotations

import numpy as np
import pytest

from adgdm.detectors import BaseDetector, detector_class, list_detectors

ONLY_IN_BASE = ("fit", "decision_function", "explain", "predict_result", "_check_fitted")


def test_no_detector_class_overrides_the_contract():
    offenders = []
    for name in list_detectors(None):
        for klass in detector_class(name).__mro__:
            if klass is BaseDetector or not issubclass(klass, BaseDetector):
                continue
            offenders += [f"{klass.__module__}.{klass.__qualname__}.{m}" for m in ONLY_IN_BASE if m in vars(klass)]
    assert not offenders, sorted(set(offenders))


def test_the_contract_methods_are_defined_once():
    for m in ONLY_IN_BASE:
        assert m in vars(BaseDetector)


def _counting(monkeypatch, det):
    """Count the input validations (``_input``: the modality's check, or a detector's own) and
    ``_finish_fit`` calls of ``det``."""
    calls = {"check": 0, "finish": 0}
    check, finish = type(det)._input, type(det)._finish_fit

    def counted_check(self, X, fitting, *a, **k):
        if self is det:
            calls["check"] += 1
        return check(self, X, fitting, *a, **k)

    def counted_finish(self, *a, **k):
        if self is det:
            calls["finish"] += 1
        return finish(self, *a, **k)

    monkeypatch.setattr(type(det), "_input", counted_check)
    monkeypatch.setattr(type(det), "_finish_fit", counted_finish)
    return calls


CASES = {
    "tabular": ("dte-np", {}, lambda: np.random.default_rng(0).normal(size=(80, 3))),
    "series": ("series", dict(window=16), lambda: np.sin(np.arange(300) / 3.0)[:, None]
               + 0.05 * np.random.default_rng(0).normal(size=(300, 1))),
    "image": ("image-patch", dict(max_train_patches=300),
              lambda: (0.5 + 0.05 * np.random.default_rng(0).normal(size=(10, 16, 16))).clip(0, 1)),
    "video": ("video-diff", dict(size=None), lambda: [np.random.default_rng(0).random((12, 16, 16))]),
}


@pytest.mark.parametrize("modality", sorted(CASES))
def test_fit_validates_once_and_finishes_once(monkeypatch, modality):
    name, params, data = CASES[modality]
    det = detector_class(name)(**params)
    calls = _counting(monkeypatch, det)
    X = data()
    det.fit(X)
    assert calls == {"check": 1, "finish": 1}
    assert hasattr(det, "calibration_scores_") and hasattr(det, "threshold_")
    calls["check"] = 0
    det.predict_result(X, explain=modality in ("image", "video"))
    assert calls["check"] == 1  # scores, maps and the explanation from one validated batch


@pytest.mark.parametrize("modality", ["tabular", "series"])
def test_predict_result_with_occlusion_validates_once(monkeypatch, modality):
    name, params, data = {"tabular": ("pyod-knn", {}, CASES["tabular"][2]),
                          "series": ("tsb-iforest", dict(window=16, n_estimators=10), CASES["series"][2])}[modality]
    det = detector_class(name)(**params).fit(data())
    calls = _counting(monkeypatch, det)
    r = det.predict_result(data()[:40], explain=True)
    assert calls["check"] == 1
    np.testing.assert_array_equal(r.contributions, det.explain(data()[:40], method="occlusion"))


def test_image_detectors_take_arrays_not_folders(tmp_path):
    det = detector_class("image-patch")(max_train_patches=300)
    with pytest.raises(ValueError, match="not a path"):
        det.fit(str(tmp_path))


def test_a_calibration_split_holds_data_out():
    """Detectors with a calibration split: ``decision_scores_`` are the held-out scores."""
    imgs = CASES["image"][2]()
    det = detector_class("image-recon")(width=8, mults=(1, 2), max_steps=2, train_crop=16, noise_levels=(0.2,),
                                        steps=1, calibration=0.3, random_state=0)
    split = det._calibration_split(det._input(imgs, fitting=True))
    assert split is not None and len(split[0]) + len(split[1]) == len(imgs)
    det.fit(imgs)
    assert len(det.decision_scores_) == len(split[1]) == len(det.calibration_index_)


def test_cycle_fit_reusing_takes_fitted_parts():
    from conftest import FAST

    X = np.random.default_rng(0).normal(size=(120, 3))
    one = detector_class("cycle")(**FAST["cycle"], random_state=0).fit(X)
    two = detector_class("cycle")(**FAST["cycle"], random_state=0).fit_reusing(X, base=one.base_,
                                                                                  generator=one.generator_)
    assert two.base_ is one.base_ and not hasattr(two, "_reuse")
    np.testing.assert_array_equal(two.decision_function(X[:5]), one.decision_function(X[:5]))
