"""Mixed tables through the command line: a CSV with blank cells, text categories, true/false
and a date column goes through fit -> score -> detect; kinds are printed and stored, unseen
categories counted, explanations name categories by value, and bad input is one clear error."""
import json

import numpy as np
import pandas as pd
import pytest

typer_testing = pytest.importorskip("typer.testing")
from adgdm.cli import _build_app  # noqa: E402

runner = typer_testing.CliRunner()


def _invoke(*args):
    return runner.invoke(_build_app(), [str(a) for a in args])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    d = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
                       "amount": rng.normal(100, 10, n).round(2),
                       "service": rng.choice(["http", "smtp", "ftp_data"], n, p=[0.6, 0.3, 0.1]),
                       "vip": (rng.random(n) < 0.2).astype(object), "code": rng.integers(0, 4, n)})
    df.loc[::13, "amount"] = np.nan
    df.loc[::29, "service"] = None
    df.loc[::31, "vip"] = None
    df.to_csv(d / "train.csv", index=False)
    test = pd.DataFrame({"when": ["2024-03-01 00:00:00"] * 4, "amount": [100.0, 101.0, None, 99.0],
                         "service": ["http", "telnet", "smtp", "gopher"], "vip": [False, False, None, True],
                         "code": [1, 2, 3, 7], "is_anomaly": [0, 1, 0, 1]})
    test.to_csv(d / "test.csv", index=False)
    return d


def test_fit_prints_kinds_and_stores_them(mixed):
    res = _invoke("fit", mixed / "train.csv", "--out", mixed / "m", "--categorical", "code")
    assert res.exit_code == 0, res.output
    assert "left out column 'when': dates (give it as --time" in res.output
    assert "numeric columns (1): amount (has blanks)" in res.output
    assert "categorical columns (2): service (3 levels, has blanks), code (4 levels)" in res.output
    assert "boolean columns (1): vip" in res.output
    meta = json.loads((mixed / "m" / "cli.json").read_text())
    kinds = {c["name"]: c["kind"] for c in meta["encoder"]["columns"]}
    assert kinds == {"amount": "numeric", "service": "categorical", "vip": "boolean", "code": "categorical"}
    assert meta["columns"] == ["amount", "service", "vip", "code"]


def test_score_counts_unseen_and_names_categories_by_value(mixed):
    res = _invoke("score", mixed / "m", mixed / "test.csv", "--out", mixed / "s.csv", "--label", "is_anomaly",
                  "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["unseen_categories"] == 3 and r["unseen_by_column"] == {"service": 2, "code": 1}
    assert r["auroc"] == 1.0
    s = pd.read_csv(mixed / "s.csv")
    assert s["score"][1] > s["score"][0] and s["score"][3] > s["score"][0]
    assert s["top_features"][1].startswith("service=telnet")
    assert "contrib:service" in s.columns and "contrib:service=http" not in s.columns
    text = _invoke("score", mixed / "m", mixed / "test.csv", "--out", mixed / "s2.csv")
    assert "3 cells with categories unseen at fit" in text.output, text.output


def test_columns_matched_by_name_in_any_order(mixed):
    t = pd.read_csv(mixed / "test.csv")
    t[["code", "is_anomaly", "vip", "service", "amount"]].to_csv(mixed / "shuffled.csv", index=False)
    res = _invoke("score", mixed / "m", mixed / "shuffled.csv", "--out", mixed / "s3.csv")
    assert res.exit_code == 0, res.output
    a, b = pd.read_csv(mixed / "s.csv"), pd.read_csv(mixed / "s3.csv")
    assert np.allclose(a["score"], b["score"])


def test_bad_mixed_input_is_one_clear_error(mixed):
    t = pd.read_csv(mixed / "test.csv")
    t["amount"] = t["amount"].astype(object)
    t.loc[0, "amount"] = "lots"
    t.to_csv(mixed / "kind.csv", index=False)
    res = _invoke("score", mixed / "m", mixed / "kind.csv", "--out", mixed / "s4.csv")
    assert res.exit_code != 0 and "column 'amount' was numeric at fit but holds text here" in res.output
    res = _invoke("score", mixed / "m", mixed / "test.csv".replace("test", "train"), "--out", mixed / "s5.csv")
    assert res.exit_code == 0, res.output
    tr = pd.read_csv(mixed / "train.csv").assign(empty=np.nan, note="x")
    tr.loc[0, "note"] = None
    tr.to_csv(mixed / "allblank.csv", index=False)
    res = _invoke("fit", mixed / "allblank.csv", "--out", mixed / "m2", "--numeric", "empty")
    assert res.exit_code != 0 and "column 'empty' is blank in every training row" in res.output
    t = pd.read_csv(mixed / "test.csv").drop(columns="service")
    t.to_csv(mixed / "nocol.csv", index=False)
    res = _invoke("score", mixed / "m", mixed / "nocol.csv", "--out", mixed / "s6.csv")
    assert res.exit_code != 0 and "'service'" in res.output and "Traceback" not in res.output


def test_detect_runs_on_a_mixed_table(mixed):
    res = _invoke("detect", mixed / "train.csv", "--out", mixed / "d.csv", "--json")
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(mixed / "d.csv")) == 300


def test_report_names_categories_by_value(mixed):
    res = _invoke("report", mixed / "m", "--data", mixed / "test.csv", "--out", mixed / "r.html")
    assert res.exit_code == 0, res.output
    assert "service=telnet" in (mixed / "r.html").read_text()


def test_tabddpm_through_the_cli_says_what_it_sees(mixed):
    # the CLI encodes every table the same way; a detector that reads DataFrames itself must not be
    # described as unable to take blanks, and the note says what it gets here
    res = _invoke("fit", mixed / "train.csv", "--out", mixed / "t", "--detector", "tabddpm",
                  "--param", "max_steps=20", "--param", "width=16")
    assert res.exit_code == 0, res.output
    assert "cannot take them" not in res.output
    assert "tabddpm sees the encoder's columns here" in res.output
