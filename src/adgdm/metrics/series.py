"""Time-series anomaly-detection metrics: VUS (TSB-AD), best F1, point-adjusted F1, NAB and SKAB.

Every function takes numpy-compatible arrays, label 1 = anomaly, and raises a ``ValueError`` that
names the problem (length mismatch, NaN/inf scores, labels that are not 0/1, a missing class).
Threshold-free point-wise AUROC / AUPRC live in :mod:`adgdm.metrics.classification`.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
from sklearn.metrics import precision_recall_curve

__all__ = [
    "vus_pr",
    "vus_roc",
    "vus",
    "best_f1",
    "point_adjusted_f1",
    "label_windows",
    "NAB_PROFILES",
    "nab_probationary_length",
    "nab_score",
    "nab_normalized_score",
    "nab_best_threshold_score",
    "NabFileScore",
    "NabCorpusScore",
    "skab_outlier_metrics",
    "skab_outlier_metrics_pooled",
]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _labels(y, name: str = "labels") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        y = y.ravel()
    if y.dtype == bool:
        return y.astype(np.int64)
    if y.size and not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(f"{name} must be 0/1 (1 = anomaly); found values such as {bad.tolist()}")
    return y.astype(np.int64)


def _scores(s, n: int, name: str = "scores") -> np.ndarray:
    s = np.asarray(s, dtype=np.float64).ravel()
    if s.size != n:
        raise ValueError(f"labels ({n}) and {name} ({s.size}) differ in length")
    if not np.isfinite(s).all():
        raise ValueError(f"{name} contain NaN or inf")
    return s


def _need_both(y: np.ndarray, metric: str) -> None:
    if y.size == 0:
        raise ValueError(f"{metric}: labels are empty")
    if not y.any():
        raise ValueError(f"{metric} needs at least one anomaly (label 1); labels are all 0")
    if y.all():
        raise ValueError(f"{metric} needs at least one normal point (label 0); labels are all 1")


def _runs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and inclusive end index of every run of 1s in a 0/1 vector."""
    d = np.diff(np.concatenate(([0], y.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def label_windows(labels) -> list[tuple[int, int]]:
    """Runs of 1s in a 0/1 label vector as ``(start, end)`` index pairs, end inclusive.

    Example: ``label_windows([0, 1, 1, 0, 1]) == [(1, 2), (4, 4)]``.
    """
    s, e = _runs(_labels(labels))
    return [(int(a), int(b)) for a, b in zip(s, e)]


# --------------------------------------------------------------------------------------------
# VUS (Paparrizos et al., VLDB 2022) exactly as TSB-AD computes it
# --------------------------------------------------------------------------------------------
def _merge(starts: np.ndarray, ends: np.ndarray, half: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments widened by ``half`` on each side; neighbours merge unless the widened end of one is
    strictly before the widened start of the next (TSB-AD ``new_sequence``). Bounds clip to [0, n-1]."""
    split = ends[:-1] + half < starts[1:] - half
    first = np.concatenate(([0], np.flatnonzero(split) + 1))
    last = np.concatenate((np.flatnonzero(split), [starts.size - 1]))
    return np.maximum(starts[first] - half, 0), np.minimum(ends[last] + half, n - 1)


def _count_ge(sorted_asc: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many values of ``sorted_asc`` are >= each threshold."""
    return sorted_asc.size - np.searchsorted(sorted_asc, thresholds, side="left")


def _vus(labels, scores, sliding_window: int, n_thresholds: int) -> tuple[float, float]:
    y = _labels(labels)
    s = _scores(scores, y.size)
    _need_both(y, "VUS")
    if isinstance(sliding_window, bool) or int(sliding_window) != sliding_window or sliding_window < 0:
        raise ValueError(f"sliding_window must be a non-negative integer, got {sliding_window!r}")
    if int(n_thresholds) != n_thresholds or n_thresholds < 1:
        raise ValueError(f"n_thresholds must be a positive integer, got {n_thresholds!r}")
    W, K, n = int(sliding_window), int(n_thresholds), y.size
    P = float(y.sum())
    starts, ends = _runs(y)

    # thresholds: scores at K evenly spaced ranks of the descending sort; prediction = score >= thr
    thr = np.sort(s)[::-1][np.linspace(0, n - 1, K).astype(int)]
    n_pred = _count_ge(np.sort(s), thr).astype(np.float64)  # >= 1: every threshold is a score
    tp_anom = _count_ge(np.sort(s[y == 1]), thr).astype(np.float64)

    # normal points that some window can soft-label: within W//2 of an anomalous segment
    hmax = W // 2
    reach = np.zeros(n + 1, dtype=np.int64)
    np.add.at(reach, np.maximum(starts - hmax, 0), 1)
    np.add.at(reach, starts, -1)
    np.add.at(reach, np.minimum(ends + 1, n), 1)
    np.add.at(reach, np.minimum(ends + hmax + 1, n), -1)
    cand = np.flatnonzero((np.cumsum(reach[:n]) > 0) & (y == 0))
    cand = cand[np.argsort(-s[cand], kind="stable")]  # by descending score
    n_cand_pred = _count_ge(np.sort(s[cand]), thr)  # candidates flagged at each threshold
    # distance from each candidate to the nearest segment end on its left / start on its right
    li = np.searchsorted(ends, cand, side="left") - 1
    ri = np.searchsorted(starts, cand, side="right")
    d_left = np.where(li >= 0, cand - ends[np.maximum(li, 0)], n + 1)
    d_right = np.where(ri < starts.size, starts[np.minimum(ri, starts.size - 1)] - cand, n + 1)

    auc = np.empty(W + 1)
    ap = np.empty(W + 1)
    for w in range(W + 1):
        h = w // 2
        # soft label sqrt(1 - d/w) of the ramps (d <= w//2) around each segment, summed and capped
        # at 1. A ramp value is >= sqrt(1/2), so two overlapping ramps always cap at 1, and a
        # second ramp from one side implies the nearer one from that side also reaches.
        n_after = (np.searchsorted(ends, cand - 1, side="right")
                   - np.searchsorted(ends, cand - h, side="left"))
        n_before = (np.searchsorted(starts, cand + h, side="right")
                    - np.searchsorted(starts, cand + 1, side="left"))
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp_l = np.sqrt(np.clip(1.0 - d_left / w, 0.0, None)) if w else np.zeros(cand.size)
            ramp_r = np.sqrt(np.clip(1.0 - d_right / w, 0.0, None)) if w else np.zeros(cand.size)
        soft = np.where(n_after + n_before >= 2, 1.0,
                        np.where(n_after == 1, ramp_l, np.where(n_before == 1, ramp_r, 0.0)))
        # soft-label mass of the flagged candidates at each threshold
        csum = np.concatenate(([0.0], np.cumsum(soft)))
        soft_tp = csum[n_cand_pred]

        # existence: how many widened (merged) segments hold at least one flagged point
        ms, me = _merge(starts, ends, h, n)
        bounds = np.column_stack((ms, me + 1)).ravel()
        seg_max = np.maximum.reduceat(np.append(s, -np.inf), bounds)[::2]
        existence = _count_ge(np.sort(seg_max), thr) / ms.size

        tp = tp_anom + soft_tp
        p_new = P + soft_tp / 2.0  # (P + labelled mass) / 2, as TSB-AD
        tpr = np.minimum(tp / p_new, 1.0) * existence
        fpr = (n_pred - tp) / (n - p_new)
        prec = tp / n_pred
        tpr_c = np.concatenate(([0.0], tpr, [1.0]))
        fpr_c = np.concatenate(([0.0], fpr, [1.0]))
        auc[w] = np.dot(np.diff(fpr_c), (tpr_c[1:] + tpr_c[:-1]) / 2.0)
        ap[w] = np.dot(np.diff(tpr_c[:-1]), prec)
    return float(auc.mean()), float(ap.mean())


def vus(labels, scores, sliding_window: int = 100, *, n_thresholds: int = 250) -> dict[str, float]:
    """VUS-ROC and VUS-PR in one pass (see :func:`vus_pr`); returns ``{"vus_roc": .., "vus_pr": ..}``.

    Example: ``vus([0, 0, 1, 1, 0], [0, 0, 1, 1, 0], sliding_window=2)["vus_pr"] == 1.0``.
    """
    roc, pr = _vus(labels, scores, sliding_window, n_thresholds)
    return {"vus_roc": roc, "vus_pr": pr}


def vus_pr(labels, scores, sliding_window: int = 100, *, n_thresholds: int = 250) -> float:
    """Volume under the range-PR surface, exactly as TSB-AD (NeurIPS 2024) computes VUS-PR.

    Reproduces ``basic_metricor().RangeAUC_volume_opt(labels, score, sliding_window, thre=250)``
    of the ``TSB_AD`` package: for every buffer width ``w = 0 .. sliding_window`` each anomalous
    segment gets soft labels ``sqrt(1 - d/w)`` on the ``w//2`` points before and after it (summed,
    capped at 1); at 250 thresholds (the scores at evenly spaced ranks, prediction ``score >=
    threshold``) recall is ``TP / ((P + labelled mass) / 2)`` times the fraction of widened
    segments hit, and precision ``TP / #flagged``; the range-AP per ``w`` (step sum, starting at
    recall 0, precision 1) is averaged over the ``sliding_window + 1`` widths. A perfect score
    gives 1.0.

    Example: ``vus_pr([0, 0, 1, 1, 0, 0], [0, 0, 5, 5, 0, 0], sliding_window=2) == 1.0``.
    """
    return _vus(labels, scores, sliding_window, n_thresholds)[1]


def vus_roc(labels, scores, sliding_window: int = 100, *, n_thresholds: int = 250) -> float:
    """Volume under the range-ROC surface, exactly as TSB-AD computes VUS-ROC.

    Same construction as :func:`vus_pr`; per buffer width the area is the trapezoid rule over the
    points ``(0, 0)``, the 250 thresholds and ``(1, 1)``, with FPR ``FP / (n - (P + labelled
    mass) / 2)``. Chance level is not 0.5: the buffers favour any score, e.g. a uniform random
    score gets about 0.58 on 10 segments of 200 points in 10,000 with ``sliding_window=100``.

    Example: ``vus_roc([0, 0, 1, 1, 0, 0], [0, 0, 5, 5, 0, 0], sliding_window=2) == 1.0``.
    """
    return _vus(labels, scores, sliding_window, n_thresholds)[0]


# --------------------------------------------------------------------------------------------
# threshold-optimised point-wise F1 and the point-adjust protocol
# --------------------------------------------------------------------------------------------
def best_f1(labels, scores) -> tuple[float, float]:
    """Best point-wise F1 of the anomaly class over all thresholds (``score >= threshold``).

    Uses scikit-learn's precision-recall curve; returns ``(f1, threshold)``. The threshold is
    chosen on the test labels, so this is an oracle upper bound (TSB-AD's "Standard-F1", which
    adds 1e-5 to the denominator).

    Example: ``best_f1([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (1.0, 0.8)``.
    """
    y = _labels(labels)
    s = _scores(scores, y.size)
    _need_both(y, "best_f1")
    prec, rec, thr = precision_recall_curve(y, s)
    prec, rec = prec[:-1], rec[:-1]  # the last point (recall 0) has no threshold
    denom = prec + rec
    f1 = np.divide(2 * prec * rec, denom, out=np.zeros_like(denom), where=denom > 0)
    i = int(np.argmax(f1))
    return float(f1[i]), float(thr[i])


def point_adjusted_f1(labels, scores) -> tuple[float, float]:
    """F1 under the point-adjust protocol, at the best threshold; returns ``(f1, threshold)``.

    If any point of a true anomalous segment is flagged (``score >= threshold``) the whole segment
    counts as detected; flags outside segments stay false positives. The maximum is exact over
    every distinct score (TSB-AD's PA-F1 scans 100 evenly spaced thresholds with ``score >
    threshold``, so it can be slightly lower; its adjustment also never extends a segment back to
    index 0).

    Warning: optimistic. A long segment needs one lucky point, so a random score reaches a high
    PA-F1 (about 0.8 on SMD); report it only next to a threshold-free metric such as VUS-PR.

    Example: ``point_adjusted_f1([0, 1, 1, 1, 0], [0, 0, 1, 0, 0]) == (1.0, 1.0)``.
    """
    y = _labels(labels)
    s = _scores(scores, y.size)
    _need_both(y, "point_adjusted_f1")
    starts, ends = _runs(y)
    seg_max = np.maximum.reduceat(np.append(s, -np.inf), np.column_stack((starts, ends + 1)).ravel())[::2]
    seg_len = (ends - starts + 1).astype(np.float64)
    order = np.argsort(-seg_max, kind="stable")
    len_csum = np.concatenate(([0.0], np.cumsum(seg_len[order])))
    cand = np.unique(s)[::-1]
    tp = len_csum[_count_ge(np.sort(seg_max), cand)]
    fp = _count_ge(np.sort(s[y == 0]), cand)
    fn = y.sum() - tp
    f1 = 2 * tp / (2 * tp + fp + fn)
    i = int(np.argmax(f1))
    return float(f1[i]), float(cand[i])


# --------------------------------------------------------------------------------------------
# NAB (Lavin & Ahmad 2015; numenta/NAB nab/sweeper.py)
# --------------------------------------------------------------------------------------------
NAB_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fpWeight": 0.22, "fnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 2.0},
}


class NabFileScore(NamedTuple):
    """NAB result for one file. ``tp``/``fp``/``fn``/``tn`` count scored *points* as NAB's result
    csv does (flagged points inside windows, flagged points outside, ...); ``detected`` and
    ``missed`` count scored windows. ``null`` is the no-detection score, ``perfect`` NAB's ideal
    ``tpWeight`` x number of windows, counting only windows that reach past the probationary
    period (the same as NAB's count on the NAB corpus, where none lies inside it)."""

    score: float
    tp: int
    fp: int
    fn: int
    tn: int
    detected: int
    missed: int
    null: float
    perfect: float


class NabCorpusScore(NamedTuple):
    """NAB result for a corpus at one shared threshold: the 0-100 ``normalized`` score, the
    ``threshold``, summed ``raw``/``null``/``perfect`` scores and the per-file results."""

    normalized: float
    threshold: float
    raw: float
    null: float
    perfect: float
    files: list


def _scaled_sigmoid(x):
    """NAB ``scaledSigmoid``: ``2 * sigmoid(-5 x) - 1``, and -1 beyond x > 3."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(np.minimum(5.0 * x, 700.0))) - 1.0)


def _profile(profile) -> tuple[float, float, float]:
    if isinstance(profile, str):
        if profile not in NAB_PROFILES:
            raise ValueError(f"unknown NAB profile {profile!r}; choose from {sorted(NAB_PROFILES)} "
                             "or pass a dict of weights")
        profile = NAB_PROFILES[profile]
    try:
        return float(profile["tpWeight"]), float(profile["fpWeight"]), float(profile["fnWeight"])
    except (KeyError, TypeError):
        raise ValueError("a NAB profile dict needs keys 'tpWeight', 'fpWeight', 'fnWeight'") from None


def nab_probationary_length(n: int, probation_percent: float = 0.15) -> int:
    """NAB's probationary period: ``min(floor(0.15 n), 0.15 * 5000)`` leading points not scored.

    Example: ``nab_probationary_length(4032) == 604``.
    """
    return int(min(math.floor(probation_percent * n), probation_percent * 5000))


def _windows(windows, n: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(list(windows), dtype=np.int64).reshape(-1, 2) if len(windows) else np.zeros((0, 2), int)
    s, e = w[:, 0], w[:, 1]
    if ((s < 0) | (e >= n) | (s > e)).any():
        raise ValueError(f"label windows must be (start, end) indices with 0 <= start <= end < {n}")
    if (s[1:] <= e[:-1]).any():
        raise ValueError("label windows must be sorted and must not overlap")
    return s, e


def _nab_sweep(scores: np.ndarray, windows, probation: int | None, profile,
               thresholds: np.ndarray) -> list[NabFileScore]:
    """NAB score of one file at each threshold (detection = ``score >= threshold``)."""
    n = scores.size
    tp_w, fp_w, fn_w = _profile(profile)
    ws, we = _windows(windows, n)
    p = nab_probationary_length(n) if probation is None else int(probation)
    if p < 0:
        raise ValueError(f"probationary_length must be >= 0, got {p}")
    idx = np.arange(n)
    k = np.searchsorted(ws, idx, side="right") - 1  # last window starting at or before each point
    inside = (k >= 0) & (idx <= we[np.maximum(k, 0)]) if ws.size else np.zeros(n, bool)
    scored = idx >= p

    # false positives: weight by the sigmoid of the distance past the end of the preceding window,
    # relative to its width - 1 (no preceding window, or a width-1 window: -1)
    out = scored & ~inside
    ko = k[out]
    pos = np.full(ko.size, np.inf)  # no preceding window (NAB: -1), or one of width 1 (NAB divides by 0)
    if ws.size:
        prev = np.maximum(ko, 0)
        gap, span = (idx[out] - we[prev]).astype(np.float64), (we - ws)[prev]  # span = width - 1
        ok = (ko >= 0) & (span > 0)
        pos[ok] = gap[ok] / span[ok]
    fp_val = fp_w * _scaled_sigmoid(pos)
    out_scores = scores[out]
    order = np.argsort(-out_scores, kind="stable")
    fp_csum = np.concatenate(([0.0], np.cumsum(fp_val[order])))
    n_fp = _count_ge(np.sort(out_scores), thresholds)
    fp_total = fp_csum[n_fp]

    # windows: only the earliest detection counts, tpWeight * S(-(end - i + 1)/width) / S(-1)
    max_tp = float(_scaled_sigmoid(-1.0))
    n_in_scored = int((scored & inside).sum())
    n_tp_points = _count_ge(np.sort(scores[scored & inside]), thresholds)
    window_total = np.zeros(thresholds.size)
    detected = np.zeros(thresholds.size, dtype=np.int64)
    n_scorable_windows = 0
    for a, b in zip(ws, we):
        a0 = max(a, p)
        if a0 > b:  # the whole window lies in the probationary period: not scored
            continue
        n_scorable_windows += 1
        run_max = np.maximum.accumulate(scores[a0:b + 1])
        first = np.searchsorted(run_max, thresholds, side="left")  # first index with score >= thr
        hit = first <= b - a0
        i = a0 + np.minimum(first, b - a0)
        val = tp_w * _scaled_sigmoid(-(b - i + 1) / (b - a + 1.0)) / max_tp
        window_total += np.where(hit, np.maximum(val, -fn_w), -fn_w)
        detected += hit
    null = -fn_w * n_scorable_windows + 0.0  # no -0.0 for files without windows
    perfect = tp_w * n_scorable_windows  # NAB: tpWeight x #windows (none lies in probation in NAB)
    n_out = int(out.sum())
    return [
        NabFileScore(float(window_total[j] + fp_total[j]), int(n_tp_points[j]), int(n_fp[j]),
                     n_in_scored - int(n_tp_points[j]), n_out - int(n_fp[j]), int(detected[j]),
                     n_scorable_windows - int(detected[j]), float(null), float(perfect))
        for j in range(thresholds.size)
    ]


def nab_score(windows: Sequence[tuple[int, int]], detections, probationary_length: int | None = None,
              profile="standard") -> NabFileScore:
    """NAB score of one file from binary detections, as NAB's ``Sweeper`` scores it.

    ``windows`` are the label windows as ``(start_index, end_index)`` pairs, end inclusive,
    sorted and disjoint; ``detections`` a 0/1 array of the file's length. Points before
    ``probationary_length`` (default NAB's ``min(floor(0.15 n), 750)``) are ignored, and a window
    wholly inside it is not scored. Each window scores ``tpWeight * S(-(end - i + 1)/width) /
    S(-1)`` for its earliest detection ``i`` (1.0 at the window start, about 0 at its end) and
    ``-fnWeight`` if missed; later detections in the same window are free. Each detection outside
    a window scores ``fpWeight * S((i - end_prev) / (width_prev - 1))`` after the preceding window
    (between about -0 just after it and -fpWeight from 3 widths on), ``-fpWeight`` before any
    window. ``S(x) = 2 / (1 + exp(5 x)) - 1`` is NAB's scaled sigmoid. ``profile`` is a name in
    :data:`NAB_PROFILES` (standard: tp 1, fp 0.11, fn 1) or a dict with the three weights.
    Returns a :class:`NabFileScore` with the raw score, counts and the file's null / perfect
    scores for :func:`nab_normalized_score`.

    Example: ``nab_score([(4, 7)], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0], 0).score == 1.0``.
    """
    d = _labels(detections, "detections")
    return _nab_sweep(d.astype(np.float64), windows, probationary_length, profile, np.array([0.5]))[0]


def nab_normalized_score(raw, null, perfect) -> float:
    """NAB's 0-100 normalisation of raw scores summed over files: ``100 (raw - null) / (perfect -
    null)``, with ``null`` the no-detection score and ``perfect`` ``tpWeight`` x number of windows.

    Example: ``nab_normalized_score([0.5, 1.0], [-1.0, -1.0], [1.0, 1.0]) == 87.5``.
    """
    r, z, p = (float(np.sum(np.asarray(v, dtype=np.float64))) for v in (raw, null, perfect))
    if not all(map(math.isfinite, (r, z, p))):
        raise ValueError("NAB raw, null and perfect scores must be finite")
    if p == z:
        raise ValueError("NAB normalisation needs perfect != null (no label windows at all?)")
    return 100.0 * (r - z) / (p - z)


def nab_best_threshold_score(windows_per_file: Sequence, scores_per_file: Sequence,
                             probationary_lengths: Sequence | None = None, profile="standard", *,
                             thresholds=None, n_thresholds: int = 200) -> NabCorpusScore:
    """Best normalised NAB score of a detector over a corpus, with ONE threshold for all files.

    This is NAB's protocol: a detector emits anomaly scores, NAB tunes a single threshold per
    detector and profile on the whole corpus (detection = ``score >= threshold``), scores each
    file (:func:`nab_score`), sums the raw scores and normalises them with
    :func:`nab_normalized_score`. The threshold is tuned on the labels, as NAB does. Scores must
    be on a scale shared by the files (NAB's are in [0, 1]). Candidates are ``thresholds`` if
    given, else the quantiles of all scored points at ``n_thresholds`` evenly spaced levels in
    [0, 1], plus "no detection" (+inf).

    Example: ``nab_best_threshold_score([[(4, 7)]], [np.eye(10)[4]], [0]).normalized == 100.0``.
    """
    if len(windows_per_file) != len(scores_per_file):
        raise ValueError(f"windows_per_file ({len(windows_per_file)}) and scores_per_file "
                         f"({len(scores_per_file)}) list different numbers of files")
    if not len(scores_per_file):
        raise ValueError("no files to score")
    if probationary_lengths is None:
        probationary_lengths = [None] * len(scores_per_file)
    elif len(probationary_lengths) != len(scores_per_file):
        raise ValueError("probationary_lengths needs one entry per file")
    files = []
    for i, sc in enumerate(scores_per_file):
        s = np.asarray(sc, dtype=np.float64).ravel()
        if not np.isfinite(s).all():
            raise ValueError(f"scores of file {i} contain NaN or inf")
        files.append(s)
    if thresholds is None:
        pooled = np.concatenate([
            s[(nab_probationary_length(s.size) if pl is None else int(pl)):]
            for s, pl in zip(files, probationary_lengths)])
        if not pooled.size:
            raise ValueError("no scored points (all inside the probationary periods)")
        thr = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, int(n_thresholds))))
    else:
        thr = np.unique(np.asarray(thresholds, dtype=np.float64).ravel())
        if np.isnan(thr).any():
            raise ValueError("thresholds contain NaN")
    thr = np.append(thr, np.inf)
    per_file = [_nab_sweep(s, w, pl, profile, thr)
                for s, w, pl in zip(files, windows_per_file, probationary_lengths)]
    raw = np.array([[r.score for r in f] for f in per_file]).sum(axis=0)
    null = sum(f[0].null for f in per_file)
    perfect = sum(f[0].perfect for f in per_file)
    j = int(np.argmax(raw))
    return NabCorpusScore(nab_normalized_score(raw[j], null, perfect), float(thr[j]), float(raw[j]),
                          float(null), float(perfect), [f[j] for f in per_file])


# --------------------------------------------------------------------------------------------
# SKAB (Katser & Kozitsin 2020) outlier-detection metrics
# --------------------------------------------------------------------------------------------
def skab_outlier_metrics(labels, predictions) -> dict[str, float]:
    """SKAB's outlier-detection metrics from 0/1 predictions: F1 of the anomaly class, false alarm
    rate ``FAR = 100 FP / (FP + TN)`` and missed alarm rate ``MAR = 100 FN / (FN + TP)`` (both in
    percent). SKAB pools the points of all test files: use :func:`skab_outlier_metrics_pooled`
    for a list of files. Values are not rounded (SKAB prints them to 2 decimals).

    Example: ``skab_outlier_metrics([0, 0, 1, 1], [0, 1, 1, 0]) == {"f1": 0.5, "far": 50.0, "mar": 50.0}``.
    """
    y = _labels(labels)
    p = _labels(predictions, "predictions")
    if p.size != y.size:
        raise ValueError(f"labels ({y.size}) and predictions ({p.size}) differ in length")
    _need_both(y, "SKAB metrics")
    tp = int(np.sum((y == 1) & (p == 1)))
    fp = int(np.sum((y == 0) & (p == 1)))
    fn = int(np.sum((y == 1) & (p == 0)))
    tn = int(np.sum((y == 0) & (p == 0)))
    return {"f1": 2 * tp / (2 * tp + fp + fn), "far": 100.0 * fp / (fp + tn), "mar": 100.0 * fn / (fn + tp)}


def skab_outlier_metrics_pooled(labels_per_file: Sequence,
                                predictions_per_file: Sequence) -> dict[str, float]:
    """:func:`skab_outlier_metrics` over the points of several files pooled together (SKAB's
    protocol: counts are summed over all test points of all files, not averaged per file).

    Example: ``skab_outlier_metrics_pooled([[0, 1], [0, 1]], [[0, 1], [1, 1]])["far"] == 50.0``.
    """
    if len(labels_per_file) != len(predictions_per_file):
        raise ValueError(f"labels_per_file ({len(labels_per_file)}) and predictions_per_file "
                         f"({len(predictions_per_file)}) list different numbers of files")
    if not len(labels_per_file):
        raise ValueError("no files to pool")
    ys, ps = [], []
    for i, (y, p) in enumerate(zip(labels_per_file, predictions_per_file)):
        y, p = _labels(y, f"labels of file {i}"), _labels(p, f"predictions of file {i}")
        if y.size != p.size:
            raise ValueError(f"file {i}: labels ({y.size}) and predictions ({p.size}) differ in length")
        ys.append(y)
        ps.append(p)
    return skab_outlier_metrics(np.concatenate(ys), np.concatenate(ps))
