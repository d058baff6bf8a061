"""Frame sources for live monitoring (``adgdm watch``) and the back-pressure rule.

A source is an iterator of ``(timestamp, frame)``: seconds since the source's first frame and a
float32 ``(H, W, C)`` frame in [0, 1], read exactly as the batch reader reads the same footage
(video files through PyAV with :func:`adgdm.data.video.frame_to_rgb24`, frame folders through
:func:`adgdm.data.images.load_image_files`; ``frame_size`` / ``frame_channels`` applied per frame
as ``--frame-size`` / ``--frame-channels`` are). :func:`open_source` takes what a user types:

* ``0``, ``1``, ...: a camera index (OpenCV, ``opencv-python-headless``);
* ``rtsp://``, ``http(s)://``, ``rtmp://``, ``udp://``, ``tcp://`` URLs: a stream (PyAV);
* a video file (mp4, avi, ...; PyAV), played at its frame rate;
* a folder of frames (image files in natural name order), played at ``fps`` (default 25).

:func:`paced` turns a source into :class:`Tick` s and applies back-pressure: a camera or stream is
read by a thread that keeps only the newest frame (the frames it replaced are skipped); a file or
folder played in real time skips the frames whose successor is already due when the scorer asks
for the next one; ``realtime=False`` (a file or folder only) hands over every frame as fast as it
is asked for. Skipped frames are counted on the tick that follows them.

Example
-------
>>> src = open_source("clip.mp4")                                  # doctest: +SKIP
>>> for tick in paced(src, realtime=True):                         # doctest: +SKIP
...     print(tick.index, tick.time, tick.frame.shape, tick.skipped)
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FrameSource", "Tick", "open_source", "paced", "URL_SCHEMES", "DEFAULT_FOLDER_FPS"]

URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
DEFAULT_FOLDER_FPS = 25.0
CV2_HINT = "pip install opencv-python-headless (or 'adgdm[video]')"


class FrameSource:
    """One source of frames. ``kind``: ``camera``, ``stream``, ``file`` or ``folder``; ``live``:
    True when frames arrive at the source's own rate (camera, stream); ``fps``: its frame rate
    when known. Iterating yields ``(seconds since the first frame, float32 (H, W, C) frame)``."""

    kind = "file"
    live = False

    def __init__(self, name: str, fps: float | None, frame_size=None, frame_channels=None):
        self.name, self.fps = name, fps
        self.frame_size, self.frame_channels = frame_size, frame_channels

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        """An 8-bit RGB frame as the batch reader makes it (resized / re-channelled when asked)."""
        from ..data.images import to_float_images

        return to_float_images(rgb[None], size=self.frame_size, channels=self.frame_channels)[0]

    def __iter__(self):
        raise NotImplementedError

    def close(self) -> None:
        """Release the camera, stream or file (called by :func:`paced` when it ends)."""


class _FolderSource(FrameSource):
    kind = "folder"

    def __init__(self, path: Path, fps, **kw):
        from ..data.images import IMAGE_SUFFIXES
        from ..data.video import _natural

        self.files = sorted((f for f in path.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
                            key=_natural)
        if not self.files:
            from ..data.video import VIDEO_SUFFIXES

            clips = any(d.is_dir() or d.suffix.lower() in VIDEO_SUFFIXES for d in path.iterdir())
            raise ValueError(f"{path}: no frames (image files {', '.join(IMAGE_SUFFIXES)}) in this folder" +
                             ("; it holds clip folders or video files: watch plays one clip, point it at one of "
                              "them" if clips else ""))
        super().__init__(str(path), float(fps or DEFAULT_FOLDER_FPS), **kw)

    def __iter__(self):
        from ..data.images import load_image_files

        for i, f in enumerate(self.files):
            yield i / self.fps, load_image_files([f], size=self.frame_size, channels=self.frame_channels)[0]


def _av():
    try:
        import av
    except ImportError:
        raise ImportError("reading video files and streams needs PyAV: pip install 'adgdm[video]'") from None
    return av


class _AVSource(FrameSource):
    """A video file or a network stream, decoded by PyAV as the batch reader decodes files."""

    def __init__(self, target: str, kind: str, timeout: float, fps=None, **kw):
        av = _av()
        self.kind, self.live = kind, kind == "stream"
        try:
            opts = {"timeout": (float(timeout), float(timeout))} if self.live else {}
            self.container = av.open(target, **opts)
        except Exception as e:  # connection refused, timeout, not a video, ...
            what = "stream" if self.live else "video file"
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(f"cannot open the {what} {target}: {why}" +
                             (f" (waited at most {float(timeout):g} s; --timeout sets it)" if self.live else "")) \
                from None
        if not self.container.streams.video:
            self.container.close()
            raise ValueError(f"{target}: holds no video stream")
        vs = self.container.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        super().__init__(target, float(fps) if fps else (float(rate) if rate else None), **kw)

    def __iter__(self):
        from ..data.video import frame_to_rgb24

        av = _av()
        first, t0 = None, time.monotonic()
        try:
            for i, frame in enumerate(self.container.decode(video=0)):
                if self.live:
                    t = time.monotonic() - t0
                elif frame.time is not None:
                    first = frame.time if first is None else first
                    t = float(frame.time - first)
                else:
                    t = i / (self.fps or DEFAULT_FOLDER_FPS)
                yield t, self._prepare(frame_to_rgb24(frame))
        except av.error.FFmpegError as e:
            raise ValueError(f"{self.name}: reading frames failed ({str(e).splitlines()[0]})") from None

    def close(self) -> None:
        self.container.close()


class _CameraSource(FrameSource):
    kind, live = "camera", True

    def __init__(self, index: int, fps=None, **kw):
        try:
            import cv2
        except ImportError:
            raise ImportError(f"reading a camera needs OpenCV: {CV2_HINT}") from None
        try:  # errors only: a missing camera is reported here, not by OpenCV's warnings
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        except Exception:  # pragma: no cover - depends on the OpenCV build
            pass
        self.cap = cv2.VideoCapture(int(index))
        if not self.cap.isOpened():
            self.cap.release()
            found = sorted(p.name for p in Path("/dev").glob("video*")) if Path("/dev").is_dir() else []
            raise ValueError(f"camera {index} cannot be opened: no such camera, or it is in use "
                             f"(video devices here: {', '.join(found) if found else 'none'})")
        got = self.cap.get(cv2.CAP_PROP_FPS)
        super().__init__(f"camera {index}", float(fps) if fps else (float(got) if got and got > 0 else None), **kw)

    def __iter__(self):
        t0 = time.monotonic()
        while True:
            ok, bgr = self.cap.read()
            if not ok:
                return
            rgb = bgr[..., ::-1] if bgr.ndim == 3 else bgr
            yield time.monotonic() - t0, self._prepare(np.ascontiguousarray(rgb))

    def close(self) -> None:
        self.cap.release()


def open_source(source, *, frame_size=None, frame_channels=None, fps: float | None = None,
                timeout: float = 10.0) -> FrameSource:
    """What a user typed -> an open :class:`FrameSource` (module docstring for the kinds). Errors
    name the source and why it cannot be read: a missing file, a stream that cannot be opened within
    ``timeout`` seconds, a camera index that does not exist, a folder with no frames. ``fps``
    overrides the frame rate (a folder of frames has none: default 25)."""
    if fps is not None and not float(fps) > 0:
        raise ValueError(f"--fps must be > 0, got {fps}")
    kw = dict(frame_size=frame_size, frame_channels=frame_channels)
    text = str(source).strip()
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
    if m:
        if m.group(1).lower() not in URL_SCHEMES:
            raise ValueError(f"{text}: not a stream URL this reads ({', '.join(s + '://' for s in URL_SCHEMES)})")
        return _AVSource(text, "stream", timeout, fps, **kw)
    path = Path(text)
    if path.is_dir():
        return _FolderSource(path, fps, **kw)
    if path.is_file():
        from ..data.video import VIDEO_SUFFIXES

        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"{path}: not a video file ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames")
        return _AVSource(str(path), "file", timeout, fps, **kw)
    if re.fullmatch(r"\d+", text):
        return _CameraSource(int(text), fps, **kw)
    from ..data.video import VIDEO_SUFFIXES

    if path.suffix.lower() in VIDEO_SUFFIXES:
        raise FileNotFoundError(f"no such video file: {text}")
    raise FileNotFoundError(f"no such video file, folder of frames or camera: {text} (a camera is a number such "
                            "as 0; a stream a URL such as rtsp://host/path)")


@dataclass
class Tick:
    """One frame handed to the scorer: its index in the source (skipped frames counted), its
    timestamp, the frame, and how many frames were skipped just before it (``skipped``)."""

    index: int
    time: float
    frame: np.ndarray
    skipped: int = 0


def paced(source, realtime: bool = True, clock=time.monotonic, sleep=time.sleep):
    """Ticks of ``source`` (a :class:`FrameSource` or any iterable of ``(timestamp, frame)``) with
    back-pressure (module docstring). A live source is always real time. The source is closed when
    the iteration ends, is interrupted or fails."""
    live = bool(getattr(source, "live", False))
    try:
        if live:
            yield from _latest(source)
        elif realtime:
            yield from _on_clock(source, clock, sleep)
        else:
            for i, (t, frame) in enumerate(source):
                yield Tick(i, float(t), frame)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _on_clock(source, clock, sleep):
    """A recorded source played at its timestamps: a frame whose successor is already due when the
    scorer asks is skipped; a frame not yet due is waited for. The clock starts when the scorer
    asks for the second frame (the first one's scoring holds the model's one-time warm-up)."""
    it = iter(source)
    first = next(it, None)
    if first is None:
        return
    base = float(first[0])
    yield Tick(0, base, first[1])
    nxt = next(it, None)
    if nxt is None:
        return
    t0 = clock() - (float(nxt[0]) - base)      # the second frame is due now
    cand, i, skipped = (1, nxt), 1, 0
    while True:
        nxt = next(it, None)
        i += 1
        while nxt is not None and float(nxt[0]) - base <= clock() - t0:  # the next frame is due: cand is stale
            skipped += 1
            cand, nxt = (i, nxt), next(it, None)
            i += 1
        idx, (t, frame) = cand
        wait = (float(t) - base) - (clock() - t0)
        if wait > 0:
            sleep(wait)
        yield Tick(idx, float(t), frame, skipped)
        skipped = 0
        if nxt is None:
            return
        cand = (i, nxt)


class _Reader(threading.Thread):
    """Reads a live source into a one-frame slot; a frame not taken before the next arrives is
    replaced (counted as skipped)."""

    def __init__(self, source):
        super().__init__(daemon=True, name="adgdm-watch-reader")
        self.source, self.cond = source, threading.Condition()
        self.slot, self.skipped, self.n, self.done, self.error, self.stop = None, 0, 0, False, None, False

    def run(self):
        try:
            for t, frame in self.source:
                with self.cond:
                    if self.stop:
                        return
                    if self.slot is not None:
                        self.skipped += 1
                    self.slot = Tick(self.n, float(t), frame)
                    self.n += 1
                    self.cond.notify()
        except BaseException as e:  # handed to the consumer
            self.error = e
        finally:
            with self.cond:
                self.done = True
                self.cond.notify()

    def take(self):
        with self.cond:
            while self.slot is None and not self.done:
                self.cond.wait(0.1)  # short waits: Ctrl-C reaches the main thread
            if self.slot is None:
                if self.error is not None:
                    raise self.error
                return None
            tick, self.slot = self.slot, None
            tick.skipped, self.skipped = self.skipped, 0
            return tick


def _latest(source):
    reader = _Reader(source)
    reader.start()
    try:
        while True:
            tick = reader.take()
            if tick is None:
                return
            yield tick
    finally:
        with reader.cond:
            reader.stop = True
        reader.join(timeout=2.0)  # the source is closed after the reader let go of it
