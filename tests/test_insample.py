"""In-sample scoring: a series or table scored by the model fitted on it gets its training scores
(cross-fitted / leave-one-out), marked in an ``in_sample`` column and said in the summary; the
start of a scored series (no full window) raises no alarm; ``adgdm detect`` fits and scores in one
step."""
import json

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm.commands.fit import run_fit
from adgdm.modalities.fingerprint import match, row_hashes
from adgdm.commands.score import run_score
from adgdm.detectors.series.diffusion import SeriesDiffusion


def _series_csv(path, n=700, spike=(500, 506)):
    rng = np.random.default_rng(0)
    t = np.arange(n)
    vals = np.c_[np.sin(2 * np.pi * t / 25), np.cos(2 * np.pi * t / 25)] + 0.05 * rng.normal(size=(n, 2))
    lab = np.zeros(n, int)
    vals[spike[0]:spike[1], 0] += 3
    lab[spike[0]:spike[1]] = 1
    pd.DataFrame({"timestamp": t, "a": vals[:, 0], "b": vals[:, 1], "y": lab}).to_csv(path, index=False)
    return path


def _table_csv(path, n=400):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 4))
    y = np.zeros(n, int)
    y[-20:] = 1
    X[-20:] += 4.0
    df = pd.DataFrame(X, columns=list("pqrs"))
    df["label"] = y
    df.to_csv(path, index=False)
    return df


def test_same_file_series_gets_the_cross_fitted_training_scores(tmp_path):
    data = _series_csv(tmp_path / "s.csv")
    run_fit(data, modality="series", out=tmp_path / "m", params={"window": 25}, label="y", time_col="timestamp")
    r = run_score(tmp_path / "m", data, out=tmp_path / "out.csv")
    det = adgdm.load(tmp_path / "m")
    s = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(s["score"].to_numpy(), det.decision_scores_)
    assert (s["in_sample"] == 1).all() and r["in_sample"] == 700
    assert "all 700 steps are the series the model was fitted on" in r["notes"][0]
    assert "cross-fitted" in r["notes"][0]
    assert (s["flagged"] == (s["score"] > s["threshold"])).all()
    assert ((s["probability"] > 0.5) == (s["flagged"] == 1)).all()
    assert s["score"].iloc[500:506].mean() > s["score"].iloc[:450].quantile(0.95)


def test_series_fitted_on_its_start_scores_the_rest_as_new(tmp_path):
    data = _series_csv(tmp_path / "s.csv")
    full = pd.read_csv(data)
    full.iloc[:400].to_csv(tmp_path / "train.csv", index=False)
    run_fit(tmp_path / "train.csv", modality="series", out=tmp_path / "m", params={"window": 25}, label="y",
            time_col="timestamp")
    r = run_score(tmp_path / "m", data, out=tmp_path / "out.csv")
    det = adgdm.load(tmp_path / "m")
    s = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(s["score"].iloc[:400], det.decision_scores_)
    np.testing.assert_allclose(s["score"].iloc[400:], det.decision_function(full[["a", "b"]].to_numpy())[400:])
    assert s["in_sample"].tolist() == [1] * 400 + [0] * 300
    assert "steps 0 to 399 (400 of 700)" in r["notes"][0]
    # the fitted series inside a longer one (at an offset) is found too; another series is not
    fp = json.loads((tmp_path / "m" / "cli.json").read_text())
    X = full[["a", "b"]].to_numpy()
    found = match(fp, np.vstack([X[600:], X[:400]]))
    assert found.offset == 100 and len(found) == 400
    assert match(fp, X[1:401]) is None and match(fp, X[:399]) is None


def test_table_training_rows_get_leave_one_out_scores_others_new(tmp_path):
    df = _table_csv(tmp_path / "t.csv")
    run_fit(tmp_path / "t.csv", out=tmp_path / "m", label="label")  # fits on the 380 rows labelled 0
    shuffled = df.sample(frac=1.0, random_state=0)  # any order
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    r = run_score(tmp_path / "m", tmp_path / "shuffled.csv", out=tmp_path / "out.csv", explain=False)
    det = adgdm.load(tmp_path / "m")
    s = pd.read_csv(tmp_path / "out.csv")
    train = shuffled["label"].to_numpy() == 0
    assert (s["in_sample"].to_numpy() == train).all() and r["in_sample"] == 380
    assert r["notes"] == ["380 of 400 rows were training rows: their leave-one-out training scores are used"]
    order = shuffled.index.to_numpy()[train]  # training rows in fit order are df rows 0..379
    np.testing.assert_allclose(s["score"].to_numpy()[train], det.decision_scores_[order])
    X = shuffled[list("pqrs")].to_numpy()
    np.testing.assert_allclose(s["score"].to_numpy()[~train], det.decision_function(X[~train]))
    assert (s["flagged"] == (s["score"] > s["threshold"])).all()
    assert ((s["probability"] > 0.5) == (s["flagged"] == 1)).all()
    # new rows only: nothing in-sample, no note
    df.iloc[380:].to_csv(tmp_path / "new.csv", index=False)
    r = run_score(tmp_path / "m", tmp_path / "new.csv", out=tmp_path / "out2.csv", explain=False)
    assert r["in_sample"] == 0 and r["notes"] == []


def test_fingerprint_is_small_and_a_damaged_one_scores_anew(tmp_path):
    _table_csv(tmp_path / "t.csv")
    run_fit(tmp_path / "t.csv", out=tmp_path / "m", label="label")
    assert (tmp_path / "m" / "fingerprint.safetensors").stat().st_size < 380 * 8 + 200
    assert len(np.unique(row_hashes(np.array([[0.0, 1.0], [-0.0, 1.0], [1.0, 0.0]])))) == 2
    (tmp_path / "m" / "fingerprint.safetensors").write_bytes(b"garbage")
    r = run_score(tmp_path / "m", tmp_path / "t.csv", out=tmp_path / "out.csv", explain=False)
    assert "in_sample" not in r and "in_sample" not in pd.read_csv(tmp_path / "out.csv")
    # a model saved from Python has no fingerprint: scored as new data
    det = adgdm.make_detector("diffusion").fit(np.random.default_rng(0).normal(size=(50, 4)))
    det.save(tmp_path / "py")
    r = run_score(tmp_path / "py", tmp_path / "t.csv", out=tmp_path / "out3.csv", explain=False, columns=list("pqrs"))
    assert "in_sample" not in r


@pytest.mark.parametrize("spec", ["series", "series-cycle:copies=1"])
def test_clean_sine_scored_from_step_0_raises_no_alarm_in_its_first_window(spec):
    rng = np.random.default_rng(0)
    t = np.arange(2000)
    x = np.sin(2 * np.pi * t / 25) + 0.05 * rng.normal(size=2000)
    det = adgdm.make_detector(spec, window=25, random_state=0).fit(x[:400])
    base = det.base_ if spec != "series" else det
    new = x[1000:]
    s = det.decision_function(new)
    # the windows of these steps were padded with copies of step 0: most of them were flagged
    k = 24 - base._lag()  # with centred windows (align="center") fewer steps lack a full window
    assert det.predict(new)[:25].sum() == 0
    assert np.all(s[:k] == s[0]) and s[0] <= det.threshold_ and s[k] != s[0]
    full = base.decision_scores_[k:len(base.decision_scores_) - base._lag()]  # the full windows' scores, once each
    assert base.start_score_ == pytest.approx(np.median(full))
    if spec == "series":
        stream = det.stream()  # a stream's first points are not judged either: equal to the batch
        got = np.concatenate([stream.update(new[i:i + 7]) for i in range(0, len(new), 7)] + [stream.flush()])
        np.testing.assert_allclose(got, s, rtol=1e-4, atol=1e-4)  # float32 neighbour search
        assert (det.explain(new[:200])[:k] == 0).all()


def test_series_start_score_is_saved(tmp_path):
    x = np.sin(np.arange(800) / 4.0)
    det = SeriesDiffusion(window=20, random_state=0).fit(x[:500])
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert back.start_score_ == det.start_score_
    np.testing.assert_array_equal(back.decision_function(x), det.decision_function(x))


def test_series_windows_beyond_the_reference_are_cross_fitted():
    # a smooth series: a window's nearest reference window is itself shifted by a step, so scoring
    # the windows left out of the reference against all of it gave them near-zero training scores
    rng = np.random.default_rng(0)
    x = np.convolve(rng.normal(size=1300), np.ones(30) / 30, mode="valid")[:1200]
    det = SeriesDiffusion(window=20, max_train_windows=300, align="end", random_state=0).fit(x)  # score i: window ending at i
    ref = np.sort(np.random.default_rng(0).choice(np.arange(19, 1200), 300, replace=False))  # fit's draw
    others = np.setdiff1d(np.arange(19, 1200), ref)
    s = det.decision_scores_
    assert np.median(s[others]) > 0.7 * np.median(s[ref])  # was 0.2 times


def test_detect_command_fits_and_scores_in_one_step(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from adgdm.cli import _build_app

    data = _series_csv(tmp_path / "s.csv")
    res = typer_testing.CliRunner().invoke(_build_app(), [
        "detect", str(data), "--modality", "series", "--time", "timestamp", "--label", "y", "--param", "window=25",
        "--out", str(tmp_path / "out.csv"), "--model-out", str(tmp_path / "m"), "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["in_sample"] == 700 and r["n_fit"] == 700 and r["model"] == str(tmp_path / "m") and "auroc" in r
    s = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(s["score"].to_numpy(), adgdm.load(tmp_path / "m").decision_scores_)
    res = typer_testing.CliRunner().invoke(_build_app(), ["detect", str(data), "--modality", "series", "--time",
                                                          "timestamp", "--label", "y", "--param", "window=25",
                                                          "--out", str(tmp_path / "out2.csv")])
    assert res.exit_code == 0, res.output
    assert "note: all 700 steps are the series the model was fitted on" in res.output
    res = typer_testing.CliRunner().invoke(_build_app(), ["detect", str(tmp_path), "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "tables and series" in res.output
    res = typer_testing.CliRunner().invoke(_build_app(), ["detect", "--help"])
    assert res.exit_code == 0 and "Example" in res.output


def test_the_auroc_of_a_summary_says_what_it_covers(tmp_path):
    """``score --label`` printed an AUROC over rows that included the training rows without saying so."""
    df = _table_csv(tmp_path / "t.csv")
    run_fit(tmp_path / "t.csv", out=tmp_path / "m", label="label")
    rng = np.random.default_rng(5)
    new = pd.DataFrame(rng.normal(size=(100, 4)), columns=list("pqrs")).assign(label=0)
    new.loc[:9, list("pqrs")] += 3.0
    new.loc[:9, "label"] = 1
    pd.concat([df, new]).to_csv(tmp_path / "both.csv", index=False)
    r = run_score(tmp_path / "m", tmp_path / "both.csv", out=tmp_path / "s.csv", explain=False)
    assert r["auroc_covers"] == "all 500 rows (380 of them fitted on)"
    assert r["auroc_new_covers"] == "the 120 rows not fitted on" and 0.5 < r["auroc_new"] <= 1.0


# --- explanations of in-sample units follow the evidence of their training scores ---------------
def test_diffusion_explains_a_training_row_as_if_it_were_left_out():
    """A training row's explanation is its residual against the other rows: the same as a model
    fitted without it explains it (scored anew, the row finds itself and explains as nothing)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    X[7, 2] += 6.0  # a training row out of line in feature 2
    det = adgdm.make_detector("diffusion", standardize=False).fit(X)
    without = adgdm.make_detector("diffusion", standardize=False).fit(np.delete(X, 7, axis=0))
    got = det.explain_fitted(X[[7, 8]], [7, 8])
    np.testing.assert_allclose(got[0], without.explain(X[[7]])[0], rtol=1e-6, atol=1e-9)
    assert np.argmax(got[0]) == 2
    assert det.explain(X[[7]])[0].sum() < 1e-6 * got[0].sum()  # scored anew: it reconstructs itself


@pytest.mark.parametrize("name", ["diffusion", "pyod-knn"])
def test_score_of_the_fitted_table_names_the_feature_behind_a_flagged_training_row(tmp_path, name):
    rng = np.random.default_rng(4)
    df = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("pqrs"))
    df.loc[11, "r"] = 7.0  # fitted on, and flagged by its leave-one-out score
    pipe = adgdm.Pipeline(name).fit(df)
    # the same row new to a model fitted without it: what its evidence looks like
    new = adgdm.Pipeline(name).fit(df.drop(index=11)).score(df.iloc[[11]]).to_frame().iloc[0]
    out = pipe.score(df).to_frame()
    row = out.iloc[11]
    assert row["in_sample"] == 1 and row["flagged"] == 1 and new["in_sample"] == 0
    assert str(row["top_features"]).startswith("r ("), row["top_features"]
    # as much evidence as when it is new: not a perfect self-reconstruction's leftovers
    assert row["contrib:r"] > 0.5 * new["contrib:r"], (row["contrib:r"], new["contrib:r"])
    flagged = out[(out["in_sample"] == 1) & (out["flagged"] == 1)]
    assert flagged["top_features"].fillna("").str.len().gt(0).all()  # every flagged row says why


def test_series_in_sample_spike_is_explained_by_its_channel(tmp_path):
    data = _series_csv(tmp_path / "s.csv")
    run_fit(data, modality="series", out=tmp_path / "m", params={"window": 25}, label="y", time_col="timestamp")
    run_score(tmp_path / "m", data, out=tmp_path / "out.csv")
    s = pd.read_csv(tmp_path / "out.csv")
    spike = s.iloc[500:506]
    assert (spike["in_sample"] == 1).all()
    assert spike["top_features"].fillna("").str.startswith("a (").mean() >= 0.5, spike["top_features"].tolist()
    det = adgdm.load(tmp_path / "m")
    X = pd.read_csv(data)[["a", "b"]].to_numpy()
    fitted, anew = det.explain_fitted(X, np.arange(len(X))), det.explain(X)
    # cross-fitted residuals: the spike is evidence, not a window the reference holds
    assert fitted[500:506, 0].sum() > 2 * anew[500:506, 0].sum()
    assert (fitted[500:506, 0] > fitted[500:506, 1]).all()


def test_explain_fitted_refuses_a_misaligned_index():
    X = np.random.default_rng(0).normal(size=(50, 3))
    det = adgdm.make_detector("diffusion").fit(X)
    with pytest.raises(ValueError, match="train_index has 1 entries for 2 units"):
        det.explain_fitted(X[:2], [0])
