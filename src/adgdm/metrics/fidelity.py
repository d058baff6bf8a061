"""Fidelity of generated tabular samples: how close they are to real rows, and whether they copy them.

Classifier two-sample test (C2ST AUC), kernel MMD, density / coverage (Naeem et al. 2020) and the
distance-to-closest-record ratio. Inputs are 2-D arrays (rows x features) with the same columns;
every problem raises a ``ValueError`` that names it. ``random_state`` (int, numpy ``Generator`` or
None) drives the row subsampling and any model seed.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from .._validation import read_array

__all__ = ["c2st_auc", "mmd_rbf", "density_coverage", "dcr_ratio", "fidelity_report"]

_BLOCK = 512  # rows per block of a distance matrix: 512 x 5000 float64 is 20 MB
_MEDIAN_ROWS = 1000  # pooled rows for the median heuristic (500k pairs)


# --------------------------------------------------------------------------------------------
# input checks and helpers
# --------------------------------------------------------------------------------------------
def _table(x, name: str) -> np.ndarray:
    a = read_array(x, name, np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, features), got shape {a.shape}"
                         + ("; use x.reshape(-1, 1) for a single feature" if a.ndim == 1 else ""))
    if a.shape[1] == 0:
        raise ValueError(f"{name} has 0 columns")
    if a.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows, got {a.shape[0]}")
    if not np.isfinite(a).all():
        r, c = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {r}, column {c})")
    return a


def _tables(**named) -> list[np.ndarray]:
    """Check each named table and that they share the number of columns."""
    arrays = [_table(v, k) for k, v in named.items()]
    names = list(named)
    for k, a in zip(names[1:], arrays[1:]):
        if a.shape[1] != arrays[0].shape[1]:
            raise ValueError(f"{names[0]} has {arrays[0].shape[1]} columns but {k} has {a.shape[1]}")
    return arrays


def _positive_int(v, name: str, low: int = 1) -> int:
    try:
        ok = not isinstance(v, bool) and int(v) == v and v >= low
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _subsample(a: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if a.shape[0] <= n:
        return a
    return a[np.sort(rng.choice(a.shape[0], n, replace=False))]


def _standardiser(ref: np.ndarray):
    """Scale by the reference set's mean / std; constant columns (std < 1e-12) are only centred."""
    mu, sd = ref.mean(axis=0), ref.std(axis=0)
    sd = np.where(sd < 1e-12, 1.0, sd)
    return lambda a: (a - mu) / sd


def _standardised_pair(real, generated, max_rows, random_state):
    """Both sets checked, subsampled to ``max_rows`` (real first, from one generator) and put in
    the real set's standard units: ``(real, generated, generator)``."""
    real, generated = _tables(real=real, generated=generated)
    max_rows = _positive_int(max_rows, "max_rows", 2)
    rng = np.random.default_rng(random_state)
    scale = _standardiser(real)
    return scale(_subsample(real, max_rows, rng)), scale(_subsample(generated, max_rows, rng)), rng


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)  # rounding can make a zero distance slightly negative


# --------------------------------------------------------------------------------------------
# classifier two-sample test
# --------------------------------------------------------------------------------------------
def c2st_auc(real, generated, n_splits: int = 5, random_state=None, max_rows: int = 5000) -> float:
    """Classifier two-sample test: out-of-fold ROC AUC of a classifier telling generated from real.

    Both sets are subsampled to the size of the smaller one (at most ``max_rows``), labelled
    real 0 / generated 1, and a ``HistGradientBoostingClassifier`` (100 iterations of 15-leaf
    trees, no early stopping) predicts each row from a stratified K-fold model that did not see
    it. 0.5 means the classifier cannot tell the sets apart, 1.0 that it separates them perfectly.
    The plain AUC is returned: a value below 0.5 is noise, not a better fit. Features are not
    scaled (trees do not need it). The fits use one OpenMP thread.

    Parameters
    ----------
    real, generated : array of shape (n, d) and (m, d)
    n_splits : int
        Folds of the stratified K-fold (reduced to the rows per set when there are fewer).
    random_state : int, numpy Generator or None
        Seeds the subsampling, the fold shuffle and the classifier.
    max_rows : int
        Rows per set at most.

    Returns
    -------
    float
        ROC AUC in [0, 1].

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> c2st_auc(rng.normal(size=(300, 3)), rng.normal(3.0, size=(300, 3)), random_state=0) > 0.95
    True
    """
    real, generated = _tables(real=real, generated=generated)
    n_splits = _positive_int(n_splits, "n_splits", 2)
    max_rows = _positive_int(max_rows, "max_rows", 2)
    rng = np.random.default_rng(random_state)
    n = min(real.shape[0], generated.shape[0], max_rows)
    X = np.vstack([_subsample(real, n, rng), _subsample(generated, n, rng)])
    y = np.repeat([0, 1], n)
    cv_seed, clf_seed = (int(s) for s in rng.integers(2**31 - 1, size=2))
    cv = StratifiedKFold(n_splits=min(n_splits, n), shuffle=True, random_state=cv_seed)
    clf = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=15, early_stopping=False,
                                         random_state=clf_seed)
    # one OpenMP thread: on <= 10,000 rows threads gain little, and with the other cores busy their
    # spin-waiting made these fits 60x slower
    with threadpool_limits(1, user_api="openmp"):
        p = cross_val_predict(clf, X, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


# --------------------------------------------------------------------------------------------
# maximum mean discrepancy
# --------------------------------------------------------------------------------------------
def _kernel_mean(a: np.ndarray, b: np.ndarray, gamma: float, same: bool) -> float:
    """Mean of ``exp(-gamma |a_i - b_j|^2)`` over all pairs, or over ``i != j`` when ``same``."""
    total = 0.0
    for s in range(0, a.shape[0], _BLOCK):
        k = np.exp(-gamma * _sq_dists(a[s:s + _BLOCK], b))
        if same:
            i = np.arange(k.shape[0])
            k[i, s + i] = 0.0
        total += k.sum()
    pairs = a.shape[0] * (b.shape[0] - 1) if same else a.shape[0] * b.shape[0]
    return total / pairs


def mmd_rbf(real, generated, bandwidth: float | None = None, max_rows: int = 2000,
            random_state=None) -> float:
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel.

    Features are standardised by the real set's mean and std. The kernel is
    ``exp(-|x - y|^2 / (2 bandwidth^2))``; by default ``bandwidth`` is the median pairwise
    Euclidean distance of the pooled standardised rows (on at most 1000 of them). The unbiased
    estimate drops the ``i == j`` terms, so it is about 0 for samples of one distribution and can
    be slightly negative; it grows with the difference between the distributions. Kernel sums are
    taken in row blocks, so memory stays bounded.

    Parameters
    ----------
    real, generated : arrays ``(n, d)`` and ``(m, d)``.
    bandwidth : kernel width in standardised units (float); None for the median heuristic.
    max_rows, random_state : each set is subsampled to at most ``max_rows`` rows, seeded by
        ``random_state`` (int, numpy Generator or None).

    Returns the squared MMD estimate (float).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 3))
    >>> mmd_rbf(x, rng.normal(size=(300, 3)), random_state=0) < mmd_rbf(x, x + 1.0, random_state=0)
    True
    """
    if bandwidth is not None and not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be a positive finite number or None, got {bandwidth!r}")
    x, y, rng = _standardised_pair(real, generated, max_rows, random_state)
    if bandwidth is None:
        bandwidth = float(np.median(pdist(_subsample(np.vstack([x, y]), _MEDIAN_ROWS, rng))))
        if bandwidth <= 0:  # over half the pooled pairs coincide: any width gives a near-zero MMD
            bandwidth = 1.0
    gamma = 1.0 / (2.0 * float(bandwidth) ** 2)
    return float(_kernel_mean(x, x, gamma, True) + _kernel_mean(y, y, gamma, True)
                 - 2.0 * _kernel_mean(x, y, gamma, False))


# --------------------------------------------------------------------------------------------
# density and coverage (Naeem et al., ICML 2020)
# --------------------------------------------------------------------------------------------
def density_coverage(real, generated, k: int = 5, max_rows: int = 5000, random_state=None) -> dict:
    """Density and coverage of generated rows (Naeem et al. 2020, "Reliable Fidelity and Diversity
    Metrics for Generative Models").

    Each real row ``i`` gets a ball whose radius is the distance to its k-th nearest other real
    row. With N real and M generated rows, ``density = (1 / (k M)) sum_j #{i : gen_j in ball_i}``
    (fidelity; about 1 for samples of the real distribution, above 1 when generated rows crowd
    dense regions) and ``coverage = (1 / N) #{i : some gen_j in ball_i}`` (diversity; in [0, 1],
    low under mode collapse). "In the ball" is a strict ``<`` as in the authors' code. Features are
    standardised by the real set's mean and std.

    Parameters
    ----------
    real, generated : arrays ``(n, d)`` and ``(m, d)``.
    k : the neighbour that defines the radii (int); needs more than ``k`` real rows.
    max_rows, random_state : as for :func:`mmd_rbf`.

    Returns ``{"density": float, "coverage": float}``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> dc = density_coverage(rng.normal(size=(500, 3)), rng.normal(size=(500, 3)), random_state=0)
    >>> sorted(dc)
    ['coverage', 'density']
    """
    k = _positive_int(k, "k", 1)
    r, g, _ = _standardised_pair(real, generated, max_rows, random_state)
    if r.shape[0] <= k:
        raise ValueError(f"k={k} needs at least {k + 1} real rows, got {r.shape[0]}")
    # column k: the k-th nearest other row, as column 0 is the row itself
    radii = NearestNeighbors(n_neighbors=k + 1).fit(r).kneighbors(r)[0][:, k]
    nearest_gen = NearestNeighbors(n_neighbors=1).fit(g).kneighbors(r)[0][:, 0]
    radii2 = radii * radii
    inside = 0
    for s in range(0, g.shape[0], _BLOCK):
        inside += int((_sq_dists(g[s:s + _BLOCK], r) < radii2[None, :]).sum())
    return {"density": inside / (k * g.shape[0]), "coverage": float(np.mean(nearest_gen < radii))}


# --------------------------------------------------------------------------------------------
# memorisation: distance to the closest training record
# --------------------------------------------------------------------------------------------
def dcr_ratio(train, holdout, generated, max_rows: int = 5000, random_state=None) -> float:
    """Distance-to-closest-record ratio, a memorisation check.

    Median distance from each generated row to its nearest training row, divided by the same
    median for holdout rows (real rows the generator never saw). Features are standardised by the
    training set's mean and std. About 1: generated rows are no closer to the training rows than
    new real rows are; near 0: the generator copies training rows. Each set is subsampled to at
    most ``max_rows`` rows (the training subset is shared by both medians).

    Parameters
    ----------
    train, holdout, generated : arrays of shape (n, d), (h, d) and (m, d)
    max_rows : int
        Each set is subsampled to at most this many rows.
    random_state : int, numpy Generator or None
        Seeds the subsampling.

    Returns
    -------
    float
        The ratio of medians, >= 0.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(400, 3))
    >>> dcr_ratio(train, rng.normal(size=(400, 3)), train[:200] + 1e-6, random_state=0) < 0.01
    True
    """
    train, holdout, generated = _tables(train=train, holdout=holdout, generated=generated)
    max_rows = _positive_int(max_rows, "max_rows", 2)
    rng = np.random.default_rng(random_state)
    scale = _standardiser(train)
    t, h, g = (scale(_subsample(a, max_rows, rng)) for a in (train, holdout, generated))
    nn = NearestNeighbors(n_neighbors=1).fit(t)
    d_hold = float(np.median(nn.kneighbors(h)[0][:, 0]))
    d_gen = float(np.median(nn.kneighbors(g)[0][:, 0]))
    if d_hold == 0.0:
        raise ValueError("holdout rows coincide with training rows (median distance to the closest "
                         "training row is 0), so the DCR ratio is undefined; use a disjoint holdout")
    return d_gen / d_hold


# --------------------------------------------------------------------------------------------
# all of the above
# --------------------------------------------------------------------------------------------
def fidelity_report(train, holdout, generated, random_state=None) -> dict:
    """Every fidelity metric at its defaults, comparing generated rows with unseen real rows.

    ``c2st_auc``, ``mmd``, ``density`` and ``coverage`` compare ``generated`` with ``holdout``
    (the training rows would reward copying); ``dcr_ratio`` uses all three sets. See
    :func:`c2st_auc`, :func:`mmd_rbf`, :func:`density_coverage` and :func:`dcr_ratio`.

    Parameters
    ----------
    train, holdout, generated : arrays of shape (n, d), (h, d) and (m, d)
        The generator's training rows, real rows it never saw (more than 5 for density /
        coverage) and its output.
    random_state : int, numpy Generator or None
        Passed to every metric.

    Returns
    -------
    dict
        Floats under ``c2st_auc``, ``mmd``, ``density``, ``coverage`` and ``dcr_ratio``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train, holdout, gen = (rng.normal(size=(200, 3)) for _ in range(3))
    >>> sorted(fidelity_report(train, holdout, gen, random_state=0))
    ['c2st_auc', 'coverage', 'dcr_ratio', 'density', 'mmd']
    """
    train, holdout, generated = _tables(train=train, holdout=holdout, generated=generated)
    dc = density_coverage(holdout, generated, random_state=random_state)
    return {
        "c2st_auc": c2st_auc(holdout, generated, random_state=random_state),
        "mmd": mmd_rbf(holdout, generated, random_state=random_state),
        "density": float(dc["density"]),
        "coverage": float(dc["coverage"]),
        "dcr_ratio": dcr_ratio(train, holdout, generated, random_state=random_state),
    }
