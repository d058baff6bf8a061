"""Label-free selection of the video detectors' settings: synthetic anomalies in held-out normal
UCSD Ped2 *training* clips (the test labels are never read).

Fit on training clips 01-12; score clips 13-16, each twice with an anomaly pasted into its middle
third (see ``paste``): ``fast`` (the clip's most salient walker, cut out by its deviation from the
clip's median frame, crossing at 5 px/frame, several times a walker's speed: a cyclist that
looks like a person) and ``object`` (the same walker lying down and 1.6x as large, at 1 px/frame:
a shape no training frame shows). Frames with the pasted
object are positives; pooled frame AUROC per kind. Scoring-time settings (``smooth_frames``,
``location_norm``) are varied on each fitted model.

    PYTHONPATH=src python benchmarks/video_select.py --out benchmarks/results/video_select
"""
from __future__ import annotations

import argparse
import hashlib
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
from adgdm.detectors.video.features import FeatureVideoBase
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _video_synth import walker  # noqa: E402

# the backbone's features of a frame never change: cache them across the fits of this script
_cache: dict = {}
_orig = FeatureVideoBase._backbone_features


def _cached(self, work):
    key = hashlib.sha1(work.tobytes()).hexdigest() + str(work.shape)
    if key not in _cache:
        _cache[key] = _orig(self, work)
    return _cache[key]


FeatureVideoBase._backbone_features = _cached



def paste(frames: np.ndarray, kind: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """``fast``: the clip's own most salient walker (masked) crossing at 5 px/frame; ``object``:
    the same walker lying down (rotated 90 degrees) and 1.6x as large, at 1 px/frame."""
    from scipy.ndimage import zoom

    f = frames[..., 0].copy()
    T, H, W = f.shape
    y = np.zeros(T, np.int64)
    a, b = T // 3, 2 * T // 3
    patch, mask, r0 = walker(f)
    if kind == "fast":
        v = 5.0
    else:
        patch, mask = zoom(np.rot90(patch), 1.6, order=1), zoom(np.rot90(mask).astype(float), 1.6, order=1) > 0.5
        r0, v = int(np.clip(r0, 0, H - patch.shape[0])), 1.0
    h, w = patch.shape
    x = float(rng.uniform(0, W - w))
    for t in range(a, b):
        c = int(round(x))
        region = f[t, r0:r0 + h, c:c + w]
        region[mask] = patch[mask]
        y[t] = 1
        x += v
        if x < 0 or x > W - w:
            v, x = -v, float(np.clip(x, 0, W - w))
    return f[..., None], y


def evaluate(det, evals) -> dict:
    out = {}
    for kind in ("fast", "object"):
        s = np.concatenate([det.decision_function(Clip(c.name, x)) for c, x, _ in evals[kind]])
        y = np.concatenate([lab for _, _, lab in evals[kind]])
        out[kind] = float(roc_auc_score(y, s))
    out["mean"] = float(np.mean([out["fast"], out["object"]]))
    return out


CONFIGS = [
    ("video-diff", {}),
    ("video-ideal", {}),
    ("video-pred", {"kernel": 1}),
    ("video-pred", {"kernel": 3}),
    ("video-pred", {"kernel": 3, "noise_levels": (0.05, 0.1, 0.2), "max_level": 0.3}),
]
SCORING = [{"smooth_frames": 1}, {"smooth_frames": 5}, {"smooth_frames": 9},
           {"smooth_frames": 5, "location_norm": False}]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/work/shared/data/ped2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None, help="config indices to run")
    ap.add_argument("--out", default=None, help="write <out>.md and <out>.csv")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    clips = load_frame_folders(Path(a.root) / "training" / "frames", channels=1)
    fit = [c for c in clips if int(c.name) <= 12]
    rng = np.random.default_rng(a.seed)
    evals = {k: [(c, *paste(c.frames, k, rng)) for c in clips if int(c.name) > 12] for k in ("fast", "object")}
    rows = []
    for i, (name, params) in enumerate(CONFIGS):
        if a.only is not None and str(i) not in a.only:
            continue
        t0 = time.perf_counter()
        det = adgdm.make_detector(name, random_state=a.seed, **params).fit(fit)
        fit_s = time.perf_counter() - t0
        for sc in (SCORING if name != "video-diff" else [{"smooth_frames": 1}, {"smooth_frames": 5},
                                                         {"smooth_frames": 9}]):
            det.set_params(**sc)
            r = evaluate(det, evals)
            shown = {k: str(v) if isinstance(v, tuple) else v for k, v in params.items()}
            row = {"detector": name, **shown, **sc, **{k: round(v, 4) for k, v in r.items()}, "fit_s": round(fit_s, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if a.out:
        import pandas as pd

        df = pd.DataFrame(rows)
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out.with_suffix(".csv"), index=False)
        head = (f"# Video settings chosen on synthetic anomalies in Ped2 training clips (no test labels)\n\n"
                f"Command: `PYTHONPATH=src python {' '.join(sys.argv)}`  \n"
                f"Machine: {platform.machine()}, {platform.system()}, torch threads {a.threads}, seed {a.seed}; "
                f"shared CPU (timings indicative).  \nFit: training clips 01-12; scored: 13-16 with a pasted "
                f"fast walker / a foreign object in their middle third (see the script's docstring).\n\n")
        cols = list(df.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |" for r in df.itertuples(index=False)]
        out.with_suffix(".md").write_text(head + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
