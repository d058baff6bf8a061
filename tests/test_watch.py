"""Issue 31, item 3: ``adgdm watch`` scores a video file or a folder of frames frame by frame as
batch scoring does, raises alarms where the anomaly is, skips frames (and says so) when scoring is
slower than the source, refuses bad sources with one clear error each, and ends on Ctrl-C with its
summary."""
import functools
import http.server
import json
import socket
import threading
import time

import numpy as np
import pytest

from adgdm.data.video_synth import moving_squares
from adgdm.pipeline import Pipeline

av = pytest.importorskip("av", reason="PyAV (the [video] extra) is not installed")
PIL = pytest.importorskip("PIL.Image")
typer_testing = pytest.importorskip("typer.testing")
from adgdm.cli import _build_app  # noqa: E402
from adgdm.commands.watch import hot_box, run_watch  # noqa: E402
from adgdm.detectors.video.base import VideoStream  # noqa: E402
from adgdm.modalities.video_sources import paced  # noqa: E402

runner = typer_testing.CliRunner()
THRESHOLD = 0.24  # between the normal frames' differences (<= 0.2) and the fast square's (>= 0.26)


def _invoke(*args):
    return runner.invoke(_build_app(), [str(a) for a in args])


def _error(res) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip() and not ln.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    return lines[0]


def _rgb8(frames) -> np.ndarray:
    u = np.clip(np.round(np.asarray(frames) * 255), 0, 255).astype(np.uint8)
    return np.repeat(u[..., None], 3, axis=3)


def _video(path, frames, rate=25):
    """A lossless H.264 file of gray frames in [0, 1] (written as RGB)."""
    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx264 encoder")
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "0"}
        for f in _rgb8(frames):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


def _folder(path, frames):
    path.mkdir(parents=True)
    for i, f in enumerate(_rgb8(frames)):
        PIL.fromarray(f).save(path / f"frame{i}.png")  # natural order: frame2 before frame10
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A video-diff model fitted on three clips of slowly drifting squares, and a test clip where a
    square crosses four times too fast in frames 30-39."""
    root = tmp_path_factory.mktemp("watch")
    (root / "train").mkdir()
    for i in range(3):
        _video(root / "train" / f"{i}.mp4", moving_squares(40, seed=i)[0])
    pipe = Pipeline("video-diff", modality="video", params=dict(size=None), threshold=f"fixed:{THRESHOLD}")
    pipe.fit(str(root / "train")).save(root / "model")
    frames, labels, boxes = moving_squares(60, seed=7, anomaly="fast", start=30, length=10)
    _video(root / "test.mp4", frames)
    return root, root / "model", frames, boxes


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in open(path)]


def _scores(records) -> np.ndarray:
    return np.array([r["score"] for r in records if r["event"] in ("frame", "alarm")])


def test_a_file_in_fast_mode_scores_as_batch_and_alarms_where_the_fast_square_is(scene):
    root, model, _, boxes = scene
    out = root / "file.jsonl"
    res = _invoke("watch", model, root / "test.mp4", "--fast", "--all-frames", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    recs = _lines(out)
    assert recs[-1] == summary and summary["stopped"] == "end of source"
    assert (summary["frames_read"], summary["scored"], summary["skipped"]) == (60, 60, 0)
    batch = Pipeline.load(model).score(str(root / "test.mp4")).prediction.score
    np.testing.assert_allclose(_scores(recs), batch, rtol=1e-6, atol=1e-9)
    assert [r["frame"] for r in recs if r["event"] in ("frame", "alarm")] == list(range(60))
    alarms = {r["frame"]: r for r in recs if r["event"] == "alarm"}
    # the square appears at 30, moves fast to 39 and vanishes at 40 (a difference too): alarms there only
    assert set(alarms) <= set(range(30, 41)) and len(set(alarms) & set(range(30, 40))) >= 8, sorted(alarms)
    assert summary["alarms"] == len(alarms)
    for f, r in alarms.items():
        assert r["threshold"] == pytest.approx(THRESHOLD) and r["score"] > THRESHOLD
        if f < 40:  # the box of the hottest region overlaps the square (top, left, bottom, right)
            top, left, bottom, right = boxes[f]
            x0, y0, x1, y1 = r["boxes"][0]["box"]
            assert x0 < right and x1 > left and y0 < bottom and y1 > top, (f, r["boxes"], boxes[f])


def test_a_folder_of_frames_scores_as_batch(scene):
    root, model, frames, _ = scene
    folder = _folder(root / "frames", frames)
    out = root / "folder.jsonl"
    res = _invoke("watch", model, folder, "--fast", "--all-frames", "--out", out)
    assert res.exit_code == 0, res.output
    assert "60 frames read, 60 scored, 0 skipped" in res.output
    batch = Pipeline.load(model).score(str(folder)).prediction.score
    np.testing.assert_allclose(_scores(_lines(out)), batch, rtol=1e-6, atol=1e-9)
    assert {r["frame"] for r in _lines(out) if r["event"] == "alarm"} <= set(range(30, 41))


def test_alarms_only_by_default_on_stdout_with_annotated_clips(scene):
    root, model, _, _ = scene
    res = _invoke("watch", model, root / "test.mp4", "--fast", "--clips", root / "clips", "--clip-frames", "5")
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert {r["event"] for r in recs} == {"alarm", "clip", "summary"}
    clip = next(r for r in recs if r["event"] == "clip")
    first = min(r["frame"] for r in recs if r["event"] == "alarm")
    assert clip["first_frame"] == first - 5 and clip["alarms"] == recs[-1]["alarms"]
    written = list((root / "clips").iterdir())
    assert [p.name for p in written] == [f"alarm_{first:06d}.mp4"]
    with av.open(str(written[0])) as c:
        assert sum(1 for _ in c.decode(video=0)) == clip["last_frame"] - clip["first_frame"] + 1


class _Slow:
    """The live scorer made slower than the source."""

    def __init__(self, monkeypatch, seconds):
        original = VideoStream.update

        def update(stream, frames, maps=False):
            time.sleep(seconds)
            return original(stream, frames, maps=maps)

        monkeypatch.setattr(VideoStream, "update", update)


def test_realtime_skips_frames_and_says_so_when_scoring_is_slower(scene, monkeypatch):
    root, model, frames, _ = scene
    path = _video(root / "fast_source.mp4", frames[:40], rate=100)    # 0.4 s of video
    _Slow(monkeypatch, 0.03)                                           # 3 frame intervals per frame
    lines, notes = [], []
    summary = run_watch(model, str(path), realtime=True, all_frames=True, write=lines.append, note=notes.append)
    recs = [json.loads(line) for line in lines]
    skips = [r for r in recs if r["event"] == "skipped"]
    assert summary["frames_read"] == 40 and summary["skipped"] > 10
    assert summary["scored"] + summary["skipped"] + summary["unscored"] == 40
    assert sum(r["frames"] for r in skips) == summary["skipped"]
    assert "slower than the source" in skips[0]["reason"] and "the source sends 100 frames/s" in skips[0]["reason"]
    assert notes and "skipped" in notes[0]
    scored = [r["frame"] for r in recs if r["event"] in ("frame", "alarm")]
    assert scored == sorted(scored) and len(scored) == summary["scored"]


def test_the_pacing_rule_on_a_clock():
    """Frames every 0.1 s, a scorer taking 0.27 s: each frame handed over is the newest one due
    (the clock starts when the second frame is asked for)."""
    now = [0.0]
    src = [(i * 0.1, np.zeros((4, 4, 1), np.float32)) for i in range(10)]
    got = []
    for tick in paced(src, realtime=True, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)):
        got.append((tick.index, tick.skipped))
        now[0] += 0.27
    assert got == [(0, 0), (1, 0), (3, 1), (6, 2), (9, 2)]
    assert [t.index for t in paced(src, realtime=False)] == list(range(10))


def test_a_live_source_keeps_the_newest_frame(scene, monkeypatch):
    root, model, frames, _ = scene

    class Live:
        live, kind, name, fps = True, "camera", "fake camera", 100.0
        closed = False

        def __iter__(self):
            for i, f in enumerate(frames[:40]):
                time.sleep(0.01)
                yield i * 0.01, np.repeat(f[..., None], 3, axis=2)

        def close(self):
            Live.closed = True

    _Slow(monkeypatch, 0.04)
    lines = []
    summary = run_watch(model, Live(), write=lines.append, note=lambda text: None)
    assert summary["skipped"] > 5 and summary["kind"] == "camera" and Live.closed
    assert summary["scored"] + summary["skipped"] + summary["unscored"] == summary["frames_read"]
    with pytest.raises(ValueError, match="--fast is for video files and folders of frames: fake camera"):
        run_watch(model, Live(), realtime=False, write=lines.append)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_sources_give_one_clear_error_each(scene, tmp_path):
    _, model, _, _ = scene
    assert "no such video file: " in _error(_invoke("watch", model, tmp_path / "missing.mp4"))
    t0 = time.monotonic()
    line = _error(_invoke("watch", model, f"http://127.0.0.1:{_free_port()}/cam.mjpg", "--timeout", "1"))
    assert line.startswith("error: cannot open the stream http://127.0.0.1:") and time.monotonic() - t0 < 20
    line = _error(_invoke("watch", model, "97"))
    assert "camera 97 cannot be opened" in line or "needs OpenCV: pip install" in line
    (tmp_path / "empty").mkdir()
    assert "no frames (image files" in _error(_invoke("watch", model, tmp_path / "empty"))
    (tmp_path / "notes.txt").write_text("x")
    assert "not a video file" in _error(_invoke("watch", model, tmp_path / "notes.txt"))


def test_frames_of_another_size_are_refused_with_the_option_that_resizes_them(scene):
    root, model, frames, _ = scene
    big = np.kron(frames[:12], np.ones((1, 2, 2), np.float32))       # 96x128 frames, the model's are 48x64
    folder = _folder(root / "big", big)
    line = _error(_invoke("watch", model, folder, "--fast"))
    assert "has 96x128 (HxW) frames, not the model's frame size 48x64" in line and "--frame-size 48x64" in line
    res = _invoke("watch", model, folder, "--fast", "--frame-size", "48x64", "--out", root / "big.jsonl")
    assert res.exit_code == 0, res.output
    assert _lines(root / "big.jsonl")[-1]["scored"] == 12


def test_ctrl_c_ends_with_the_summary(scene):
    """KeyboardInterrupt mid-stream: the summary is the last line and the command would exit 0."""
    _, model, frames, _ = scene

    def source():
        for i, f in enumerate(frames):
            if i == 20:
                raise KeyboardInterrupt
            yield i / 25, np.repeat(f[..., None], 3, axis=2)

    lines = []
    summary = run_watch(model, source(), realtime=False, write=lines.append)
    assert json.loads(lines[-1]) == summary
    assert summary["stopped"] == "interrupted" and summary["frames_read"] == 20 and summary["scored"] == 20


def test_hot_box_and_the_output_checks(scene, tmp_path):
    m = np.zeros((20, 30))
    m[5:9, 10:20] = 2.0
    m[15, 25] = 1.0   # a weaker spot elsewhere is not the hottest region
    assert hot_box(m)["box"] == [10, 5, 20, 9]
    assert hot_box(np.ones((4, 4))) is None
    root, model, _, _ = scene
    out = tmp_path / "a.jsonl"
    out.write_text("keep")
    assert "--out" in _error(_invoke("watch", model, root / "test.mp4", "--out", out))
    assert out.read_text() == "keep"


def test_a_model_of_another_modality_is_refused(tmp_path):
    import pandas as pd

    pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7}).to_csv(tmp_path / "t.csv", index=False)
    Pipeline("pyod-knn").fit(str(tmp_path / "t.csv")).save(tmp_path / "tab")
    (tmp_path / "frames").mkdir()
    line = _error(_invoke("watch", tmp_path / "tab", tmp_path / "frames"))
    assert "adgdm watch scores video: " in line and "is a tabular model (pyod-knn)" in line


def test_a_long_event_is_split_into_clips_of_at_most_the_cap(tmp_path):
    from adgdm.commands.watch import _Clips

    clips = _Clips(tmp_path, pre=2, fps=5.0, threshold=0.5)   # cap: max(8, 300) frames
    clips.cap = 8
    frame = np.zeros((6, 8, 1), np.float32)
    done = [r for i in range(20) if (r := clips.add(i, frame, 1.0, i >= 3, [{"box": [1, 1, 4, 4]}]))]
    done.append(clips.finish())
    assert [(r["first_frame"], r["last_frame"]) for r in done] == [(1, 8), (9, 16), (17, 19)]
    assert sum(r["alarms"] for r in done) == 17


def test_an_http_stream_is_read_live(scene):
    """A stream URL (a local HTTP server sending the test file): every frame is read, scored or skipped."""
    root, model, _, _ = scene
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lines = []
        summary = run_watch(model, f"http://127.0.0.1:{server.server_port}/test.mp4", timeout=5,
                            write=lines.append, note=lambda text: None)
    finally:
        server.shutdown()
        server.server_close()
    assert summary["kind"] == "stream" and summary["frames_read"] == 60 and summary["stopped"] == "end of source"
    assert summary["scored"] + summary["skipped"] == 60


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
