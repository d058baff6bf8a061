"""PyOD baselines behind the adgdm contract (``pyod-knn``, ``pyod-iforest``, ``pyod-ecod``,
``pyod-lof``, ``pyod-ocsvm``). They need the optional extra ``adgdm[bench]`` (PyOD).

Saving stores the parameters and the training rows; loading refits PyOD's model on them (every
baseline here is deterministic given ``random_state``), so no pickle is ever read.
"""
from __future__ import annotations

import numpy as np

from ..._torch import seed_of
from ..base import BaseDetector


def _pyod(module: str, cls: str):
    try:
        mod = __import__(f"pyod.models.{module}", fromlist=[cls])
    except ImportError as e:
        raise ImportError(f"the PyOD baselines need PyOD: pip install 'adgdm[bench]' ({e})") from None
    return getattr(mod, cls)


class _PyODBaseline(BaseDetector):
    _module: str = ""
    _cls: str = ""

    def _model_kwargs(self) -> dict:
        p = self.get_params()
        if "random_state" in p:
            p["random_state"] = self.seed_  # drawn once at fit, so a saved model refits identically
        return p

    def _build(self, X):
        self.X_train_ = np.ascontiguousarray(X)
        self.model_ = _pyod(self._module, self._cls)(**self._model_kwargs()).fit(self.X_train_)

    def _fit(self, X):
        self.seed_ = seed_of(getattr(self, "random_state", 0))
        self._build(X)
        return self.model_.decision_scores_

    def _score(self, X):
        return self.model_.decision_function(X)

    def _get_state(self):
        return {"seed_": self.seed_}, {"X_train_": self.X_train_}

    def _set_state(self, meta, arrays):
        self.seed_ = int(meta["seed_"])
        self._build(np.asarray(arrays["X_train_"], dtype=np.float64))


class PyODKNN(_PyODBaseline):
    """PyOD's ``KNN`` (distance to the k-th nearest training row)."""

    name = "pyod-knn"
    training_scores = "leave-one-out"  # PyOD's neighbours of a training row exclude the row
    _module, _cls = "knn", "KNN"

    def __init__(self, n_neighbors: int = 5, method: str = "largest", contamination: float = 0.1):
        self.n_neighbors = n_neighbors
        self.method = method
        self.contamination = contamination

    def _model_kwargs(self) -> dict:
        p = super()._model_kwargs()
        p["n_neighbors"] = max(1, min(int(self.n_neighbors), len(self.X_train_) - 1))  # tiny tables
        return p


class PyODIForest(_PyODBaseline):
    """PyOD's ``IForest`` (isolation forest)."""

    name = "pyod-iforest"
    _module, _cls = "iforest", "IForest"

    def __init__(self, n_estimators: int = 100, contamination: float = 0.1, random_state=None):
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state


class PyODECOD(_PyODBaseline):
    """PyOD's ``ECOD`` (empirical-CDF tail probabilities), kept as PyOD ships it: its
    ``decision_function`` re-estimates the tails on training plus the scored batch, so a row's
    score depends on the other rows scored with it (a large batch of anomalies dilutes itself)."""

    name = "pyod-ecod"
    _module, _cls = "ecod", "ECOD"

    def __init__(self, contamination: float = 0.1):
        self.contamination = contamination


class PyODLOF(_PyODBaseline):
    """PyOD's ``LOF`` (local outlier factor)."""

    name = "pyod-lof"
    training_scores = "leave-one-out"
    _module, _cls = "lof", "LOF"

    def __init__(self, n_neighbors: int = 20, contamination: float = 0.1):
        self.n_neighbors = n_neighbors
        self.contamination = contamination

    def _build(self, X):
        self.X_train_ = np.ascontiguousarray(X)
        k = max(1, min(int(self.n_neighbors), len(X) - 1))
        self.model_ = _pyod(self._module, self._cls)(n_neighbors=k, contamination=self.contamination).fit(self.X_train_)


class PyODOCSVM(_PyODBaseline):
    """PyOD's ``OCSVM`` (one-class SVM, RBF kernel). ``max_train_samples`` caps its fit, which is
    quadratic in rows; ``None`` fits on every row."""

    name = "pyod-ocsvm"
    _module, _cls = "ocsvm", "OCSVM"

    def __init__(self, kernel: str = "rbf", nu: float = 0.5, max_train_samples: int | None = 20_000,
                 contamination: float = 0.1, random_state=0):
        self.kernel = kernel
        self.nu = nu
        self.max_train_samples = max_train_samples
        self.contamination = contamination
        self.random_state = random_state

    def _build(self, X):
        self.X_train_ = np.ascontiguousarray(X)
        fit_rows = self.X_train_
        if self.max_train_samples and len(fit_rows) > self.max_train_samples:
            rng = np.random.default_rng(self.seed_)
            fit_rows = fit_rows[rng.choice(len(fit_rows), self.max_train_samples, replace=False)]
        self.model_ = _pyod(self._module, self._cls)(kernel=self.kernel, nu=self.nu,
                                                     contamination=self.contamination).fit(fit_rows)

    def _fit(self, X):
        super()._fit(X)
        return self.model_.decision_function(self.X_train_)
