"""``series``: the recommended series detector. The window centred on each step (``align``;
or ending at it) is scored by the *ideal* denoiser of the training windows (the tabular
``diffusion`` default on flattened windows): exact multi-scale score norms and smoothed
likelihoods, no network to train.

Why not a trained window denoiser by default: the training parts of the benchmarks are a few
hundred steps (SKAB 400, NAB at most 750), where the exact posterior mean over the training windows
is the best denoiser there is; the trained ``series-recon|impute|forecast`` detectors are for long
histories, and the pretrained cross-series ``series-pre`` lost to it in the leave-one-group-out
choice (it forecasts transitions; NAB's labelled anomalies are lasting states). Streaming equals
batch scoring (with ``align="center"`` it reports each step half a window late).
"""
from __future__ import annotations

import numpy as np

from ..._validation import check_series
from ...modalities import get_modality
from ..base import Fitted, nested_state, restore_nested
from ..._params import store_params
from .base import SeriesBase
from ..tabular.diffusion import DiffusionDetector
from ...scores.fusion import RobustZ
from ...scores.subspace import WindowSubspace

__all__ = ["SeriesDiffusion", "SeriesDiffusionStream"]


def causal_windows(Z: np.ndarray, window: int, history: np.ndarray | None = None) -> np.ndarray:
    """``(T, window * C)``: row ``t`` holds steps ``t - window + 1 .. t`` (oldest first). Before the
    first step the series is padded with ``history`` (its last ``window - 1`` rows), or with copies
    of the first step when there is none (the detectors do not score those padded windows: see
    ``SeriesDiffusion``, "The start of a series")."""
    if history is None or len(history) == 0:
        history = np.repeat(Z[:1], window - 1, axis=0)
    pad = np.concatenate([history[len(history) - (window - 1):], Z]) if window > 1 else Z
    idx = np.arange(len(Z))[:, None] + np.arange(window)[None, :]
    return np.ascontiguousarray(pad[idx].reshape(len(Z), -1))


class SeriesDiffusion(SeriesBase):
    """Window scores from the ideal denoiser of the training windows.

    Parameters
    ----------
    window : steps per window, or ``"auto"``: the series' period as TSB-AD estimates it, clipped
        to [16, 128].
    align : which window a step is scored by. ``"center"`` (default): the window centred on it
        (TSB-AD's alignment), so a step's score looks ``(window - 1) // 2`` steps ahead and a
        stream reports it that many steps late (``flush()`` scores the last ones as the batch
        does). ``"end"``: the window ending at it, causal, streamed at once. Chosen by leave-one-
        group-out over NAB categories and SKAB folders (``benchmarks/results/series_default_select.md``):
        "center" VUS-PR 0.427 vs 0.392 on NAB, 0.838 vs 0.832 on SKAB; its look-ahead is why.
    subspace : weight of Sub-PCA evidence of the same windows (:class:`adgdm.scores.subspace.WindowSubspace`),
        added on robust z-scales set by cross-fitted training values; 0 = none (the loco choice:
        it did not help on the held-out groups, 0.5 was chosen for 3 of 6).
    max_train_windows : training windows kept as the reference (a random subset beyond it).
    smooth : trailing mean of the score over this many steps (1 = none).
    contamination : share of the calibration scores (``calibration_scores_``) above ``threshold_``.
    n_folds : time blocks of the training windows; each is scored against the windows that share
        no step with it (cross-fitting), which sets the scale of the evidence and, through
        ``contamination``, ``threshold_``. A block with fewer than 2 such windows (a window long
        for the series) is scored against every window outside it, overlapping ones included, for
        the scale; those in-sample scores are left out of ``calibration_scores_``.
    fill : None (NaN raises), ``"ffill"`` or ``"interpolate"``.
    alarm : how ``predict`` (and ``stream``) flag steps. ``"static"``: score above ``threshold_``.
        ``"drift"``: :class:`adgdm.thresholds.DriftAlarm`, label-free and drift-aware: each score
        is judged against a slowly updated reference of the recent normal scores, so a normal level
        that drifts after training raises no alarm while a jump still does; ``contamination`` is the
        rule's share of training residuals above its threshold. ``predict(X)`` treats ``X`` as one
        series from its start.
    alarm_depth : memory, in steps, of the drift rule's reference (how fast it follows a drift).
    alarm_absorb : memory with which flagged steps move the reference (None: never, DSPOT's
        rule); a lasting change of level stops being flagged after a few times this many steps.
        The defaults (100, 400) are the choice made on SKAB's ``valve1`` folder (best pooled F1 with at
        most 20% false alarms, with ``contamination=0.02``) in the leave-one-group-out run of
        ``benchmarks/results/skab_drift_grid_loco.md``; they are not tuned on all of SKAB.
    The remaining parameters go to the tabular ``diffusion`` detector.

    Models saved before ``align`` existed load with ``align="end"`` (what they computed).

    The start of a series: the first ``window - 1`` steps of a scored series have no full window
    (their windows would be padded with copies of the first step, a flat stretch unlike any
    training window: a false alarm on every series). They are not judged: they get
    ``start_score_``, the median training score of the full windows (below a ``contamination``
    threshold), and no contributions (``explain``). An anomaly among them shows from step
    ``window - 1`` on, in the windows that hold it. A stream scores its first points the same way.

    Training scores (``decision_scores_``, one per fitted step): each reference window's score is
    cross-fitted (its time block against windows that share no step with it, ``n_folds``); windows
    left out of the reference (beyond ``max_train_windows``) are scored the same way, against the
    reference windows outside their block; the first ``window - 1`` steps get ``start_score_``.
    ``adgdm score`` uses them when it scores the fitted series again.

    Example
    -------
    >>> t = np.arange(3000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=3000)
    >>> x[2500:2510] += 3.0
    >>> det = SeriesDiffusion(window=32).fit(x[:2000])
    >>> s = det.decision_function(x)
    >>> bool(s[2500:2510].mean() > np.quantile(s[:2000], 0.99))
    True
    """

    name = "series"
    training_scores = "cross-fitted (time-block)"

    def __init__(self, window="auto", max_train_windows: int = 2000, smooth: int = 1,
                 contamination: float = 0.01, n_neighbors: int = 10, coarse_neighbors: int = 50,
                 coarse_weight: float = 0.5, n_folds: int = 5, fill: str | None = None,
                 alarm: str = "static", alarm_depth: int = 100, alarm_absorb: int | None = 400,
                 subspace: float = 0.0, align: str = "center", random_state=None):
        store_params(self, locals())

    @classmethod
    def _from_state(cls, params: dict, meta: dict, arrays: dict):
        # models saved before ``align`` and ``subspace`` existed scored causally, without subspace evidence
        params = {"align": "end", "subspace": 0.0, **params}
        return super()._from_state(params, meta, arrays)

    def _tab(self) -> DiffusionDetector:
        return DiffusionDetector(n_neighbors=self.n_neighbors, coarse_neighbors=self.coarse_neighbors,
                                 coarse_weight=self.coarse_weight, contamination=self.contamination,
                                 knn_backend="torch", calibration="train",  # its threshold is not used
                                 coarse_rows=None)  # the coarse block the series default was chosen with

    def _window(self, arr=None) -> int:
        """``window`` or, for ``"auto"``, TSB-AD's period estimate on the first channel, clipped to
        [16, 128] steps."""
        if self.window == "auto":
            if arr is None:
                return int(self.window_)
            from .baselines import estimate_period

            return int(np.clip(estimate_period(arr[:, 0]), 16, 128))
        return int(self.window)

    def _check_params(self):
        if self.window != "auto" and int(self.window) < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        if int(self.smooth) < 1:
            raise ValueError(f"smooth must be >= 1, got {self.smooth}")
        if int(self.max_train_windows) < 2:
            raise ValueError(f"max_train_windows must be >= 2, got {self.max_train_windows}")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if int(self.n_folds) < 2:
            raise ValueError(f"n_folds must be >= 2, got {self.n_folds}")
        if self.align not in ("end", "center"):
            raise ValueError(f"align must be 'end' (causal) or 'center', got {self.align!r}")
        if not (np.isfinite(float(self.subspace)) and float(self.subspace) >= 0):
            raise ValueError(f"subspace must be a weight >= 0, got {self.subspace}")
        self._drift_rule()  # a bad alarm rule fails before the work

    def _fit(self, arr):
        """Fit on a validated (mostly) normal series ``(T, channels)``."""
        self.window_ = self._window(arr)
        if len(arr) < self.window_:
            raise ValueError(f"series has {len(arr)} steps, fewer than the window length {self.window_}")
        self.center_ = np.median(arr, axis=0)
        std = arr.std(axis=0)
        self.scale_ = np.where(std > 1e-8, std, 1.0)
        Z = (arr - self.center_) / self.scale_
        W = causal_windows(Z, int(self.window_))
        first, ref = self._reference(len(W))
        self.tab_ = self._tab().fit(W[ref])
        folds = self._cross_fit(ref)
        raw = np.empty(len(W))
        raw[ref] = self.tab_.decision_scores_
        others = np.setdiff1d(np.arange(first, len(W)), ref)
        if len(others):  # not in the reference: scored against the reference outside their time block
            w = int(self.window_)
            edges = [ref[f[-1]] for f in folds[:-1]]  # block b: the steps up to the last window of fold b
            block = np.searchsorted(edges, others, side="left")
            for b, fold in enumerate(folds):
                mine = others[block == b]
                if len(mine):
                    lo, hi = min(ref[fold[0]], mine[0]), max(ref[fold[-1]], mine[-1])
                    keep = (ref <= lo - w) | (ref >= hi + w)
                    part = self.tab_.subset(keep) if keep.sum() >= 2 else self.tab_
                    raw[mine] = part.decision_function(W[mine])
        if float(self.subspace) > 0:
            raw[first:] = self._fit_subspace(W, ref, first, raw[first:])
        full = raw[int(self.window_) - 1:]
        self.start_score_ = float(np.median(full)) if len(full) else float(np.median(raw))
        raw[: int(self.window_) - 1] = self.start_score_  # no full window: not judged (class docstring)
        smoothed = self._smooth(self._shift(raw))
        proper = self._proper_folds(ref)
        if proper is not None and self._lag():  # the same windows' scores, now at their centre steps
            proper = np.unique(np.clip(proper - self._lag(), 0, None))
        return Fitted(smoothed, slice(first, None), None if proper is None else smoothed[proper])

    def _reference(self, n_windows: int, random_state=None):
        """``(first, ref)``: the first training window compared with, and the indices of the
        reference windows (a random subset beyond ``max_train_windows``, drawn with ``random_state``,
        default this detector's)."""
        # windows that end before step ``window - 1`` are padded with copies of the first step:
        # they are scored, but are not normal data to compare with
        w = int(self.window_)
        first = w - 1 if n_windows - w + 1 >= 2 * int(self.n_folds) else 0
        ref = np.arange(first, n_windows)
        if len(ref) > int(self.max_train_windows):
            rng = np.random.default_rng(self.random_state if random_state is None else random_state)
            ref = np.sort(rng.choice(ref, int(self.max_train_windows), replace=False))
        return first, ref

    def _explain_training(self, arr, train_index):
        """The fitted series: each time block's residuals against the reference windows sharing no
        step with it, as its cross-fitted training scores were (against itself every window
        reconstructs). None (occlusion) for part of the series, or an unrepeatable reference."""
        w, n = int(self.window_), len(arr)
        if n != len(self.decision_scores_) or not np.array_equal(train_index, np.arange(n)) or (
                self.random_state is None and n - w + 1 > int(self.max_train_windows)):
            return None
        W = causal_windows((arr - self.center_) / self.scale_, w)
        first, ref = self._reference(len(W))
        if len(ref) != len(self.tab_.denoiser_.rows_):
            return None
        res = np.zeros(W.shape)
        idx = np.arange(first, len(W))
        for block in np.array_split(np.arange(len(idx)), min(int(self.n_folds), len(idx))):
            lo, hi = idx[block[0]], idx[block[-1]]
            keep = (ref <= lo - w) | (ref >= hi + w)
            part = self.tab_.subset(keep) if keep.sum() >= 2 else self.tab_
            res[idx[block]] = part.residuals(W[idx[block]])
        res = res.reshape(n, w, self.n_channels_).sum(axis=1)
        res[: w - 1] = 0.0
        return self._per_channel_smooth(self._shift(res))

    def _fit_subspace(self, W, ref, first, ideal):
        """Fit the subspace evidence (Sub-PCA of the reference windows) and return the fused
        training evidence of the windows from ``first`` on: each time block of them scored by a
        subspace fitted on the reference windows sharing no step with it (cross-fitted, as the
        ideal denoiser's evidence is), both put on robust z-scales set by these cross-fitted values."""
        w = int(self.window_)
        idx = np.arange(first, len(W))
        sub = np.empty(len(idx))
        for block in np.array_split(np.arange(len(idx)), min(int(self.n_folds), len(idx))):
            lo, hi = idx[block[0]], idx[block[-1]]
            keep = (ref <= lo - w) | (ref >= hi + w)
            part = WindowSubspace().fit(W[ref[keep]] if keep.sum() >= 2 else W[ref])
            sub[block] = part.score(W[idx[block]])
        self.subspace_ = WindowSubspace().fit(W[ref])
        self.z_ideal_ = RobustZ.fit(ideal, std_fallback=True)
        self.z_sub_ = RobustZ.fit(sub, std_fallback=True)
        return self.z_ideal_(ideal) + float(self.subspace) * self.z_sub_(sub)

    def _lag(self) -> int:
        """Steps between a scored step and the end of its window: 0 (``align="end"``, causal) or
        ``(window - 1) // 2`` (``"center"``: TSB-AD's alignment of window scores)."""
        return (int(self.window_) - 1) // 2 if getattr(self, "align", "end") == "center" else 0

    def _shift(self, raw: np.ndarray) -> np.ndarray:
        """Window-end scores to the steps they are reported at: step ``t`` takes the score of the
        window ending at ``t + lag`` (the last steps repeat the last score, as TSB-AD pads)."""
        lag = self._lag()
        if not lag or len(raw) == 0:
            return raw
        return raw[np.minimum(np.arange(len(raw)) + lag, len(raw) - 1)]

    def _proper_folds(self, ref: np.ndarray) -> np.ndarray | None:
        """Indices into ``W`` of the reference windows whose cross-fitted scores came from windows
        sharing no step with them (``_cross_fit``); None when every fold had such windows."""
        w = int(self.window_)
        ok = []
        for fold in self._folds(ref):
            if self._others(ref, fold, w).sum() >= 2:
                ok.append(ref[fold])
        n_ok = sum(len(f) for f in ok)
        return None if n_ok == len(ref) or n_ok == 0 else np.concatenate(ok)

    def _cross_fit(self, ref: np.ndarray) -> list:
        """Re-base the training evidence of ``tab_`` on time blocks. Overlapping windows are
        near-copies of their neighbours in time, so a window's leave-one-out evidence is degenerate
        (its nearest row is itself shifted by one step) and the robust z-scale collapses. Instead,
        each of ``n_folds`` blocks of training windows is scored against the windows that share no
        step with it; these cross-fitted scores set the z-scale, the training scores and, through
        ``contamination``, ``threshold_`` (they show how new stretches of normal data score)."""
        w = int(self.window_)
        folds = self._folds(ref)
        self.tab_.cross_fit(folds, lambda fold: self._others(ref, fold, w))
        return folds

    def _folds(self, ref: np.ndarray) -> list:
        return np.array_split(np.arange(len(ref)), min(int(self.n_folds), len(ref)))

    @staticmethod
    def _others(ref: np.ndarray, fold: np.ndarray, w: int) -> np.ndarray:
        """The reference windows that share no step with the windows ``ref[fold]``."""
        return (ref <= ref[fold[0]] - w) | (ref >= ref[fold[-1]] + w)

    def _raw(self, Z, history=None, start: int | None = 0):
        """Unsmoothed scores of the windows ending at each step of ``Z``; ``start``: the global index
        of ``Z[0]`` (steps before ``window - 1`` get ``start_score_``), None when ``history`` holds
        real steps before it."""
        W = causal_windows(Z, int(self.window_), history)
        raw = self.tab_.decision_function(W)
        if float(self.subspace) > 0:  # Sub-PCA evidence of the same causal windows, fused on z-scales
            raw = self.z_ideal_(raw) + float(self.subspace) * self.z_sub_(self.subspace_.score(W))
        if start is not None:
            raw[: max(0, int(self.window_) - 1 - int(start))] = self._start_score()
        return raw

    def _unjudged_lead(self) -> int:
        """The leading steps of a scored series that get ``start_score_`` (no full window)."""
        return max(0, int(self.window_) - 1 - self._lag())

    def _recalibrated(self) -> None:
        """Unjudged start steps score as the median normal step: after ``calibrate``, the median
        of the new calibration scores (a threshold set below the training median would otherwise
        flag every series' start)."""
        super()._recalibrated()
        self.start_score_ = float(np.median(self.calibration_scores_))

    def _start_score(self) -> float:
        """The score of steps without a full window (models saved before it was stored: the median
        training score of the full windows)."""
        if not hasattr(self, "start_score_"):
            self.start_score_ = float(np.median(self.decision_scores_[int(self.window_) - 1:]))
        return self.start_score_

    def _input(self, X, fitting: bool):
        if fitting:
            return self._series(X, True, min_length=2 if self.window == "auto" else max(2, int(self.window)))
        return self._series(X, fitting, min_length=int(self.window_))

    def residuals(self, X) -> np.ndarray:
        """``(T, channels)`` ideal-denoiser residual of the window ending at each step (see
        ``DiffusionDetector.residuals``), summed over the window's steps per channel; not smoothed.
        What each channel contributes to a step's evidence."""
        self._check_fitted()
        return self._residuals(self._input(X, fitting=False))

    def _residuals(self, arr: np.ndarray) -> np.ndarray:
        w, C = int(self.window_), self.n_channels_
        W = causal_windows((arr - self.center_) / self.scale_, w)  # row t: steps t-w+1..t, (step, channel) order
        return self.tab_.residuals(W).reshape(len(arr), w, C).sum(axis=1)

    def _score(self, arr):
        """One score per step (the window ending at it), higher = more anomalous."""
        return self._smooth(self._shift(self._raw((arr - self.center_) / self.scale_)))

    def _explain_model(self, arr):
        """:meth:`residuals`, smoothed like the score; 0 for the steps without a full window."""
        res = self._residuals(arr)
        res[: int(self.window_) - 1] = 0.0
        return self._per_channel_smooth(self._shift(res))

    def stream(self) -> "SeriesDiffusionStream":
        """Online scorer: ``update(points)`` returns one score per new point at once; ``alarms(points)``
        its flags under the detector's alarm rule (the same as ``predict`` of the whole series)."""
        self._check_fitted()
        return SeriesDiffusionStream(self)

    def _get_state(self) -> tuple[dict, dict]:
        tmeta, arrays = nested_state(self.tab_, "tab")
        meta = {"window_": self.window_, "tab": tmeta, "start_score_": self._start_score()}
        if float(self.subspace) > 0:
            meta["z"] = [list(self.z_ideal_.params()), list(self.z_sub_.params())]
            arrays.update({f"subspace.{k}": v for k, v in self.subspace_.state().items()})
        return meta, arrays

    def _set_state(self, f: dict, arrays: dict) -> None:
        self.window_ = int(f["window_"])
        self.__dict__.pop("start_score_", None)
        if "start_score_" in f:
            self.start_score_ = float(f["start_score_"])
        self.tab_ = restore_nested(DiffusionDetector, self._tab().get_params(), f["tab"], arrays, "tab")
        if float(self.subspace) > 0:
            self.subspace_ = WindowSubspace.from_state({k[9:]: v for k, v in arrays.items() if k.startswith("subspace.")})
            (ci, si), (cs, ss) = f["z"]
            self.z_ideal_, self.z_sub_ = RobustZ(float(ci), float(si)), RobustZ(float(cs), float(ss))
        if self.tab_.n_features_in_ != self.n_channels_ * self.window_:
            raise ValueError("stored shapes do not match the channel count and window")


class SeriesDiffusionStream:
    """Online scoring for ``SeriesDiffusion``: each new point is scored as it arrives.

    ``update(points)`` returns the scores; the detector's alarm rule judges them at the same time
    (``last_flags``, or ``alarms(points)`` for the flags directly). With ``align="center"`` a step
    is reported half a window late: at the end of the series ``flush()`` (scores) or
    ``flush_alarms()`` (flags) reports the last steps. With ``alarm="drift"`` the rule's reference
    carries over from call to call, so the flags of a stream fed in pieces, then flushed, equal
    ``det.predict`` of the whole series.

    Example
    -------
    >>> live = det.stream()                                    # doctest: +SKIP
    >>> flags = np.concatenate([live.alarms(chunk) for chunk in chunks] + [live.flush_alarms()])  # doctest: +SKIP
    """

    def __init__(self, det: SeriesDiffusion):
        from ...thresholds import DriftAlarm

        self.det = det
        rule = getattr(det, "alarm_rule_", None)
        self.rule = None if rule is None else DriftAlarm.from_state(rule.state())
        self.last_flags = np.zeros(0, dtype=bool)
        self.history = None        # last window - 1 scaled points
        self.raw_history = np.zeros(0)
        self.n_seen = 0            # points scored so far (the first window - 1 get start_score_)
        self.pending = np.zeros(0)  # align="center": scores of the windows ending at steps pstart.. not yet reported
        self.pstart = 0
        self.emitted = 0            # steps reported so far
        self.last_raw = None

    def update(self, points) -> np.ndarray:
        arr, _ = check_series(points, self.det.n_channels_, None, fill=self.det.fill, what="points")
        arr = get_modality("series").bound(self.det, arr, False, what="points")  # as in batch scoring
        Z = (arr - self.det.center_) / self.det.scale_
        raw = self.det._raw(Z, self.history, start=self.n_seen)
        self.n_seen += len(Z)
        w = int(self.det.window_)
        hist = Z if self.history is None else np.concatenate([self.history, Z])
        if self.history is None:  # the batch pads the series start with its first step
            hist = np.concatenate([np.repeat(Z[:1], w - 1, axis=0), Z])
        self.history = hist[len(hist) - (w - 1):] if w > 1 else hist[:0]
        lag = self.det._lag()
        if lag:  # step t is reported with the window ending at t + lag: lag steps late
            if len(raw):
                self.last_raw = raw[-1]
            self.pending = np.concatenate([self.pending, raw])
            drop = max(0, self.emitted + lag - self.pstart)  # windows ending before the first step's
            self.pending, self.pstart = self.pending[drop:], self.pstart + min(drop, len(self.pending))
            k = max(0, self.n_seen - lag - self.emitted)
            raw, self.pending = self.pending[:k], self.pending[k:]
            self.pstart += k
            self.emitted += k
        return self._emit(raw)

    def _emit(self, raw: np.ndarray) -> np.ndarray:
        out = self.det._smooth(raw, self.raw_history)
        self.raw_history = np.concatenate([self.raw_history, raw])[-max(1, int(self.det.smooth) - 1):]
        self.last_flags = self.det._flags(out) if self.rule is None else self.rule.update(out)
        return out

    def alarms(self, points) -> np.ndarray:
        """Score the new points (:meth:`update`) and return their 0/1 flags."""
        self.update(points)
        return self.last_flags.astype(int)

    def flush(self) -> np.ndarray:
        """``align="center"``: the last ``lag`` steps, scored as the batch scores a series' end
        (the last window's score repeated); nothing otherwise."""
        k = self.n_seen - self.emitted
        if not self.det._lag() or k <= 0:
            return self._emit(np.zeros(0))
        self.emitted = self.n_seen
        return self._emit(np.full(k, self.last_raw))

    def flush_alarms(self) -> np.ndarray:
        """The 0/1 flags of the steps :meth:`flush` reports (the end of the series)."""
        self.flush()
        return self.last_flags.astype(int)
