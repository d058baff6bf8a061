"""``adgdm watch`` against ``adgdm score`` on the shared Ped2 test clips: frames/s of the live loop
(``--fast``: every frame read, scored one at a time with its anomaly map and, for alarms, a box),
the largest score difference from batch scoring, the alarms of each, and a real-time run at 25
frames/s (frames skipped, if any).

    OMP_NUM_THREADS=1 python benchmarks/watch_speed.py --data ../shared/data/ped2 \\
        --detectors video-diff,video --clips 01,02 --out benchmarks/results/watch_speed

Models are fitted on the 16 training clips with each detector's defaults (seed 0) in a temporary
folder. Writes ``<out>.csv`` (one row per detector and clip) and ``<out>.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from adgdm.commands.watch import run_watch
from adgdm.pipeline import Pipeline


def _watch(model, clip, realtime):
    lines = []
    s = run_watch(model, str(clip), realtime=realtime, all_frames=True, write=lines.append, note=lambda t: None)
    recs = [json.loads(line) for line in lines]
    return s, np.array([r["score"] for r in recs if r["event"] in ("frame", "alarm")])


def _table(df) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([head, rule] + body)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--detectors", default="video-diff,video")
    ap.add_argument("--clips", default="01,02")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = Path(a.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.detectors.split(","):
            t0 = time.perf_counter()
            pipe = Pipeline(name, modality="video", seed=0).fit(str(data / "training" / "frames"))
            fit_s = time.perf_counter() - t0
            model = Path(tmp) / name
            pipe.save(model)
            for c in a.clips.split(","):
                clip = data / "testing" / "frames" / c
                t0 = time.perf_counter()
                batch = Pipeline.load(model).score(str(clip)).prediction.score
                batch_s = time.perf_counter() - t0
                fast, scores = _watch(model, clip, realtime=False)
                live, _ = _watch(model, clip, realtime=True)
                thr = float(pipe.detector_.threshold_)
                rows.append(dict(detector=name, clip=c, frames=len(batch), fit_s=round(fit_s, 1),
                                 batch_fps=round(len(batch) / batch_s, 1),
                                 watch_fast_fps=round(fast["scored"] / fast["seconds"], 1),
                                 max_abs_diff=float(np.abs(scores - batch).max()), threshold=thr,
                                 alarms_batch=int((batch > thr).sum()), alarms_watch=fast["alarms"],
                                 realtime_scored=live["scored"], realtime_skipped=live["skipped"],
                                 realtime_s=live["seconds"]))
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out.with_suffix(".csv"), index=False)
    cmd = "OMP_NUM_THREADS=1 python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:]))
    md = [f"# adgdm watch against adgdm score (Ped2 test clips {a.clips})", "",
          f"Command: `{cmd}`", "",
          f"Machine: {platform.machine()}, 2 cores shared with other jobs, no GPU; torch threads {a.threads}. "
          "Frames/s include reading the frames (jpg); watch scores one frame at a time with its map (and a box "
          "for alarms); the real-time run plays the folder at 25 frames/s.", "",
          _table(df), ""]
    out.with_suffix(".md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
