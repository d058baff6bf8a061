"""`adgdm generate` on models fitted on mixed tables (numbers, text, true/false, blank cells):
every kind gives rows in the table's own columns, categories from the training set, finite
numbers; a kind the model cannot make is one error naming what to fit (issue 30, item 5)."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adgdm.cli import _build_app
from adgdm.data.encoder import TableEncoder

KINDS = ("normal", "local", "global", "dependency", "clustered", "masked")
SITES = {"east", "west", "north"}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    d = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(5, 2, size=n),
                       "site": rng.choice(sorted(SITES), n), "flag": rng.choice(["true", "false"], n)})
    df.loc[::11, "b"] = np.nan      # numeric blanks
    df.loc[::13, "site"] = None     # category blanks
    df.to_csv(d / "mixed.csv", index=False)
    return d


def _invoke(*args):
    return CliRunner().invoke(_build_app(), [str(a) for a in args])


def _fit(d, name, *extra):
    if not (d / name).exists():
        res = _invoke("fit", d / "mixed.csv", "--out", d / name, *extra)
        assert res.exit_code == 0, res.output
    return d / name


def _check_rows(path, n):
    out = pd.read_csv(path, keep_default_na=True)
    assert list(out.columns) == ["a", "b", "site", "flag"]       # the user's columns, in order
    assert len(out) == n
    assert set(out["site"].dropna()) <= SITES                     # categories as categories, seen at fit
    assert set(out["flag"].astype(str)) <= {"True", "False"}
    assert np.isfinite(out["a"]).all()                            # a had no blanks at fit
    b = out["b"].to_numpy(dtype=float)
    assert np.isfinite(b[~np.isnan(b)]).all()
    return out


@pytest.mark.parametrize("kind", ["global", "dependency", "clustered"])
def test_default_model_makes_the_model_free_kinds_from_mixed_data(mixed, kind, tmp_path):
    m = _fit(mixed, "m_default")
    res = _invoke("generate", m, "--kind", kind, "--n", 25, "--data", mixed / "mixed.csv", "--out", tmp_path / "g.csv")
    assert res.exit_code == 0, res.output
    out = _check_rows(tmp_path / "g.csv", 25)
    # the default detector fills blank numbers itself (its scoring rule): no blank numbers come out
    assert out["b"].notna().all()
    if kind == "dependency":  # marginals of the data: every value is a training value
        train = pd.read_csv(mixed / "mixed.csv")
        a = train["a"].to_numpy()
        assert all(np.abs(a - v).min() < 1e-9 for v in out["a"])


@pytest.mark.parametrize("kind", ["normal", "local", "masked"])
def test_default_model_refuses_network_kinds_naming_what_to_fit(mixed, kind, tmp_path):
    m = _fit(mixed, "m_default")
    res = _invoke("generate", m, "--kind", kind, "--n", 5, "--data", mixed / "mixed.csv", "--out", tmp_path / "g.csv")
    assert res.exit_code != 0
    assert "needs a generative model" in res.output and "--detector ddpm" in res.output
    assert "global, dependency, clustered" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "g.csv").exists()


def test_ddpm_on_a_mixed_table_generates_every_kind_in_the_tables_columns(mixed, tmp_path):
    m = _fit(mixed, "m_ddpm", "--detector", "ddpm", "--param", "max_steps=150", "--seed", 0)
    for kind in KINDS:
        out_file = tmp_path / f"{kind}.csv"
        res = _invoke("generate", m, "--kind", kind, "--n", 40, "--data", mixed / "mixed.csv", "--out", out_file)
        assert res.exit_code == 0, (kind, res.output)
        out = _check_rows(out_file, 40)
        if kind == "normal":
            # one category per cell (decoded from the unsnapped one-hot scores), several levels used
            assert out["site"].nunique() >= 2 and out["flag"].nunique() == 2
            assert -6 < out["a"].mean() < 6 and 0 < out["b"].mean() < 10   # the data's units, not the encoder's


def test_tabddpm_on_a_mixed_table_decodes_its_rows(mixed, tmp_path):
    m = _fit(mixed, "m_tab", "--detector", "tabddpm", "--param", "max_steps=100", "--seed", 0)
    for kind in ("normal", "local"):
        res = _invoke("generate", m, "--kind", kind, "--n", 20, "--data", mixed / "mixed.csv",
                      "--out", tmp_path / f"{kind}.csv")
        assert res.exit_code == 0, (kind, res.output)
        _check_rows(tmp_path / f"{kind}.csv", 20)


def test_blanks_the_model_cannot_fill_are_named(mixed, tmp_path):
    full = pd.read_csv(mixed / "mixed.csv")[["a", "b"]]
    full.dropna().to_csv(tmp_path / "num.csv", index=False)
    full.to_csv(tmp_path / "blank.csv", index=False)
    assert _invoke("fit", tmp_path / "num.csv", "--detector", "ddpm", "--param", "max_steps=30",
                   "--out", tmp_path / "m").exit_code == 0
    res = _invoke("generate", tmp_path / "m", "--kind", "global", "--data", tmp_path / "blank.csv",
                  "--out", tmp_path / "g.csv")
    assert res.exit_code != 0
    assert "blank cells (first at row 0, column 'b')" in res.output and "does not fill blanks" in res.output
    # the default detector fills them (as when it scores them)
    assert _invoke("fit", tmp_path / "num.csv", "--out", tmp_path / "md").exit_code == 0
    res = _invoke("generate", tmp_path / "md", "--kind", "global", "--n", 10, "--data", tmp_path / "blank.csv",
                  "--out", tmp_path / "g.csv")
    assert res.exit_code == 0, res.output
    assert np.isfinite(pd.read_csv(tmp_path / "g.csv").to_numpy()).all()


def test_table_encoder_decode_inverts_encode():
    df = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "b", None, "a"], "t": [True, False, True, True],
                       "code": [3, 7, 3, 7]})
    enc = TableEncoder(categorical=["code"]).fit(df)
    back = enc.decode(enc.transform(df))
    assert list(back.columns) == ["x", "c", "t", "code"]
    assert np.allclose(back["x"].to_numpy(dtype=float), df["x"].to_numpy(dtype=float), equal_nan=True)
    assert back["c"].fillna("<blank>").tolist() == ["a", "b", "<blank>", "a"]
    assert back["t"].tolist() == [True, False, True, True] and back["code"].tolist() == [3, 7, 3, 7]
    # the highest one-hot score wins; <unseen> is never given
    X = enc.transform(df.iloc[:1])
    j = enc.feature_names_.index("c=<unseen>")
    X[0, j] = 9.0
    X[0, enc.feature_names_.index("c=a")] = 0.2
    X[0, enc.feature_names_.index("c=b")] = 0.7
    assert enc.decode(X)["c"].tolist() == ["b"]
    with pytest.raises(ValueError, match="encoded columns"):
        enc.decode(X[:, :3])


def test_ddpm_samples_in_data_units_without_its_own_standardising():
    """``from_model_space`` inverts the model's own transform: with ``standardize=False`` the
    network works in the data's units, and samples stay there (they were rescaled twice)."""
    from adgdm import DDPMDetector
    from adgdm.generation import generate_anomalies

    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(3, 2, 300), rng.normal(0, 1, 300)]
    m = DDPMDetector(max_steps=200, standardize=False, random_state=0).fit(X)
    S = m.sample(200, steps=20, sampler="ddim", random_state=0)
    assert abs(S[:, 0].mean() - 3) < 2.0 and 1.0 < S[:, 0].std() < 3.0   # scaled twice: about 8.7
    A = generate_anomalies(m, X, 100, kind="local", severity=0.0, random_state=0)  # severity 0: reconstruction
    assert abs(A[:, 0].mean() - 3) < 1.0 and 1.0 < A[:, 0].std() < 3.0
