"""bench series: runner and summary on a tiny SKAB-like folder; the torch kNN backend."""
import csv

import numpy as np
import pytest

from adgdm.scores.knn import DedupKNN

pd = pytest.importorskip("pandas")


def _skab_folder(root, n_files=2, n=700):
    rng = np.random.default_rng(0)
    (root / "data" / "valve1").mkdir(parents=True)
    for i in range(n_files):
        t = np.arange(n)
        X = np.stack([np.sin(2 * np.pi * t / 30 + c) for c in range(3)], 1) + 0.05 * rng.normal(size=(n, 3))
        y = np.zeros(n, int)
        y[500:560] = 1
        X[500:560] += 2.0
        df = pd.DataFrame(X, columns=["a", "b", "c"])
        df.insert(0, "datetime", pd.date_range("2020-01-01", periods=n, freq="s").astype(str))
        df["anomaly"] = y
        df["changepoint"] = 0
        df.to_csv(root / "data" / "valve1" / f"{i}.csv", sep=";", index=False)
    return root


def test_run_series_writes_rows_resumes_and_summarises(tmp_path):
    from adgdm.bench.series import COLUMNS, run_series
    from adgdm.bench.series_summary import summarize_series

    data = _skab_folder(tmp_path / "skab")
    out = tmp_path / "r.csv"
    run_series("skab", data, detectors=["series", "tsb-iforest"], seeds=1, out=out, progress=False)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and list(rows[0]) == COLUMNS
    for r in rows:
        assert 50 <= float(r["auroc"]) <= 100 and 0 <= float(r["vus_pr"]) <= 1
        assert int(r["tp"]) + int(r["fn"]) == 60 and int(r["n_train"]) == 400
    by = {r["detector"]: r for r in rows if r["dataset"] == "valve1/0"}
    assert float(by["series"]["auroc"]) > 95  # a +2 level shift on three sines
    run_series("skab", data, detectors=["series", "tsb-iforest"], seeds=1, out=out, resume=True, progress=False)
    assert len(list(csv.DictReader(out.open()))) == 4  # nothing redone
    md = summarize_series(out, tmp_path / "r.md")
    assert "## skab: 2 files" in md and "`series`" in md and (tmp_path / "r.md").exists()



def test_run_series_counts_the_drift_rule_flags(tmp_path):
    """alarm="drift": the thresholded metrics come from the detector's own flags (predict), not threshold_."""
    from adgdm.bench.series import run_series
    from adgdm.data.series import load_skab
    from adgdm.detectors import make_detector

    data = _skab_folder(tmp_path / "skab", n_files=1)
    out = tmp_path / "r.csv"
    spec = "series:alarm=drift,alarm_depth=20"
    run_series("skab", data, detectors=["series", spec], seeds=1, out=out, progress=False)
    rows = {r["detector"]: r for r in csv.DictReader(out.open())}
    rec = load_skab(data)[0]
    det = make_detector(spec, random_state=0).fit(rec.train_values)
    pred = det.predict(rec.values)[rec.train_end:]
    y = rec.labels[rec.train_end:]
    assert int(rows[spec]["tp"]) == int(((pred == 1) & (y == 1)).sum())
    assert int(rows[spec]["fp"]) == int(((pred == 1) & (y == 0)).sum())
    static = det.decision_function(rec.values)[rec.train_end:] > det.threshold_
    assert int(rows["series"]["fp"]) == int((static & (y == 0)).sum())

def test_run_series_rejects_unknown_suite_and_detector(tmp_path):
    from adgdm.bench.series import run_series

    with pytest.raises(ValueError, match="suite"):
        run_series("smd", tmp_path, out=tmp_path / "x.csv", progress=False)
    data = _skab_folder(tmp_path / "skab", n_files=1)
    with pytest.raises(ValueError, match="unknown detector"):
        run_series("skab", data, detectors=["nope"], out=tmp_path / "x.csv", progress=False)


def test_torch_knn_backend_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 12))
    X[200:260] = X[:60]  # duplicates
    Q = rng.normal(size=(50, 12))
    a = DedupKNN(X).neighbours(Q, 30)
    b = DedupKNN(X, backend="torch").neighbours(Q, 30)
    np.testing.assert_allclose(b[0], a[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.sort(b[1], 1), np.sort(a[1], 1))
    np.testing.assert_array_equal(b[2].sum(1), a[2].sum(1))
    with pytest.raises(ValueError, match="backend"):
        DedupKNN(X, backend="faiss")


def test_alarm_onsets_keep_the_first_step_of_each_run():
    from adgdm.bench.series import alarm_onsets

    assert alarm_onsets(np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1])).tolist() == [0, 1, 0, 0, 1, 0, 0, 1, 0, 0]
    assert alarm_onsets(np.array([1, 1])).tolist() == [1, 0]


def test_series_generation_fidelity_rows(tmp_path):
    from adgdm.bench.generation_series import _windows, run_generation_series
    from adgdm.bench.generation_summary import summarize_generation

    data = _skab_folder(tmp_path / "skab", n_files=1)
    out = run_generation_series(data, seeds=1, out=tmp_path / "g.csv", progress=False, window=16, max_steps=60)
    df = pd.read_csv(out)
    assert list(df.detector) == ["train-windows", "series-recon-sample"] and (df.dataset == "valve1/0").all()
    # reference: test windows (rows 400..699) that avoid the anomaly at 500..559: 85 + 125 starts
    assert (df.n_test == (100 - 16 + 1) + (140 - 16 + 1)).all() and (df.d == 16 * 3).all()
    assert df.c2st_auc.between(0, 1).all() and (df.mmd.fillna(0) > -0.05).all()
    assert df.dcr_ratio[0] == 0  # the training windows themselves: distance 0 to the closest record
    run_generation_series(data, seeds=1, out=out, resume=True, progress=False, window=16, max_steps=60)
    assert len(pd.read_csv(out)) == 2
    md = summarize_generation(out)
    assert "series-recon-sample" in md and "Fidelity per dataset" in md
    # windows are flattened step-major: row = (step 0 channels, step 1 channels, ...)
    v = np.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(_windows(v, 3)[1], v[1:4].ravel())
    assert len(_windows(v, 3, ok=np.array([1, 1, 1, 0, 1, 1], bool))) == 1
