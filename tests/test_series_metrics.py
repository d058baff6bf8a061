"""Time-series metrics: VUS (against TSB-AD's published test vectors), best / point-adjusted F1,
NAB scoring (hand-computed cases) and SKAB's outlier metrics. No torch needed."""
from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from adgdm.metrics import (
    auprc,
    auroc,
    best_f1,
    label_windows,
    nab_best_threshold_score,
    nab_normalized_score,
    nab_probationary_length,
    nab_score,
    point_adjusted_f1,
    skab_outlier_metrics,
    skab_outlier_metrics_pooled,
    vus,
    vus_pr,
    vus_roc,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ADGDM_DATA", REPO / ".." / "shared" / "data"))
ANCHORS = DATA.parent / "anchors"
if not ANCHORS.is_dir():
    ANCHORS = REPO / ".." / "shared" / "anchors"
TSB_FILE = DATA / "tsb-ad-sample" / "001_NAB_id_1_Facility_tr_1007_1st_2014.csv"
VUS_REF = ANCHORS / "tsbad_vus_reference.csv"
NAB = DATA / "nab"


# --- VUS --------------------------------------------------------------------------------------
def _labels_with_segments(n, segments):
    y = np.zeros(n, int)
    for a, b in segments:
        y[a:b + 1] = 1
    return y


@pytest.mark.parametrize("window", [0, 1, 5, 100])
def test_vus_perfect_score_is_one(window):
    y = _labels_with_segments(300, [(0, 4), (50, 59), (61, 70), (290, 299)])  # edges, a 1-point gap
    rng = np.random.default_rng(0)
    s = rng.random(300) + 2.0 * y  # every anomaly above every normal point
    assert vus_pr(y, s, window) == pytest.approx(1.0, abs=1e-12)
    assert vus_roc(y, s, window) == pytest.approx(1.0, abs=1e-12)
    assert vus(y, y.astype(float), window) == pytest.approx({"vus_roc": 1.0, "vus_pr": 1.0}, abs=1e-12)


def test_vus_without_buffer_is_auc_and_ap_for_one_point_anomaly():
    # With sliding_window 0 (and 1: both have no buffer, w // 2 == 0), one anomalous point, n <= 250
    # (every rank is a threshold) and no ties, the range curves are the ordinary ROC / PR curves.
    # Hand case: labels [0,1,0,0], scores [.1,.5,.9,.2]: thresholds .9 -> (FPR 1/3, TPR 0, prec 0),
    # .5 -> (1/3, 1, 1/2), .2 -> (2/3, 1, 1/3), .1 -> (1, 1, 1/4): area 2/3, AP 1/2.
    assert vus_roc([0, 1, 0, 0], [0.1, 0.5, 0.9, 0.2], 0) == pytest.approx(2 / 3)
    assert vus_pr([0, 1, 0, 0], [0.1, 0.5, 0.9, 0.2], 1) == pytest.approx(1 / 2)
    rng = np.random.default_rng(1)
    y = np.zeros(200, int)
    y[137] = 1
    s = rng.normal(size=200)
    for w in (0, 1):
        assert vus_roc(y, s, w) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert vus_pr(y, s, w) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_vus_orders_good_random_and_reversed_scores():
    y = _labels_with_segments(2000, [(300, 349), (900, 919), (1500, 1599)])
    rng = np.random.default_rng(2)
    noise = rng.random(2000)
    good, rand, bad = noise + y, noise, noise - y
    pr = [vus_pr(y, s) for s in (good, rand, bad)]
    roc = [vus_roc(y, s) for s in (good, rand, bad)]
    assert pr[0] > pr[1] > pr[2] and roc[0] > roc[1] > roc[2]
    # not exactly 1: the 250 thresholds step over ranks 8 apart here, so the step that completes
    # recall also flags a few normal points (precision < 1 on that step)
    assert pr[0] == pytest.approx(1.0, abs=1e-3) and roc[2] < 0.4


def test_vus_ignores_monotone_rescaling():
    y = _labels_with_segments(500, [(100, 130), (400, 405)])
    s = np.random.default_rng(3).normal(size=500) + y
    assert vus(y, s, 20) == pytest.approx(vus(y, 3.0 * s - 7.0, 20), abs=1e-12)


def test_vus_is_fast_on_1e5_points():
    rng = np.random.default_rng(4)
    y = np.zeros(100_000, int)
    for a in rng.integers(0, 99_000, 300):
        y[a:a + int(rng.integers(1, 200))] = 1
    s = rng.normal(size=y.size) + y
    t0 = time.perf_counter()
    out = vus(y, s, 100)
    elapsed = time.perf_counter() - t0
    assert 0.0 < out["vus_pr"] < 1.0
    assert elapsed < 10.0, f"VUS on 1e5 points took {elapsed:.1f} s"  # about 1 s on one free core


@pytest.mark.parametrize("fn", [vus_pr, vus_roc])
def test_vus_rejects_bad_input(fn):
    with pytest.raises(ValueError, match="differ in length"):
        fn([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN or inf"):
        fn([0, 1, 0], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="0/1"):
        fn([0, 2, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="at least one anomaly"):
        fn([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="at least one normal"):
        fn([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="sliding_window"):
        fn([0, 1, 0], [0.1, 0.2, 0.3], -1)


# --- TSB-AD reference vectors -------------------------------------------------------------------
def _read_tsb_sample():
    with open(TSB_FILE, newline="") as f:
        rows = list(csv.DictReader(f))
    return (np.array([float(r["Data"]) for r in rows]),
            np.array([int(float(r["Label"])) for r in rows]))


def _tsb_iforest(x, window=100):
    """TSB-AD's IForest: z-scored sliding windows (per column), sklearn IsolationForest (100 trees,
    max_features=1, random_state 0), negated decision function, edge-padded to n. TSB-AD then
    min-max scales, which no rank-based metric sees."""
    from numpy.lib.stride_tricks import sliding_window_view
    from sklearn.ensemble import IsolationForest

    z = sliding_window_view(x, window)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    s = -IsolationForest(n_estimators=100, max_features=1, random_state=0).fit(z).decision_function(z)
    s = np.concatenate([np.full(math.ceil((window - 1) / 2), s[0]), s, np.full((window - 1) // 2, s[-1])])
    return (s - s.min()) / (s.max() - s.min())


def _reference_score(description, x):
    if description == "abs(x - median(x))":
        return np.abs(x - np.median(x))
    if description == "raw value x":
        return x
    if description == "index ramp 0..n-1":
        return np.arange(x.size, dtype=float)
    if description.startswith("IForest (TSB-AD tutorial: window 100; 100 trees; random_state 0)"):
        return _tsb_iforest(x)
    pytest.fail(f"tsbad_vus_reference.csv has a score this test cannot build: {description!r}")


def test_vus_reproduces_tsbad_reference_csv():
    if not (TSB_FILE.exists() and VUS_REF.exists()):
        pytest.skip(f"TSB-AD sample or reference not found ({TSB_FILE}, {VUS_REF}); set ADGDM_DATA")
    x, y = _read_tsb_sample()
    with open(VUS_REF, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 5
    for row in rows:
        assert row["file"] == TSB_FILE.name
        s = _reference_score(row["score"], x)
        w = int(row["sliding_window"])
        got = vus(y, s, w)
        assert got["vus_pr"] == pytest.approx(float(row["vus_pr"]), abs=1e-5), row["score"]
        assert got["vus_roc"] == pytest.approx(float(row["vus_roc"]), abs=1e-5), row["score"]
        assert auprc(y, s) == pytest.approx(float(row["auc_pr"]), abs=1e-5), row["score"]
        assert auroc(y, s) == pytest.approx(float(row["auc_roc"]), abs=1e-5), row["score"]
        if row["score"].startswith("IForest"):
            # the tutorial's stored output: Standard-F1 0.264060 (TSB-AD adds 1e-5 to the F1
            # denominator), PA-F1 0.854296 (100 linspace thresholds; ours is the exact maximum)
            assert best_f1(y, s)[0] == pytest.approx(0.264060, abs=1e-4)
            assert 0.854296 - 1e-6 <= point_adjusted_f1(y, s)[0] <= 0.854296 + 0.02


# --- best F1 / point-adjusted F1 ----------------------------------------------------------------
def test_best_f1_hand_case():
    # thresholds .9: P 1, R 1/2 -> 2/3; .8: 1/2, 1/2 -> 1/2; .3: 2/3, 1 -> 0.8; .2: 1/2, 1 -> 2/3
    f1, thr = best_f1([0, 0, 1, 1, 0], [0.1, 0.2, 0.9, 0.3, 0.8])
    assert f1 == pytest.approx(0.8) and thr == 0.3
    assert best_f1([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (1.0, 0.8)


def test_point_adjusted_f1_hand_case():
    # segments A = 1..3 (max .9), B = 6..7 (max .3); normal scores 0, .5, 0, 0, 0
    # thr .9: TP 3, FP 0, FN 2 -> 6/8; .5: TP 3, FP 1 -> 6/9; .3: TP 5, FP 1, FN 0 -> 10/11 (best)
    y = [0, 1, 1, 1, 0, 0, 1, 1, 0, 0]
    s = [0, 0.2, 0.9, 0.1, 0.5, 0, 0.3, 0.1, 0, 0]
    f1, thr = point_adjusted_f1(y, s)
    assert f1 == pytest.approx(10 / 11) and thr == 0.3
    assert point_adjusted_f1([1, 1, 0, 0], [0, 1, 0, 0]) == (1.0, 1.0)  # a segment at index 0


def test_point_adjusted_f1_is_optimistic_for_random_scores():
    # 10 segments of 200 points in 10,000: one lucky point per segment is enough
    y = np.zeros(10_000, int)
    for a in range(300, 10_000, 1000):
        y[a:a + 200] = 1
    r = np.random.default_rng(0).random(y.size)
    assert point_adjusted_f1(y, r)[0] > 0.9
    assert best_f1(y, r)[0] < 0.4
    assert vus_pr(y, r) < 0.3


def test_f1_functions_reject_bad_input():
    for fn in (best_f1, point_adjusted_f1):
        with pytest.raises(ValueError, match="differ in length"):
            fn([0, 1], [0.1, 0.2, 0.3])
        with pytest.raises(ValueError, match="NaN or inf"):
            fn([0, 1], [np.inf, 0.2])
        with pytest.raises(ValueError, match="at least one anomaly"):
            fn([0, 0], [0.1, 0.2])
        with pytest.raises(ValueError, match="0/1"):
            fn([-1, 1], [0.1, 0.2])


def test_label_windows():
    assert label_windows([0, 1, 1, 0, 1]) == [(1, 2), (4, 4)]
    assert label_windows([1, 0, 0]) == [(0, 0)]
    assert label_windows([0, 0]) == []


# --- NAB ------------------------------------------------------------------------------------------
# S(x) = 2 / (1 + exp(5x)) - 1 = -tanh(5x / 2), NAB's scaledSigmoid; maxTP = S(-1) = tanh(2.5).
# One window (5, 9): width 5. No probation (probationary_length=0) unless stated.
def _det(n, idx):
    d = np.zeros(n, int)
    d[list(idx)] = 1
    return d


def test_nab_hand_computed_single_file():
    win = [(5, 9)]
    # detection at the window start: position -(9 - 5 + 1)/5 = -1 -> S(-1)/maxTP = 1
    r = nab_score(win, _det(30, [5]), 0)
    assert r.score == pytest.approx(1.0)
    assert (r.detected, r.missed, r.null, r.perfect) == (1, 0, -1.0, 1.0)
    # at the window end: position -(9 - 9 + 1)/5 = -0.2 -> tanh(0.5) / tanh(2.5) = 0.4683868
    assert nab_score(win, _det(30, [9]), 0).score == pytest.approx(0.4683868439)
    # start and end: only the first detection in a window counts -> 1
    assert nab_score(win, _det(30, [5, 9]), 0).score == pytest.approx(1.0)
    # missed window: -fnWeight = -1
    assert nab_score(win, _det(30, []), 0).score == pytest.approx(-1.0)
    # FP right after the window, i = 10: distance 1 / (width - 1) = 0.25 ->
    # 0.11 * S(0.25) = -0.11 tanh(0.625) = -0.0610060; window missed -> -1.0610060
    assert nab_score(win, _det(30, [10]), 0).score == pytest.approx(-1 - 0.0610059695)
    # FP at i = 19: position 10 / 4 = 2.5 -> -0.11 tanh(6.25) = -0.1099992
    assert nab_score(win, _det(30, [19]), 0).score == pytest.approx(-1 - 0.1099991801)
    # FP far away, i = 25: position 16 / 4 = 4 > 3 -> exactly -0.11
    assert nab_score(win, _det(30, [25]), 0).score == pytest.approx(-1.11)
    # FP before any window: -0.11
    assert nab_score(win, _det(30, [2]), 0).score == pytest.approx(-1.11)
    # all together (2 is before the window): 1 - 0.0610060 - 0.11 - 0.11 = 0.7189940
    r = nab_score(win, _det(30, [2, 5, 9, 10, 25]), 0)
    assert r.score == pytest.approx(1 - 0.0610059695 - 0.22)
    # NAB's point counts: flagged in-window points 5, 9; flagged outside 2, 10, 25
    assert (r.tp, r.fp, r.fn, r.tn) == (2, 3, 3, 22)
    # normalised: end-of-window detection alone -> 100 (0.4683868 + 1) / (1 + 1) = 73.41934
    raw = nab_score(win, _det(30, [9]), 0).score
    assert nab_normalized_score(raw, -1.0, 1.0) == pytest.approx(73.41934219)


def test_nab_profiles():
    # reward_low_FN_rate: fnWeight 2 -> a miss costs 2; reward_low_FP_rate: fpWeight 0.22
    assert nab_score([(5, 9)], _det(30, []), 0, "reward_low_FN_rate").score == pytest.approx(-2.0)
    assert nab_score([(5, 9)], _det(30, [5, 25]), 0, "reward_low_FP_rate").score == pytest.approx(1 - 0.22)
    custom = {"tpWeight": 2.0, "fpWeight": 0.5, "fnWeight": 1.0}
    assert nab_score([(5, 9)], _det(30, [5, 25]), 0, custom).score == pytest.approx(2 - 0.5)
    with pytest.raises(ValueError, match="unknown NAB profile"):
        nab_score([(5, 9)], _det(30, []), 0, "lenient")


def test_nab_probationary_period():
    assert nab_probationary_length(20) == 3          # floor(0.15 * 20)
    assert nab_probationary_length(4032) == 604
    assert nab_probationary_length(100_000) == 750   # capped at 0.15 * 5000
    # default probation 3 for n = 20; window (1, 4), width 4, partly inside it:
    # a detection at 1 is ignored -> missed -> -1; at 3: -(4 - 3 + 1)/4 = -0.5 ->
    # tanh(1.25) / tanh(2.5) = 0.8597926
    assert nab_score([(1, 4)], _det(20, [1])).score == pytest.approx(-1.0)
    assert nab_score([(1, 4)], _det(20, [3])).score == pytest.approx(0.8597925669)
    # a window wholly inside the probationary period is not scored at all (not in null or perfect
    # either, so a perfect detector still normalises to 100); neither is a FP there
    r = nab_score([(0, 2), (10, 12)], _det(20, [0, 1]))
    assert (r.score, r.null, r.perfect, r.detected, r.missed, r.fp) == (-1.0, -1.0, 1.0, 0, 1, 0)


def test_nab_rejects_bad_windows_and_detections():
    with pytest.raises(ValueError, match="overlap"):
        nab_score([(5, 9), (9, 12)], _det(20, []), 0)
    with pytest.raises(ValueError, match="start <= end"):
        nab_score([(5, 25)], _det(20, []), 0)
    with pytest.raises(ValueError, match="detections must be 0/1"):
        nab_score([(5, 9)], np.full(20, 0.5), 0)
    with pytest.raises(ValueError, match="perfect != null"):
        nab_normalized_score([0.0], [0.0], [0.0])


def test_nab_best_threshold_score_hand_case():
    # file 1: window (10, 14), 0.9 at its start, 0.6 at 3 (before the window); file 2: no window,
    # 0.7 at 5. No probation. Thresholds .95 -> raw -1 (0); .8 -> +1 (100); .65 -> 1 - 0.11 (94.5);
    # .5 -> 1 - 0.22 (89). One shared threshold: 0.8.
    s1, s2 = np.zeros(20), np.zeros(20)
    s1[10], s1[3], s2[5] = 0.9, 0.6, 0.7
    r = nab_best_threshold_score([[(10, 14)], []], [s1, s2], [0, 0], thresholds=[0.5, 0.65, 0.8, 0.95])
    assert (r.normalized, r.threshold, r.raw, r.null, r.perfect) == pytest.approx(
        (100.0, 0.8, 1.0, -1.0, 1.0))
    assert [f.score for f in r.files] == pytest.approx([1.0, 0.0])
    r = nab_best_threshold_score([[(10, 14)], []], [s1, s2], [0, 0], thresholds=[0.5, 0.65])
    assert r.normalized == pytest.approx(100 * (0.89 + 1) / 2) and r.threshold == 0.65
    # default quantile grid: finds a threshold in (0.7, 0.9]
    r = nab_best_threshold_score([[(10, 14)], []], [s1, s2], [0, 0])
    assert r.normalized == pytest.approx(100.0) and 0.7 < r.threshold <= 0.9
    # a detector that never fires scores 0
    r = nab_best_threshold_score([[(10, 14)]], [np.zeros(20)], [0], thresholds=[1.0])
    assert r.normalized == pytest.approx(0.0)


def _nab_windows_as_indices():
    """{relative path: (n, [(start, end), ...])} for the NAB files present."""
    with open(NAB / "labels" / "combined_windows.json") as f:
        labels = json.load(f)
    out = {}
    for path in sorted((NAB / "data").glob("*/*.csv")):
        rel = f"{path.parent.name}/{path.name}"
        with open(path, newline="") as f:
            ts = np.array([row[0] for row in csv.reader(f)][1:], dtype="datetime64[s]")
        win = [tuple(int(np.searchsorted(ts, np.datetime64(t[:19]))) for t in pair) for pair in labels[rel]]
        assert all(ts[a] == np.datetime64(lo[:19]) and ts[b] == np.datetime64(hi[:19])
                   for (a, b), (lo, hi) in zip(win, labels[rel]))
        out[rel] = (ts.size, win)
    return out


def test_nab_corpus_perfect_and_null_detectors():
    if not (NAB / "labels" / "combined_windows.json").exists():
        pytest.skip(f"NAB data not found at {NAB}; set ADGDM_DATA")
    files = _nab_windows_as_indices()
    assert len(files) >= 10
    raw, null, perfect, none = [], [], [], []
    for n, win in files.values():
        hit = nab_score(win, _det(n, [a for a, _ in win]))      # the perfect detector
        miss = nab_score(win, np.zeros(n, int))                  # the null detector
        raw.append(hit.score)
        none.append(miss.score)
        null.append(hit.null)
        perfect.append(hit.perfect)
        assert hit.score == pytest.approx(len(win)) and miss.score == -len(win)  # no window in probation
    assert nab_normalized_score(raw, null, perfect) == pytest.approx(100.0)
    assert nab_normalized_score(none, null, perfect) == pytest.approx(0.0)


# --- SKAB -----------------------------------------------------------------------------------------
def test_skab_outlier_metrics_hand_case():
    # TP 1 (index 2), FP 1 (index 1), FN 1 (index 3), TN 1 -> F1 0.5, FAR 50 %, MAR 50 %
    assert skab_outlier_metrics([0, 0, 1, 1], [0, 1, 1, 0]) == {"f1": 0.5, "far": 50.0, "mar": 50.0}
    # TP 3, FP 1, FN 1, TN 5: F1 = 6 / 8, FAR = 100 / 6, MAR = 25
    m = skab_outlier_metrics([0, 0, 0, 0, 0, 0, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 1, 1, 1, 0])
    assert m == pytest.approx({"f1": 0.75, "far": 100 / 6, "mar": 25.0})


def test_skab_pooling_sums_counts_over_files():
    # file A: TP 1, FN 1, TN 2 ; file B: TP 0, FP 2, TN 2, FN 0 -> pooled TP 1, FP 2, FN 1, TN 4
    # F1 = 2 / 5, FAR = 100 * 2 / 6, MAR = 50 (per-file averaging would differ)
    la, pa = [0, 0, 1, 1], [0, 0, 1, 0]
    lb, pb = [0, 0, 0, 0], [1, 1, 0, 0]
    m = skab_outlier_metrics_pooled([la, lb], [pa, pb])
    assert m == pytest.approx({"f1": 0.4, "far": 100 / 3, "mar": 50.0})
    assert m == skab_outlier_metrics(la + lb, pa + pb)


def test_skab_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        skab_outlier_metrics([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="predictions must be 0/1"):
        skab_outlier_metrics([0, 1], [0.3, 0.9])
    with pytest.raises(ValueError, match="at least one anomaly"):
        skab_outlier_metrics([0, 0], [0, 1])
    with pytest.raises(ValueError, match="at least one normal"):
        skab_outlier_metrics([1, 1], [0, 1])
    with pytest.raises(ValueError, match="file 1: labels"):
        skab_outlier_metrics_pooled([[0, 1], [0, 1]], [[0, 1], [0, 1, 1]])
    with pytest.raises(ValueError, match="different numbers of files"):
        skab_outlier_metrics_pooled([[0, 1]], [[0, 1], [0, 1]])
