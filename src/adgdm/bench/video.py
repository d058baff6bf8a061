"""``adgdm bench video``: frame-level protocols for video detectors.

* ``ped2``: UCSD Ped2 as shared (``training/frames/NN`` normal clips, ``testing/frames/NN`` and
  ``testing/frame_labels.csv``): fit on every training clip, score every test frame.
* ``folder``: the same for any folder laid out as ``train/`` (clip folders or video files, normal
  only) and ``test/`` (clip folders or video files) with ``frame_labels.csv`` (``video,frame,label``)
  in ``test/`` or in the folder itself.

Metrics (points): ``auroc`` and ``auprc`` over all test frames pooled (the published protocol, raw
scores, no per-clip normalisation); ``auroc_per_clip``: the mean AUROC over clips that hold both
normal and abnormal frames; ``auroc_clipnorm``: pooled AUROC after min-max normalising the scores
within each clip, which some papers report (it uses every frame of a clip, future ones included,
so it is not a causal score: shown beside, never instead).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from ..metrics import auprc, auroc
from ._results import open_results
from .tabular import _bar

MODALITY = "video"  # the modality this bench is about

COLUMNS = ["suite", "dataset", "detector", "seed", "auroc", "auprc", "auroc_per_clip", "auroc_clipnorm", "fit_s",
           "score_s", "frames_per_s", "n_train_frames", "n_test_frames", "n_clips", "size"]
SUITES = ("ped2", "folder")
KEY = ("dataset", "detector", "seed")
DEFAULT_DETECTORS = ["video", "video-diff"]


def load_suite(suite: str, data, size=None):
    """``(dataset name, training clips, labelled test clips)`` of ``suite`` under ``data``."""
    from ..data import video as vd

    data = Path(data)
    if suite == "ped2":
        train, test = vd.load_ped2(data, size=size)
        return "ped2", train, test
    if suite == "folder":
        labels = next((p for p in (data / "test" / "frame_labels.csv", data / "frame_labels.csv") if p.is_file()), None)
        if labels is None:
            raise FileNotFoundError(f"{data}: no frame_labels.csv in {data / 'test'} or {data} (columns video,frame,label)")
        train = vd.load_clips(data / "train", size=size)
        test = vd.read_frame_labels(labels, vd.load_clips(data / "test", size=size))
        return data.name, train, test
    raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")


def frame_metrics(clips, scores: np.ndarray) -> dict:
    """Pooled AUROC/AUPRC, per-clip macro AUROC and the within-clip normalised pooled AUROC (points)."""
    y = np.concatenate([c.labels for c in clips])
    if len(scores) != len(y):
        raise ValueError(f"{len(scores)} scores for {len(y)} test frames")
    bounds = np.cumsum([0] + [len(c) for c in clips])
    per_clip, normed = [], np.empty(len(y))
    for a, b in zip(bounds[:-1], bounds[1:]):
        s, t = scores[a:b], y[a:b]
        if 0 < t.sum() < len(t):
            per_clip.append(auroc(t, s))
        span = s.max() - s.min()
        normed[a:b] = (s - s.min()) / span if span > 0 else 0.0
    return {"auroc": round(100 * auroc(y, scores), 3), "auprc": round(100 * auprc(y, scores), 3),
            "auroc_per_clip": round(100 * float(np.mean(per_clip)), 3) if per_clip else "",
            "auroc_clipnorm": round(100 * auroc(y, normed), 3)}


def run_video(suite: str, data, detectors: Iterable[str] | None = None, seeds: int = 3, size=None,
              out="benchmarks/results/video.csv", resume: bool = False, progress: bool = True) -> Path:
    """Fit each detector on the suite's training clips and score every test frame, ``seeds`` times."""
    from ..detectors import make_detector

    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    specs = list(detectors or DEFAULT_DETECTORS)
    name, train, test = load_suite(suite, data, size)
    if any(c.labels is None for c in test):
        raise ValueError("every test clip needs frame labels")
    frames_tr = [c.frames for c in train]
    frames_te = [c.frames for c in test]
    n_test = sum(len(c) for c in test)
    bar = _bar(seeds * len(specs), progress)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for seed in range(seeds):
            for spec in specs:
                bar.set_postfix_str(f"{name} seed {seed} {spec}"[:60])
                if (name, spec, seed) in done:
                    bar.update(1)
                    continue
                det = make_detector(spec, random_state=seed)
                if getattr(det, "modality", None) != MODALITY:
                    raise ValueError(f"{spec!r} is not a video detector; video detectors: {', '.join(video_detectors())}")
                t0 = time.perf_counter()
                det.fit(frames_tr)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                scores = np.asarray(det.predict_result(frames_te).score, dtype=np.float64)  # maps included
                score_s = time.perf_counter() - t0
                write({"suite": suite, "dataset": name, "detector": spec, "seed": seed, **frame_metrics(test, scores),
                       "fit_s": round(fit_s, 3), "score_s": round(score_s, 3),
                       "frames_per_s": round(n_test / score_s, 2), "n_train_frames": sum(len(c) for c in train),
                       "n_test_frames": n_test, "n_clips": len(test),
                       "size": "x".join(map(str, test[0].frames.shape[1:3]))})
                bar.update(1)
    bar.close()
    return Path(out)


def video_detectors() -> list[str]:
    from ..detectors import list_detectors

    return list_detectors("video")
