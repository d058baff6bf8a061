"""UCSD Ped2 test clips (those in ``--root``; 01-06 here), scored AFTER the label-free choice of
``benchmarks/video_obj_select.py``: ``video-obj`` (the chosen setting), ``video`` and
``video-diff`` in one run, each fitted on the 16 training clips.

Reported per detector: frame AUROC pooled over every test frame (raw causal scores, the
published protocol), the per-clip AUROC and their macro mean (clips with both classes), the
pooled AUROC after min-max normalising each clip's scores (non-causal, stated as such), fit
time and scoring frames/s (scores only, and with maps/parts for ``video-obj``).

    PYTHONPATH=src OMP_NUM_THREADS=2 python benchmarks/video_obj_ped2.py --threads 2 \
        --obj-params '{}' --out benchmarks/results/video_obj_ped2
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import adgdm
from adgdm.data.video import load_ped2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/work/shared/data/ped2")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--obj-params", default="{}", help="JSON of the chosen video-obj setting")
    ap.add_argument("--detectors", nargs="*", default=["video-obj", "video", "video-diff"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--append", action="store_true", help="keep the rows already in <out>.csv")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import cv2

    cv2.setNumThreads(a.threads)
    train, test = load_ped2(a.root)
    rows, per_clip = [], []
    for name, seed in [(n, sd) for n in a.detectors for sd in a.seeds]:
        params = json.loads(a.obj_params) if name == "video-obj" else {}
        t0 = time.perf_counter()
        det = adgdm.make_detector(name, random_state=seed, **params).fit(train)
        fit_s = time.perf_counter() - t0
        scores, labels, norm = [], [], []
        t0 = time.perf_counter()
        for c in test:
            s = det.decision_function(c)
            scores.append(s)
            labels.append(np.asarray(c.labels))
            norm.append((s - s.min()) / (s.max() - s.min() + 1e-12))
        score_s = time.perf_counter() - t0
        n = sum(len(s) for s in scores)
        fps_maps = None
        if name == "video-obj":
            t0 = time.perf_counter()
            det.predict_result(test[0])
            fps_maps = len(test[0].frames) / (time.perf_counter() - t0)
        clip_auc = []
        for c, s, y in zip(test, scores, labels):
            auc = float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")
            clip_auc.append(auc)
            per_clip.append({"detector": name, "seed": seed, "clip": c.name, "auroc": round(auc, 4), "frames": len(y),
                             "abnormal": int(y.sum())})
        yy, ss = np.concatenate(labels), np.concatenate(scores)
        row = {"detector": name, "seed": seed, "params": json.dumps(params),
               "flag_normal": round(float(np.mean(ss[yy == 0] > det.threshold_)), 3),
               "pooled": round(float(roc_auc_score(np.concatenate(labels), np.concatenate(scores))), 4),
               "per_clip_macro": round(float(np.nanmean(clip_auc)), 4),
               "clip_normalised_pooled": round(float(roc_auc_score(np.concatenate(labels), np.concatenate(norm))), 4),
               "fit_s": round(fit_s, 1), "fps": round(n / score_s, 1),
               "fps_with_maps": None if fps_maps is None else round(fps_maps, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        import pandas as pd

        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df, pc = pd.DataFrame(rows), pd.DataFrame(per_clip)
        if a.append and out.with_suffix(".csv").exists():  # rows of an earlier run (other detectors)
            df = pd.concat([pd.read_csv(out.with_suffix(".csv")), df], ignore_index=True)
            pc = pd.concat([pd.read_csv(out.parent / (out.name + "_clips.csv"), dtype={"clip": str}), pc], ignore_index=True)
        df.to_csv(out.with_suffix(".csv"), index=False)
        pc.to_csv(out.parent / (out.name + "_clips.csv"), index=False)
        cmd = f"`PYTHONPATH=src OMP_NUM_THREADS={a.threads} python {' '.join(sys.argv)}`"
        cmds = (out.parent / (out.name + "_commands.txt"))
        prev = cmds.read_text().splitlines() if a.append and cmds.exists() else []
        cmds.write_text("\n".join(prev + [cmd]) + "\n")
        head = ("# Ped2 test clips 01-06: video-obj (chosen without test labels), video, video-diff\n\n"
                f"Commands (rows appended in this order): {'; then '.join(prev + [cmd])}  \n"
                f"Machine: {platform.machine()}, {platform.system()}, 2 cores, no GPU, torch/OpenCV threads "
                f"{a.threads}, seeds {a.seeds}; shared CPU (timings indicative).  \n"
                "Fit on the 16 training clips; pooled = frame AUROC over every test frame, raw causal scores; "
                "clip-normalised = min-max within each clip (non-causal).\n\n")

        def table(d):
            cols = list(d.columns)
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            return "\n".join(lines + ["| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |"
                                      for r in d.itertuples(index=False)])

        wide = pc.groupby(["clip", "detector"])["auroc"].mean().round(4).unstack().reset_index()
        mean = df.groupby(["detector", "params"], sort=False)[["pooled", "per_clip_macro", "clip_normalised_pooled",
                                                             "flag_normal", "fit_s", "fps"]].mean().round(4).reset_index()
        out.with_suffix(".md").write_text(head + "Mean over seeds:\n\n" + table(mean) + "\n\nPer seed:\n\n" + table(df)
                                          + "\n\nPer clip AUROC (mean over seeds):\n\n" + table(wide) + "\n")


if __name__ == "__main__":
    main()
