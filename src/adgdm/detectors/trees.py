"""Boosted trees as plain arrays: a fitted scikit-learn ``HistGradientBoostingClassifier`` (binary,
numeric features) exported to node arrays that save as safetensors and predict with numpy, so a
saved ``cycle`` loads without pickle."""
from __future__ import annotations

import numpy as np

__all__ = ["ExportedTrees"]

FIELDS = ("value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf")


class ExportedTrees:
    """``predict_proba`` of a binary boosted-tree classifier from its node arrays.

    Example
    -------
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = HistGradientBoostingClassifier(max_iter=20).fit(X, y)
    >>> bool(np.allclose(ExportedTrees.from_sklearn(clf).predict_proba(X), clf.predict_proba(X)))
    True
    """

    def __init__(self, arrays: dict):
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        n = len(self.arrays["value"])
        for k in FIELDS:
            if k not in self.arrays or len(self.arrays[k]) != n:
                raise ValueError(f"tree arrays: field {k!r} missing or of the wrong length")
        self.roots = self.arrays["roots"].astype(np.int64)
        if (self.roots < 0).any() or (self.roots >= max(n, 1)).any():
            raise ValueError("tree arrays: root index out of range")
        inner = self.arrays["is_leaf"] == 0
        for k in ("left", "right"):
            if inner.any() and ((self.arrays[k][inner] < 0).any() or (self.arrays[k][inner] >= n).any()):
                raise ValueError(f"tree arrays: {k} child index out of range")

    @classmethod
    def from_sklearn(cls, clf) -> "ExportedTrees":
        if getattr(clf, "n_trees_per_iteration_", 1) != 1 or len(getattr(clf, "classes_", [])) != 2:
            raise ValueError("only binary classifiers can be exported")
        if getattr(clf, "is_categorical_", None) is not None and np.any(clf.is_categorical_):
            raise ValueError("categorical features cannot be exported")
        parts, roots, offset = {k: [] for k in FIELDS}, [], 0
        for (pred,) in clf._predictors:
            nodes = pred.nodes
            roots.append(offset)
            for k in FIELDS:
                col = nodes[k].astype(np.float64 if k in ("value", "num_threshold") else np.int64)
                if k in ("left", "right"):
                    col = np.where(nodes["is_leaf"] == 0, col + offset, -1)
                parts[k].append(col)
            offset += len(nodes)
        arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
        arrays["roots"] = np.asarray(roots, dtype=np.int64)
        arrays["baseline"] = np.asarray(clf._baseline_prediction, dtype=np.float64).ravel()[:1]
        arrays["n_features"] = np.asarray([clf.n_features_in_], dtype=np.int64)
        return cls(arrays)

    def raw(self, X: np.ndarray) -> np.ndarray:
        a = self.arrays
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != int(a["n_features"][0]):
            raise ValueError(f"expected {int(a['n_features'][0])} features, got shape {X.shape}")
        out = np.full(len(X), float(a["baseline"][0]))
        rows = np.arange(len(X))
        feat, thr, miss = a["feature_idx"], a["num_threshold"], a["missing_go_to_left"]
        left, right, leaf, value = a["left"], a["right"], a["is_leaf"], a["value"]
        for root in self.roots:
            node = np.full(len(X), root)
            active = leaf[node] == 0
            while active.any():
                n = node[active]
                x = X[rows[active], feat[n]]
                go_left = np.where(np.isnan(x), miss[n] == 1, x <= thr[n])
                node[active] = np.where(go_left, left[n], right[n])
                active = leaf[node] == 0
            out += value[node]
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.raw(X)))
        return np.column_stack([1 - p, p])
