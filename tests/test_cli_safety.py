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
    important = model / "important.csv"  # scores are .csv or .parquet (issue 30)
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


def test_outputs_inside_an_input_folder_are_refused_even_with_force(model, tmp_path):
    """Issue 30: --out MODEL/cli.json --force overwrote the model being read."""
    m = model / "model"
    files = {f: (m / f).read_bytes() for f in ("cli.json", "weights.safetensors")}
    res = _invoke("score", m, model / "train.csv", "--out", m / "cli.json", "--force")
    assert res.exit_code == 2 and "inside the input folder" in res.output, res.output
    res = _invoke("score", m, model / "train.csv", "--out", m / "new.csv", "--force")
    assert res.exit_code == 2 and "inside the input folder" in res.output, res.output
    assert not (m / "new.csv").exists()
    res = _invoke("report", m, "--data", model / "train.csv", "--out", m / "weights.safetensors", "--force")
    assert res.exit_code == 2 and "inside the input folder" in res.output, res.output
    res = _invoke("generate", m, "--kind", "global", "--n", 5, "--out", m / "config.json", "--force")
    assert res.exit_code == 2 and "inside the input folder" in res.output, res.output
    assert {f: (m / f).read_bytes() for f in files} == files
    # an output folder that holds the input would be replaced as a whole: refused too
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    (data_dir / "train.csv").write_bytes((model / "train.csv").read_bytes())
    res = _invoke("fit", data_dir / "train.csv", "--out", data_dir, "--force")
    assert res.exit_code == 2 and "holds the input" in res.output, res.output
    res = _invoke("detect", data_dir / "train.csv", "--out", tmp_path / "m" / "s.csv", "--model-out", tmp_path / "m")
    assert res.exit_code == 2 and "inside the input folder" in res.output, res.output
    assert not (tmp_path / "m").exists()  # refused before the fit


def test_no_command_writes_inside_a_model_folder(model, tmp_path):
    """A report of a scores file (the model is not its input) wrote --out MODEL/weights.safetensors --force."""
    m = model / "model"
    weights = (m / "weights.safetensors").read_bytes()
    res = _invoke("score", m, model / "train.csv", "--out", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    for out in (m / "weights.safetensors", m / "reports" / "r.html"):
        res = _invoke("report", tmp_path / "s.csv", "--out", out, "--force")
        assert res.exit_code == 2 and "inside the model folder" in res.output, res.output
    assert (m / "weights.safetensors").read_bytes() == weights
    res = _invoke("report", tmp_path / "s.csv", "--out", tmp_path / "r.html")
    assert res.exit_code == 0, res.output


def test_bench_out_is_never_in_the_data_folder(tmp_path):
    from adgdm.cli import _bench_out

    (tmp_path / "data").mkdir()
    with pytest.raises(BaseException) as e:
        _bench_out(tmp_path / "data" / "res.csv", "tabular", resume=False, force=True, data=tmp_path / "data")
    assert type(e.value).__name__ in ("Exit", "SystemExit")
    assert _bench_out(tmp_path / "res.csv", "tabular", resume=False, force=True, data=tmp_path / "data")


def test_written_files_follow_the_umask(model, tmp_path):
    old = os.umask(0o022)
    try:
        res = _invoke("fit", model / "train.csv", "--out", tmp_path / "m")
        assert res.exit_code == 0, res.output
    finally:
        os.umask(old)
    for f in ("weights.safetensors", "config.json", "cli.json", "fingerprint.safetensors"):
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


# --- column hygiene and readers ---------------------------------------------------------------
def _table(rng, n=150):
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    df.insert(0, "Unnamed: 0", np.arange(n))      # pandas' saved index
    df["anomaly"] = (rng.random(n) < 0.1).astype(int)   # a label under another name
    df["const"] = 1.0
    df["note"] = "text"
    return df


def test_fit_leaves_out_index_label_constant_and_text_columns_and_says_so(tmp_path):
    rng = np.random.default_rng(1)
    _table(rng).to_csv(tmp_path / "t.csv", index=False)
    res = _invoke("fit", tmp_path / "t.csv", "--out", tmp_path / "m", "--json")
    assert res.exit_code == 0, res.output
    import json

    r = json.loads(res.output)
    assert r["columns"] == ["a", "b", "c"]
    said = " ".join(r["notes"])
    for col, why in (("Unnamed: 0", "index"), ("anomaly", "label"), ("const", "constant"), ("note", "text")):
        assert f"'{col}': " in said and why in said, (col, said)
    # named in --columns, a column is kept whatever its name
    res = _invoke("fit", tmp_path / "t.csv", "--out", tmp_path / "m2", "--columns", "a,anomaly")
    assert res.exit_code == 0, res.output
    assert "left out" not in res.output


def test_dirty_cell_names_column_row_and_value(tmp_path):
    df = pd.DataFrame({"a": [str(v) for v in np.arange(20.0) % 7], "b": np.arange(20.0) % 5})
    df.loc[13, "a"] = "n/a?"
    df.to_csv(tmp_path / "d.csv", index=False)
    res = _invoke("fit", tmp_path / "d.csv", "--out", tmp_path / "m")
    assert res.exit_code == 2
    assert "'a'" in res.output and "row 13" in res.output and "n/a?" in res.output


def test_label_that_was_a_feature_is_refused_at_score(tmp_path):
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    df["flag"] = (rng.random(100) < 0.1).astype(int)
    df.to_csv(tmp_path / "t.csv", index=False)
    assert _invoke("fit", tmp_path / "t.csv", "--out", tmp_path / "m", "--columns", "a,b,flag").exit_code == 0
    res = _invoke("score", tmp_path / "m", tmp_path / "t.csv", "--out", tmp_path / "s.csv", "--label", "flag")
    assert res.exit_code == 2 and "feature" in res.output


def test_semicolon_file_and_time_order(tmp_path):
    t = pd.date_range("2020-01-01", periods=200, freq="min")
    x = np.sin(np.arange(200) / 5.0)
    lines = ["datetime;Accel;Temp"] + [f"{a};{b:.4f};{c:.4f}" for a, b, c in zip(t, x, np.cos(np.arange(200) / 7.0))]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    res = _invoke("fit", tmp_path / "s.csv", "--modality", "series", "--time", "datetime", "--out", tmp_path / "m",
                  "--param", "window=16", "--json")
    assert res.exit_code == 0, res.output
    import json

    assert json.loads(res.output)["columns"] == ["Accel", "Temp"]
    shuffled = lines[:1] + lines[1:][::-1]
    (tmp_path / "u.csv").write_text("\n".join(shuffled) + "\n")
    res = _invoke("fit", tmp_path / "u.csv", "--modality", "series", "--time", "datetime", "--out", tmp_path / "m2",
                  "--param", "window=16")
    assert res.exit_code == 0 and "sorted" in res.output
    res = _invoke("fit", tmp_path / "u.csv", "--modality", "series", "--time", "datetime", "--out", tmp_path / "m3",
                  "--param", "window=16", "--strict")
    assert res.exit_code == 2 and "order" in res.output
    (tmp_path / "d.csv").write_text("\n".join(lines + lines[-3:]) + "\n")
    res = _invoke("fit", tmp_path / "d.csv", "--modality", "series", "--time", "datetime", "--out", tmp_path / "m4")
    assert res.exit_code == 2 and "repeats 3" in res.output


def test_fill_is_reachable_from_the_command_line(tmp_path):
    x = np.sin(np.arange(300) / 4.0)
    df = pd.DataFrame({"v": x, "w": np.cos(np.arange(300) / 9.0)})
    df.loc[[50, 51, 120], "v"] = np.nan
    df.to_csv(tmp_path / "g.csv", index=False)
    res = _invoke("fit", tmp_path / "g.csv", "--modality", "series", "--out", tmp_path / "m", "--param", "window=16")
    assert res.exit_code == 2 and "fill" in res.output
    res = _invoke("fit", tmp_path / "g.csv", "--modality", "series", "--out", tmp_path / "m", "--param", "window=16",
                  "--param", "fill=ffill")
    assert res.exit_code == 0, res.output
    res = _invoke("score", tmp_path / "m", tmp_path / "g.csv", "--out", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    assert np.isfinite(pd.read_csv(tmp_path / "s.csv")["score"]).all()


def test_the_command_line_starts_without_torch():
    import subprocess
    import sys

    code = ("import sys, adgdm, adgdm.cli; from adgdm.commands.info import run_info; run_info(); "
            "print(sorted(m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    import adgdm

    assert adgdm.make_detector("diffusion").name == "diffusion" and "Prediction" in dir(adgdm)


def test_parameter_errors_name_the_parameter_and_json_errors_are_json(model, tmp_path):
    res = _invoke("fit", model / "train.csv", "--out", tmp_path / "m", "--detector", "ddpm", "--param", "steps=abc")
    assert res.exit_code == 2 and "'steps'" in res.output and "whole number" in res.output
    res = _invoke("fit", model / "train.csv", "--out", tmp_path / "m", "--detector", "ddpm", "--param", "max_steps=-5")
    assert res.exit_code == 2 and "max_steps must be >= 1" in res.output
    res = _invoke("score", model / "model", tmp_path / "absent.csv", "--out", tmp_path / "s.csv", "--json")
    import json

    assert res.exit_code == 2 and "no such data file" in json.loads(res.output)["error"]


def test_identifiers_found_by_content_and_label_names_widened(tmp_path):
    """Issue 30: a shuffled record_id was used as a feature, and a label named 'fraud' too."""
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"])
    df["record_id"] = rng.permutation(n) + 5000                       # an id, not sorted
    df["ticket"] = [f"T-{i:05d}" for i in rng.permutation(n)]          # a text id of one pattern
    df["customerId"] = rng.choice(10**9, n, replace=False)             # a sparse id, named like one
    df["cents"] = rng.choice(10**9, n, replace=False)                  # distinct integers, wide range: a feature
    df["count"] = rng.integers(0, 20, n)                               # whole numbers, repeated: a feature
    df["amount"] = rng.normal(100, 10, n)                              # continuous, distinct: a feature
    for name in ("fraud", "is_fraud", "attack", "outlier", "anomaly_score", "sensor_anomaly", "malicious"):
        df[name] = (rng.random(n) < 0.1).astype(int)
    df.to_csv(tmp_path / "t.csv", index=False)
    res = _invoke("fit", tmp_path / "t.csv", "--out", tmp_path / "m", "--json")
    assert res.exit_code == 0, res.output
    import json

    out = json.loads(res.output)
    assert out["columns"] == ["a", "b", "cents", "count", "amount"]
    notes = "\n".join(out["notes"])
    for name in ("record_id", "ticket", "customerId"):
        assert f"left out column {name!r}: an identifier" in notes, notes
    for name in ("fraud", "is_fraud", "attack", "outlier", "anomaly_score", "sensor_anomaly", "malicious"):
        assert f"left out column {name!r}: named like a label" in notes, notes
    # the same rule on a mixed table (a text column and blank cells go through the table encoder)
    df.assign(site=rng.choice(["east", "west"], n), a=df["a"].mask(df.index % 17 == 0)).to_csv(tmp_path / "mx.csv",
                                                                                                 index=False)
    res = _invoke("fit", tmp_path / "mx.csv", "--out", tmp_path / "mx", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["columns"] == ["a", "b", "cents", "count", "amount", "site"], res.output
    assert "left out column 'record_id': an identifier" in "\n".join(json.loads(res.output)["notes"])
    # --columns keeps an identifier when the user wants it
    res = _invoke("fit", tmp_path / "t.csv", "--out", tmp_path / "m2", "--columns", "a,record_id", "--json")
    assert res.exit_code == 0 and json.loads(res.output)["columns"] == ["a", "record_id"], res.output


def test_identifier_rule_keeps_continuous_and_small_columns():
    from adgdm.modalities.columns import identifier_reason

    rng = np.random.default_rng(0)
    assert identifier_reason("x", rng.permutation(100).astype(float)) is not None
    assert identifier_reason("x", rng.normal(size=100)) is None            # continuous: distinct, not an id
    assert identifier_reason("x", rng.permutation(10)) is None             # too few rows to tell
    assert identifier_reason("x", np.r_[rng.permutation(99), np.nan]) is None
    assert identifier_reason("city", pd.Series([f"town{chr(97 + i % 26)}{'x' * (i // 26)}" for i in range(60)])) is None
    uuids = pd.Series([f"{rng.integers(16**8):08x}-aaaa-bbbb-cccc-{rng.integers(16**12):012x}" for _ in range(50)])
    assert identifier_reason("ref", uuids) is not None


def test_ray_scores_folder_is_never_in_the_model_or_data_folder(model, tmp_path):
    from adgdm.distributed import _prepare_out

    for out, inputs in ((model / "model" / "scores", [model / "train.csv"]), (model / "scores", [model])):
        with pytest.raises(ValueError, match="inside the input folder|holds the input"):
            _prepare_out(out, True, inputs, model / "model")
        assert not out.exists()
    assert _prepare_out(tmp_path / "scores", False, [model / "train.csv"], model / "model").is_dir()
