"""Thresholds on anomaly scores: from a known contamination, from extreme value theory (POT and its
streaming form SPOT) or fixed; and the calibrated anomaly probability around a threshold.

Every detector sets ``threshold_`` at ``fit`` as the ``1 - contamination`` quantile of its
calibration scores (``calibration_scores_``): scores of its training data that behave like scores of
new normal data (held out of training, leave-one-out, each row scored as a new row against the
others, or, for series, scored against the past only), so that about ``contamination`` of new
normal data is flagged. When the contamination is unknown, Peaks-Over-Threshold (Siffer et al., "Anomaly Detection
in Streams with Extreme Value Theory", KDD 2017) sets it from the tail of the training scores
instead: the excesses over a high quantile follow a generalised Pareto distribution (GPD)
(Pickands-Balkema-de Haan), whose fit extrapolates to the score exceeded with probability ``q``.

Example
-------
>>> rng = np.random.default_rng(0)
>>> scores = rng.exponential(size=20000)
>>> round(pot_threshold(scores, q=1e-3), 1)          # the true 1e-3 quantile is log(1000) = 6.9
6.9
>>> det = apply_threshold(det, method="pot", q=1e-3)  # doctest: +SKIP
>>> det.threshold_method_["method"]                   # doctest: +SKIP
'pot'
"""
from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["contamination_threshold", "pot_threshold", "fixed_threshold", "fit_gpd", "SPOT", "DriftAlarm",
           "drift_alarms", "choose_threshold",
           "apply_threshold", "calibrated_proba", "calibration_scores", "METHODS", "MIN_PEAKS", "pot_min_scores",
           "NoAlarmWarning"]

METHODS = ("contamination", "pot", "fixed")
MIN_PEAKS = 10  # fewer excesses than this give no usable GPD fit (two parameters from a handful of points)


class NoAlarmWarning(RuntimeWarning):
    """A threshold that flags none of the normal scores it was set from, where the contamination
    quantile of the same scores flags some (POT with a small risk ``q`` on few scores)."""


def pot_min_scores(level: float = 0.98) -> int:
    """The fewest scores POT fits on at ``level``: ``ceil(MIN_PEAKS / (1 - level))``, so that at
    least ``MIN_PEAKS`` (10) of them lie above the initial ``level`` quantile, the excesses the
    generalised Pareto tail is fitted to (500 at the default 0.98, 100 at 0.9).

    >>> pot_min_scores(0.98), pot_min_scores(0.9)
    (500, 100)
    """
    return int(math.ceil(MIN_PEAKS / (1.0 - float(level)) - 1e-9))


# --- input checks ----------------------------------------------------------------------------------
def _check_scores(scores, what: str = "train_scores") -> np.ndarray:
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numbers: {e}") from None
    if arr.ndim != 1:
        arr = arr.squeeze()
        if arr.ndim != 1:
            raise ValueError(f"{what} must be 1-D, got shape {np.shape(scores)}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} contains {int(bad.sum())} non-finite values (NaN or inf); first at index {i}")
    return arr


def _check_fraction(value, name: str, hi_inclusive: bool = False, hi: float = 1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok = 0.0 < v <= hi if hi_inclusive else 0.0 < v < hi
    if not ok:
        bracket = "]" if hi_inclusive else ")"
        raise ValueError(f"{name} must lie in (0, {hi:g}{bracket}, got {value!r}")
    return v


def _finite(value, name: str) -> float:
    """``float(value)``, or a ValueError naming ``name`` when it is not a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _check_q_level(q, level) -> tuple[float, float]:
    q, level = _check_fraction(q, "q"), _check_fraction(level, "level")
    if q >= 1.0 - level:
        raise ValueError(f"q must be smaller than 1 - level = {1 - level:g} (the tail the GPD models lies "
                         f"beyond the level quantile), got q={q:g}; lower q or level")
    return q, level


# --- the generalised Pareto fit ----------------------------------------------------------------------
def fit_gpd(excesses) -> tuple[float, float]:
    """Maximum-likelihood ``(gamma, sigma)`` of a generalised Pareto distribution with location 0,
    ``P(Y > y) = (1 + gamma y / sigma)^(-1/gamma)`` (``exp(-y / sigma)`` when ``gamma = 0``).

    Grimshaw's reduction: with ``theta = gamma / sigma`` the likelihood is maximised over ``gamma``
    in closed form, ``gamma(theta) = mean(log(1 + theta y))``, leaving a 1-D profile likelihood in
    ``theta``. It is searched on a log-spaced grid of both signs (plus the exponential case
    ``theta = 0``) and refined by bounded Brent. ``gamma`` is kept ``>= -1``: below, the
    likelihood is unbounded (the fitted end point collapses on the largest excess). Should the
    search fail, the method-of-moments estimate is returned with a warning.

    Example
    -------
    >>> from scipy.stats import genpareto
    >>> y = genpareto(c=0.2, scale=1.0).rvs(20000, random_state=0)
    >>> gamma, sigma = fit_gpd(y)
    >>> round(gamma, 1), round(sigma, 1)
    (0.2, 1.0)
    """
    from scipy.optimize import brentq, minimize_scalar

    y = _check_scores(excesses, "excesses")
    if (y <= 0).any():
        raise ValueError("excesses must all be > 0 (values above the initial threshold minus it)")
    if len(y) < 2:
        raise ValueError(f"fit_gpd needs at least 2 excesses, got {len(y)}")
    mean, ymax = float(y.mean()), float(y.max())
    if np.ptp(y) <= 1e-12 * ymax:  # identical excesses: no shape to fit, the exponential is the MLE
        return 0.0, mean

    def u(theta):
        return float(np.mean(np.log1p(theta * y)))

    def nll(theta):  # negative profile log-likelihood per excess
        if abs(theta) * mean < 1e-10:
            return math.log(mean) + 1.0  # exponential limit
        g = u(theta)
        return math.log(g / theta) + 1.0 + g

    # gamma(theta) increases with theta; theta_lo is where gamma = -1 (see the docstring)
    edge = -1.0 / ymax
    near = edge * (1 - 1e-12)
    theta_lo = near if u(near) >= -1.0 else brentq(lambda t: u(t) + 1.0, near, edge * 1e-9)
    pos = np.logspace(-6, 6, 40) / mean
    neg = -np.logspace(np.log10(1e-6 / mean), np.log10(-theta_lo), 40)
    grid = np.unique(np.concatenate([neg, [0.0], pos]))
    vals = np.array([nll(t) for t in grid])
    if not np.isfinite(vals).any():
        return _gpd_moments(y, "the likelihood search found no finite value")
    i = int(np.nanargmin(np.where(np.isfinite(vals), vals, np.nan)))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best_t, best_v = grid[i], vals[i]
    if hi > lo:
        res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10 * max(abs(lo), abs(hi))})
        if res.success and np.isfinite(res.fun) and res.fun < best_v:
            best_t = float(res.x)
    if abs(best_t) * mean < 1e-10:
        return 0.0, mean
    gamma = u(best_t)
    sigma = gamma / best_t
    if not (np.isfinite(gamma) and np.isfinite(sigma) and sigma > 0):
        return _gpd_moments(y, "the likelihood fit was degenerate")
    return float(gamma), float(sigma)


def _gpd_moments(y: np.ndarray, why: str) -> tuple[float, float]:
    """Method-of-moments GPD fit: ``gamma = (1 - m^2 / v) / 2``, ``sigma = m (1 + m^2 / v) / 2``."""
    warnings.warn(f"GPD fit: {why}; using the method-of-moments estimate", RuntimeWarning, stacklevel=3)
    m, v = float(y.mean()), float(y.var())
    if v <= 0:
        return 0.0, m
    r = m * m / v
    return 0.5 * (1.0 - r), 0.5 * m * (1.0 + r)


def _gpd_quantile(t: float, gamma: float, sigma: float, q: float, n: int, n_peaks: int) -> float:
    """``z_q = t + sigma / gamma ((q n / N_t)^(-gamma) - 1)``, exponential form at ``gamma = 0``;
    written with ``expm1`` so it stays accurate as ``gamma`` approaches 0."""
    log_r = math.log(q * n / n_peaks)
    if gamma == 0.0:
        return t - sigma * log_r
    return t + sigma * math.expm1(-gamma * log_r) / gamma


# --- calibration scores ------------------------------------------------------------------------------
def calibration_scores(detector) -> np.ndarray:
    """The scores a fitted detector's ``threshold_`` was set from: ``calibration_scores_`` (models
    saved before it existed: ``decision_scores_``)."""
    cal = getattr(detector, "calibration_scores_", None)
    return np.asarray(detector.decision_scores_ if cal is None else cal, dtype=np.float64)


# --- thresholds --------------------------------------------------------------------------------------
def contamination_threshold(train_scores, contamination: float = 0.1) -> float:
    """The ``1 - contamination`` quantile of the scores (what ``fit`` sets, from the calibration
    scores): a share ``contamination`` of them is flagged.

    Example
    -------
    >>> contamination_threshold(np.arange(101.0), 0.1)
    90.0
    """
    s = _check_scores(train_scores)
    c = _check_fraction(contamination, "contamination", hi_inclusive=True, hi=0.5)
    return float(np.quantile(s, 1.0 - c))


def fixed_threshold(value) -> float:
    """A threshold given by hand (e.g. set from domain knowledge or a validation set).

    Example
    -------
    >>> fixed_threshold(2.5)
    2.5
    """
    return _finite(value, "value")


def pot_threshold(train_scores, q: float = 1e-3, level: float = 0.98) -> float:
    """Peaks-Over-Threshold: the score exceeded with probability ``q``, from a GPD fitted to the
    tail of ``train_scores`` (Siffer et al., KDD 2017); for unknown contamination.

    The initial threshold ``t`` is the ``level`` quantile; the ``N_t`` excesses ``x - t`` of the
    scores above it get a GPD fit ``(gamma, sigma)`` (:func:`fit_gpd`), and the threshold is
    ``z_q = t + sigma / gamma ((q n / N_t)^(-gamma) - 1)`` (``t - sigma log(q n / N_t)`` when
    ``gamma = 0``). Unlike an empirical quantile it extrapolates beyond the largest training score
    when ``q n < 1``.

    POT refuses to fit on too few scores: fewer than :func:`pot_min_scores` (``ceil(MIN_PEAKS / (1 -
    level))``: 500 at ``level=0.98``, 100 at 0.9), or fewer than ``MIN_PEAKS`` (10) excesses above
    ``t`` (tied scores), raise a ``ValueError`` naming the count and the minimum: a GPD fitted to a
    handful of excesses extrapolates nothing reliable (give more normal data, lower ``level``, or
    use the contamination quantile).

    Parameters
    ----------
    train_scores : scores of (mostly) normal data, 1-D, finite.
    q : the risk: probability that a normal score exceeds the threshold, in (0, 1 - level).
    level : quantile of the initial threshold, in (0, 1); 0.98 leaves 2% of the scores as peaks.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> round(pot_threshold(rng.exponential(size=20000), q=1e-4), 1)   # true: log(1e4) = 9.2
    9.2
    """
    s = _check_scores(train_scores)
    q, level = _check_q_level(q, level)
    need = pot_min_scores(level)
    if len(s) < need:
        raise ValueError(f"POT needs at least {need} calibration scores at level={level:g} ({MIN_PEAKS} above the "
                         f"{level:g} quantile to fit the tail), got {len(s)}; give more normal data, lower level "
                         f"(level=0.9 needs {pot_min_scores(0.9)}: fit --threshold pot:Q:0.9, calibrate --pot-level "
                         "0.9), or use the contamination threshold")
    t = float(np.quantile(s, level))
    peaks = s[s > t] - t
    if len(peaks) < MIN_PEAKS:
        raise ValueError(f"POT: only {len(peaks)} of {len(s)} calibration scores exceed the initial threshold "
                         f"(the {level:g} quantile; many scores are tied), at least {MIN_PEAKS} are needed to fit "
                         f"the tail; lower level or use the contamination threshold")
    gamma, sigma = fit_gpd(peaks)
    return float(_gpd_quantile(t, gamma, sigma, q, len(s), len(peaks)))


class SPOT:
    """Streaming POT (SPOT, Siffer et al., KDD 2017): a threshold that follows the tail of a stream.

    ``fit(initial_scores)`` runs POT on a calibration batch. Then each new score is, against the
    current threshold ``z_q``: an alarm (``> z_q``; flagged, and kept out of the model so that
    anomalies do not raise the threshold), a peak (between the initial threshold ``t`` and
    ``z_q``; its excess joins the GPD fit and ``z_q`` is recomputed), or normal (only the count
    ``n`` grows, which lowers ``z_q`` slightly on the next peak). Each refit costs time linear in
    the number of peaks.

    Attributes after ``fit``: ``init_threshold_`` (``t``), ``threshold_`` (``z_q``), ``peaks_``
    (the excesses), ``n_`` (scores seen, alarms excluded), ``gamma_``, ``sigma_`` (NaN while too
    few peaks: then ``threshold_`` is the calibration batch's empirical ``1 - q`` quantile).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> spot = SPOT(q=1e-4).fit(rng.exponential(size=5000))
    >>> stream = rng.exponential(size=1000)
    >>> stream[500] = 40.0
    >>> flags, thresholds = spot.run(stream)
    >>> bool(flags[500]), int(flags.sum())
    (True, 1)
    """

    def __init__(self, q: float = 1e-3, level: float = 0.98):
        self.q = q
        self.level = level

    def fit(self, initial_scores) -> "SPOT":
        """Calibrate on a batch of (mostly) normal scores; see :func:`pot_threshold`."""
        s = _check_scores(initial_scores, "initial_scores")
        self.q_, self.level_ = _check_q_level(self.q, self.level)
        self.init_threshold_ = float(np.quantile(s, self.level_))
        self.peaks_ = s[s > self.init_threshold_] - self.init_threshold_
        self.n_ = len(s)
        self.gamma_ = self.sigma_ = float("nan")
        if len(self.peaks_) < MIN_PEAKS:
            warnings.warn(f"SPOT: only {len(self.peaks_)} calibration scores exceed the initial threshold "
                          f"(at least {MIN_PEAKS} are needed to fit the tail); the threshold is the empirical "
                          f"1 - q quantile until enough peaks arrive", RuntimeWarning, stacklevel=2)
            self.threshold_ = float(np.quantile(s, 1.0 - self.q_))
        else:
            self._refit()
        return self

    def _refit(self) -> None:
        self.gamma_, self.sigma_ = fit_gpd(self.peaks_)
        self.threshold_ = float(_gpd_quantile(self.init_threshold_, self.gamma_, self.sigma_, self.q_, self.n_,
                                              len(self.peaks_)))

    def step(self, score) -> tuple[bool, float]:
        """Judge one score: ``(is_alarm, threshold it was compared with)``; updates the model."""
        if not hasattr(self, "threshold_"):
            raise ValueError("SPOT is not fitted yet; call fit(initial_scores) first")
        x = _finite(score, "score")
        z = self.threshold_
        if x > z:
            return True, z
        self.n_ += 1
        if x > self.init_threshold_:
            self.peaks_ = np.append(self.peaks_, x - self.init_threshold_)
            if len(self.peaks_) >= MIN_PEAKS:
                self._refit()
        return False, z

    def run(self, scores) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` over ``scores``: ``(flags bool (n,), thresholds (n,))``, ``thresholds[i]``
        being the threshold ``scores[i]`` was compared with."""
        s = _check_scores(scores, "scores")
        flags = np.zeros(len(s), dtype=bool)
        thresholds = np.empty(len(s))
        for i, x in enumerate(s):
            flags[i], thresholds[i] = self.step(x)
        return flags, thresholds


class DriftAlarm:
    """A label-free alarm rule for scores whose normal level drifts after training: each score is
    judged against a slowly updated *reference*, not against a fixed threshold (the DSPOT idea of
    Siffer et al., KDD 2017, with an exponentially weighted reference).

    The scores are first put on a log-like scale, ``u = asinh((s - median) / IQR)`` (median and
    inter-quartile range of the training scores; ``log=False`` keeps ``u = s``), so that the few
    huge scores of an anomaly do not swamp the reference. The reference starts at the median of the
    training ``u`` and follows the stream: ``r <- r + (u - r) / depth`` after each score that is not
    flagged. A score is flagged when its *residual* ``u - r`` exceeds ``threshold_``, the ``1 - q``
    quantile (``tail="pot"``: the POT estimate, :func:`pot_threshold`) of the residuals of the
    training scores, run through the same reference. So a level that creeps up over many steps is
    followed by the reference and raises no alarm, while a jump (a spike or the onset of a fault)
    does.

    Flagged scores do not move the reference (DSPOT's rule: anomalies must not become the normal
    level), unless ``absorb`` is set: then they move it at the slower rate ``1 / absorb``, so that a
    lasting change of level (a system that does not return to its old state after a fault) stops
    being flagged after some multiple of ``absorb`` steps instead of never.

    ``fit(train_scores)`` sets the scale, ``threshold_`` and the starting reference ``ref0_``;
    ``update(scores)`` judges new scores in order and returns their flags, carrying the reference
    over from call to call (a stream); ``reset()`` goes back to ``ref0_``. Feeding a sequence in
    pieces gives the same flags as :meth:`run` on the whole (``update`` of one piece after
    ``reset``), which is :func:`drift_alarms`.

    Parameters
    ----------
    q : share of the training residuals above ``threshold_``, in (0, 0.5].
    depth : memory of the reference in steps (>= 1): how fast it follows a drifting normal level.
    absorb : None (flagged scores never move the reference) or the memory (>= 1 step) with which
        they do; larger than ``depth`` to make sense.
    tail : ``"quantile"`` (the empirical ``1 - q`` quantile) or ``"pot"`` (a GPD fitted over the
        ``level`` quantile of the residuals).
    level : the initial quantile of ``tail="pot"``.
    log : put the scores on the ``asinh`` scale first (True) or keep them (False).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=400)
    >>> test = rng.normal(size=2000) + np.linspace(0.0, 8.0, 2000)   # the normal level drifts by 8
    >>> test[1500] += 30.0                                             # one spike
    >>> rule = DriftAlarm(q=0.001, depth=50).fit(train)
    >>> flags = rule.update(test)
    >>> bool(flags[1500]), int(flags.sum())
    (True, 1)
    >>> int((test > np.quantile(train, 0.999)).sum()) > 1000          # a fixed threshold: drift flagged
    True
    """

    TAILS = ("quantile", "pot")

    def __init__(self, q: float = 0.01, depth: int = 100, absorb: int | None = None, tail: str = "quantile",
                 level: float = 0.9, log: bool = True):
        self.q = q
        self.depth = depth
        self.absorb = absorb
        self.tail = tail
        self.level = level
        self.log = log

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("q", "depth", "absorb", "tail", "level", "log")}

    def _check_params(self) -> None:
        _check_fraction(self.q, "q", hi_inclusive=True, hi=0.5)
        for name in ("depth", "absorb"):
            v = getattr(self, name)
            if name == "absorb" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(v)) or float(v) < 1:
                raise ValueError(f"{name} must be a number of steps >= 1" + (" or None" if name == "absorb" else "")
                                 + f", got {v!r}")
        if self.tail not in self.TAILS:
            raise ValueError(f"tail must be one of {', '.join(self.TAILS)}, got {self.tail!r}")
        if self.tail == "pot":
            _check_q_level(self.q, self.level)
        if not isinstance(self.log, (bool, np.bool_)):
            raise ValueError(f"log must be True or False, got {self.log!r}")

    def _u(self, s: np.ndarray) -> np.ndarray:
        return np.arcsinh((s - self.center_) / self.scale_) if self.log else s

    def fit(self, train_scores) -> "DriftAlarm":
        """Set the scale, the starting reference and ``threshold_`` from (mostly) normal scores, in
        time order."""
        self._check_params()
        s = _check_scores(train_scores)
        if len(s) < 2:
            raise ValueError(f"DriftAlarm needs at least 2 training scores, got {len(s)}")
        self.center_ = float(np.median(s))
        q25, q75 = np.percentile(s, [25, 75])
        spread = float(q75 - q25) if q75 > q25 else float(s.std())
        self.scale_ = spread if spread > 1e-12 else 1.0
        u = self._u(s)
        self.ref0_ = float(np.median(u))
        a = 1.0 / float(self.depth)
        res = np.empty(len(u))
        r = self.ref0_
        for i, x in enumerate(u):  # the training scores are normal: every one moves the reference
            res[i] = x - r
            r += a * (x - r)
        self.train_residuals_ = res
        if self.tail == "quantile":
            self.threshold_ = float(np.quantile(res, 1.0 - float(self.q)))
        else:
            self.threshold_ = pot_threshold(res, q=float(self.q), level=float(self.level))
        self.reset()
        return self

    def reset(self) -> "DriftAlarm":
        """Back to the reference the rule starts from (a new series)."""
        if not hasattr(self, "threshold_"):
            raise ValueError("DriftAlarm is not fitted yet; call fit(train_scores) first")
        self.ref_ = self.ref0_
        self.n_ = 0
        return self

    def update(self, scores) -> np.ndarray:
        """Judge ``scores`` (the next steps of the stream, in order): bool flags ``(n,)``; the
        reference moves on (see the class docstring)."""
        if not hasattr(self, "threshold_"):
            raise ValueError("DriftAlarm is not fitted yet; call fit(train_scores) first")
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(s) == 0:
            return np.zeros(0, dtype=bool)
        u = self._u(_check_scores(s, "scores"))
        a = 1.0 / float(self.depth)
        b = 0.0 if self.absorb is None else 1.0 / float(self.absorb)
        thr, r = self.threshold_, self.ref_
        flags = np.zeros(len(u), dtype=bool)
        for i, x in enumerate(u):
            if x - r > thr:
                flags[i] = True
                r += b * (x - r)
            else:
                r += a * (x - r)
        self.ref_ = float(r)
        self.n_ += len(u)
        return flags

    def run(self, scores) -> np.ndarray:
        """Flags of a whole series from the starting reference (:meth:`reset`, then :meth:`update`)."""
        return self.reset().update(scores)

    def state(self) -> dict:
        """The fitted rule as plain numbers (JSON), for :meth:`from_state`."""
        if not hasattr(self, "threshold_"):
            raise ValueError("DriftAlarm is not fitted yet; call fit(train_scores) first")
        return {"params": self.get_params(), "center_": self.center_, "scale_": self.scale_, "ref0_": self.ref0_,
                "threshold_": self.threshold_}

    @classmethod
    def from_state(cls, state: dict) -> "DriftAlarm":
        rule = cls(**state["params"])
        rule._check_params()
        for k in ("center_", "scale_", "ref0_", "threshold_"):
            setattr(rule, k, float(state[k]))
        return rule.reset()


def drift_alarms(train_scores, scores, **params) -> np.ndarray:
    """Batch form of :class:`DriftAlarm`: fit on ``train_scores``, flag ``scores`` (one series, in
    time order) from the starting reference.

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> train = rng.normal(size=300)
    >>> s = np.r_[rng.normal(size=300) + np.linspace(0, 5, 300), 40.0]   # drift, then a spike
    >>> np.flatnonzero(drift_alarms(train, s, q=0.002, depth=30)).tolist()
    [300]
    """
    return DriftAlarm(**params).fit(train_scores).run(scores)


def choose_threshold(train_scores, method: str = "contamination", contamination: float = 0.1, q: float = 1e-3,
                     level: float = 0.98, value=None) -> float:
    """One entry point for the thresholds above.

    Parameters
    ----------
    method : ``"contamination"`` (:func:`contamination_threshold`), ``"pot"``
        (:func:`pot_threshold`, for unknown contamination) or ``"fixed"`` (``value``).

    Example
    -------
    >>> choose_threshold(np.arange(101.0), "contamination", contamination=0.05)
    95.0
    >>> choose_threshold(np.arange(101.0), "fixed", value=3)
    3.0
    """
    if method == "contamination":
        return contamination_threshold(train_scores, contamination)
    if method == "pot":
        return pot_threshold(train_scores, q=q, level=level)
    if method == "fixed":
        _check_scores(train_scores)  # the same bad input is refused whatever the method
        if value is None:
            raise ValueError("method='fixed' needs value=")
        return fixed_threshold(value)
    raise ValueError(f"unknown threshold method {method!r}; choose one of {', '.join(METHODS)}")


def apply_threshold(detector, method: str = "contamination", scores=None, **kw):
    """Set ``detector.threshold_`` (and ``labels_``) by ``method`` from its calibration scores
    (:func:`calibration_scores`: those ``fit`` set ``threshold_`` from).

    ``threshold_method_`` records the choice as a plain dict (``{"method": "pot", "q": ..., "level":
    ..., "threshold": ...}``); ``save`` stores it and ``adgdm.load`` restores it. Refitting the
    detector resets ``threshold_`` to its contamination quantile and drops the record.

    Parameters
    ----------
    detector : a fitted detector (tabular or series) with ``decision_scores_``.
    method : see :func:`choose_threshold`; keyword arguments ``contamination`` (default: the
        detector's own), ``q``, ``level``, ``value`` go there.
    scores : calibration scores to use instead of the detector's own, e.g. scores of held-out
        normal data (``labels_`` stay those of ``decision_scores_``).

    ``method="pot"`` raises ``ValueError`` on too few calibration scores (:func:`pot_min_scores`)
    and warns (:class:`NoAlarmWarning`) when its threshold flags none of the calibration and
    training scores while the contamination quantile flags some.

    Example
    -------
    >>> det = adgdm.make_detector("diffusion").fit(X)          # doctest: +SKIP
    >>> apply_threshold(det, "pot", q=1e-3).threshold_method_  # doctest: +SKIP
    {'method': 'pot', 'q': 0.001, 'level': 0.98, 'threshold': 3.1}
    """
    if not hasattr(detector, "decision_scores_"):
        raise ValueError(f"{type(detector).__name__} is not fitted (no decision_scores_); call fit first")
    unknown = set(kw) - {"contamination", "q", "level", "value"}
    if unknown:
        raise ValueError(f"apply_threshold got unknown argument(s) {sorted(unknown)}; "
                         f"it takes contamination, q, level, value")
    if method == "contamination":
        kw.setdefault("contamination", getattr(detector, "contamination", 0.1))
    train = calibration_scores(detector) if scores is None else scores
    thr = choose_threshold(train, method, **kw)
    record = {"method": str(method)}
    if method == "contamination":
        record["contamination"] = float(kw["contamination"])
    elif method == "pot":
        record.update(q=float(kw.get("q", 1e-3)), level=float(kw.get("level", 0.98)))
    elif method == "fixed":
        record["value"] = float(kw["value"])
    if scores is not None:
        record["calibration"] = "scores"
    record["threshold"] = float(thr)
    detector.threshold_ = float(thr)
    flags = getattr(detector, "_flags", None)  # a series detector's drift rule (alarm="drift") keeps its flags
    detector.labels_ = (flags(np.asarray(detector.decision_scores_)) if flags else
                        np.asarray(detector.decision_scores_) > detector.threshold_).astype(int)
    detector.threshold_method_ = record
    if method == "pot":
        _warn_no_alarm(detector, np.asarray(train, dtype=np.float64), float(thr), kw.get("q", 1e-3))
    return detector


def _warn_no_alarm(detector, cal: np.ndarray, thr: float, q) -> None:
    """:class:`NoAlarmWarning` when the POT threshold ``thr`` flags none of the calibration scores
    ``cal`` nor of the training scores, while the detector's contamination quantile of ``cal``
    flags some of them."""
    train = np.asarray(detector.decision_scores_, dtype=np.float64)
    if (cal > thr).any() or (train > thr).any():
        return
    c = float(getattr(detector, "contamination", 0.1))
    ref = float(np.quantile(cal, 1.0 - c))
    k_cal, k_train = int((cal > ref).sum()), int((train > ref).sum())
    if k_cal or k_train:
        warnings.warn(f"the POT threshold {thr:.4g} (risk q={float(q):g}) flags none of the {len(cal):,} calibration "
                      f"scores nor of the {len(train):,} training units, where the contamination threshold "
                      f"({c:g}) flags {k_cal:,} and {k_train:,}: it flags only scores beyond anything seen in normal "
                      f"data; raise q (e.g. q=0.01) for more alarms, or use method='contamination'",
                      NoAlarmWarning, stacklevel=3)


def _recorded_method(detector) -> dict | None:
    """``threshold_method_`` if it still describes ``threshold_`` (a refit may have moved it), else None."""
    rec = getattr(detector, "threshold_method_", None)
    if isinstance(rec, dict) and rec.get("threshold") == getattr(detector, "threshold_", None):
        return dict(rec)
    return None


# --- probabilities -------------------------------------------------------------------------------------
def calibrated_proba(scores, train_scores, threshold: float) -> np.ndarray:
    """Probability of being anomalous: a logistic in the score centred at ``threshold``,
    ``p = 1 / (1 + exp(-(s - threshold) / b))``, with the scale ``b`` from the spread of the
    training scores: ``b = IQR / (2 log 3)``, so a logistic of scale ``b`` has the training
    scores' inter-quartile range (the standard deviation times ``sqrt(3) / pi`` if the IQR is 0,
    1 if both are). So ``p = 0.5`` at the threshold, ``p`` rises with the score, and a score one
    training IQR above the threshold gets ``p = 0.9``, whatever the units of the detector.

    Example
    -------
    >>> train = np.random.default_rng(0).normal(size=1000)
    >>> p = calibrated_proba(np.array([-3.0, 1.28, 4.0]), train, threshold=1.28)
    >>> p.round(2).tolist()
    [0.0, 0.5, 0.99]
    """
    s = _check_scores(scores, "scores")
    train = _check_scores(train_scores)
    q25, q75 = np.percentile(train, [25, 75])
    iqr = float(q75 - q25)
    if iqr > 1e-12:
        b = iqr / (2.0 * math.log(3.0))
    else:
        sd = float(train.std())
        b = sd * math.sqrt(3.0) / math.pi if sd > 1e-12 else 1.0
    from scipy.special import expit

    return expit((s - float(threshold)) / b)
