"""Quick UCSD Ped2 check of one video detector: fit on the 16 training clips, score test clips
01-06; pooled frame AUROC, per-clip AUROC, AUPRC, fit seconds, scoring frames/s with maps.

    PYTHONPATH=src python benchmarks/video_quick.py video-pred --seed 0 [--threads 1] [--clips 01 02 ...]

Prints one JSON line. Result files are not written: ``adgdm bench video`` makes the official ones.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

import adgdm
from adgdm.data.video import load_ped2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--root", default="/work/shared/data/ped2")
    ap.add_argument("--clips", nargs="*", default=["01", "02", "03", "04", "05", "06"])
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    train, test = load_ped2(a.root)
    test = [c for c in test if c.name in a.clips]
    load_s = time.perf_counter() - t0
    det = adgdm.make_detector(a.spec, random_state=a.seed, verbose=a.verbose)
    t0 = time.perf_counter()
    det.fit(train)
    fit_s = time.perf_counter() - t0
    scores, per_clip, n = [], {}, 0
    t0 = time.perf_counter()
    for c in test:
        s, maps = det.score_maps(c)
        assert maps.shape == c.frames.shape[:3]
        scores.append(s)
        n += len(c)
        per_clip[c.name] = round(float(roc_auc_score(c.labels, s)), 4) if 0 < c.labels.sum() < len(c) else None
    score_s = time.perf_counter() - t0
    y, s = np.concatenate([c.labels for c in test]), np.concatenate(scores)
    print(json.dumps({"detector": a.spec, "seed": a.seed, "threads": a.threads, "clips": a.clips,
                      "auroc": round(float(roc_auc_score(y, s)), 4), "auprc": round(float(average_precision_score(y, s)), 4),
                      "per_clip_auroc": per_clip, "fit_s": round(fit_s, 1), "frames_per_s": round(n / score_s, 1),
                      "frames": n, "load_s": round(load_s, 1)}))


if __name__ == "__main__":
    main()
