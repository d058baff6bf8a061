"""Video loaders: frame folders in natural order, frame labels matched by clip name, clear errors."""
import os
from pathlib import Path

import numpy as np
import pytest

from adgdm.data.video import Clip, load_frame_folders, read_frame_labels

PIL = pytest.importorskip("PIL.Image")
DATA = Path(os.environ.get("ADGDM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _clip_folder(root, name, n, shape=(12, 16)):
    d = root / name
    d.mkdir(parents=True)
    for i in range(n):  # frame i has gray level 10 * i, named without zero padding
        PIL.fromarray(np.full(shape, 10 * i, np.uint8)).save(d / f"{i}.png")


def test_frame_folders_natural_order_size_and_channels(tmp_path):
    _clip_folder(tmp_path, "02", 12)
    _clip_folder(tmp_path, "01", 3)
    (tmp_path / "notes").mkdir()  # a folder without frames is not a clip
    clips = load_frame_folders(tmp_path, size=8, channels=3)
    assert [c.name for c in clips] == ["01", "02"]
    assert clips[1].frames.shape == (12, 8, 8, 3)
    levels = np.round(clips[1].frames[:, 0, 0, 0] * 255).astype(int)
    assert levels.tolist() == [10 * i for i in range(12)]  # 10.png after 9.png
    assert [c.name for c in load_frame_folders(tmp_path, clips=["02"])] == ["02"]
    with pytest.raises(ValueError, match=r"no clip folder\(s\) \['07'\]"):
        load_frame_folders(tmp_path, clips=["07"])


def test_frame_labels_match_clips_and_refuse_gaps(tmp_path):
    _clip_folder(tmp_path, "01", 4)
    clips = load_frame_folders(tmp_path)
    (tmp_path / "y.csv").write_text("video,frame,label\n1,0,0\n1,1,1\n1,2,1\n1,3,0\n")
    (labelled,) = read_frame_labels(tmp_path / "y.csv", clips)
    assert labelled.labels.tolist() == [0, 1, 1, 0] and labelled.n_anomalous == 2
    (tmp_path / "gap.csv").write_text("video,frame,label\n01,0,0\n01,1,1\n01,3,0\n")
    with pytest.raises(ValueError, match="4 frames but labels for 3"):
        read_frame_labels(tmp_path / "gap.csv", clips)
    (tmp_path / "other.csv").write_text("video,frame,label\n02,0,0\n")
    with pytest.raises(ValueError, match="no labels for clip '01'"):
        read_frame_labels(tmp_path / "other.csv", clips)
    with pytest.raises(ValueError, match="0 or 1"):
        Clip("x", np.zeros((2, 4, 4, 1), np.float32), np.array([0, 2]))


@pytest.mark.skipif(not (DATA / "ped2").is_dir(), reason=f"UCSD Ped2 not found under {DATA} (set ADGDM_DATA)")
def test_ped2_loads_with_labels():
    root = DATA / "ped2"
    assert len([d for d in (root / "training" / "frames").iterdir() if d.is_dir()]) == 16
    test = read_frame_labels(root / "testing" / "frame_labels.csv",
                             load_frame_folders(root / "testing" / "frames", size=(30, 45), channels=1, clips=["02"]))
    assert test[0].frames.shape[1:] == (30, 45, 1) and len(test[0].labels) == len(test[0])
    assert 0 < test[0].n_anomalous < len(test[0])


def test_video_file_reads_back_as_a_clip(tmp_path):
    av = pytest.importorskip("av", reason="PyAV (the [video] extra) is not installed")
    from adgdm.data.video import load_video_file

    path = tmp_path / "walk.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(6):
            img = np.zeros((24, 32, 3), np.uint8)
            img[:, 4 * i: 4 * i + 4] = 255  # a bright bar moving right
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    clip = load_video_file(path, channels=1)
    assert clip.name == "walk" and clip.frames.shape == (6, 24, 32, 1)
    cols = clip.frames[:, 12, :, 0].argmax(axis=1)
    assert np.all(np.diff(cols) > 0)  # the bar moves right frame by frame
    with pytest.raises(FileNotFoundError, match="no such video file"):
        load_video_file(tmp_path / "absent.mp4")


def test_load_clips_takes_one_clip_folder_or_a_folder_of_clips(tmp_path):
    from adgdm.data.video import load_clips

    _clip_folder(tmp_path / "clips", "b10", 3)
    _clip_folder(tmp_path / "clips", "b2", 4)
    clips = load_clips(tmp_path / "clips", channels=1)
    assert [c.name for c in clips] == ["b2", "b10"] and [len(c) for c in clips] == [4, 3]
    one = load_clips(tmp_path / "clips" / "b2", size=(6, 8))
    assert len(one) == 1 and one[0].name == "b2" and one[0].frames.shape[1:3] == (6, 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no frames, clip folders or video files"):
        load_clips(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a video file"):
        load_clips(tmp_path / "notes.txt")


def test_frame_metrics_pool_frames_and_report_per_clip_and_normalised():
    from adgdm.bench.video import frame_metrics

    a = Clip("a", np.zeros((4, 2, 2, 1), np.float32), np.array([0, 0, 1, 1]))
    b = Clip("b", np.zeros((4, 2, 2, 1), np.float32), np.array([0, 1, 0, 0]))
    # within each clip the abnormal frames score highest, but clip b's scores sit far below a's
    s = np.array([10, 11, 12, 13, 0, 3, 1, 1.5], float)
    m = frame_metrics([a, b], s)
    assert m["auroc_per_clip"] == 100.0 and m["auroc_clipnorm"] == 100.0
    assert m["auroc"] < 100.0  # pooled raw scores: b's abnormal frame ranks below a's normal ones
    with pytest.raises(ValueError, match="7 scores for 8 test frames"):
        frame_metrics([a, b], s[:7])
