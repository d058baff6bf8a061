"""Time-series loaders: NAB, SKAB, TSB-AD and generic CSV files, on small files written here and,
when the shared data folder is present, on the real benchmarks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from adgdm.data.series import (SeriesRecord, load_nab, load_series_csv, load_skab, load_skab_anomaly_free,
                               load_tsb_ad, nab_probation_period)

DATA = Path(os.environ.get("ADGDM_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


# --- SeriesRecord ------------------------------------------------------------------------------------
def test_record_shapes_and_checks():
    rec = SeriesRecord("a", np.arange(6.0), labels=[0, 0, 1, 1, 0, 0], train_end=2)
    assert rec.values.shape == (6, 1) and rec.values.dtype == np.float64
    assert rec.labels.dtype == np.int64 and rec.channels == ["x0"]
    assert rec.n_steps == 6 and rec.n_channels == 1 and rec.train_values.shape == (2, 1)
    with pytest.raises(ValueError, match="5 labels for 6 steps"):
        SeriesRecord("a", np.zeros(6), labels=np.zeros(5))
    with pytest.raises(ValueError, match="train_end=7"):
        SeriesRecord("a", np.zeros(6), train_end=7)
    with pytest.raises(ValueError, match="channel names"):
        SeriesRecord("a", np.zeros((6, 2)), channels=["only-one"])


def test_nab_probation_rule():
    # NAB's getProbationPeriod: min(floor(0.15 * T), 0.15 * 5000)
    assert nab_probation_period(4032) == 604
    assert nab_probation_period(100) == 15
    assert nab_probation_period(5000) == 750
    assert nab_probation_period(10320) == 750


# --- NAB -------------------------------------------------------------------------------------------------
def _write_nab(root: Path, n: int = 40) -> Path:
    times = [f"2020-01-01 {h:02d}:{m:02d}:00" for h in range(24) for m in (0, 30)][:n]
    for cat, stem, vals in (("catA", "alpha_one", np.arange(n)), ("catA", "beta", np.ones(n)),
                            ("catB", "alpha_two", np.linspace(0, 1, n))):
        d = root / "data" / cat
        d.mkdir(parents=True, exist_ok=True)
        lines = ["timestamp,value"] + [f"{t},{v}" for t, v in zip(times, vals)]
        (d / f"{stem}.csv").write_text("\n".join(lines) + "\n")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    windows = {
        "catA/alpha_one.csv": [["2020-01-01 02:00:00.000000", "2020-01-01 03:30:00.000000"],
                               ["2020-01-01 10:15:00.000000", "2020-01-01 11:00:00.000000"]],
        "catA/beta.csv": [],
        "catB/alpha_two.csv": [["2020-01-01 19:00:00.000000", "2020-01-01 19:00:00.000000"]],
        "catC/not_on_disk.csv": [["2020-01-01 00:00:00.000000", "2020-01-01 01:00:00.000000"]],
    }
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (root / "labels" / "combined_labels.json").write_text(json.dumps({k: [] for k in windows}))
    return root


def test_load_nab_labels_windows_and_probation(tmp_path):
    recs = load_nab(_write_nab(tmp_path))
    assert [r.name for r in recs] == ["catA/alpha_one", "catA/beta", "catB/alpha_two"]  # json-only entry ignored
    a = recs[0]
    assert a.values.shape == (40, 1) and a.channels == ["value"]
    assert np.issubdtype(a.timestamps.dtype, np.datetime64)
    # window ends are inclusive: 02:00..03:30 is rows 4..7; 10:15..11:00 is rows 21..22
    assert a.windows == [(4, 7), (21, 22)]
    assert np.flatnonzero(a.labels).tolist() == [4, 5, 6, 7, 21, 22]
    assert a.train_end == 6  # floor(0.15 * 40)
    assert recs[1].labels.sum() == 0 and recs[1].windows == []
    assert recs[2].windows == [(38, 38)]


def test_load_nab_dataset_filter(tmp_path):
    root = _write_nab(tmp_path)
    assert [r.name for r in load_nab(root, datasets="alpha")] == ["catA/alpha_one", "catB/alpha_two"]
    assert [r.name for r in load_nab(root, datasets=["catA/beta"])] == ["catA/beta"]
    assert [r.name for r in load_nab(root, datasets=["two", "beta"])] == ["catA/beta", "catB/alpha_two"]
    with pytest.raises(ValueError, match=r"no NAB series matches \['gamma'\]; available"):
        load_nab(root, datasets=["beta", "gamma"])


def test_load_nab_errors(tmp_path):
    with pytest.raises(ValueError, match="no 'data' folder"):
        load_nab(tmp_path)
    root = _write_nab(tmp_path)
    (root / "data" / "catB" / "extra.csv").write_text("timestamp,value\n2020-01-01 00:00:00,1\n")
    with pytest.raises(ValueError, match="catB/extra.csv has no entry"):
        load_nab(root)
    (root / "data" / "catB" / "extra.csv").write_text("time,v\n1,2\n")
    w = json.loads((root / "labels" / "combined_windows.json").read_text())
    w["catB/extra.csv"] = []
    (root / "labels" / "combined_windows.json").write_text(json.dumps(w))
    with pytest.raises(ValueError, match=r"must have columns 'timestamp' and 'value', has \['time', 'v'\]"):
        load_nab(root, datasets="extra")
    (root / "labels" / "combined_windows.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_nab(root)


# --- SKAB ------------------------------------------------------------------------------------------------
SENSORS = ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature", "Thermocouple",
           "Voltage", "Volume Flow RateRMS"]


def _write_skab_file(path: Path, n: int, anomalies=(), with_labels=True, seed=0):
    rng = np.random.default_rng(seed)
    head = ["datetime"] + SENSORS + (["anomaly", "changepoint"] if with_labels else [])
    lines = [";".join(head)]
    for i in range(n):
        row = [f"2020-03-09 10:{i // 60 % 60:02d}:{i % 60:02d}"] + [f"{v:.5f}" for v in rng.normal(size=8)]
        if with_labels:
            row += ["1.0" if i in anomalies else "0.0", "1.0" if anomalies and i == anomalies[0] else "0.0"]
        lines.append(";".join(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _write_skab(root: Path) -> Path:
    _write_skab_file(root / "data" / "anomaly-free" / "anomaly-free.csv", 50, with_labels=False)
    _write_skab_file(root / "data" / "valve1" / "10.csv", 450, anomalies=tuple(range(420, 430)))
    _write_skab_file(root / "data" / "valve1" / "0.csv", 430, anomalies=tuple(range(405, 415)))
    _write_skab_file(root / "data" / "other" / "2.csv", 120, anomalies=(100, 101))
    return root


def test_load_skab(tmp_path):
    recs = load_skab(_write_skab(tmp_path))
    assert [r.name for r in recs] == ["other/2", "valve1/0", "valve1/10"]  # numeric order inside a folder
    v0 = recs[1]
    assert v0.values.shape == (430, 8) and v0.channels == SENSORS
    assert np.flatnonzero(v0.labels).tolist() == list(range(405, 415))
    assert v0.train_end == 400 and recs[2].train_end == 400
    assert recs[0].train_end == 120  # shorter than 400 rows: all training
    assert [r.name for r in load_skab(tmp_path, datasets="valve1/10")] == ["valve1/10"]
    free = load_skab_anomaly_free(tmp_path)
    assert free.values.shape == (50, 8) and free.labels.sum() == 0 and free.train_end == 50


def test_load_skab_errors(tmp_path):
    with pytest.raises(ValueError, match="no 'data' folder"):
        load_skab(tmp_path)
    (tmp_path / "data" / "valve1").mkdir(parents=True)
    with pytest.raises(ValueError, match="no SKAB experiment csv"):
        load_skab(tmp_path)
    (tmp_path / "data" / "valve1" / "0.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no 'datetime' column"):
        load_skab(tmp_path)


# --- generic CSV and TSB-AD ------------------------------------------------------------------------------
def test_load_series_csv_defaults_and_sep(tmp_path):
    p = tmp_path / "machine.csv"
    p.write_text("time;a;b;note;y\n2020-01-01 00:00;1;2;x;0\n2020-01-01 00:01;2;3;x;1\n2020-01-01 00:02;3;4;y;0\n")
    rec = load_series_csv(p, timestamp="time", label="y")
    assert rec.name == "machine" and rec.channels == ["a", "b"]  # non-numeric 'note' skipped
    assert rec.values.tolist() == [[1, 2], [2, 3], [3, 4]]
    assert rec.labels.tolist() == [0, 1, 0] and rec.train_end == 0
    assert np.issubdtype(rec.timestamps.dtype, np.datetime64)
    rec = load_series_csv(p, columns="b", sep=";", train_end=2)
    assert rec.values.shape == (3, 1) and rec.labels is None and rec.timestamps is None and rec.train_end == 2
    one = tmp_path / "one.csv"
    one.write_text("value\n1.5\n2.5\n")
    assert load_series_csv(one).values.ravel().tolist() == [1.5, 2.5]


@pytest.mark.parametrize("text, kw, match", [
    ("t,v\n3,1\n2,2\n", dict(timestamp="t"), r"row 1 \(2\) is earlier than row 0"),
    ("t,v\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n", dict(timestamp="t"), "row 2 .* duplicates row 1"),
    ("t,v\nmonday,1\n", dict(timestamp="t"), "'monday' in row 0 cannot be parsed"),
    ("v,y\n1,0\n2,\n3,1\n", dict(label="y"), "1 missing values; first in row 1"),
    ("v,y\n1,0\n2,2\n", dict(label="y"), "row 1 has 2.0"),
    ("v,y\n1,no\n2,yes\n", dict(label="y"), "label column is not numeric"),
    ("a,b\nx,y\nz,w\n", {}, "no numeric value column"),
    ("a,b\n1,x\n", dict(columns=["b"]), r"value columns \['b'\] are not numeric"),
    ("a,b\n1,2\n", dict(columns=["c"]), r"value columns \['c'\] not found"),
    ("a,b\n1,2\n", dict(label="y"), "label column 'y' not found"),
    ("a,b\n", {}, "header but no rows"),
    ("", {}, "is empty"),
])
def test_load_series_csv_errors(tmp_path, text, kw, match):
    p = tmp_path / "f.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_series_csv(p, **kw)


def test_load_series_csv_unreadable(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_series_csv(tmp_path / "missing.csv")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"a,b\n\xff\xfe\x00\x81,1\n")
    with pytest.raises(ValueError, match="cannot read"):
        load_series_csv(p)


def test_load_tsb_ad(tmp_path):
    p = tmp_path / "007_X_id_3_Demo_tr_4_1st_5.csv"
    p.write_text("Data,Label\n" + "".join(f"{i},{int(i in (5, 6))}\n" for i in range(8)))
    rec = load_tsb_ad(p)
    assert rec.values.shape == (8, 1) and rec.train_end == 4 and rec.labels.tolist() == [0] * 5 + [1, 1, 0]
    bad = tmp_path / "plain.csv"
    bad.write_text("Data,Label\n1,0\n")
    with pytest.raises(ValueError, match="not a TSB-AD file name"):
        load_tsb_ad(bad)


# --- the real benchmarks -----------------------------------------------------------------------------------
@pytest.mark.skipif(not (DATA / "nab" / "data").is_dir(), reason=f"NAB not found under {DATA} (set ADGDM_DATA)")
def test_real_nab():
    n_files = len(list((DATA / "nab" / "data").glob("*/*.csv")))
    recs = load_nab(DATA / "nab")
    assert len(recs) == n_files > 0
    windows = json.loads((DATA / "nab" / "labels" / "combined_windows.json").read_text())
    for r in recs:
        assert r.values.shape == (r.n_steps, 1) and np.isfinite(r.values).all()
        assert r.train_end == nab_probation_period(r.n_steps)
        assert len(r.windows) == len(windows[r.name + ".csv"])
        assert (r.labels.sum() > 0) == bool(windows[r.name + ".csv"])
    assert sum(r.labels.sum() for r in recs) > 0


@pytest.mark.skipif(not (DATA / "skab" / "data").is_dir(), reason=f"SKAB not found under {DATA} (set ADGDM_DATA)")
def test_real_skab():
    files = [p for p in (DATA / "skab" / "data").glob("*/*.csv") if p.parent.name != "anomaly-free"]
    recs = load_skab(DATA / "skab")
    assert len(recs) == len(files) > 0
    for r in recs:
        assert r.n_channels == 8 and r.train_end == 400 and r.labels.sum() > 0
        assert np.isfinite(r.values).all()
    free = load_skab_anomaly_free(DATA / "skab")
    assert free.n_channels == 8 and free.labels.sum() == 0
