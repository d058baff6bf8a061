"""Spec strings, the registry, the benchmark runner, the summary and the command line."""
from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import adgdm
from adgdm.bench import run_tabular, summarize
from adgdm.cli import _build_app, _split
from adgdm.data import list_npz, load_npz, semi_supervised_split, standardize
from adgdm.detectors import parse_spec

COLUMNS = ["suite", "dataset", "setting", "detector", "seed", "auroc", "auprc", "fit_s", "score_s",
           "n_train", "n_test", "d", "error"]   # error: failed jobs of --engine ray; empty here


# --- registry and specs ------------------------------------------------------------------------------
def test_parse_spec():
    assert parse_spec("ddpm:steps=100,scoring=noise,noise_levels=0.1|0.2") == (
        "ddpm", {"steps": 100, "scoring": "noise", "noise_levels": (0.1, 0.2)})
    assert parse_spec(" dte-np ") == ("dte-np", {})
    assert parse_spec("x:a=none,b=True,c=false,d=1e-3,e=null,f=abc") == (
        "x", {"a": None, "b": True, "c": False, "d": 1e-3, "e": None, "f": "abc"})
    name, params = parse_spec("ddpm:steps=100")
    assert type(params["steps"]) is int


@pytest.mark.parametrize("spec", ["ddpm:steps", "ddpm:=3", "ddpm:steps=1,,score"])
def test_parse_spec_rejects_items_without_a_value(spec):
    with pytest.raises(ValueError, match="write key=value"):
        parse_spec(spec)


def test_make_detector_from_spec():
    det = adgdm.make_detector("ddpm:steps=7,scoring=noise,noise_levels=0.1|0.2", random_state=3)
    assert isinstance(det, adgdm.DDPMDetector)
    assert (det.steps, det.scoring, det.noise_levels, det.random_state) == (7, "noise", (0.1, 0.2), 3)
    assert adgdm.make_detector("ddpm:steps=7", steps=9).steps == 9  # overrides win over the spec
    # overrides a detector does not take are dropped (ECOD has no random_state) ...
    assert "random_state" not in adgdm.make_detector("pyod-ecod", random_state=0).get_params()


def test_make_detector_unknown_name():
    with pytest.raises(ValueError, match=r"unknown detector 'nope'; known: .*dte-np"):
        adgdm.make_detector("nope")


def test_make_detector_unknown_parameter_in_spec():
    with pytest.raises(ValueError, match=r"detector 'ddpm' has no parameter\(s\) \['stpes'\]; it takes: .*steps"):
        adgdm.make_detector("ddpm:stpes=10")


def test_cli_split():
    assert _split("ddpm:steps=10,scoring=noise,dte-np") == ["ddpm:steps=10,scoring=noise", "dte-np"]
    assert _split("dte-np, pyod-knn") == ["dte-np", "pyod-knn"]
    assert _split("ddpm:steps=10,scoring=noise;dte-np:n_neighbors=3") == ["ddpm:steps=10,scoring=noise",
                                                                       "dte-np:n_neighbors=3"]
    assert _split("") is None and _split(None) is None


# --- data helpers ------------------------------------------------------------------------------------
def test_semi_supervised_split():
    y = np.r_[np.zeros(91, int), np.ones(9, int)]
    y = np.random.default_rng(0).permutation(y)
    tr, te = semi_supervised_split(y, seed=0)
    assert np.intersect1d(tr, te).size == 0
    assert np.union1d(tr, te).size == len(y)
    assert (y[tr] == 0).all() and len(tr) == 91 // 2
    assert set(np.flatnonzero(y == 1)) <= set(te)
    assert (np.diff(tr) > 0).all() and (np.diff(te) > 0).all()
    tr2, _ = semi_supervised_split(y, seed=0)
    tr3, _ = semi_supervised_split(y, seed=1)
    np.testing.assert_array_equal(tr, tr2)
    assert not np.array_equal(tr, tr3)


def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    a = rng.normal(5, 3, size=(50, 3))
    a[:, 2] = 7.0  # a constant column is kept, not divided by zero
    b = rng.normal(size=(10, 3))
    sa, sb = standardize(a, b)
    np.testing.assert_allclose(sa[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(sa[:, :2].std(0), 1)
    np.testing.assert_array_equal(sa[:, 2], 0.0)
    np.testing.assert_allclose(sb, (b - a.mean(0)) / np.where(a.std(0) > 1e-12, a.std(0), 1.0))


def _write(path, n, d, n_anom, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, int)
    y[-n_anom:] = 1
    v = rng.normal(size=(n_anom, d))
    X[y == 1] = 6.0 * v / np.linalg.norm(v, axis=1, keepdims=True)  # isolated rows 6 sd from the centre
    np.savez(path, X=X, y=y)
    return X, y


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    _write(d / "alpha.npz", 60, 3, 6, 0)
    _write(d / "beta.npz", 80, 4, 8, 1)
    return d


def test_load_npz_checks(tmp_path, data_dir):
    X, y = load_npz(data_dir / "alpha.npz")
    assert X.shape == (60, 3) and X.dtype == np.float64 and y.sum() == 6
    assert list(list_npz(data_dir)) == ["alpha", "beta"]
    np.savez(tmp_path / "bad_y.npz", X=np.zeros((3, 2)), y=np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="y must be 0"):
        load_npz(tmp_path / "bad_y.npz")
    np.savez(tmp_path / "no_y.npz", X=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="must hold arrays 'X' and 'y'"):
        load_npz(tmp_path / "no_y.npz")
    np.savez(tmp_path / "pickled.npz", X=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(ValueError):
        load_npz(tmp_path / "pickled.npz")
    with pytest.raises(ValueError, match="does not exist"):
        list_npz(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"no \.npz files"):
        list_npz(_empty(tmp_path))


@pytest.mark.parametrize("content", [b"not a zip", b"PK\x03\x04 truncated zip", b""])
def test_load_npz_unreadable_file_names_the_file(tmp_path, content):
    """A damaged file gets "cannot read <path>", not numpy's advice to load it with pickle."""
    (tmp_path / "junk.npz").write_bytes(content)
    with pytest.raises(ValueError, match=r"cannot read .*junk\.npz"):
        load_npz(tmp_path / "junk.npz")


def _empty(tmp_path):
    e = tmp_path / "empty"
    e.mkdir()
    return e


# --- benchmark runner ----------------------------------------------------------------------------------
def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_tabular_semi(data_dir, tmp_path):
    out = run_tabular(data_dir, detectors=["dte-np", "pyod-knn"], seeds=2, setting="semi", out=tmp_path / "r.csv",
                      progress=False)
    assert out == tmp_path / "r.csv"
    df = pd.read_csv(out)
    assert list(df.columns) == COLUMNS
    assert df.error.isna().all()
    assert len(df) == 2 * 2 * 2
    assert set(df.dataset) == {"alpha", "beta"} and set(df.detector) == {"dte-np", "pyod-knn"}
    assert set(df.seed) == {0, 1} and set(df.setting) == {"semi"} and set(df.suite) == {"adbench"}
    n = df.dataset.map({"alpha": 60, "beta": 80})
    assert ((df.n_train + df.n_test) == n).all()
    assert (df.n_train == df.dataset.map({"alpha": 27, "beta": 36})).all()  # half of the normal rows
    assert (df.d == df.dataset.map({"alpha": 3, "beta": 4})).all()
    assert df.auroc.between(90, 100).all() and df.auprc.between(50, 100).all()  # anomalies sit 6 sd away
    assert (df.fit_s >= 0).all() and (df.score_s >= 0).all()
    # every (dataset, detector, seed) appears exactly once
    assert not df.duplicated(["dataset", "detector", "seed"]).any()


def test_run_tabular_matches_a_direct_computation(data_dir, tmp_path):
    """The CSV's AUROC is that of the detector fitted on the split's standardised training rows."""
    from adgdm.metrics import auroc

    out = run_tabular(data_dir, datasets=["beta"], detectors=["pyod-knn"], seeds=1, out=tmp_path / "r.csv",
                      progress=False)
    X, y = load_npz(data_dir / "beta.npz")
    tr, te = semi_supervised_split(y, 0)
    a, b = standardize(X[tr], X[te])
    expected = 100 * auroc(y[te], adgdm.make_detector("pyod-knn").fit(a).decision_function(b))
    assert pd.read_csv(out).auroc.iloc[0] == pytest.approx(expected, abs=1e-3)


def test_run_tabular_unsup(data_dir, tmp_path):
    out = run_tabular(data_dir, detectors=["dte-np"], seeds=1, setting="unsup", out=tmp_path / "u.csv",
                      progress=False)
    df = pd.read_csv(out)
    assert len(df) == 2 and set(df.setting) == {"unsup"}
    assert (df.n_train == df.dataset.map({"alpha": 60, "beta": 80})).all()
    assert (df.n_test == df.n_train).all()
    assert df.auroc.between(90, 100).all()


def test_run_tabular_resume_skips_done_rows(data_dir, tmp_path):
    out = tmp_path / "r.csv"
    kw = dict(detectors=["dte-np", "pyod-knn"], setting="semi", out=out, progress=False)
    run_tabular(data_dir, seeds=2, **kw)
    before = _rows(out)
    run_tabular(data_dir, seeds=2, resume=True, **kw)
    assert _rows(out) == before  # nothing re-run, nothing duplicated
    run_tabular(data_dir, seeds=3, resume=True, **kw)
    after = _rows(out)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 2 * 2
    assert {r["seed"] for r in after[len(before):]} == {"2"}
    # without resume the file starts over
    run_tabular(data_dir, seeds=1, **kw)
    assert len(_rows(out)) == 2 * 2


def test_run_tabular_rejects_bad_arguments(data_dir, tmp_path):
    out = tmp_path / "r.csv"
    with pytest.raises(ValueError, match="setting must be 'semi' or 'unsup'"):
        run_tabular(data_dir, detectors=["dte-np"], setting="both", out=out, progress=False)
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        run_tabular(data_dir, detectors=["dte-np"], seeds=0, out=out, progress=False)
    with pytest.raises(ValueError, match=r"datasets not found .*\['gamma'\]"):
        run_tabular(data_dir, datasets=["gamma"], detectors=["dte-np"], out=out, progress=False)
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        run_tabular(data_dir, detectors=["dte-np", "nope"], out=out, progress=False)
    with pytest.raises(ValueError, match="has no parameter"):
        run_tabular(data_dir, detectors=["dte-np:k=3"], out=out, progress=False)
    assert not out.exists(), "bad arguments are caught before any work is written"


def test_summarize(data_dir, tmp_path):
    out = run_tabular(data_dir, detectors=["dte-np", "pyod-knn"], seeds=2, out=tmp_path / "r.csv", progress=False)
    md_path = tmp_path / "r.md"
    text = summarize(out, md_path, command="adgdm bench tabular ...")
    assert md_path.read_text() == text
    assert "mean AUROC" in text and "mean AUPRC" in text
    assert "`dte-np`" in text and "`pyod-knn`" in text
    assert "## adbench, semi: 2 datasets" in text
    assert "Command: `adgdm bench tabular ...`" in text
    # the per-dataset table carries each dataset's mean AUROC over seeds
    df = pd.read_csv(out)
    mean = df[(df.dataset == "alpha") & (df.detector == "dte-np")].auroc.mean()
    assert f"| alpha | {float(np.round(mean, 2))} |" in text


# --- command line ---------------------------------------------------------------------------------------
def test_cli_bench_tabular(data_dir, tmp_path):
    out = tmp_path / "cli" / "OUT.csv"
    res = CliRunner().invoke(_build_app(), ["bench", "tabular", "--data", str(data_dir), "--detectors",
                                            "dte-np,pyod-knn", "--seeds", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.exists() and out.with_suffix(".md").exists()
    df = pd.read_csv(out)
    assert len(df) == 2 * 1 * 2 and set(df.detector) == {"dte-np", "pyod-knn"}
    assert "mean AUROC" in out.with_suffix(".md").read_text()
    assert "wrote" in res.output and "mean AUROC" in res.output


def test_cli_bench_tabular_with_spec_parameters(data_dir, tmp_path):
    out = tmp_path / "OUT.csv"
    res = CliRunner().invoke(_build_app(), ["bench", "tabular", "--data", str(data_dir), "--datasets", "alpha",
                                            "--detectors", "dte-np:n_neighbors=3,pyod-knn", "--seeds", "1",
                                            "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(out).detector) == {"dte-np:n_neighbors=3", "pyod-knn"}


def test_cli_missing_data_dir(tmp_path):
    res = CliRunner().invoke(_build_app(), ["bench", "tabular", "--data", str(tmp_path / "nowhere"),
                                            "--detectors", "dte-np", "--out", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert "does not exist" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_cli_unknown_detector(data_dir, tmp_path):
    res = CliRunner().invoke(_build_app(), ["bench", "tabular", "--data", str(data_dir), "--detectors", "nope",
                                            "--out", str(tmp_path / "o.csv")])
    assert res.exit_code != 0 and "unknown detector 'nope'" in res.output


def test_cli_list():
    res = CliRunner().invoke(_build_app(), ["list"])
    assert res.exit_code == 0
    assert res.output.split() == adgdm.list_detectors(None)


def test_cli_summarize_pools_csvs_and_leaves_out_unfinished(data_dir, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    run_tabular(data_dir, detectors=["dte-np"], seeds=2, out=a, progress=False)
    run_tabular(data_dir, detectors=["pyod-knn"], seeds=1, out=b, progress=False)  # one seed short
    md = tmp_path / "s.md"
    res = CliRunner().invoke(_build_app(), ["bench", "summarize", str(a), str(b), "--md", str(md)])
    assert res.exit_code == 0, res.output
    text = md.read_text()
    assert "| dataset | dte-np | pyod-knn |" in text  # per-dataset table pools both files
    assert "No dataset is finished by every detector on every seed" in text  # pyod-knn lacks seed 1
    run_tabular(data_dir, detectors=["pyod-knn"], seeds=2, out=b, progress=False, resume=True)
    CliRunner().invoke(_build_app(), ["bench", "summarize", str(a), str(b), "--md", str(md)])
    text = md.read_text()
    assert "`dte-np`" in text and "`pyod-knn`" in text and "Left out" not in text
    res = CliRunner().invoke(_build_app(), ["bench", "summarize", str(tmp_path / "missing.csv")])
    assert res.exit_code != 0 and "no such results file" in res.output
