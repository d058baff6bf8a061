"""``adgdm watch``: live monitoring with a fitted video model.

Frames come from a camera, a stream, a video file or a folder of frames
(:mod:`adgdm.modalities.video_sources`, which also skips frames when scoring is slower than the
source); each is scored by the detector's live scorer (``det.stream()``, equal to batch scoring of
the same frames) and every frame above the model's threshold is an alarm. Output: one JSON object
per line (``event``: ``alarm``; ``frame`` for the other frames with ``all_frames``; ``skipped``
when frames were dropped; ``clip`` for an annotated clip written around alarms; ``summary`` last).

Boxes: a live scorer that sets ``last_objects`` after ``update`` (one list per returned frame of
``{"box": [x0, y0, x1, y1], "score": ..., "group": ...}`` in input pixels, most abnormal first;
``video-obj``'s) or ``last_boxes`` (one list per frame of ``[x0, y0, x1, y1]``) gives the boxes of
the objects that drive a frame's score; otherwise the box is the hottest region of the frame's
anomaly map (:func:`hot_box`).

Example
-------
>>> summary = run_watch("model/", "cam.mp4", realtime=False, out="alarms.jsonl")   # doctest: +SKIP
>>> summary["alarms"], summary["skipped"]                                         # doctest: +SKIP
(11, 0)
"""
from __future__ import annotations

import json
import sys
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .._atomic import check_not_input, check_output
from ..modalities import get_modality
from ..modalities.options import ReaderOptions
from ..modalities.video_sources import open_source, paced
from ..pipeline import Pipeline

__all__ = ["run_watch", "hot_box"]

NOTE_EVERY = 10.0  # seconds between two notes on skipped frames


def hot_box(amap) -> dict | None:
    """The box ``[x0, y0, x1, y1]`` (pixels, end exclusive) of the hottest region of an anomaly
    map ``(H, W)``: the connected pixels around the maximum that lie above half-way between the
    map's median and its maximum. None for a flat map.

    Example
    -------
    >>> m = np.zeros((10, 12)); m[2:5, 6:9] = 1.0
    >>> hot_box(m)["box"]
    [6, 2, 9, 5]
    """
    from scipy.ndimage import label

    m = np.asarray(amap, dtype=np.float64)
    peak_at = np.unravel_index(int(np.argmax(m)), m.shape)
    peak, lo = float(m[peak_at]), float(np.median(m))
    if not peak > lo:
        return None
    lab, _ = label(m >= lo + 0.5 * (peak - lo))
    rows, cols = np.nonzero(lab == lab[peak_at])
    return {"box": [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1],
            "score": round(peak, 6), "from": "anomaly map"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _ClipFile:
    """One annotated clip being written, frame by frame: ``alarm_<frame>.mp4`` (PyAV) or, without
    PyAV, a folder ``alarm_<frame>/`` of PNG frames."""

    def __init__(self, folder: Path, first: int, fps: float):
        try:
            import av
        except ImportError:
            av = None
        self.av, self.fps, self.n, self.stream = av, fps, 0, None
        self.path = folder / (f"alarm_{first:06d}.mp4" if av is not None else f"alarm_{first:06d}")
        if av is not None:
            self.out = av.open(str(self.path), "w")
        else:
            self.path.mkdir(exist_ok=True)

    def write(self, idx: int, rgb: np.ndarray) -> None:
        self.n += 1
        if self.av is None:
            from PIL import Image

            Image.fromarray(rgb).save(self.path / f"{idx:06d}.png")
            return
        h, w = rgb.shape[:2]
        if self.stream is None:  # yuv420p needs even sides: odd ones are padded by one pixel
            codec = "libx264" if "libx264" in self.av.codecs_available else "mpeg4"
            self.stream = self.out.add_stream(codec, rate=max(1, int(round(self.fps))))
            self.stream.width, self.stream.height, self.stream.pix_fmt = w + w % 2, h + h % 2, "yuv420p"
        rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        for packet in self.stream.encode(self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
            self.out.mux(packet)

    def close(self) -> None:
        if self.av is not None:
            if self.stream is not None:
                for packet in self.stream.encode():
                    self.out.mux(packet)
            self.out.close()


class _Clips:
    """Annotated clips around alarms: ``pre`` frames before the first alarm of an event to ``pre``
    frames after its last one (at most ``cap`` frames a clip: a longer event goes on in the next),
    written as the frames come; the frames kept before an alarm are the only ones held in memory."""

    def __init__(self, folder: Path, pre: int, fps: float | None, threshold: float):
        self.folder, self.pre, self.fps, self.thr = folder, max(1, int(pre)), fps or 25.0, threshold
        self.cap = max(4 * self.pre, int(round(60 * self.fps)))   # at most about a minute a clip
        self.before, self.file, self.left, self.span = deque(maxlen=self.pre), None, 0, None

    def add(self, idx, frame, score, alarm, boxes):
        rgb = np.clip(np.round(frame * 255), 0, 255).astype(np.uint8)
        item = (idx, np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb, score, alarm, boxes)
        if self.file is None:
            if not alarm:
                self.before.append(item)
                return None
            self.file, self.left = _ClipFile(self.folder, idx, self.fps), self.pre
            self.span = [None, None, 0]
            for it in list(self.before) + [item]:
                self._write(it)
            self.before.clear()
            return None
        self._write(item)
        self.left = self.pre if alarm else self.left - 1
        return self.finish() if self.left <= 0 or self.file.n >= self.cap else None

    def _write(self, item):
        idx, _, _, alarm, _ = item
        self.span[0] = idx if self.span[0] is None else self.span[0]
        self.span[1], self.span[2] = idx, self.span[2] + int(alarm)
        self.file.write(idx, self._annotated(*item))

    def finish(self):
        if self.file is None:
            return None
        f, self.file = self.file, None
        f.close()
        return {"event": "clip", "path": str(f.path), "first_frame": int(self.span[0]),
                "last_frame": int(self.span[1]), "alarms": int(self.span[2])}

    @staticmethod
    def _annotated(idx, rgb, score, alarm, boxes) -> np.ndarray:
        from PIL import Image, ImageDraw

        img = Image.fromarray(rgb)
        draw = ImageDraw.Draw(img)
        colour = (255, 0, 0) if alarm else (255, 255, 0)
        for b in boxes or []:
            x0, y0, x1, y1 = b["box"]
            draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=colour)
        draw.text((2, 1), f"{idx} {score:.3g}{' ALARM' if alarm else ''}", fill=colour)
        return np.asarray(img)


class _Output:
    """JSON lines to a file or a stream (flushed per line: a live reader sees each alarm at once)."""

    def __init__(self, out, write):
        self.fh = open(out, "w", encoding="utf-8") if out is not None else None
        self.write = write if write is not None else sys.stdout.write

    def __call__(self, record: dict) -> None:
        line = json.dumps(record) + "\n"
        if self.fh is not None:
            self.fh.write(line)
            self.fh.flush()
        else:
            self.write(line)
            flush = getattr(sys.stdout, "flush", None)
            if flush is not None:
                flush()

    def close(self):
        if self.fh is not None:
            self.fh.close()


def _open(model_dir, source, reader, realtime, fps, timeout):
    """The pipeline, its detector and the opened source (errors: the model is not a video model,
    the source cannot be read, ``--fast`` on a live source)."""
    pipe = Pipeline.load(model_dir)
    det = pipe.detector_
    if not callable(getattr(det, "stream", None)):
        raise ValueError(f"adgdm watch scores video: {model_dir} is a {pipe.card_.modality} model "
                         f"({pipe.card_.detector}); fit one with adgdm fit ... --modality video")
    given = reader if isinstance(reader, ReaderOptions) or reader is None else ReaderOptions.from_dict(dict(reader))
    opts = pipe.card_.reader.merged(given)
    if isinstance(source, (str, Path, int)):
        src = open_source(source, frame_size=opts.frame_size, frame_channels=opts.frame_channels, fps=fps,
                          timeout=timeout)
    else:  # an iterable of (timestamp, frame): Python callers and tests
        src = source
    if getattr(src, "live", False) and not realtime:
        getattr(src, "close", lambda: None)()
        raise ValueError(f"--fast is for video files and folders of frames: {src.name} delivers frames at its own "
                         "rate (frames are skipped when scoring falls behind)")
    return pipe, det, src


def run_watch(model_dir, source, *, out=None, all_frames: bool = False, clips=None, clip_frames: int = 25,
              realtime: bool = True, fps: float | None = None, timeout: float = 10.0, max_frames: int | None = None,
              reader=None, force: bool = False, write=None, note=None, clock=time.monotonic,
              sleep=time.sleep) -> dict:
    """Watch ``source`` with the video model in ``model_dir`` (module docstring); returns the
    summary (also the last JSON line). ``source``: a camera index, a stream URL, a video file, a
    folder of frames, or an iterable of ``(timestamp, frame)``. ``realtime``: play a file or folder
    at its frame rate (skipping frames when scoring falls behind) or, False, score every frame as
    fast as it can. ``out``: a JSON-lines file (default: ``write``, stdout). ``clips``: a folder for
    annotated clips, ``clip_frames`` frames either side of an event. ``note``: where the notes on
    skipped frames go (default stderr). Ctrl-C ends the watch with its summary."""
    if max_frames is not None and int(max_frames) < 1:
        raise ValueError(f"--max-frames must be >= 1, got {max_frames}")
    inputs = [model_dir] + ([source] if isinstance(source, (str, Path)) and Path(str(source)).exists() else [])
    if out is not None:
        check_output(out, inputs, force)
    if clips is not None:
        clips = check_not_input(clips, inputs, "--clips")
        if clips.is_file() or (clips.is_dir() and any(clips.iterdir()) and not force):
            raise ValueError(f"--clips {clips} exists{' and is not empty' if clips.is_dir() else ''}; pass --force "
                             "to write into it, or choose another folder")
    pipe, det, src = _open(model_dir, source, reader, realtime, fps, timeout)
    note = note if note is not None else (lambda text: print(f"note: {text}", file=sys.stderr, flush=True))
    thr = float(det.threshold_)
    name = getattr(src, "name", "the source")
    if clips is not None:
        clips.mkdir(parents=True, exist_ok=True)
        clips = _Clips(clips, clip_frames, getattr(src, "fps", None), thr)
    emit = _Output(out, write)
    st = {"read": 0, "scored": 0, "skipped": 0, "alarms": 0, "clips": 0, "busy": 0.0, "noted": None}
    stopped, t_start = "end of source", clock()
    ticks = paced(src, realtime=realtime, clock=clock, sleep=sleep)
    try:
        stopped = _loop(ticks, det, src, name, thr, emit, clips, all_frames, max_frames, note, clock, st) or stopped
    except KeyboardInterrupt:
        stopped = "interrupted"
    except BaseException:
        stopped = "error"  # one clear error, no summary
        raise
    finally:
        ticks.close()
        try:
            if clips is not None and (rec := clips.finish()) is not None:
                st["clips"] += 1
                emit(rec)
        finally:
            summary = {"event": "summary", "source": name, "kind": getattr(src, "kind", "frames"),
                       "detector": pipe.card_.detector, "threshold": thr, "frames_read": st["read"],
                       "scored": st["scored"], "skipped": st["skipped"], "alarms": st["alarms"],
                       "unscored": st["read"] - st["scored"] - st["skipped"], "clips": st["clips"],
                       "seconds": round(clock() - t_start, 3), "stopped": stopped,
                       "out": None if out is None else str(out)}
            if stopped != "error":
                emit(summary)
            emit.close()
    return summary


def _loop(ticks, det, src, name, thr, emit, clips, all_frames, max_frames, note, clock, st):
    """Score the ticks one frame at a time; returns why it stopped when not at the source's end."""
    stream, pending, checked = det.stream(), deque(), False
    for tick in ticks:
        frame = np.asarray(tick.frame, dtype=np.float32)
        frame = frame[..., None] if frame.ndim == 2 else frame
        if not checked:  # the model's frame size and colour, with the option that fixes them
            get_modality(det.modality).check_frames(det, name, frame[None])
            checked = True
        st["read"] = tick.index + 1
        if tick.skipped:
            st["skipped"] += tick.skipped
            _skipped(tick, src, st, emit, note, clock)
        pending.append((tick, frame))
        t0 = clock()
        scores, maps = stream.update(frame[None], maps=True)
        st["busy"] += clock() - t0
        given = _given_boxes(stream)
        for j, s in enumerate(np.asarray(scores, dtype=np.float64)):
            tk, fr = pending.popleft()
            alarm = bool(s > thr)
            st["scored"] += 1
            boxes = None
            if alarm:
                st["alarms"] += 1
                boxes = list(given[j]) if given is not None else [b for b in [hot_box(maps[j])] if b is not None]
            if alarm or all_frames:
                rec = {"event": "alarm" if alarm else "frame", "frame": int(tk.index), "time": round(tk.time, 4),
                       "wall_time": _now(), "score": float(s), "threshold": thr, "alarm": alarm}
                if alarm:
                    rec["boxes"] = boxes
                emit(rec)
            if clips is not None and (rec := clips.add(tk.index, fr, float(s), alarm, boxes)) is not None:
                st["clips"] += 1
                emit(rec)
        if max_frames is not None and st["read"] >= int(max_frames):
            return "max frames"
    return None


def _given_boxes(stream) -> list | None:
    """The boxes the live scorer names for the frames its last update returned (one list per frame
    of ``{"box", "score", "group", "from": "objects"}``); None: it names none."""
    objs = getattr(stream, "last_objects", None)
    if objs is not None:
        return [[{"box": [round(float(v), 2) for v in o["box"]], "score": round(float(o["score"]), 6),
                  **({"group": o["group"]} if "group" in o else {}), "from": "objects"} for o in f] for f in objs]
    boxes = getattr(stream, "last_boxes", None)
    if boxes is None:
        return None
    return [[{"box": [round(float(v), 2) for v in b], "from": "objects"} for b in f] for f in boxes]


def _skipped(tick, src, st, emit, note, clock):
    per = st["busy"] / max(1, st["scored"])  # seconds of scoring per scored frame so far
    fps = getattr(src, "fps", None)
    rates = ([f"{1 / per:.1f} frames/s scored"] if per > 0 else []) + ([f"the source sends {fps:.3g} frames/s"]
                                                                      if fps else [])
    why = "scoring is slower than the source" + (f" ({' against '.join(rates)})" if rates else "")
    emit({"event": "skipped", "frames": int(tick.skipped), "before_frame": int(tick.index), "time": round(tick.time, 4),
          "total_skipped": st["skipped"], "reason": why})
    now = clock()
    if st["noted"] is None or now - st["noted"] >= NOTE_EVERY:
        st["noted"] = now
        note(f"{st['skipped']} frame(s) skipped so far: {why}; skipped frames are not scored, and the frame after a "
             "gap is compared with an older one")
