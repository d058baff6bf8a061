"""``--decimal ,``: a table that writes numbers with a decimal comma reads as numbers, scores as the
same table written with points, and without the option the fit says what to do."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from adgdm.cli import _build_app


def _invoke(*args):
    return CliRunner().invoke(_build_app(), [str(a) for a in args])


def _tables(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(120, 3)).round(3), columns=["a", "b", "c"])
    df.to_csv(tmp_path / "point.csv", sep=";", index=False)
    df.to_csv(tmp_path / "comma.csv", sep=";", index=False, decimal=",")
    assert "," in (tmp_path / "comma.csv").read_text().splitlines()[1]
    return df


def test_decimal_comma_reads_as_numbers_and_scores_like_points(tmp_path):
    _tables(tmp_path)
    for name, extra in (("point", []), ("comma", ["--decimal", ","])):
        res = _invoke("fit", tmp_path / f"{name}.csv", "--detector", "dte-np", "--out", tmp_path / f"m_{name}",
                      *extra, "--json")
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["columns"] == ["a", "b", "c"]
        # the model card keeps the option: scoring reads new files the same way without repeating it
        res = _invoke("score", tmp_path / f"m_{name}", tmp_path / f"{name}.csv", "--out", tmp_path / f"s_{name}.csv")
        assert res.exit_code == 0, res.output
    point, comma = pd.read_csv(tmp_path / "s_point.csv"), pd.read_csv(tmp_path / "s_comma.csv")
    np.testing.assert_array_equal(point["score"].to_numpy(), comma["score"].to_numpy())


def test_without_the_option_the_fit_says_to_use_it(tmp_path):
    _tables(tmp_path)
    res = _invoke("fit", tmp_path / "comma.csv", "--detector", "dte-np", "--out", tmp_path / "m", "--json")
    assert res.exit_code == 2
    assert "decimal comma" in res.output and "--decimal ," in res.output  # not "--categorical" or "an id"
    # a mixed table (a text column beside them) reads them as categories and says the same
    df = pd.read_csv(tmp_path / "comma.csv", sep=";").head(40).assign(site=["north", "south"] * 20)
    df.to_csv(tmp_path / "mixed.csv", sep=";", index=False)
    res = _invoke("fit", tmp_path / "mixed.csv", "--detector", "dte-np", "--out", tmp_path / "m2", "--json")
    assert res.exit_code == 0, res.output
    assert "--decimal ," in " ".join(json.loads(res.output)["notes"])


def test_a_numeric_model_meeting_decimal_commas_says_so(tmp_path):
    _tables(tmp_path)
    pd.DataFrame({"a": ["1,5"], "b": ["0,1"], "c": ["x"]}).to_csv(tmp_path / "new.csv", sep=";", index=False)
    res = _invoke("fit", tmp_path / "point.csv", "--detector", "dte-np", "--out", tmp_path / "m")
    assert res.exit_code == 0, res.output
    res = _invoke("score", tmp_path / "m", tmp_path / "new.csv", "--out", tmp_path / "s.csv")
    assert res.exit_code == 2 and "--decimal ," in res.output
