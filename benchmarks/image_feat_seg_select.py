"""Label-free settings for `image-feat-seg` and the question "does the head add to the diffusion
score?", on synthetic defects in held-out normals (the protocol of `image_feat_select.py`).

Only the MT_Free training split of seed 0 (`load_mtd(size=224, seed=0)`) is used; no defect or test
image is looked at. A seeded 80/20 split gives fit images and held-out normals. Leave-kind-out: the
head is trained on `TRAIN_KINDS` (no `line`), and selection uses defects of kinds it never saw:
`line` (synthesize_defect) and `perlin` / `cutpaste` (another generator, `generate_image_anomalies`),
one per held-out normal, drawn with another seed. A second set with fresh draws of the training
kinds (`spot`, `shade`, `scar`, `edge`) is reported beside it, not used to select: the gap between the
two shows how much the head memorises its generator. `fusion=1` is `image-feat` alone (the map is
a monotone transform of its noise-error map), `fusion=0` is the head alone.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/image_feat_seg_select.py --data /work/shared/data/mtd \
        --out benchmarks/results/image_feat_seg_select.csv
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from adgdm.data.images import load_mtd
from adgdm.detectors.image.feature_seg import FeatureSegDiffusion
from adgdm.detectors.image.seg import synthesize_defect
from adgdm.generation.image_anomalies import generate_image_anomalies
from adgdm.metrics import auroc
from adgdm.metrics.images import aupro, pixel_auroc

TRAIN_KINDS = ("paste", "texture", "scar", "spot", "shade", "edge")
SETS = {"held-out kinds": ("line", "perlin", "cutpaste"), "training kinds": ("spot", "shade", "scar", "edge")}
FUSIONS = (0.0, 0.25, 0.5, 0.75, 1.0)


def synthetic_set(held: np.ndarray, kinds: tuple, seed: int):
    """Held-out normals plus one defective copy of each (kinds in turn): images, labels, masks."""
    rng = np.random.default_rng(seed)
    out, masks = [], []
    for i, x in enumerate(held):
        kind = kinds[i % len(kinds)]
        for _ in range(10):
            s = int(rng.integers(2**31 - 1))
            if kind == "perlin":
                y, m = generate_image_anomalies(x[None], 1, "perlin", random_state=s)
            elif kind == "cutpaste":
                y, m = generate_image_anomalies(x[None], 1, "cutpaste", random_state=s)
            else:
                y, m = synthesize_defect(x, kind, np.random.default_rng(s))
                y, m = y[None], m[None]
            m = (np.asarray(m[0]) >= 0.5).astype(np.uint8)
            if m.any():
                break
        out.append(np.asarray(y[0], np.float32))
        masks.append(m)
    imgs = np.concatenate([held, np.stack(out)])
    labels = np.r_[np.zeros(len(held), int), np.ones(len(out), int)]
    return imgs, labels, np.concatenate([np.zeros(held.shape[:3], np.uint8), np.stack(masks)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="benchmarks/results/image_feat_seg_select.csv")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--levels", default="0.1,0.3", help="head_level values to compare")
    ap.add_argument("--max-images", type=int, default=None, help="Smoke runs: use only this many training images.")
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    if out.exists():
        raise SystemExit(f"{out} exists; remove it or pass another --out")
    train, _ = load_mtd(a.data, size=a.size, seed=a.seed)  # the test split is not used
    imgs = train.images[: a.max_images]
    perm = np.random.default_rng(a.seed).permutation(len(imgs))
    n_held = len(imgs) // 5
    fit_imgs, held = imgs[np.sort(perm[n_held:])], imgs[np.sort(perm[:n_held])]
    n_cal = len(fit_imgs) // 10
    tr_imgs, cal_imgs = fit_imgs[n_cal:], fit_imgs[:n_cal]

    probe = FeatureSegDiffusion(size=a.size, random_state=a.seed)
    feats = lambda x: torch.cat([probe._features(x[i:i + 64]) for i in range(0, len(x), 64)])  # noqa: E731
    t0 = time.perf_counter()
    feats_tr, feats_cal = feats(tr_imgs), feats(cal_imgs)
    evals = {}
    for j, (name, kinds) in enumerate(SETS.items()):
        ev, labels, masks = synthetic_set(held, kinds, a.seed + 1 + j)
        evals[name] = (feats(ev), labels, masks)
    print(f"features in {time.perf_counter() - t0:.0f} s; fit {len(tr_imgs)} + cal {len(cal_imgs)}; "
          f"held-out normals {len(held)}", flush=True)

    cols = ["head_level", "fusion", "eval_set", "image_auroc", "pixel_auroc", "aupro", "objective", "fit_s"]
    fh = out.open("w", newline="")
    w = csv.DictWriter(fh, cols)
    w.writeheader()
    for level in (float(v) for v in a.levels.split(",")):
        det = FeatureSegDiffusion(size=a.size, defects=TRAIN_KINDS, head_level=level, random_state=a.seed)
        det._check_params()
        det._check_own_params()
        det.seed_, det.image_shape_ = a.seed, fit_imgs.shape[1:]
        det._train_pixels = tr_imgs
        t0 = time.perf_counter()
        det._fit_from_features(feats_tr, feats_cal, np.random.default_rng(a.seed))
        fit_s = time.perf_counter() - t0
        for fusion in FUSIONS:
            det.fusion = fusion
            for name, (fe, labels, masks) in evals.items():
                maps = det._maps_from_features(fe)
                img, pix = 100 * auroc(labels, det._image_scores(maps)), 100 * pixel_auroc(masks, maps)
                pro = 100 * aupro(masks, maps)
                row = dict(head_level=level, fusion=fusion, eval_set=name, image_auroc=round(img, 2),
                           pixel_auroc=round(pix, 2), aupro=round(pro, 2), objective=round((img + pix + pro) / 3, 2),
                           fit_s=round(fit_s, 1))
                w.writerow(row)
                fh.flush()
                print(json.dumps(row), flush=True)
    fh.close()
    summarize(out, len(tr_imgs), len(cal_imgs), len(held), " ".join(__import__("sys").argv))


def summarize(path: Path, n_tr: int, n_cal: int, n_held: int, cmd: str) -> None:
    import pandas as pd

    df = pd.read_csv(path)
    sel = df[df.eval_set == "held-out kinds"]
    pick = sel.sort_values("objective", ascending=False).iloc[0]
    lines = ["# `image-feat-seg`: label-free selection on synthetic defects (leave-kind-out)", "",
             f"`{cmd}`; machine: 2 shared cores, no GPU, 1 torch thread. MT_Free training split of seed 0 at 224 px: "
             f"{n_tr} fit + {n_cal} calibration images, {n_held} held-out normals + {n_held} synthetic defects per "
             "evaluation set. No real defect or test image is used.", "",
             f"The head trains on {', '.join(TRAIN_KINDS)}. Selection set = held-out kinds "
             f"({', '.join(SETS['held-out kinds'])}: `line` never seen, `perlin`/`cutpaste` from another generator); "
             f"the training-kinds set ({', '.join(SETS['training kinds'])}, fresh draws on unseen images) is shown for "
             "the memorisation gap only. `fusion` = weight of the diffusion z-score: 0 = head alone, 1 = `image-feat` "
             "alone.", "",
             f"Choice (best objective on held-out kinds): head_level {pick.head_level}, fusion {pick.fusion} "
             f"(objective {pick.objective:.2f}).", "",
             "| head_level | fusion | eval set | image AUROC | pixel AUROC | AUPRO | objective | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in df.sort_values(["eval_set", "objective"], ascending=[True, False]).iterrows():
        lines.append(f"| {r.head_level} | {r.fusion} | {r.eval_set} | {r.image_auroc:.2f} | {r.pixel_auroc:.2f} | "
                     f"{r.aupro:.2f} | {r.objective:.2f} | {r.fit_s:.1f} |")
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
