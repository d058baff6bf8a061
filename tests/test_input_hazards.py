"""Issue 30's smaller hazards: complex input, output suffixes, blank top_features in a scores file,
and the byte position of an undecodable file."""
import warnings

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm._validation import check_series, check_tabular


@pytest.mark.parametrize("X", [np.ones((30, 2)) * (1 + 1j), [[1 + 1j, 2.0]] * 30,
                               pd.DataFrame({"a": np.arange(30) + 1j, "b": np.arange(30.0)})])
def test_complex_input_is_refused_not_cast(X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error
        for check in (check_tabular, check_series):
            with pytest.raises(ValueError, match="complex"):
                check(X)
        with pytest.raises(ValueError, match="complex"):
            adgdm.make_detector("ddpm").fit(X)
        with pytest.raises(ValueError, match="complex"):
            check_series(pd.Series(np.arange(30) * 1j))


def _cli(*args):
    typer_testing = pytest.importorskip("typer.testing")
    from adgdm.cli import _build_app

    return typer_testing.CliRunner().invoke(_build_app(), [str(a) for a in args])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    d = tmp_path_factory.mktemp("haz")
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"]).to_csv(d / "train.csv", index=False)
    res = _cli("fit", d / "train.csv", "--out", d / "model")
    assert res.exit_code == 0, res.output
    return d


def test_table_outputs_other_than_csv_or_parquet_are_refused_before_any_work(fitted, monkeypatch):
    from adgdm._atomic import write_frame
    from adgdm.commands import detect, score

    with pytest.raises(ValueError, match="xlsx"):
        write_frame(pd.DataFrame({"a": [1]}), fitted / "w.xlsx")
    assert not (fitted / "w.xlsx").exists()

    def no_work(*a, **k):
        raise AssertionError("work done before the suffix was checked")

    monkeypatch.setattr(score.Pipeline, "load", no_work)
    monkeypatch.setattr(detect, "run_fit", no_work)
    for cmd in (["score", fitted / "model", fitted / "train.csv"], ["detect", fitted / "train.csv"]):
        for name in ("scores.xlsx", "scores.txt", "scores"):
            res = _cli(*cmd, "--out", fitted / name)
            assert res.exit_code == 2 and ".csv, .parquet or .pq" in res.output, res.output
            assert not (fitted / name).exists()


def test_report_reads_a_scores_file_with_blank_top_features(tmp_path):
    """Issue 30: a row with an empty top_features (NaN after reading the CSV) made the report fail
    with AttributeError: 'float' object has no attribute 'split'."""
    from adgdm.commands.report import _valued_names, run_report

    rng = np.random.default_rng(0)
    n = 40
    df = pd.DataFrame({"row": np.arange(n), "score": rng.normal(size=n), "flagged": 0, "threshold": 2.0,
                       "top_features": ["site=east (80%); a (20%)"] * (n - 2) + ["", None],
                       "contrib:site": rng.random(n), "contrib:a": rng.random(n)})
    df.loc[5, "score"], df.loc[5, "flagged"], df.loc[5, "top_features"] = 154.8, 1, ""
    df.to_csv(tmp_path / "scores.csv", index=False)
    back = pd.read_csv(tmp_path / "scores.csv")
    assert back["top_features"].isna().sum() == 3
    names = _valued_names(back, ["site", "a"])
    assert names[0, 0] == "site=east" and names[5, 0] == "site"  # the blank row keeps the plain names
    out = run_report(tmp_path / "scores.csv", tmp_path / "r.html")
    assert out["kind"] == "scores" and (tmp_path / "r.html").is_file()


def test_latin1_error_names_the_byte_and_line_in_the_file(tmp_path):
    """Issue 30: pandas decodes in chunks, so the reported byte was counted from a chunk."""
    from adgdm.modalities.readers import _frame, first_undecodable

    rows = [f"{i},{i * 0.5},caf" for i in range(60000)]
    rows[50000] += "\u00e9"  # one latin-1 byte far into the file (past pandas' first chunk)
    raw = ("a,b,c\n" + "\n".join(rows) + "\n").encode("latin-1")
    (tmp_path / "t.csv").write_bytes(raw)
    pos = raw.index(b"\xe9")
    assert pos > 1 << 18
    for block in (4096, 1 << 20):
        assert first_undecodable(tmp_path / "t.csv", block=block) [:3] == (pos, 50002, b"\xe9")
    with pytest.raises(ValueError, match=rf"at byte {pos}, line 50002: b'\\xe9'.*--encoding"):
        _frame(tmp_path / "t.csv")
    assert len(_frame(tmp_path / "t.csv", encoding="latin-1")) == 60000
    # a UTF-8 character split across the reader's blocks is not an error; offsets count whole-file bytes
    text = ("\u00e9" * 10 + "\n").encode() + b"x\xff"
    (tmp_path / "u.csv").write_bytes(text)
    for block in (1, 3, 7, 1 << 20):
        assert first_undecodable(tmp_path / "u.csv", block=block) [:3] == (22, 2, b"\xff")
    (tmp_path / "ok.csv").write_bytes(("\u00e9" * 10).encode())
    assert first_undecodable(tmp_path / "ok.csv", block=3) is None
