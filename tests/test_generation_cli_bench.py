"""`adgdm bench generation` and `adgdm generate`: rows, protocol, files and bad input."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adgdm import DDPMDetector, DiffusionDetector
from adgdm.bench.generation import run_generation
from adgdm.bench.generation_summary import summarize_generation
from adgdm.cli import _build_app
from adgdm.detectors import SeriesDiffusion


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    rng = np.random.default_rng(0)
    n, k = 160, 24
    X = rng.normal(size=(n, 4))
    X[:, 1] = X[:, 0] + 0.1 * rng.normal(size=n)  # a dependency the anomalies break
    y = np.zeros(n, int)
    y[-k:] = 1
    X[y == 1, 1] = X[y == 1, 0] + 3.0  # off the diagonal: 30 noise sd
    np.savez(d / "toy.npz", X=X, y=y)
    return d


@pytest.fixture(scope="module")
def bench_csv(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "gen.csv"
    import adgdm.bench.generation as g

    run_generation(data_dir, seeds=1, shots=(0, 5), out=out, progress=False, generator_steps=60)
    return out, g


def test_generation_bench_rows_and_protocol(bench_csv):
    out, _ = bench_csv
    df = pd.read_csv(out)
    assert {"suite", "dataset", "detector", "shots", "seed", "auroc", "auprc", "c2st_auc", "mmd"} <= set(df.columns)
    got = set(zip(df.detector, df.shots))
    assert got == {("diffusion", 0), ("ddpm-sample", 0), ("ddim50-sample", 0), ("cycle", 0), ("cycle", 5), ("supervised", 5), ("xgbod", 5)}
    fid = df[df.detector == "ddpm-sample"].iloc[0]
    assert 0.0 <= fid.c2st_auc <= 1.0 and np.isnan(fid.auroc)
    det = df[~df.detector.isin(["ddpm-sample", "ddim50-sample"])]
    assert det.c2st_auc.isna().all() and det.auroc.between(0, 100).all()
    # the 5 labelled anomalies left the test set for every row of the seed: 68 normals + 19 anomalies
    assert (df.n_test == 68 + 24 - 5).all() and (df.n_train == 68).all()
    assert (det[det.detector.isin(["diffusion", "cycle"])].auroc > 90).all()  # the broken dependency is plain


def test_generation_bench_resume_and_bad_arguments(bench_csv, data_dir):
    out, _ = bench_csv
    before = len(pd.read_csv(out))
    run_generation(data_dir, seeds=1, shots=(0, 5), out=out, resume=True, progress=False, generator_steps=60)
    assert len(pd.read_csv(out)) == before
    with pytest.raises(ValueError, match="seeds"):
        run_generation(data_dir, seeds=0, out=out)
    with pytest.raises(ValueError, match="shots"):
        run_generation(data_dir, shots=(-1,), out=out)
    with pytest.raises(ValueError, match="not found"):
        run_generation(data_dir, datasets=["nope"], out=out)


def test_resume_fills_only_missing_fidelity_rows(bench_csv, data_dir, tmp_path, monkeypatch):
    out, _ = bench_csv
    df = pd.read_csv(out)
    part = tmp_path / "part.csv"
    df[df.detector != "ddim50-sample"].to_csv(part, index=False)
    fits = []
    monkeypatch.setattr(DiffusionDetector, "fit", lambda self, X, y=None: fits.append(1) or self)
    run_generation(data_dir, seeds=1, shots=(0, 5), out=part, resume=True, progress=False, generator_steps=60)
    new = pd.read_csv(part)
    assert fits == []  # a missing fidelity row refits the generator only
    assert len(new) == len(df) and (new.detector == "ddim50-sample").sum() == 1
    again = new[new.detector == "ddim50-sample"].iloc[0]
    first = df[df.detector == "ddim50-sample"].iloc[0]
    assert again.c2st_auc == first.c2st_auc  # the same generator, samples and reference rows under the seed


def test_generation_summary_reports_targets(bench_csv, tmp_path):
    out, _ = bench_csv
    md = summarize_generation(out, tmp_path / "g.md", command="adgdm bench generation ...")
    assert "median C2ST" in md and "`cycle@5`" in md and "zero-shot" in md and "5-shot" in md
    assert (tmp_path / "g.md").read_text() == md


def test_shots_beyond_half_the_anomalies_are_skipped(data_dir, tmp_path):
    out = run_generation(data_dir, seeds=1, shots=(0, 20), out=tmp_path / "g.csv", progress=False, generator_steps=30)
    df = pd.read_csv(out)
    assert 20 not in set(df.shots)  # 20 > 24 / 2


def test_cli_generate_normal_and_anomalies(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "normal.csv", index=False)
    DDPMDetector(max_steps=50, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"])).save(tmp_path / "m")
    app = _build_app()
    res = CliRunner().invoke(app, ["generate", str(tmp_path / "m"), "--n", "30", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert list(s.columns) == ["a", "b", "c"] and len(s) == 30
    res = CliRunner().invoke(app, ["generate", str(tmp_path / "m"), "--kind", "local", "--n", "20", "--data",
                                   str(tmp_path / "normal.csv"), "--out", str(tmp_path / "a.csv")])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "a.csv").shape == (20, 3)


def test_cli_generate_series_injection(tmp_path):
    t = np.arange(600)
    x = np.sin(2 * np.pi * t / 40)
    pd.DataFrame({"v": x}).to_csv(tmp_path / "clean.csv", index=False)
    SeriesDiffusion(window=32).fit(x).save(tmp_path / "sm")
    res = CliRunner().invoke(_build_app(), ["generate", str(tmp_path / "sm"), "--kind", "spike", "--n", "3",
                                            "--data", str(tmp_path / "clean.csv"), "--out", str(tmp_path / "inj.csv")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "inj.csv")
    assert list(df.columns) == ["v", "label"] and len(df) == 600 and 3 <= df.label.sum() <= 9


@pytest.mark.parametrize("case", ["missing model", "unknown kind", "no data", "cannot sample", "corrupted"])
def test_cli_generate_bad_input_is_one_line_and_exit_2(tmp_path, case):
    X = np.random.default_rng(0).normal(size=(50, 3))
    DDPMDetector(max_steps=20, random_state=0).fit(X).save(tmp_path / "m")
    DiffusionDetector().fit(X).save(tmp_path / "d")
    args = {"missing model": [str(tmp_path / "nowhere")],
            "unknown kind": [str(tmp_path / "m"), "--kind", "weird"],
            "no data": [str(tmp_path / "m"), "--kind", "local"],
            "cannot sample": [str(tmp_path / "d")],
            "corrupted": [str(tmp_path / "m")]}[case]
    if case == "corrupted":
        (tmp_path / "m" / "weights.safetensors").write_bytes(b"garbage")
    res = CliRunner().invoke(_build_app(), ["generate", *args, "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2
    assert res.output.strip().startswith("error:") and "Traceback" not in res.output
    assert not (tmp_path / "o.csv").exists()


def test_generation_summary_names_datasets_a_stopped_run_left_short(bench_csv, tmp_path):
    out, _ = bench_csv
    df = pd.read_csv(out)
    more = df.assign(seed=1)
    other = df.assign(dataset="other")
    pd.concat([df, more, other]).to_csv(tmp_path / "g.csv", index=False)
    md = summarize_generation(tmp_path / "g.csv")
    assert "fewer than 2 seeds" in md and "`other` (1)" in md and "`toy`" not in md.split("## Fidelity")[0]


def test_series_recon_samples_windows_in_series_units(tmp_path):
    from adgdm.detectors import SeriesRecon

    t = np.arange(1500)
    x = np.c_[10 + 2 * np.sin(2 * np.pi * t / 32), -5 + 0.5 * np.cos(2 * np.pi * t / 32)]
    det = SeriesRecon(window=32, max_steps=300, random_state=0).fit(x)
    W = det.sample(40, steps=50, sampler="ddim", random_state=1)
    assert W.shape == (40, 32, 2) and np.isfinite(W).all()
    np.testing.assert_array_equal(W, det.sample(40, steps=50, sampler="ddim", random_state=1))
    # original units: each channel's level and amplitude, not the model's standardised scale
    assert abs(W[..., 0].mean() - 10) < 1.0 and abs(W[..., 1].mean() + 5) < 0.5
    assert 1.0 < W[..., 0].std() < 3.0 and W[..., 1].std() < 1.0
    det.save(tmp_path / "rm")
    res = CliRunner().invoke(_build_app(), ["generate", str(tmp_path / "rm"), "--kind", "normal", "--n", "2",
                                            "--out", str(tmp_path / "w.csv")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "w.csv")
    assert list(df.columns) == ["window", "step", "x0", "x1"] and len(df) == 64 and df.window.max() == 1


def test_series_sampling_needs_a_model_of_whole_windows():
    from adgdm.detectors import SeriesImpute

    x = np.sin(np.arange(600) / 5.0)
    det = SeriesImpute(window=32, max_steps=20, random_state=0).fit(x)
    with pytest.raises(ValueError, match="recon"):
        det.sample(3)


def test_cli_bench_generation_rejects_an_unknown_suite(data_dir, tmp_path):
    res = CliRunner().invoke(_build_app(), ["bench", "generation", "--suite", "mnist", "--data", str(data_dir),
                                            "--out", str(tmp_path / "g.csv")])
    assert res.exit_code == 2 and "adbench, skab or nsl-kdd" in res.output and "Traceback" not in res.output
