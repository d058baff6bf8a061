"""The command line never destroys files: an existing output is refused unless --force, the input is
never the output, bench runs without --out go to a new file, and written files follow the umask."""
import os
import stat

import numpy as np
import pandas as pd
import pytest

typer_testing = pytest.importorskip("typer.testing")
from adgdm.cli import _build_app  # noqa: E402

runner = typer_testing.CliRunner()


def _invoke(*args):
    return runner.invoke(_build_app(), [str(a) for a in args])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("safe")
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"]).to_csv(d / "train.csv", index=False)
    res = _invoke("fit", d / "train.csv", "--out", d / "model")
    assert res.exit_code == 0, res.output
    return d


def test_score_refuses_existing_output_and_the_input(model):
    important = model / "important.txt"
    important.write_text("keep me")
    res = _invoke("score", model / "model", model / "train.csv", "--out", important)
    assert res.exit_code == 2 and "exists" in res.output and "--force" in res.output
    assert important.read_text() == "keep me"
    before = (model / "train.csv").read_bytes()
    for flag in ([], ["--force"]):  # the input is never the output, even with --force
        res = _invoke("score", model / "model", model / "train.csv", "--out", model / "train.csv", *flag)
        assert res.exit_code == 2 and "is the input" in res.output
    assert (model / "train.csv").read_bytes() == before
    res = _invoke("score", model / "model", model / "train.csv", "--out", important, "--force")
    assert res.exit_code == 0, res.output
    assert "score" in pd.read_csv(important).columns


def test_fit_and_report_refuse_existing_outputs(model):
    cfg = (model / "model" / "config.json").read_bytes()
    res = _invoke("fit", model / "train.csv", "--out", model / "model")
    assert res.exit_code == 2 and "--force" in res.output
    assert (model / "model" / "config.json").read_bytes() == cfg
    assert _invoke("fit", model / "train.csv", "--out", model / "model", "--force").exit_code == 0
    assert _invoke("score", model / "model", model / "train.csv", "--out", model / "s.csv").exit_code == 0
    page = model / "page.html"
    page.write_text("mine")
    res = _invoke("report", model / "s.csv", "--out", page)
    assert res.exit_code == 2 and page.read_text() == "mine"
    res = _invoke("report", model / "s.csv", "--out", model / "s.csv", "--force")
    assert res.exit_code == 2 and "is the input" in res.output


def test_written_files_follow_the_umask(model, tmp_path):
    old = os.umask(0o022)
    try:
        res = _invoke("fit", model / "train.csv", "--out", tmp_path / "m")
        assert res.exit_code == 0, res.output
    finally:
        os.umask(old)
    for f in ("weights.safetensors", "config.json", "cli.json"):
        assert stat.S_IMODE(os.stat(tmp_path / "m" / f).st_mode) == 0o644, f
    assert stat.S_IMODE(os.stat(tmp_path / "m").st_mode) == 0o755


def test_bench_without_out_writes_a_new_file(tmp_path, monkeypatch):
    from adgdm.cli import _bench_out

    monkeypatch.chdir(tmp_path)
    first = _bench_out(None, "tabular", resume=False, force=False)
    assert first.parent.as_posix() == "benchmarks/results" and first.name.startswith("tabular-")
    committed = tmp_path / "committed.csv"
    committed.write_text("keep")
    import typer

    with pytest.raises(typer.Exit):
        _bench_out(committed, "tabular", resume=False, force=False)
    assert _bench_out(committed, "tabular", resume=True, force=False) == committed
    assert committed.read_text() == "keep"
