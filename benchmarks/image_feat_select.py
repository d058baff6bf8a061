"""Label-free configuration choice for the feature-space image detectors (`image-feat`,
`image-patchcore`, `image-feat-ideal`): synthetic defects pasted into held-out normal images.

Only the MT_Free training split of seed 0 (`load_mtd(size=224, seed=0)`) is used; no defect image
and no test image is looked at. A seeded 80/20 split of it gives fit images and held-out normals;
every held-out normal gets one synthetic defect (kinds in turn: the repo's `perlin` and
`cutpaste` (rectangle and scar) generators, and `image-cycle`'s `spot`, `line` and `shade`
defects). Each configuration is fitted on the fit images and scored on held-out normals +
their defective copies: image AUROC, pixel AUROC and AUPRO. Objective = the mean of the three;
per detector the choice is the cheapest-to-score configuration within 0.5 points of the best
objective (cost: scoring ms per image rounded to 1 ms, then fit seconds, then the higher objective).

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/image_feat_select.py --data ../shared/data/mtd \
        --out benchmarks/results/image_feat_select.csv

Writes the CSV (one row per configuration) and a markdown summary beside it (`.md`).
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
from adgdm.detectors.image.feature import FeatureDiffusion, FeatureIdeal, PatchCore
from adgdm.detectors.image.seg import synthesize_defect
from adgdm.generation.image_anomalies import generate_image_anomalies
from adgdm.metrics import auroc
from adgdm.metrics.images import aupro, pixel_auroc

KINDS = ("perlin", "cutpaste", "scar", "spot", "line", "shade")
TOLERANCE = 0.5  # points of the objective within which the cheaper configuration wins


def synthetic_set(held: np.ndarray, seed: int):
    """Held-out normals plus one defective copy of each: images, labels, masks, kinds."""
    rng = np.random.default_rng(seed)
    out, masks, kinds = [], [], []
    for i, x in enumerate(held):
        kind = KINDS[i % len(KINDS)]
        for attempt in range(10):
            s = int(rng.integers(2**31 - 1))
            if kind == "perlin":
                y, m = generate_image_anomalies(x[None], 1, "perlin", random_state=s)
            elif kind in ("cutpaste", "scar"):
                y, m = generate_image_anomalies(x[None], 1, "cutpaste", random_state=s, scar=kind == "scar")
            else:
                y, m = synthesize_defect(x, kind, np.random.default_rng(s))
                y, m = y[None], m[None]
            m = (np.asarray(m[0]) >= 0.5).astype(np.uint8)
            if m.any():
                break
        out.append(np.asarray(y[0], np.float32))
        masks.append(m)
        kinds.append(kind)
    imgs = np.concatenate([held, np.stack(out)])
    labels = np.r_[np.zeros(len(held), int), np.ones(len(out), int)]
    all_masks = np.concatenate([np.zeros(held.shape[:3], np.uint8), np.stack(masks)])
    return imgs, labels, all_masks, ["good"] * len(held) + kinds


def evaluate(det, feats_eval, labels, masks, top_ks=(None, 0.01)):
    t0 = time.perf_counter()
    maps = det._maps_from_features(feats_eval)
    score_ms = 1000 * (time.perf_counter() - t0) / len(maps)
    pix, pro = 100 * pixel_auroc(masks, maps), 100 * aupro(masks, maps)
    rows = []
    for k in top_ks:
        det.top_k = k
        img = 100 * auroc(labels, det._image_scores(maps))
        rows.append({"top_k": "max" if k is None else k, "image_auroc": round(img, 3), "pixel_auroc": round(pix, 3),
                     "aupro": round(pro, 3), "objective": round((img + pix + pro) / 3, 3),
                     "score_ms_per_image": round(score_ms, 2)})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="benchmarks/results/image_feat_select.csv")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-images", type=int, default=None, help="Smoke runs: use only this many training images.")
    a = ap.parse_args()
    out = Path(a.out)
    if out.exists():
        raise SystemExit(f"{out} exists; remove it or pass another --out")
    train, _ = load_mtd(a.data, size=a.size, seed=a.seed)  # the test split is not used
    imgs = train.images[: a.max_images]
    rng = np.random.default_rng(a.seed)
    perm = rng.permutation(len(imgs))
    n_held = len(imgs) // 5
    fit_imgs, held = imgs[np.sort(perm[n_held:])], imgs[np.sort(perm[:n_held])]
    ev_imgs, labels, masks, kinds = synthetic_set(held, a.seed + 1)
    print(f"fit on {len(fit_imgs)} normal images; evaluate on {len(held)} held-out normals + {labels.sum()} synthetic "
          f"defects ({', '.join(KINDS)})", flush=True)

    base = PatchCore(size=a.size, random_state=a.seed)
    t0 = time.perf_counter()
    feats_fit = torch.cat([base._features(fit_imgs[i:i + 128]) for i in range(0, len(fit_imgs), 128)])
    feats_eval = torch.cat([base._features(ev_imgs[i:i + 128]) for i in range(0, len(ev_imgs), 128)])
    extract_ms = 1000 * (time.perf_counter() - t0) / (len(fit_imgs) + len(ev_imgs))
    print(f"features {tuple(feats_fit.shape)}, {extract_ms:.1f} ms per image", flush=True)

    fh = out.open("w", newline="")
    cols = ["detector", "fit_config", "score_config", "top_k", "image_auroc", "pixel_auroc", "aupro", "objective",
            "fit_s", "score_ms_per_image", "extract_ms_per_image"]
    w = csv.DictWriter(fh, cols)
    w.writeheader()

    # the detectors' own fit on the fit images' features: 10% of them held out for calibration
    n_cal = len(feats_fit) // 10
    feats_tr, feats_cal = feats_fit[n_cal:], feats_fit[:n_cal]

    def fitted(cls, fit_cfg):
        det = cls(size=a.size, random_state=a.seed, **fit_cfg)
        det._check_params()
        det._check_own_params()
        det.seed_, det.image_shape_ = a.seed, fit_imgs.shape[1:]
        t0 = time.perf_counter()
        det._fit_from_features(feats_tr, feats_cal, np.random.default_rng(a.seed))
        return det, time.perf_counter() - t0

    def record(det, fit_cfg, fit_s, score_cfg):
        for r in evaluate(det, feats_eval, labels, masks):
            row = {"detector": det.name, "fit_config": json.dumps(fit_cfg), "score_config": json.dumps(score_cfg),
                   "fit_s": round(fit_s, 1), "extract_ms_per_image": round(extract_ms, 2), **r}
            w.writerow(row)
            fh.flush()
            print({k: row[k] for k in ("detector", "fit_config", "score_config", "top_k", "image_auroc",
                                       "pixel_auroc", "aupro", "fit_s", "score_ms_per_image")}, flush=True)

    # PatchCore: memory-bank size (coreset of at most max_locations), then k nearest
    for fit_cfg in ({"max_locations": 50_000}, {"max_locations": 100_000}):  # 5,000 / 10,000 bank vectors
        det, fit_s = fitted(PatchCore, fit_cfg)
        for k in (1, 3):
            det.n_neighbors = k
            record(det, fit_cfg, fit_s, {"n_neighbors": k})

    # ideal denoiser: one coreset, then noise levels, neighbours and score family
    det, fit_s = fitted(FeatureIdeal, {"max_locations": 50_000})
    bank = det.den_.rows_
    for levels in ((0.05, 0.1, 0.2), (0.1, 0.2, 0.3), (0.3, 0.5, 0.7)):
        for k in (10, 50):
            for score in ("residual", "evidence") if (levels == (0.1, 0.2, 0.3) and k == 10) else ("residual",):
                det.noise_levels, det.n_neighbors, det.scoring = levels, k, score
                det.den_ = det._denoiser(len(bank)).fit(bank)
                record(det, {"max_locations": 50_000}, fit_s, {"noise_levels": levels, "n_neighbors": k, "scoring": score})

    # learned: network and training budget, then the score family and levels
    for fit_cfg in ({"width": 64, "depth": 2, "kernel": 1}, {"width": 128, "depth": 2, "kernel": 1},
                    {"width": 64, "depth": 2, "kernel": 3}):
        det, fit_s = fitted(FeatureDiffusion, fit_cfg)
        for score_cfg in ({"scoring": "noise", "noise_levels": (0.02, 0.05, 0.1)},
                          {"scoring": "noise", "noise_levels": (0.05, 0.1, 0.2)},
                          {"scoring": "noise", "noise_levels": (0.1, 0.2, 0.3)},
                          {"scoring": "noise", "noise_levels": (0.2, 0.3, 0.4)},
                          {"scoring": "recon", "noise_levels": (0.1, 0.2), "recon_steps": 5}):
            for norm in (True, False):
                det.n_repeats, det.recon_steps, det.location_norm = 1, 5, norm
                for k, v in score_cfg.items():
                    setattr(det, k, v)
                det._calibrate_locations(feats_cal)
                record(det, fit_cfg, fit_s, dict(score_cfg, location_norm=norm))
    fh.close()
    summarize(out, extract_ms, len(fit_imgs), len(held), int(labels.sum()))


def summarize(csv_path: Path, extract_ms: float, n_fit: int, n_held: int, n_syn: int) -> None:
    import pandas as pd

    df = pd.read_csv(csv_path)
    lines = ["# Label-free selection for the feature-space image detectors", "",
             f"`python benchmarks/image_feat_select.py` (MT_Free training split of seed 0 at 224 px: {n_fit} fit "
             f"images; {n_held} held-out normals + {n_syn} synthetic defects: {', '.join(KINDS)}). No real defect or "
             f"test image is used. Objective = mean of image AUROC, pixel AUROC and AUPRO (points). Choice: the "
             f"cheapest configuration to score within {TOLERANCE} points of each detector's best. Feature extraction: "
             f"{extract_ms:.1f} ms per image (not included in score ms).", ""]
    for det, g in df.groupby("detector", sort=False):
        best = g.objective.max()
        ok = g[g.objective >= best - TOLERANCE].copy()
        ok["cost"] = ok.score_ms_per_image.round(0)  # scoring time, to the millisecond (timings are noisy)
        ok = ok.sort_values(["cost", "fit_s", "objective"], ascending=[True, True, False])
        pick = ok.iloc[0]
        lines += [f"## `{det}`", "", f"Choice: fit {pick.fit_config}, score {pick.score_config}, top_k {pick.top_k} "
                  f"(objective {pick.objective:.2f}; best {best:.2f}).", "",
                  "| fit config | score config | top_k | image AUROC | pixel AUROC | AUPRO | objective | fit s | score ms/img |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for _, r in g.sort_values("objective", ascending=False).iterrows():
            lines.append(f"| {r.fit_config} | {r.score_config} | {r.top_k} | {r.image_auroc:.2f} | {r.pixel_auroc:.2f} | "
                         f"{r.aupro:.2f} | {r.objective:.2f} | {r.fit_s:.1f} | {r.score_ms_per_image:.1f} |")
        lines.append("")
    csv_path.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
