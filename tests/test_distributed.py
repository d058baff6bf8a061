"""``adgdm score --engine ray`` (adgdm.distributed) on a local Ray with 2 CPUs: the parts give
exactly the local scores with ``row`` numbered across files in name order; a worker that fails
once, or dies, is retried without losing or duplicating rows; a file that lacks a column is
reported by name and the other parts are kept."""
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
typer_testing = pytest.importorskip("typer.testing")

from adgdm import distributed as D  # noqa: E402
from adgdm.cli import _build_app  # noqa: E402

runner = typer_testing.CliRunner()
COLS = [f"c{j}" for j in range(5)]


def _invoke(*args):
    return runner.invoke(_build_app(), [str(a) for a in args])


@pytest.fixture(scope="module", autouse=True)
def local_ray(ray_local):  # the session's local Ray (conftest.py)
    # test-defined scorers travel to the workers by value (this module is not importable there)
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield


def _table(n, seed, outliers=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) @ np.triu(np.ones((5, 5))) / 2
    X[:outliers] += 6
    return pd.DataFrame(X, columns=COLS)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray")
    _table(400, 0).to_parquet(d / "train.parquet")
    res = _invoke("fit", d / "train.parquet", "--out", d / "model")
    assert res.exit_code == 0, res.output
    data = d / "data"
    data.mkdir()
    # name order b < c < d: a CSV between two Parquet files, row groups smaller than the parts
    _table(230, 1, outliers=3).to_parquet(data / "b.parquet", row_group_size=50)
    _table(101, 2, outliers=2).to_csv(data / "c.csv", index=False)
    with open(data / "c.csv", "rb+") as fh:  # a last line without its newline
        fh.seek(-1, 2)
        fh.truncate()
    _table(90, 3).to_parquet(data / "d.parquet")
    return d


def _local(setup):
    parts = []
    for name in ("b.parquet", "c.csv", "d.parquet"):
        out = setup / f"local_{name}.parquet"
        res = _invoke("score", setup / "model", setup / "data" / name, "--out", out, "--force")
        assert res.exit_code == 0, res.output
        parts.append(pd.read_parquet(out))
    local = pd.concat(parts, ignore_index=True)
    local["row"] = np.arange(len(local))
    return local


def test_sample_rows_reads_the_rows_it_names(setup):
    s = D.sample_rows(setup / "data", 50, random_state=1, rows_per_part=60)
    assert len(s) == 50 and s["row"].is_unique and s["row"].is_monotonic_increasing
    every = pd.concat([pd.read_parquet(setup / "data" / "b.parquet"), pd.read_csv(setup / "data" / "c.csv"),
                       pd.read_parquet(setup / "data" / "d.parquet")], ignore_index=True)
    np.testing.assert_array_equal(s[COLS].to_numpy(), every.loc[s["row"], COLS].to_numpy())
    with pytest.raises(ValueError, match="1..200000 rows"):
        D.sample_rows(setup / "data", 0)


def test_plan_counts_rows_in_name_order(setup):
    files = D.list_files(setup / "data")
    assert [f.name for f in files] == ["b.parquet", "c.csv", "d.parquet"]
    parts = D.plan_parts(files, 60)
    assert [(p["start"], p["stop"]) for p in parts if p["path"].endswith("c.csv")] == [(0, 60), (60, 101)]
    assert [p["offset"] for p in parts] == [0, 60, 120, 180, 230, 290, 331, 391]
    assert D.list_files(str(setup / "data" / "*.parquet"))[-1].name == "d.parquet"


def test_ray_scores_equal_local_scores(setup):
    s = D.score_dataset(setup / "model", setup / "data", out=setup / "out", workers=2, rows_per_part=60,
                        progress=False)
    assert s["failed"] == [] and s["rows"] == s["rows_in"] == 421 and s["parts"] == 8
    got = D.read_scores(setup / "out")
    local = _local(setup)
    assert list(got.columns) == list(local.columns)
    pd.testing.assert_frame_equal(got, local)  # bit-identical scores, flags and explanations
    assert json.loads((setup / "out" / "_manifest.json").read_text())["rows"] == 421
    pd.testing.assert_frame_equal(pd.read_parquet(setup / "out").sort_values("row").reset_index(drop=True), local,
                                  check_dtype=False)  # the folder reads back as one table
    # the Python API without a sink: the same rows as a Ray Dataset
    ds = D.score_dataset(setup / "model", setup / "data", workers=1, rows_per_part=200, progress=False)
    back = ds.to_pandas().sort_values("row").reset_index(drop=True)  # Arrow-backed dtypes: same values
    pd.testing.assert_frame_equal(back, local, check_dtype=False)


class FlakyScorer(D.PartScorer):
    """Fails the first time it scores part 1 (an error) and part 3 (the worker process dies)."""

    def score_part(self, part):
        marker = os.path.join(self.opts["marker_dir"], f"seen-{part['shard']}")
        if part["shard"] in (1, 3) and not os.path.exists(marker):
            open(marker, "w").close()
            if part["shard"] == 1:
                raise RuntimeError("lost the connection to storage")
            os._exit(1)
        return super().score_part(part)


def test_failed_and_killed_workers_lose_and_duplicate_no_rows(setup, tmp_path, monkeypatch):
    # opts travel with the actor: add the marker folder to them
    real = D.PartScorer.__init__

    def init(self, files, opts):
        real(self, files, {**opts, "marker_dir": str(tmp_path)})

    monkeypatch.setattr(FlakyScorer, "__init__", init, raising=False)
    s = D.score_dataset(setup / "model", setup / "data", out=tmp_path / "out", workers=2, rows_per_part=60,
                        progress=False, _scorer=FlakyScorer)
    assert s["failed"] == [] and s["rows"] == 421
    # part 1 tried again in its worker; part 3 re-run by Ray on a new worker: both counted, in the manifest too
    assert s["retried"] == 2 and s["retried_parts"] == [1, 3]
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["retried"] == 2 and manifest["retried_parts"] == [1, 3]
    got = D.read_scores(tmp_path / "out")
    assert np.array_equal(got["row"].to_numpy(), np.arange(421))  # each row once
    pd.testing.assert_frame_equal(got, D.read_scores(setup / "out"))
    assert sorted(f.name for f in (tmp_path / "out").iterdir() if f.name.startswith(".")) == []  # no temp files


def test_missing_column_is_reported_with_its_file(setup, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _table(50, 4).to_parquet(data / "a.parquet")
    _table(50, 5).drop(columns=["c2"]).to_parquet(data / "b.parquet")
    res = _invoke("score", setup / "model", data, "--out", tmp_path / "out", "--engine", "ray", "--batch-size", "30",
                  "--workers", "1")
    assert res.exit_code == 1, res.output
    assert "b.parquet, rows 0-29): no column(s) ['c2']" in res.output and "2 of 4 parts failed" in res.output
    got = D.read_scores(tmp_path / "out")
    assert np.array_equal(got["row"].to_numpy(), np.arange(50))  # a.parquet's parts kept
    # the same folder again needs --force, and --force replaces only adgdm's parts
    res = _invoke("score", setup / "model", data, "--out", tmp_path / "out", "--engine", "ray")
    assert res.exit_code == 2 and "--force" in res.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    res = _invoke("score", setup / "model", data / "a.parquet", "--out", tmp_path / "mine", "--engine", "ray",
                  "--force")
    assert res.exit_code == 2 and "did not write" in res.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_cli_ray_matches_and_refuses_what_it_cannot_do(setup, tmp_path):
    res = _invoke("score", setup / "model", setup / "data" / "b.parquet", "--out", tmp_path / "o", "--engine", "ray",
                  "--workers", "1", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["rows"] == 230 and r["failed"] == []
    local = pd.read_parquet(setup / "local_b.parquet.parquet")
    pd.testing.assert_frame_equal(D.read_scores(tmp_path / "o"), local)
    res = _invoke("score", setup / "model", setup / "data", "--out", tmp_path / "x", "--engine", "ray", "--label", "y")
    assert res.exit_code == 2 and "read from the model folder" in res.output
    res = _invoke("score", setup / "model", setup / "data" / "b.parquet", "--out", tmp_path / "y.csv", "--workers", "2")
    assert res.exit_code == 2 and "for --engine ray" in res.output
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    res = _invoke("score", setup / "model", tmp_path / "broken.parquet", "--out", tmp_path / "z", "--engine", "ray")
    assert res.exit_code == 2 and "broken.parquet: not a readable Parquet file" in res.output


def test_image_folder_parts_equal_local(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train/good", "test/good", "test/spot"):
        (tmp_path / "mv" / split).mkdir(parents=True)
        for i in range(12 if split == "train/good" else 5):
            img = 0.5 + 0.05 * rng.normal(size=(16, 16))
            if split == "test/spot":
                img[5:10, 5:10] = 0.0
            Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(tmp_path / "mv" / split / f"{i:02d}.png")
    res = _invoke("fit", tmp_path / "mv", "--modality", "image", "--detector", "image-patchknn", "--out",
                  tmp_path / "m")
    assert res.exit_code == 0, res.output
    res = _invoke("score", tmp_path / "m", tmp_path / "mv", "--out", tmp_path / "local.csv")
    assert res.exit_code == 0, res.output
    s = D.score_dataset(tmp_path / "m", tmp_path / "mv", out=tmp_path / "o", workers=1, rows_per_part=3,
                        progress=False)
    assert s["rows"] == 10 and s["parts"] == 4 and s["failed"] == []
    got, local = D.read_scores(tmp_path / "o"), pd.read_csv(tmp_path / "local.csv")
    assert got["image"].tolist() == local["image"].tolist()
    assert np.array_equal(got["label"].to_numpy(), local["label"].to_numpy())
    np.testing.assert_allclose(got["score"].to_numpy(), local["score"].to_numpy(), rtol=1e-6)  # CSV rounds


def test_blank_cell_notes_add_up_across_parts(setup, tmp_path):
    """Two parts with the same number of blank cells: merged by text they were one note of 3; the
    counts travel per column and the printed note says the total (issue 30, item 10b)."""
    data = tmp_path / "data"
    data.mkdir()
    a, b = _table(40, 6), _table(40, 7)
    a.loc[[1, 5, 9], "c1"] = np.nan
    b.loc[[2, 4, 8], "c1"] = np.nan
    b.loc[3, "c2"] = np.nan
    a.to_parquet(data / "a.parquet")
    b.to_parquet(data / "b.parquet")
    s = D.score_dataset(setup / "model", data, out=tmp_path / "out", workers=1, rows_per_part=40, progress=False)
    assert s["failed"] == [] and s["parts"] == 2
    assert s["blank_cells"] == 7 and s["blank_by_column"] == {"c1": 6, "c2": 1}
    blank = [n for n in s["notes"] if "blank numeric cells" in n]
    assert blank == [blank[0]] and blank[0].startswith("7 blank numeric cells") and "(c1: 6, c2: 1)" in blank[0]
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["blank_by_column"] == {"c1": 6, "c2": 1}
    # the local score of one file says the same in its summary
    res = _invoke("score", setup / "model", data / "b.parquet", "--out", tmp_path / "b.csv", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["blank_cells"] == 4 and r["blank_by_column"] == {"c1": 3, "c2": 1}
