"""Exact k-nearest-neighbour distances over a multiset of rows, computed on the distinct rows.

Tables such as ADBench's donors (291k training rows, 18k distinct) hold many exact duplicates,
which make KD-trees slow and every query redundant. Searching the distinct rows and expanding by
their counts gives the same distances as a search over all rows, much faster.
"""
from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


class DedupKNN:
    """Distances to the ``k`` nearest rows of ``X`` (duplicates counted), exact.

    Example
    -------
    >>> X = np.array([[0.0], [0.0], [1.0], [5.0]])
    >>> DedupKNN(X).query(np.array([[0.2]]), 3)
    array([[0.2, 0.2, 0.8]])
    """

    def __init__(self, X: np.ndarray, n_jobs: int | None = None, backend: str = "sklearn"):
        if backend not in ("sklearn", "torch"):
            raise ValueError(f"backend must be 'sklearn' or 'torch', got {backend!r}")
        self.backend = backend
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.unique, self.inverse, self.counts = np.unique(self.X, axis=0, return_inverse=True, return_counts=True)
        self.inverse = self.inverse.ravel()
        self.nn = NearestNeighbors(n_jobs=n_jobs).fit(self.unique)

    def _search(self, Q: np.ndarray, k: int):
        kq = min(k, len(self.unique))
        return self.nn.kneighbors(Q, n_neighbors=kq)

    def neighbours(self, Q: np.ndarray, k: int, exclude_self: bool = False):
        """Distances, indices into ``unique`` and multiplicities of the ``k`` nearest distinct rows.

        With ``exclude_self`` the rows of ``Q`` are taken to be the distinct training rows
        themselves, and one copy of each is removed (its count drops by one, to 0 for a singleton).
        """
        k = min(k + (1 if exclude_self else 0), len(self.unique))
        if self.backend == "torch" and not exclude_self:
            dist, idx = self._torch_kneighbors(Q, k)
        else:
            dist, idx = self.nn.kneighbors(Q, n_neighbors=k)
        counts = self.counts[idx].copy()
        if exclude_self:
            counts[:, 0] -= 1
        return dist, idx, counts

    def _torch_kneighbors(self, Q: np.ndarray, k: int):
        """Brute force with one float32 matrix product and ``topk``: much faster than scikit-learn's
        heap for large ``k`` against a reference of a few thousand rows. Distances carry float32
        rounding (about 1e-6 of the squared norms), far below any noise level the scores use."""
        import torch

        if not hasattr(self, "_ref32"):
            self._ref32 = torch.from_numpy(self.unique.astype(np.float32))
            self._ref_sq = (self._ref32**2).sum(1)
        q = torch.from_numpy(np.ascontiguousarray(Q, dtype=np.float32))
        d2 = torch.addmm((q**2).sum(1, keepdim=True) + self._ref_sq[None, :], q, self._ref32.T, alpha=-2.0)
        vals, idx = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        return vals.clamp_(min=0.0).sqrt_().double().numpy(), idx.numpy()

    def query_unique(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances of the distinct rows of Q, inverse)``: ``dist[inverse]`` is the ``(n, k)``
        distance matrix of ``Q``. Work that depends only on distances can stay on the distinct rows."""
        k = min(k, len(self.X))
        uq, inv = np.unique(np.ascontiguousarray(Q, dtype=np.float64), axis=0, return_inverse=True)
        dist, idx = self._search(uq, k)
        return self._fast_expand(dist, self.counts[idx], k), inv.ravel()

    def query(self, Q: np.ndarray, k: int) -> np.ndarray:
        """``(n, k)`` distances from each row of ``Q`` to its ``k`` nearest rows of ``X``."""
        dist, inv = self.query_unique(Q, k)
        return dist[inv]

    def query_train_unique(self, k: int) -> np.ndarray:
        """Leave-one-out distances of the *distinct* training rows (``[self.inverse]`` expands them):
        a row is not its own neighbour, but its duplicates are."""
        k = min(k, len(self.X) - 1)
        dist, idx = self._search(self.unique, k + 1)
        counts = self.counts[idx].copy()
        counts[:, 0] -= 1  # the nearest distinct row is the row itself (distance 0)
        return self._fast_expand(dist, counts, k)

    def query_train(self, k: int) -> np.ndarray:
        """Leave-one-out ``(n, k)`` distances of the rows of ``X``."""
        return self.query_train_unique(k)[self.inverse]

    @staticmethod
    def _fast_expand(dist: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
        if (counts == 1).all() and dist.shape[1] >= k:
            return dist[:, :k]
        # position j of row i comes from the neighbour whose cumulative count first exceeds j
        cum = np.cumsum(counts, axis=1)
        which = (cum[:, :, None] <= np.arange(k)[None, None, :]).sum(axis=1)  # (n, k)
        which = np.minimum(which, dist.shape[1] - 1)
        return np.take_along_axis(dist, which, axis=1)
