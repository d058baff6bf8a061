"""`adgdm bench image`: runner rows, resume, summary, overlays and bad input on tiny data."""
import gzip

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from adgdm.bench.image import run_image
from adgdm.bench.image_summary import summarize_image
from adgdm.cli import _build_app


def _texture(rng, h=40, w=40):
    x = np.arange(w)
    img = 0.5 + 0.2 * np.sin(2 * np.pi * x / 8)[None, :] + 0.03 * rng.normal(size=(h, w))
    return np.clip(img, 0, 1)


@pytest.fixture(scope="module")
def mtd(tmp_path_factory):
    root = tmp_path_factory.mktemp("img") / "mtd"
    rng = np.random.default_rng(0)
    for cls, n in (("Free", 30), ("Crack", 6)):
        d = root / f"MT_{cls}" / "Imgs"
        d.mkdir(parents=True)
        for i in range(n):
            img = _texture(rng)
            mask = np.zeros_like(img)
            if cls == "Crack":
                r, c = rng.integers(8, 28, size=2)
                img[r:r + 6, c:c + 6] = 0.0  # a dark square defect
                mask[r:r + 6, c:c + 6] = 255
            Image.fromarray((255 * img).astype(np.uint8)).save(d / f"{i}.jpg", quality=95)
            Image.fromarray(mask.astype(np.uint8)).save(d / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def mtd_csv(mtd, tmp_path_factory):
    out = tmp_path_factory.mktemp("res") / "mtd.csv"
    run_image("mtd", mtd, detectors=["image-patchknn"], seeds=1, size=32, out=out, progress=False)
    return out


def test_mtd_rows_metrics_and_resume(mtd, mtd_csv):
    df = pd.read_csv(mtd_csv)
    assert list(df.dataset) == ["Crack"] and list(df.detector) == ["image-patchknn"]
    row = df.iloc[0]
    assert row.n_train == 24 and row.n_test == 6 + 6 and row["size"] == 32  # 20% of MT_Free tests
    assert row.auroc > 90 and row.pixel_auroc > 80 and 0 <= row.aupro <= 100 and row.images_per_s > 0
    run_image("mtd", mtd, detectors=["image-patchknn"], seeds=1, size=32, out=mtd_csv, resume=True, progress=False)
    assert len(pd.read_csv(mtd_csv)) == 1


def test_summary_reports_suite_and_target(mtd_csv, tmp_path):
    md = summarize_image(mtd_csv, tmp_path / "s.md", command="adgdm bench image ...")
    assert "## mtd: 1 datasets" in md and "`image-patchknn`" in md and "Pixel AUROC per dataset" in md
    assert (tmp_path / "s.md").read_text() == md


def test_mnist_rows_per_digit(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    imgs = np.zeros((90, 28, 28))
    for i, d in enumerate(labels):  # digit 0: a horizontal bar, 1: vertical, 2: a cross
        v = 200 + rng.integers(0, 50)
        if d in (0, 2):
            imgs[i, 12:16, 4:24] = v
        if d in (1, 2):
            imgs[i, 4:24, 12:16] = v
    root = tmp_path / "mnist"
    root.mkdir()
    with gzip.open(root / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(np.array([2051, 90, 28, 28], dtype=">i4").tobytes() + imgs.astype(np.uint8).tobytes())
    with gzip.open(root / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(np.array([2049, 90], dtype=">i4").tobytes() + labels.astype(np.uint8).tobytes())
    out = run_image("mnist", root, datasets=["0", "1"], detectors=["image-patchknn"], seeds=1,
                    out=tmp_path / "m.csv", progress=False)
    df = pd.read_csv(out)
    assert list(df.dataset.astype(str)) == ["0", "1"] and (df.auroc > 95).all() and df.pixel_auroc.isna().all()
    assert (df["size"] == 28).all()
    # resume skips the digits already there (their names must stay text, not become numbers)
    run_image("mnist", root, datasets=["0", "1"], detectors=["image-patchknn"], seeds=1, out=out, resume=True,
              progress=False)
    assert len(pd.read_csv(out)) == 2


def test_embeddings_rows(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = np.r_[np.zeros(100, int), np.ones(20, int)]
    X[y == 1] += 4
    np.savez(tmp_path / "cat.npz", X=X, y=y)
    out = run_image("mvtec-emb", tmp_path, detectors=["diffusion", "pyod-knn"], seeds=2, out=tmp_path / "e.csv",
                    progress=False)
    df = pd.read_csv(out)
    assert len(df) == 4 and (df.auroc > 95).all()
    run_image("mvtec-emb", tmp_path, detectors=["diffusion", "pyod-knn"], seeds=2, out=out, resume=True,
              progress=False)
    assert len(pd.read_csv(out)) == 4
    md = summarize_image(out)
    assert "best adgdm `diffusion`" in md


def test_cli_bench_image_overlays_and_bad_input(mtd, tmp_path):
    runner = CliRunner()
    res = runner.invoke(_build_app(), ["bench", "image", "--suite", "mtd", "--data", str(mtd), "--detectors",
                                       "image-patchknn", "--seeds", "1", "--size", "32", "--out",
                                       str(tmp_path / "r.csv"), "--save-maps", str(tmp_path / "maps")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.md").exists() and len(list((tmp_path / "maps").rglob("*.png"))) == 8  # 4 per kind
    for args, msg in ((["--suite", "nope", "--data", str(mtd)], "unknown suite"),
                      (["--suite", "mtd", "--data", str(mtd), "--detectors", "pyod-knn"], "not an image detector"),
                      (["--suite", "mtd", "--data", str(tmp_path / "missing")], "")):
        res = runner.invoke(_build_app(), ["bench", "image", *args, "--out", str(tmp_path / "x.csv")])
        assert res.exit_code == 2 and msg in res.output and "Traceback" not in res.output
