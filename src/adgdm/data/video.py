"""Video data: clips as frame folders (one clip per subfolder, as UCSD Ped2's ``frames/NN/``) or
video files, and per-frame labels from a ``video,frame,label`` CSV.

A :class:`Clip` holds float32 frames ``(T, H, W, C)`` in ``[0, 1]`` (the image loaders'
convention), its name and, when known, 0/1 frame labels (1 = the frame shows an abnormal event).

Example
-------
>>> clip = Clip("01", np.zeros((5, 8, 8, 1), np.float32), np.array([0, 0, 1, 1, 0]))
>>> len(clip), clip.n_anomalous
(5, 2)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import IMAGE_SUFFIXES, load_image_files, to_float_images

__all__ = ["Clip", "load_clips", "load_frame_folders", "read_frame_labels", "load_video_file", "load_ped2", "VIDEO_SUFFIXES",
           "frame_to_rgb24"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


@dataclass
class Clip:
    """One clip: ``frames`` float32 ``(T, H, W, C)`` in ``[0, 1]``; ``labels`` int ``(T,)`` or None."""

    name: str
    frames: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self):
        f = np.asarray(self.frames)
        if f.ndim != 4 or len(f) == 0:
            raise ValueError(f"clip {self.name!r}: frames must be a non-empty (T, H, W, C) array, got shape {f.shape}")
        if self.labels is not None:
            y = np.asarray(self.labels).astype(np.int64)
            if y.shape != (len(f),) or not np.isin(y, (0, 1)).all():
                raise ValueError(f"clip {self.name!r}: labels must be {len(f)} values of 0 or 1")
            self.labels = y

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def n_anomalous(self) -> int:
        return 0 if self.labels is None else int(self.labels.sum())


def _natural(p: Path):
    """Sort key: ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.stem)]


def load_frame_folders(root, size=None, channels=None, clips=None) -> list[Clip]:
    """Every subfolder of ``root`` holding image files is a clip (frames in natural name order).

    ``size``: resize frames to ``size`` (an int for square, or ``(H, W)``); ``channels``: 1 (gray)
    or 3; ``clips``: names of the subfolders to read (default all, in name order).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder of clips: {root}")
    folders = sorted((d for d in root.iterdir() if d.is_dir()), key=_natural)
    if clips is not None:
        wanted = [str(c) for c in clips]
        missing = sorted(set(wanted) - {d.name for d in folders})
        if missing:
            raise ValueError(f"{root}: no clip folder(s) {missing}; found {[d.name for d in folders][:20]}")
        folders = [d for d in folders if d.name in wanted]
    out = []
    for d in folders:
        files = sorted((f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
        if files:
            out.append(Clip(d.name, load_image_files(files, size=size, channels=channels)))
    if not out:
        raise ValueError(f"{root}: no subfolder holds image files ({', '.join(IMAGE_SUFFIXES)}); a clip is a folder "
                         "of frames")
    return out


def load_clips(path, size=None, channels=None) -> list[Clip]:
    """Clips from whatever a user points at: a video file (one clip), a folder of frames (one clip,
    named after the folder), or a folder of clip folders and/or video files (one clip each, in
    natural name order). Frames of every clip come out at ``size`` when given."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"{path}: not a video file ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames")
        return [load_video_file(path, size=size, channels=channels)]
    if not path.is_dir():
        raise FileNotFoundError(f"no such video file or folder: {path}")
    entries = sorted(path.iterdir(), key=_natural)
    frames = [f for f in entries if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    if frames:
        return [Clip(path.name, load_image_files(frames, size=size, channels=channels))]
    out = []
    for e in entries:
        if e.is_file() and e.suffix.lower() in VIDEO_SUFFIXES:
            out.append(load_video_file(e, size=size, channels=channels))
        elif e.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in e.iterdir()):
            files = sorted((f for f in e.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
            out.append(Clip(e.name, load_image_files(files, size=size, channels=channels)))
    if not out:
        raise ValueError(f"{path}: no frames, clip folders or video files ({', '.join(VIDEO_SUFFIXES)}) found")
    return out


def read_frame_labels(path, clips: list[Clip]) -> list[Clip]:
    """Attach the labels of a ``video,frame,label`` CSV to ``clips`` (matched by clip name; ``01``
    and ``1`` are the same clip). Every frame of every clip needs exactly one label."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such frame-label file: {path}")
    df = pd.read_csv(path, dtype={"video": str})
    need = {"video", "frame", "label"}
    if not need <= set(df.columns):
        raise ValueError(f"{path}: needs columns video, frame, label; has {list(df.columns)}")
    key = lambda v: v.lstrip("0") or "0"  # noqa: E731
    by_clip = {k: g for k, g in df.groupby(df["video"].astype(str).map(key))}
    out = []
    for c in clips:
        g = by_clip.get(key(c.name))
        if g is None:
            raise ValueError(f"{path}: no labels for clip {c.name!r}")
        frames = g["frame"].to_numpy()
        if g["frame"].duplicated().any():
            raise ValueError(f"{path}: clip {c.name!r} labels some frames twice")
        if len(g) != len(c) or set(frames.tolist()) != set(range(len(c))):
            raise ValueError(f"{path}: clip {c.name!r} has {len(c)} frames but labels for {len(g)} "
                             f"(frames {int(frames.min())}..{int(frames.max())}); frames are numbered from 0")
        y = np.empty(len(c), dtype=np.int64)
        y[frames] = g["label"].to_numpy()
        out.append(Clip(c.name, c.frames, y))
    return out


def frame_to_rgb24(frame) -> np.ndarray:
    """A decoded video frame as uint8 RGB ``(H, W, 3)``, as a folder of the same frames would give.

    YUV frames are first brought to full chroma resolution at 16 bits (``yuv444p16le``), then
    converted to 8-bit RGB. FFmpeg's direct ``yuv420p -> rgb24`` path rounds down: on the Ped2 test
    clips written with lossless luma (``libx264``, ``crf=0``) it read pixels 0.45 gray levels darker
    than their jpg frames on average (about 1.1 on coloured frames), against +0.08 this way
    (``benchmarks/results/video_decoder_parity.md``). RGB and gray frames convert directly."""
    fmt = frame.format
    if not fmt.is_rgb and len(fmt.components) >= 3:
        frame = frame.reformat(format="yuv444p16le")
    return frame.to_ndarray(format="rgb24")


def load_video_file(path, size=None, channels=None, max_frames: int | None = None) -> Clip:
    """A video file (mp4, avi, ...) as a clip, read with PyAV (the ``[video]`` extra): frames as
    8-bit RGB (YUV converted with full chroma resolution, :func:`frame_to_rgb24`), then like image files
    (``size``, ``channels`` as in :func:`adgdm.data.images.to_float_images`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    try:
        import av
    except ImportError:
        raise ImportError("reading video files needs PyAV: pip install 'adgdm[video]'") from None
    frames = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame_to_rgb24(frame))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except av.error.FFmpegError as e:  # pragma: no cover - depends on the file
        raise ValueError(f"{path}: not a readable video ({e})") from None
    if not frames:
        raise ValueError(f"{path}: no video frames")
    return Clip(path.stem, to_float_images(np.stack(frames), size=size, channels=channels))


def load_ped2(root, size=None, channels=1) -> tuple[list[Clip], list[Clip]]:
    """UCSD Ped2 as shared: ``(training clips, test clips with frame labels)``."""
    root = Path(root)
    train = load_frame_folders(root / "training" / "frames", size=size, channels=channels)
    test = load_frame_folders(root / "testing" / "frames", size=size, channels=channels)
    return train, read_frame_labels(root / "testing" / "frame_labels.csv", test)
