"""Label-free selection for ``video-obj`` (issue 31, Deliver 2): synthetic anomalies pasted into
held-out UCSD Ped2 *training* clips, scored POOLED across clips of different crowd levels, with
whole training clips held out (the test labels are never read).

Protocol. The 16 training clips form 4 folds of 4 consecutive clips (01-04, 05-08, 09-12,
13-16). For each fold a detector is fitted on the other 12 clips; each held-out clip is scored
once per anomaly kind with the anomaly pasted into its middle third (frames with the pasted
object are positives, every other frame of the clip is a negative):

* ``fast``: the clip's most salient walker (its pixels, cut out by their deviation from the clip's
  median frame) crossing at 5 px/frame (3-5x a walker's speed);
* ``wrong``: the same walker moving vertically (across the walkway, where people walk along it)
  at a walker's speed, 1.5 px/frame;
* ``foreign``: a 32x32 random-textured block crossing at 1.5 px/frame;
* ``stopped``: the walker pasted standing still (loitering) for the middle third;
* ``vehicle``: the walker's blob scaled 2x (a cart-sized object) crossing at 2 px/frame.

Per fold and kind, frame AUROC pooled over the fold's 4 held-out clips (raw causal scores, one
scale for clips of different crowd levels: a score that follows the crowd loses here); the
table reports the mean over the 4 folds (``mean``), and the mean over kinds.

Rule v1 (first run, kept for the record). Among the ``video-obj`` candidates, choose the one with
the highest mean over kinds; a candidate within 0.005 of the best is preferred if it is cheaper
(fewer features, smaller flow frames). ``video-obj`` with that setting replaces the ``video``
default only if its mean over kinds beats ``video``'s by at least 0.02 and it is not below
``video`` by more than 0.05 on any kind; otherwise the default stays and ``video-obj`` is offered
by name.

Why v2. v1 chose a setting that scored 78.8 pooled on Ped2 test clips 01-06 while its per-clip
AUROC was 90.4: scores of different clips were not on one scale, and v1 could not see it, because
a fold's pooled AUROC is carried by the easy pasted anomalies. Leave-one-clip-out calibration
shows it without any test label: training clip 01 (people walking along the bottom of the frame,
where no other clip has objects) had 100 % of its frames above the threshold of a model fitted
on the other clips, because object position was a feature with a spread of 0.05 frame heights.

Rule v2 (written before its run; test labels never read). For every candidate:

* ``flag_worst``: each held-out training clip, clean, is scored by the fold's model; the share of
  its frames above the model's ``threshold_`` (contamination 0.1); the worst clip over all 16.
  A candidate is eligible only if ``flag_worst <= 0.30`` (three times the contamination: new
  normal clips must not drown in alarms);
* ``pooled16_<kind>``: frame AUROC pooled over all 16 held-out clips at once (each scored by the
  model that did not see it), per kind; ``pooled16`` is its mean over kinds.

Choose the eligible ``video-obj`` setting with the highest ``pooled16``; one within 0.005 of the
best is preferred if it changes fewer parameters from the detector's defaults. The default
detector becomes the eligible candidate with the highest ``pooled16``, but ``video`` keeps its
place if it is eligible and the best is less than 0.02 above it.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/video_obj_select.py --threads 1 --rule v2 \
        --out benchmarks/results/video_obj_select_v2

v1 command:

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/video_obj_select.py --threads 1 --rule v1 \
        --out benchmarks/results/video_obj_select
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
from adgdm.data.video import Clip, load_frame_folders
from adgdm.detectors.video.base import trailing_mean
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _video_synth import walker  # noqa: E402

KINDS = ("fast", "wrong", "foreign", "stopped", "vehicle")



def paste(frames: np.ndarray, kind: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """The clip with one ``kind`` anomaly in its middle third, and the frame labels."""
    from scipy.ndimage import zoom

    f = frames[..., 0].copy()
    T, H, W = f.shape
    y = np.zeros(T, np.int64)
    a, b = T // 3, 2 * T // 3
    patch, mask, r0 = walker(f)
    vx, vy = {"fast": (5.0, 0.0), "wrong": (0.0, 1.5), "foreign": (1.5, 0.0), "stopped": (0.0, 0.0),
              "vehicle": (2.0, 0.0)}[kind]
    if kind == "foreign":
        patch = np.kron(rng.random((8, 8)), np.ones((4, 4)))
        mask = np.ones_like(patch, bool)
    elif kind == "vehicle":
        patch, mask = zoom(patch, 2.0, order=1), zoom(mask.astype(float), 2.0, order=1) > 0.5
    h, w = patch.shape
    x = float(rng.uniform(0, W - w))
    r = float(np.clip(r0, 0, H - h)) if kind != "wrong" else float(rng.uniform(0, (H - h) / 3))
    for t in range(a, b):
        c, rr = int(round(x)), int(round(r))
        region = f[t, rr:rr + h, c:c + w]
        region[mask] = patch[mask]
        y[t] = 1
        x, r = x + vx, r + vy
        if x < 0 or x > W - w:
            vx, x = -vx, float(np.clip(x, 0, W - w))
        if r < 0 or r > H - h:
            vy, r = -vy, float(np.clip(r, 0, H - h))
    return f[..., None], y


CANDIDATES_V1 = [
    ("video-obj", {}),
    ("video-obj", {"appearance": True}),
    ("video-obj", {"flow_scale": 0.5}),
    ("video-diff", {}),
    ("video", {}),
]
CANDIDATES_V2 = [
    ("video-obj", {}),
    ("video-obj", {"position_weight": 0.1}),
    ("video-obj", {"position_weight": 0.0}),
    ("video-obj", {"position_weight": 0.1, "appearance": True}),
    ("video-obj", {"perspective": True, "position_weight": 0.1}),
    ("video-obj", {"perspective": True, "position_weight": 0.0}),
    ("video-diff", {}),
    ("video", {}),
    # added after the first v2 run (training clips only, no test label read; the rule unchanged):
    # no candidate above was eligible (flag_worst 0.525-1.0); a smoother density (larger noise
    # levels) keeps held-out clips' flag rates closer to the contamination, and objects cut by
    # the frame edge were the top objects of the worst clip (08)
    ("video-obj", {"position_weight": 0.1, "noise_levels": [0.3, 0.5]}),
    ("video-obj", {"position_weight": 0.1, "noise_levels": [0.5]}),
    ("video-obj", {"position_weight": 0.0, "noise_levels": [0.5]}),
    ("video-obj", {"position_weight": 0.1, "noise_levels": [0.5], "border": 2}),
    # the learned density side by side (issue 31: a conditional diffusion model of object features
    # given position), at its defaults
    ("video-obj", {"density": "learned"}),
    # added after the choice (video-obj at its defaults became the video default), to measure
    # crop appearance: each object's crop through the pretrained EfficientNet-Lite0, 8 PCA columns
    ("video-obj", {"appearance": "cnn"}),
]
SCORING = {"video-obj": [{"smooth_frames": 1}, {"smooth_frames": 3}, {"smooth_frames": 5}],
           "video-diff": [{"smooth_frames": 1}, {"smooth_frames": 5}], "video": [{}]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/work/shared/data/ped2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None, help="candidate indices to run")
    ap.add_argument("--out", default=None, help="write <out>.md and <out>.csv (appends rows of earlier runs)")
    ap.add_argument("--rule", choices=["v1", "v2"], default="v2")
    a = ap.parse_args()
    candidates = CANDIDATES_V1 if a.rule == "v1" else CANDIDATES_V2
    torch.set_num_threads(a.threads)
    import cv2

    cv2.setNumThreads(a.threads)
    clips = load_frame_folders(Path(a.root) / "training" / "frames", channels=1)
    folds = [clips[i:i + 4] for i in range(0, 16, 4)]
    rng = np.random.default_rng(a.seed)
    evals = [{k: [(c, *paste(c.frames, k, rng)) for c in fold] for k in KINDS} for fold in folds]
    rows = []
    for i, (name, params) in enumerate(candidates):
        if a.only is not None and str(i) not in a.only:
            continue
        res: dict = {}
        fit_s, flags, pooled = [], [], {}
        for fi, fold in enumerate(folds):
            fit = [c for c in clips if c not in fold]
            t0 = time.perf_counter()
            det = adgdm.make_detector(name, random_state=a.seed, **params).fit(fit)
            fit_s.append(time.perf_counter() - t0)
            smooth = "smooth_frames" in det.get_params()
            if smooth:  # scored once unsmoothed; the causal trailing mean per clip is the detector's own
                own = int(det.get_params()["smooth_frames"])
                det.set_params(smooth_frames=1)
            for c in fold:  # the clean held-out clip at the model's own smoothing and threshold
                r = det.decision_function(c)
                r = trailing_mean(r, own) if smooth else r
                flags.append(float(np.mean(r > det.threshold_)))
            for k in KINDS:
                raw = [det.decision_function(Clip(c.name, x)) for c, x, _ in evals[fi][k]]
                y = np.concatenate([lab for _, _, lab in evals[fi][k]])
                for sc in SCORING[name]:
                    n = int(sc.get("smooth_frames", own if smooth else 1))
                    s = np.concatenate([trailing_mean(r, n) for r in raw]) if smooth else np.concatenate(raw)
                    res.setdefault(json.dumps(sc), {}).setdefault(k, []).append(float(roc_auc_score(y, s)))
                    pooled.setdefault(json.dumps(sc), {}).setdefault(k, ([], []))
                    pooled[json.dumps(sc)][k][0].append(s)
                    pooled[json.dumps(sc)][k][1].append(y)
        for sc, per in res.items():
            r = {k: round(float(np.mean(v)), 4) for k, v in per.items()}
            shown = {k: str(v) for k, v in params.items()}
            row = {"detector": name, "params": json.dumps(shown), **json.loads(sc), **r,
                   "mean": round(float(np.mean(list(r.values()))), 4), "fit_s": round(float(np.mean(fit_s)), 1)}
            if a.rule == "v2":
                p16 = {f"pooled16_{k}": round(float(roc_auc_score(np.concatenate(v[1]), np.concatenate(v[0]))), 4)
                       for k, v in pooled[sc].items()}
                row.update(p16, pooled16=round(float(np.mean(list(p16.values()))), 4),
                           flag_worst=round(max(flags), 3), flag_mean=round(float(np.mean(flags)), 3))
            rows.append(row)
            print(json.dumps(row), flush=True)
    if a.out:
        import pandas as pd

        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame(rows)
        if out.with_suffix(".csv").exists():
            df = pd.concat([pd.read_csv(out.with_suffix(".csv")), df], ignore_index=True)
        df.to_csv(out.with_suffix(".csv"), index=False)
        head = (f"# video-obj selection (rule {a.rule}): synthetic anomalies in held-out Ped2 training clips, pooled "
                "(no test labels)\n\n"
                f"Command: `PYTHONPATH=src OMP_NUM_THREADS={a.threads} python {' '.join(sys.argv)}`  \n"
                f"Machine: {platform.machine()}, {platform.system()}, 2 cores, no GPU, torch/OpenCV threads "
                f"{a.threads}, seed {a.seed}; shared CPU (timings indicative).  \n"
                "Folds: 4 x 4 held-out training clips, fit on the other 12; frame AUROC pooled over each fold's "
                "4 clips, mean over folds; rule in the script's docstring.\n\n")
        cols = list(df.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |" for r in df.itertuples(index=False)]
        out.with_suffix(".md").write_text(head + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
