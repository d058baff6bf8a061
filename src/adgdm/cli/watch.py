"""``adgdm watch``: live monitoring with a fitted video model (:func:`adgdm.commands.watch.run_watch`)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..modalities.options import ReaderOptions
from ._common import _run, typer
from ._options import FRAME_OPTIONS, SCORE_SCOPES, reader_options


def watch(
    model_dir: Path = typer.Argument(..., help="A video model folder (adgdm fit --modality video)."),
    source: str = typer.Argument(..., help="A camera index (0), a stream URL (rtsp://..., http://...), a video "
                                           "file, or a folder of frames."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the JSON lines to this file (default: stdout)."),
    all_frames: bool = typer.Option(False, "--all-frames", help="A line for every scored frame, not only alarms."),
    clips: Optional[Path] = typer.Option(None, "--clips", help="Folder for annotated clips around each alarm "
                                                               "(mp4; PNG frames without PyAV)."),
    clip_frames: int = typer.Option(25, "--clip-frames", help="Frames kept before and after an alarm in a clip."),
    realtime: bool = typer.Option(True, "--realtime/--fast", help="Files and folders: play at their frame rate, "
                                  "skipping frames when scoring falls behind (default), or score every frame as "
                                  "fast as possible. Cameras and streams always run at their own rate."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate of a folder of frames (default 25) or "
                                                            "override of a file's."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for a stream to open or send."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Stop after this many frames."),
    reader: ReaderOptions = None,  # replaced by --frame-size and --frame-channels
    force: bool = typer.Option(False, "--force", help="Replace OUT, write into a non-empty --clips folder."),
    json_out: bool = typer.Option(False, "--json", help="Only JSON on stdout: the summary as JSON (with --out), "
                                                        "errors as JSON."),
):
    """Watch a camera, stream, video file or folder of frames; alarms as JSON lines.

    Each line is one JSON object: "alarm" (frame, time, score, threshold, boxes as x0, y0, x1, y1 pixels),
    "frame" (--all-frames), "skipped" (frames dropped because scoring is slower than the source),
    "clip" (an annotated clip written) and "summary" last. Ctrl-C ends with the summary (exit 0).

    Examples:
      adgdm watch model/ 0 --out alarms.jsonl --clips alarms/
      adgdm watch model/ rtsp://camera.local/stream1
      adgdm watch model/ recording.mp4 --fast --all-frames > scores.jsonl
    """
    from ..commands.watch import run_watch

    def body():
        return run_watch(model_dir, source, out=out, all_frames=all_frames, clips=clips, clip_frames=clip_frames,
                         realtime=realtime, fps=fps, timeout=timeout, max_frames=max_frames, reader=reader,
                         force=force)

    r = _run(body, json_out, echo=out is not None)  # without --out, the summary is already the last line
    if not json_out:
        typer.echo(f"watched {r['source']}: {r['frames_read']} frames read, {r['scored']} scored, {r['skipped']} "
                   f"skipped, {r['alarms']} alarms above {r['threshold']:.4g} ({r['stopped']}, {r['seconds']:.1f} s)"
                   + (f"; {r['clips']} clips in {clips}" if clips is not None else "")
                   + (f"; wrote {out}" if out is not None else ""), err=out is None)
    return r


def commands() -> dict:
    """``watch`` with --frame-size and --frame-channels made from ReaderOptions."""
    return {"watch": reader_options(SCORE_SCOPES, only=FRAME_OPTIONS)(watch)}
