"""`adgdm bench tabular --engine ray` (issue 20): the same rows as the local engine, a failed job is
a row with a one-line error while the grid goes on, and --resume skips finished jobs (and runs
failed ones again). One local Ray (2 CPUs) for the module."""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest

pytest.importorskip("ray")
pd = pytest.importorskip("pandas")

from adgdm.bench import summarize  # noqa: E402
from adgdm.bench.tabular import run_tabular  # noqa: E402

METRICS = ("auroc", "auprc", "n_train", "n_test", "d")


@pytest.fixture(scope="module")
def ray_cluster(ray_local):  # the session's local Ray (conftest.py)
    return ray_local


def _mixed(path, n=240, seed=0):
    """A CSV table: a number with blanks, a category, a flag; 20 anomalies."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n - 20), np.ones(20)].astype(int)
    amount = rng.normal(100, 10, n)
    amount[-20:] += 60
    kind = rng.choice(["card", "cash"], n)
    kind[-20:] = "crypto"
    cells = [f"{a:.2f}" for a in amount]
    for i in rng.choice(n - 20, 10, replace=False):
        cells[i] = ""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["amount", "kind", "flag", "label"])
        w.writerows(zip(cells, kind, rng.choice(["true", "false"], n), y))


def _numeric(path, n, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[-10:] += rng.normal(0, 2.5, size=(10, 4))
    np.savez(path, X=X, y=np.r_[np.zeros(n - 10), np.ones(10)].astype(int))


def _rows(path):
    return {(r["dataset"], r["detector"], int(r["seed"])): r for r in csv.DictReader(open(path))}


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    _mixed(d / "shop.csv")
    _numeric(d / "num.npz", 160)
    return d


def test_ray_rows_equal_local_rows(ray_cluster, data, tmp_path):
    kw = dict(detectors=["pyod-knn", "diffusion"], seeds=2, progress=False)
    local = _rows(run_tabular(data, out=tmp_path / "local.csv", **kw))
    ray = _rows(run_tabular(data, out=tmp_path / "ray.csv", engine="ray", threads=1, **kw))
    assert set(ray) == set(local) == {(d, s, k) for d in ("shop", "num") for s in ("pyod-knn", "diffusion")
                                      for k in (0, 1)}
    for key, row in local.items():
        assert row["error"] == ray[key]["error"] == ""
        assert {m: ray[key][m] for m in METRICS} == {m: row[m] for m in METRICS}, key
    assert list(csv.DictReader(open(tmp_path / "ray.csv")).fieldnames) == \
        list(csv.DictReader(open(tmp_path / "local.csv")).fieldnames)


def test_failed_jobs_are_rows_with_an_error_and_the_grid_goes_on(ray_cluster, data, tmp_path):
    (data / "broken.csv").write_text("a,label\n1,normal\n2,attack\n")   # cannot be read (by the driver)
    bad_spec = "pyod-ocsvm:kernel=nonsense"                             # raises in its tasks, at fit
    failed = []
    out = run_tabular(data, detectors=["pyod-knn", bad_spec], seeds=1, out=tmp_path / "r.csv",
                      progress=False, engine="ray", failed=failed)
    rows = _rows(out)
    assert len(rows) == 6
    bad = {k for k, r in rows.items() if r["error"]}
    assert bad == {("broken", "pyod-knn", 0)} | {(d, bad_spec, 0) for d in ("broken", "shop", "num")}
    assert "must hold 0/1" in rows["broken", "pyod-knn", 0]["error"]
    assert rows["num", bad_spec, 0]["error"].startswith("InvalidParameterError: The 'kernel' parameter")
    for k in bad:
        assert "\n" not in rows[k]["error"] and "Traceback" not in rows[k]["error"] and rows[k]["auroc"] == ""
    assert all(float(r["auroc"]) > 50 for k, r in rows.items() if k not in bad)
    assert {(f[0], f[2], f[1]) for f in failed} == bad
    md = summarize(out)
    assert "Failed jobs: 4" in md and "broken" in md


def test_resume_skips_finished_jobs_and_reruns_failed_ones(ray_cluster, data, tmp_path):
    out = tmp_path / "r.csv"
    (data / "late.csv").write_text("a,label\n1,normal\n")              # broken now, fixed before the resume
    run_tabular(data, detectors=["pyod-knn"], seeds=1, out=out, progress=False, engine="ray")
    first = list(csv.DictReader(open(out)))
    assert [r["dataset"] for r in first if r["error"]] == ["late"]
    _numeric(data / "late.npz", 120)
    (data / "late.csv").unlink()
    failed = []
    run_tabular(data, detectors=["pyod-knn"], seeds=2, out=out, resume=True, progress=False, engine="ray",
                failed=failed)
    rows = list(csv.DictReader(open(out)))
    assert rows[:len(first)] == first                                   # kept as they were
    new = {(r["dataset"], int(r["seed"])) for r in rows[len(first):]}
    assert new == {("shop", 1), ("num", 1), ("late", 0), ("late", 1)}   # finished jobs skipped, the failed run again
    assert not failed and all(not r["error"] for r in rows[len(first):])
    assert "Failed jobs" not in summarize(out)


def test_old_csv_without_error_column_is_resumed_and_summarized(data, tmp_path):
    out = tmp_path / "old.csv"
    run_tabular(data, detectors=["pyod-knn"], seeds=1, out=out, progress=False)
    df = pd.read_csv(out).drop(columns="error")
    df.to_csv(out, index=False)
    assert "pyod-knn" in summarize(out)
    run_tabular(data, detectors=["pyod-knn"], seeds=2, out=out, resume=True, progress=False)
    back = pd.read_csv(out)
    assert list(back.columns)[-1] == "error" and len(back) == 4 and back["auroc"].notna().all()


def test_cli_engine_ray_names_failed_jobs(ray_cluster, data, tmp_path):
    from typer.testing import CliRunner

    from adgdm.cli import _build_app

    (data / "broken.csv").write_text("a,label\n1,normal\n")
    out = tmp_path / "cli.csv"
    r = CliRunner().invoke(_build_app(), ["bench", "tabular", "--data", str(data), "--detectors", "pyod-knn",
                                          "--seeds", "1", "--out", str(out), "--engine", "ray", "--workers", "2"])
    assert r.exit_code == 1, r.output
    assert "1 job(s) failed" in r.output and "broken pyod-knn seed 0: ValueError" in r.output
    assert len(pd.read_csv(out)) == 3 and out.with_suffix(".md").exists()
    r = CliRunner().invoke(_build_app(), ["bench", "tabular", "--data", str(data), "--out", str(tmp_path / "x.csv"),
                                          "--workers", "2"])
    assert r.exit_code == 2 and "--engine ray" in r.output


def test_series_ray_rows_and_cached_scores_equal_local(ray_cluster, tmp_path):
    from test_series_bench import _skab_folder

    from adgdm.bench.series import run_series, score_cache_path
    from adgdm.bench.series_summary import summarize_series

    data = _skab_folder(tmp_path / "skab")
    bad = "pyod-ocsvm:kernel=nonsense"   # a ValueError at fit: series rows get constant scores and the message
    kw = dict(detectors=["series", "tsb-iforest", bad], seeds=1, progress=False)
    local = run_series("skab", data, out=tmp_path / "local.csv", **kw)
    failed = []
    ray = run_series("skab", data, out=tmp_path / "ray.csv", engine="ray", failed=failed, **kw)
    lr, rr = _rows(local), _rows(ray)
    assert len(rr) == 6 and set(rr) == set(lr) and not failed
    assert rr["valve1/0", bad, 0]["error"].startswith("InvalidParameterError")   # finished, not failed
    for key, row in lr.items():
        skip = ("fit_s", "score_s", "error")   # sklearn's message lists a set: its order varies by process
        assert {c: v for c, v in rr[key].items() if c not in skip} == {c: v for c, v in row.items() if c not in skip}
        assert rr[key]["error"][:40] == row["error"][:40]
        np.testing.assert_array_equal(np.load(score_cache_path(ray, *key))["scores"],
                                      np.load(score_cache_path(local, *key))["scores"])
    run_series("skab", data, out=ray, engine="ray", resume=True, **kw)   # nothing to do: ValueError rows are done
    assert len(_rows(ray)) == 6 and len(list(csv.DictReader(open(ray)))) == 6
    md = summarize_series(ray)
    assert "## skab: 2 files" in md and "Failed jobs" not in md


def test_missing_ray_says_how_to_install(monkeypatch, tmp_path):
    import sys

    from adgdm._ray import ray_session

    monkeypatch.setitem(sys.modules, "ray", None)    # as if Ray were not installed
    with pytest.raises(ImportError, match=r"pip install 'adgdm\[ray\]'"):
        with ray_session():
            pass
