"""Detect and localise defects in images: small generated textures, no download.

Shows the image workflow: 40 normal 32x32 stripe textures train the recommended ``image`` detector
(a global score on image thumbnails plus a small segmentation net trained on synthetic defects);
test images get a pasted defect (a dark spot or a thin scratch) with a ground-truth mask. It prints
image AUROC and pixel AUROC (``adgdm.metrics.images``) and writes a PNG of each defective test
image beside its anomaly-map overlay and true mask (needs pillow, as adgdm's image loaders do).

Run:
    python examples/image.py [--seed 0] [--out folder]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

import adgdm
from adgdm.metrics import auroc
from adgdm.metrics.images import aupro, pixel_auroc

SIDE = 32


def texture(rng: np.random.Generator) -> np.ndarray:
    """One normal image in [0, 1]: diagonal stripes with a random phase and a little noise."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    angle = rng.normal(np.pi / 4, 0.05)
    phase = rng.uniform(0, 2 * np.pi)
    stripes = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / 8 + phase)
    return np.clip(0.5 + 0.2 * stripes + 0.03 * rng.normal(size=(SIDE, SIDE)), 0, 1)


def add_defect(img: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``img`` with a dark spot or a scratch line, and its 0/1 mask."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    cy, cx = rng.uniform(6, SIDE - 6, size=2)
    if kind == "spot":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(2, 4) ** 2
        value = 0.05
    else:  # scratch: a 1-pixel-wide straight line of 10-20 pixels, across the stripes
        angle, length = rng.uniform(0, np.pi), rng.uniform(10, 20)
        t = np.linspace(-length / 2, length / 2, 60)
        ys = np.clip(np.round(cy + t * np.sin(angle)).astype(int), 0, SIDE - 1)
        xs = np.clip(np.round(cx + t * np.cos(angle)).astype(int), 0, SIDE - 1)
        mask = np.zeros((SIDE, SIDE), bool)
        mask[ys, xs] = True
        value = 0.95
    out = img.copy()
    out[mask] = value
    return out, mask.astype(np.uint8)


def save_overlays(path: Path, images: np.ndarray, maps: np.ndarray, masks: np.ndarray, zoom: int = 4) -> None:
    """One row per image: the image, the image with its anomaly map in red, the true mask."""
    from PIL import Image

    m = (maps - maps.min()) / (np.ptp(maps) + 1e-12)  # one colour scale for every map
    rows = []
    for img, heat, mask in zip(images, m, masks):
        grey = np.repeat(img[..., None], 3, axis=2)
        alpha = heat[..., None]  # the map is the opacity of a red layer
        overlay = (1 - alpha) * grey + alpha * np.array([1.0, 0.0, 0.0])
        truth = np.repeat(mask[..., None].astype(float), 3, axis=2)
        rows.append(np.concatenate([grey, overlay, truth], axis=1))
    grid = (np.concatenate(rows, axis=0) * 255).astype(np.uint8)
    Image.fromarray(grid).resize((grid.shape[1] * zoom, grid.shape[0] * zoom), Image.NEAREST).save(path)


def main(seed: int = 0, out: str | None = None) -> None:
    rng = np.random.default_rng(seed)
    train = np.stack([texture(rng) for _ in range(40)])

    # Test set: 20 normal images, 10 with a dark spot, 10 with a scratch.
    kinds = np.array(["none"] * 20 + ["spot"] * 10 + ["scratch"] * 10)
    test, masks = [], []
    for kind in kinds:
        img = texture(rng)
        img, mask = (img, np.zeros((SIDE, SIDE), np.uint8)) if kind == "none" else add_defect(img, kind, rng)
        test.append(img)
        masks.append(mask)
    test, masks = np.stack(test), np.stack(masks)
    labels = (kinds != "none").astype(int)
    print(f"images: {len(train)} normal for training, {len(test)} for testing ({labels.sum()} with a defect), "
          f"{SIDE}x{SIDE}")

    # Small settings so it trains in seconds on one CPU thread: 150 optimiser steps of a narrow
    # segmentation net on 32-pixel crops (defaults are 1500 steps, width 16, 64-pixel crops).
    # The two branches are put on one scale by z-scores against held-out normal images; the
    # default 10% of 40 images is only 4, too few for a stable scale, so hold out a quarter.
    spec = "image:max_steps=150,train_crop=32,width=8,calibration_fraction=0.25"
    det = adgdm.make_detector(spec, random_state=seed).fit(train)
    scores, maps = det.score_maps(test)  # image scores and (N, H, W) maps in one pass

    spots, scratches = kinds != "scratch", kinds != "spot"  # each kind against the normal images
    print(f"image AUROC {auroc(labels, scores):.3f}  (spots {auroc(labels[spots], scores[spots]):.3f}, "
          f"scratches {auroc(labels[scratches], scores[scratches]):.3f})")
    print(f"pixel AUROC {pixel_auroc(masks, maps):.3f}  AUPRO {aupro(masks, maps):.3f}")

    out_dir = Path(out) if out else Path(tempfile.mkdtemp(prefix="adgdm_image_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "anomaly_maps.png"
    defective = np.flatnonzero(labels)[::4]  # a few spots and scratches
    save_overlays(png, test[defective], maps[defective], masks[defective])
    print(f"wrote {png}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and the detector")
    parser.add_argument("--out", default=None, help="folder for anomaly_maps.png (default: a new temp folder)")
    args = parser.parse_args()
    main(args.seed, args.out)
