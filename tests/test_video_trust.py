"""Issue 30, item 6: video frames are checked against the model, the option the errors suggest
exists on fit and score, a clip is named as the user gave it, and a clip read from a video file
scores like the same frames read from a folder (decoder parity)."""
import json

import numpy as np
import pytest

import adgdm
from adgdm.data.video import load_clips

PIL = pytest.importorskip("PIL.Image")
typer_testing = pytest.importorskip("typer.testing")
from adgdm.cli import _build_app  # noqa: E402

runner = typer_testing.CliRunner()


def _invoke(*args):
    return runner.invoke(_build_app(), [str(a) for a in args])


def _error(res) -> str:
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    return lines[0]


def _frames(n, h=24, w=32, seed=0, colour=False) -> np.ndarray:
    """uint8 ``(n, h, w, 3)``: a textured background and a bright square moving right."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = 90 + 40 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        f = base + rng.normal(0, 3, (h, w))
        c = (2 * t) % (w - 6)
        f[h // 3: h // 3 + 6, c: c + 6] = 220
        rgb = np.stack([f, f * (0.8 if colour else 1), f * (1.1 if colour else 1)], axis=2)
        out[t] = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return out


def _folder(root, name, frames, gray=False):
    d = root / name
    d.mkdir(parents=True)
    for i, f in enumerate(frames):
        PIL.fromarray(f[..., 0] if gray else f).save(d / f"{i:03d}.png")
    return d


def _video(path, frames, codec="libx264", pix_fmt="yuv420p", options=None):
    av = pytest.importorskip("av", reason="PyAV (the [video] extra) is not installed")
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        s.options = options or {}
        for f in frames:
            for packet in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A video-diff model fitted by the command line on three 24x32 RGB clips."""
    root = tmp_path_factory.mktemp("video")
    for i in range(3):
        _folder(root / "train", f"{i + 1:02d}", _frames(20, seed=i))
    res = _invoke("fit", root / "train", "--modality", "video", "--detector", "video-diff", "--out", root / "m",
                  "--json")
    assert res.exit_code == 0, res.output
    return root, root / "m"


def test_frames_of_another_size_are_refused_naming_the_clip_and_the_option(fitted):
    """A 24x28 clip against a 24x32 model was stretched to the working size and every frame flagged."""
    root, model = fitted
    _folder(root / "narrow", "07", _frames(12, w=28, seed=5))
    line = _error(_invoke("score", model, root / "narrow", "--out", root / "s.csv"))
    assert "clip '07' has 24x28 (HxW) frames, not the model's frame size 24x32" in line
    assert "--frame-size 24x32" in line
    # the option it names exists on score and resizes the frames when read
    res = _invoke("score", model, root / "narrow", "--out", root / "s.csv", "--frame-size", "24x32", "--json")
    assert res.exit_code == 0, res.output
    assert sum(1 for _ in open(root / "s.csv")) == 12 + 1


def test_frames_of_another_colour_are_refused_with_the_option(fitted):
    root, model = fitted
    _folder(root / "gray", "08", _frames(12, seed=6), gray=True)
    line = _error(_invoke("score", model, root / "gray", "--out", root / "g.csv"))
    assert "clip '08' has gray (1-channel) frames; this model was fitted on RGB (3-channel) frames" in line
    assert "--frame-channels 3" in line
    res = _invoke("score", model, root / "gray", "--out", root / "g.csv", "--frame-channels", "3", "--json")
    assert res.exit_code == 0, res.output


def test_mixed_sizes_suggest_an_option_fit_and_score_take_and_the_model_keeps_it(tmp_path):
    _folder(tmp_path / "train", "01", _frames(20, seed=0))
    _folder(tmp_path / "train", "02", _frames(20, h=30, w=40, seed=1))
    line = _error(_invoke("fit", tmp_path / "train", "--modality", "video", "--detector", "video-diff",
                          "--out", tmp_path / "m"))
    assert "clips differ in frame size: '01' is 24x32 (HxW) but '02' is 30x40" in line
    assert "--frame-size 24x32" in line and "size=" not in line.split("--frame-size")[0]
    res = _invoke("fit", tmp_path / "train", "--modality", "video", "--detector", "video-diff",
                  "--out", tmp_path / "m", "--frame-size", "24x32", "--json")
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "m" / "cli.json").read_text())
    assert card["reader"] == {"frame_size": [24, 32]}
    # score applies the model's resize: a 30x40 clip is read at 24x32 without any option
    res = _invoke("score", tmp_path / "m", tmp_path / "train" / "02", "--out", tmp_path / "s.csv", "--json")
    assert res.exit_code == 0, res.output
    # frames of one clip folder that differ in size: the same advice, naming the clip folder
    d = _folder(tmp_path / "odd", "05", _frames(6, seed=2))
    PIL.fromarray(_frames(1, h=30, w=40)[0]).save(d / "006.png")
    line = _error(_invoke("fit", tmp_path / "odd", "--modality", "video", "--detector", "video-diff",
                          "--out", tmp_path / "m2"))
    assert "the frames of clip '05' differ in size: 000.png is 24x32 (HxW) but 006.png is 30x40" in line
    assert "--frame-size 24x32" in line
    # the frame options belong to video
    np.savetxt(tmp_path / "t.csv", np.random.default_rng(0).random((30, 3)), delimiter=",", header="a,b,c",
               comments="")
    line = _error(_invoke("fit", tmp_path / "t.csv", "--out", tmp_path / "t", "--frame-size", "24x32"))
    assert "--frame-size and --frame-channels are for --modality video" in line
    line = _error(_invoke("fit", tmp_path / "train", "--modality", "video", "--out", tmp_path / "m3",
                          "--frame-size", "24"))
    assert "--frame-size must be HEIGHTxWIDTH in pixels (e.g. 240x360), got '24'" in line


def test_a_too_short_clip_is_named_as_the_user_gave_it(fitted, tmp_path):
    """It was named by its index ('0') instead of its folder ('07')."""
    root, model = fitted
    _folder(tmp_path / "clips", "03", _frames(5))
    _folder(tmp_path / "clips", "07", _frames(1))
    line = _error(_invoke("score", model, tmp_path / "clips", "--out", tmp_path / "s.csv"))
    assert "clip '07' has 1 frame(s); video-diff needs at least 2" in line
    line = _error(_invoke("fit", tmp_path / "clips" / "07", "--modality", "video", "--detector", "video-diff",
                          "--out", tmp_path / "m"))
    assert "clip '07' has 1 frame(s)" in line


def test_a_model_saved_without_the_frame_size_still_loads_and_scores(fitted, tmp_path):
    import shutil

    root, model = fitted
    old = tmp_path / "old"
    shutil.copytree(model, old)
    cfg = json.loads((old / "config.json").read_text())
    for k in ("frame_shape_", "n_channels_"):
        cfg["fitted"].pop(k)
    (old / "config.json").write_text(json.dumps(cfg))
    clip = load_clips(root / "train" / "01")[0]
    det = adgdm.load(old)
    assert getattr(det, "frame_shape_", None) is None
    np.testing.assert_allclose(det.decision_function(clip), adgdm.load(model).decision_function(clip))


# --- decoder parity ---------------------------------------------------------------------------------

def _parity(tmp_path, frames, codec, pix_fmt, options):
    png = load_clips(_folder(tmp_path, "01", frames))[0].frames
    vid = load_clips(_video(tmp_path / f"01_{codec}.mp4", frames, codec, pix_fmt, options))[0].frames
    assert vid.shape == png.shape and vid.dtype == png.dtype == np.float32
    return (vid.astype(np.float64) - png) * 255


@pytest.mark.parametrize("colour", [False, True])
def test_a_lossless_h264_clip_reads_like_its_frames(tmp_path, colour):
    """FFmpeg's direct yuv420p -> rgb24 conversion read every pixel about half a level darker (1.6
    levels on colour); read through full-resolution chroma it is within rounding of the frames."""
    g = _parity(tmp_path, _frames(8, seed=3, colour=colour), "libx264", "yuv420p", {"crf": "0"}).mean(axis=3)
    # the channel mean (what the video detectors see), in gray levels: the old path gave -0.48 / -1.10
    assert abs(g.mean()) < 0.2 and np.abs(g).mean() < (0.7 if colour else 0.3), (g.mean(), np.abs(g).mean())


def test_a_clip_scores_the_same_from_a_folder_and_from_a_video_file(fitted, tmp_path):
    root, model = fitted
    frames = _frames(20, seed=9)
    _folder(tmp_path / "png", "09", frames)
    pipe = adgdm.Pipeline.load(model)
    ref = pipe.score(tmp_path / "png" / "09", explain=False).prediction.score
    rgb = _video(tmp_path / "09_rgb.mp4", frames, "libx264rgb", "rgb24", {"crf": "0"})
    np.testing.assert_array_equal(pipe.score(rgb, explain=False).prediction.score, ref)  # lossless: identical
    yuv = _video(tmp_path / "09.mp4", frames, "libx264", "yuv420p", {"crf": "0"})
    s = pipe.score(yuv, explain=False).prediction.score
    thr = pipe.detector_.threshold_
    assert len(s) == len(ref) and np.abs(s - ref).max() < 0.01 * thr, (np.abs(s - ref).max(), thr)
