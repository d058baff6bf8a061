"""Decoder parity on UCSD Ped2: do the frames of a test clip score the same read from their jpg
folder and from a video file written from them?

The default ``video`` detector is fitted (seed 0) on the Ped2 training clips read as the command
line reads them (``adgdm fit .../training/frames --modality video``); each test clip's frames (as
read from the jpgs, 8-bit RGB) are written to video files in ``--tmp`` with PyAV (the ``[video]``
extra): lossless RGB H.264 (a control), H.264 4:2:0 at ``crf`` 0, 17 and 23 (FFmpeg's default),
and MPEG-4 part 2 (``mp4v``, what OpenCV's ``VideoWriter`` writes) at PyAV's default bit rate and
at 4 Mb/s. Each file is read back two ways: ``library`` (``adgdm.data.video.load_video_file``:
chroma brought to full resolution before the RGB conversion) and ``direct`` (FFmpeg's direct
``yuv420p -> rgb24``, what the library did before), and scored by the same fitted detector.

Per clip, file and decoder: frames, the pixel difference to the jpg frames (gray levels 0-255 of
the channel mean, which is what the video detectors see), the largest score difference (absolute
and as a share of the threshold), the share of frames whose flag differs, and the frames flagged
on each path (all, and the normal ones by ``frame_labels.csv``). Labels are only counted, never
used to set anything.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/video_decoder_parity.py --threads 1 \\
        --out benchmarks/results/video_decoder_parity.csv
"""
from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

# (name, codec, pixel format, codec options, bit rate)
VARIANTS = [
    ("h264-rgb-lossless", "libx264rgb", "rgb24", {"crf": "0"}, None),
    ("h264-crf0", "libx264", "yuv420p", {"crf": "0"}, None),
    ("h264-crf17", "libx264", "yuv420p", {"crf": "17"}, None),
    ("h264-crf23", "libx264", "yuv420p", {"crf": "23"}, None),
    ("mp4v-default", "mpeg4", "yuv420p", {}, None),
    ("mp4v-4M", "mpeg4", "yuv420p", {}, 4_000_000),
]


def write_video(path: Path, frames: np.ndarray, codec: str, pix_fmt: str, options: dict, bit_rate) -> None:
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        s.options = dict(options)
        if bit_rate:
            s.bit_rate = int(bit_rate)
        for f in frames:
            for packet in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)


def read_direct(path: Path, name: str):
    """The decoder as it was: FFmpeg's direct conversion of every frame to rgb24."""
    import av

    from adgdm.data.images import to_float_images
    from adgdm.data.video import Clip

    with av.open(str(path)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return Clip(name, to_float_images(frames))


def compare(det, ref_clip, clip, labels, thr) -> dict:
    ref = det.predict_result([ref_clip])
    got = det.predict_result([clip])
    s0, s1 = np.asarray(ref.score, float), np.asarray(got.score, float)
    f0, f1 = np.asarray(ref.label, int), np.asarray(got.label, int)
    row = {"frames_jpg": len(s0), "frames_video": len(s1)}
    if len(s0) != len(s1):
        return row
    g = (clip.frames.astype(np.float64).mean(axis=3) - ref_clip.frames.astype(np.float64).mean(axis=3)) * 255
    normal = labels == 0
    row.update(pixel_mean_abs=float(np.abs(g).mean()), pixel_mean_signed=float(g.mean()),
               pixel_max_abs=float(np.abs(g).max()), score_max_abs_diff=float(np.abs(s1 - s0).max()),
               score_mean_diff=float((s1 - s0).mean()),
               score_max_abs_diff_over_threshold=float(np.abs(s1 - s0).max() / thr),
               flag_differs=int((f0 != f1).sum()), flagged_jpg=int(f0.sum()), flagged_video=int(f1.sum()),
               normal_frames=int(normal.sum()), normal_flagged_jpg=int(f0[normal].sum()),
               normal_flagged_video=int(f1[normal].sum()))
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/work/shared/data/ped2")
    ap.add_argument("--clips", nargs="*", default=["01", "02", "03", "04", "05", "06"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", default="/tmp/video_decoder_parity")
    ap.add_argument("--model", default=None, help="a model folder fitted as above, to reuse (default: fit)")
    ap.add_argument("--out", default="benchmarks/results/video_decoder_parity.csv")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import av

    from adgdm import Pipeline
    from adgdm.data.video import load_clips, read_frame_labels

    root, tmp = Path(a.root), Path(a.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if a.model:
        pipe = Pipeline.load(a.model)
    else:
        pipe = Pipeline("video", modality="video", seed=a.seed).fit(root / "training" / "frames")
        pipe.save(tmp / "model", force=True)
    fit_s = time.perf_counter() - t0
    det, thr = pipe.detector_, float(pipe.detector_.threshold_)
    print(f"model ready in {fit_s:.0f} s, threshold {thr:.4f}", flush=True)
    rows = []
    for name in a.clips:
        folder = root / "testing" / "frames" / name
        ref = read_frame_labels(root / "testing" / "frame_labels.csv", load_clips(folder))[0]
        u8 = np.round(ref.frames * 255).astype(np.uint8)
        assert np.allclose(u8 / 255.0, ref.frames, atol=1e-6)   # the jpg frames are 8-bit: written exactly
        for variant, codec, pix, opts, rate in VARIANTS:
            if codec not in av.codecs_available:
                print(f"skip {variant}: no {codec} encoder", flush=True)
                continue
            path = tmp / f"{name}_{variant}.mp4"
            write_video(path, u8, codec, pix, opts, rate)
            for decoder, clip in (("library", load_clips(path)[0]), ("direct", read_direct(path, name))):
                row = {"clip": name, "variant": variant, "codec": codec, "pix_fmt": pix,
                       "options": ";".join(f"{k}={v}" for k, v in opts.items()) + (f"bit_rate={rate}" if rate else ""),
                       "file_kb": round(path.stat().st_size / 1024, 1), "decoder": decoder, "threshold": thr}
                row.update(compare(det, ref, clip, ref.labels, thr))
                rows.append(row)
                print(f"{name} {variant:18s} {decoder:8s} max|ds| {row.get('score_max_abs_diff', float('nan')):.4f} "
                      f"flag diff {row.get('flag_differs')} flagged {row.get('flagged_jpg')} vs "
                      f"{row.get('flagged_video')}", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    df.to_csv(out, index=False)
    summarize(df, out.with_suffix(".md"), fit_s, a)


def summarize(df: pd.DataFrame, path: Path, fit_s: float, a) -> None:
    g = df.groupby(["variant", "decoder"], sort=False)
    s = g.agg(file_kb=("file_kb", "sum"), frames=("frames_jpg", "sum"), pixel_mean_abs=("pixel_mean_abs", "mean"),
              pixel_mean_signed=("pixel_mean_signed", "mean"), pixel_max_abs=("pixel_max_abs", "max"),
              score_max=("score_max_abs_diff", "max"), score_mean=("score_mean_diff", "mean"), over_thr=("score_max_abs_diff_over_threshold", "max"),
              flag_differs=("flag_differs", "sum"), flagged_jpg=("flagged_jpg", "sum"),
              flagged_video=("flagged_video", "sum"), normal=("normal_frames", "sum"),
              normal_jpg=("normal_flagged_jpg", "sum"), normal_video=("normal_flagged_video", "sum")).reset_index()
    cmd = "OMP_NUM_THREADS=1 PYTHONPATH=src python " + " ".join(shlex.quote(x) for x in sys.argv)
    lines = [
        "# Video decoder parity on UCSD Ped2: jpg frames against video files written from them", "",
        f"Command: `{cmd}`", "",
        f"Machine: 2 CPU cores, no GPU, {platform.machine()}, Python {platform.python_version()}, torch "
        f"{torch.__version__}; 1 thread. Model: the default `video` detector, seed {a.seed}, fitted on the 16 Ped2 "
        f"training clips as `adgdm fit` reads them (8-bit RGB jpgs), {fit_s:.0f} s; threshold "
        f"{df['threshold'].iloc[0]:.4f} (contamination 0.1 on held-out training frames).", "",
        f"Clips: Ped2 test clips {', '.join(sorted(df['clip'].unique()))} ({int(s['frames'].iloc[0])} frames), each "
        "written from its jpg frames (8-bit RGB) with PyAV and read back by the library (`library`: chroma brought "
        "to full resolution, then RGB) and by FFmpeg's direct `yuv420p -> rgb24` (`direct`: the decoder before this "
        "change). Pixel differences are gray levels (0-255) of the channel mean, the video detectors' input; "
        "score differences are per frame (video minus jpg), the largest over the clips and the mean of the clips' means; `flags differ`: frames flagged on one path "
        "and not the other; `normal flagged`: frames labelled normal in `frame_labels.csv` that are flagged "
        "(jpg / video).", "",
        "| file | decoder | size (kB) | pixel mean abs | pixel mean signed | pixel max | max abs score diff | "
        "/ threshold | mean score diff | flags differ | flagged jpg / video | normal flagged jpg / video |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in s.iterrows():
        lines.append(f"| {r['variant']} | {r['decoder']} | {r['file_kb']:.0f} | {r['pixel_mean_abs']:.3f} | "
                     f"{r['pixel_mean_signed']:+.3f} | {r['pixel_max_abs']:.0f} | {r['score_max']:.4f} | "
                     f"{r['over_thr']:.2%} | {r['score_mean']:+.4f} | {int(r['flag_differs'])} ({r['flag_differs'] / r['frames']:.1%}) | "
                     f"{int(r['flagged_jpg'])} / {int(r['flagged_video'])} | "
                     f"{int(r['normal_jpg'])} / {int(r['normal_video'])} of {int(r['normal'])} |")
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
