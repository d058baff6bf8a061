"""Scoring speed of ``video-obj`` on one UCSD Ped2 test clip (no label is read): fit on the 16
training clips, then time ``decision_function`` (scores only) and ``predict_result`` (scores, maps
and parts: what ``adgdm score``/``watch`` compute), as ``video_obj_ped2.py`` does for its fps column.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/video_obj_fps.py --threads 1 --params '{"appearance": "cnn"}'
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import adgdm
from adgdm.data.video import load_frame_folders


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/work/shared/data/ped2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--params", default="{}", help="video-obj parameters (JSON)")
    ap.add_argument("--clip", default="01", help="test clip to time")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import cv2

    cv2.setNumThreads(a.threads)
    root = Path(a.root)
    train = load_frame_folders(root / "training" / "frames", channels=1)
    clip = next(c for c in load_frame_folders(root / "testing" / "frames", channels=1) if c.name == a.clip)
    params = json.loads(a.params)
    t0 = time.perf_counter()
    det = adgdm.make_detector("video-obj", random_state=a.seed, **params).fit(train)
    fit_s = time.perf_counter() - t0
    det.decision_function(clip)  # warm-up (loads the network once per process)
    t0 = time.perf_counter()
    det.decision_function(clip)
    fps = len(clip.frames) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    det.predict_result(clip)
    fps_maps = len(clip.frames) / (time.perf_counter() - t0)
    n_obj = np.mean([len(o) for o in det.objects(clip)])
    print(json.dumps({"params": params, "threads": a.threads, "clip": a.clip, "frames": len(clip.frames),
                      "objects_per_frame": round(float(n_obj), 1), "fit_s": round(fit_s, 1),
                      "fps": round(fps, 1), "fps_with_maps": round(fps_maps, 1)}), flush=True)


if __name__ == "__main__":
    main()
