"""Synthetic video anomalies: labels and masks where the events are, clean frames elsewhere."""
import numpy as np
import pytest

from adgdm.generation.video_anomalies import VIDEO_KINDS, inject_video_anomalies


def _clip(T=60, h=24, w=40):
    rng = np.random.default_rng(1)
    return np.clip(0.5 + 0.05 * rng.normal(size=(T, h, w, 1)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_each_kind_changes_only_its_labelled_frames(kind):
    clip = _clip()
    inj = inject_video_anomalies(clip, n=2, kinds=[kind], random_state=3)
    changed = np.abs(inj.frames - clip).max(axis=(1, 2, 3)) > 0
    assert inj.labels.sum() == sum(e["stop"] - e["start"] for e in inj.events) and len(inj.events) == 2
    assert not changed[inj.labels == 0].any()  # nothing outside the events
    assert changed[inj.labels == 1].mean() > 0.7  # (a reversed stretch keeps its middle frame)
    assert (inj.masks.max(axis=(1, 2)) == inj.labels).all()
    outside = np.abs(inj.frames - clip)[..., 0] * (1 - inj.masks)
    assert outside.max() == 0  # changes stay inside the masks


def test_fast_object_speed_grows_with_severity():
    clip = _clip(T=40, w=200)

    def speed(severity):
        inj = inject_video_anomalies(clip, n=1, kinds=["fast-object"], severity=severity, random_state=0)
        cols = np.array([np.flatnonzero(m.any(axis=0)).min() for m in inj.masks[inj.labels == 1]])
        return np.median(np.abs(np.diff(cols)))

    assert speed(1.0) == pytest.approx(4, abs=1)  # 2% of the width per frame
    assert speed(3.0) == pytest.approx(12, abs=1)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="unknown video anomaly kind"):
        inject_video_anomalies(_clip(), kinds=["explode"])
    with pytest.raises(ValueError, match="do not fit"):
        inject_video_anomalies(_clip(T=10), n=3, length=5)
    with pytest.raises(ValueError, match="non-empty"):
        inject_video_anomalies(np.zeros((0, 4, 4)))
    with pytest.raises(ValueError, match="severity"):
        inject_video_anomalies(_clip(), severity=0)


def test_generate_command_writes_frames_masks_and_labels_that_score_reads(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    pytest.importorskip("plotly")
    from adgdm.modalities.readers import read_video
    from adgdm.commands.generate import _generate_video
    from adgdm.commands.report import run_report

    src = tmp_path / "clips" / "c1"
    src.mkdir(parents=True)
    for t, f in enumerate(_clip(T=30)):
        PIL.fromarray((255 * f[..., 0]).astype(np.uint8)).save(src / f"{t:03d}.png")
    msg = _generate_video(None, "freeze", 1, tmp_path / "gen", tmp_path / "clips", 1.0, 0)
    assert "1 clips, 1 injected freeze events" in msg
    d = read_video(tmp_path / "gen" / "frames")  # labels found beside the frames
    assert d.labels is not None and d.labels.sum() == 4 and len(d.ids) == 30
    info = run_report(tmp_path / "gen", tmp_path / "g.html")
    assert info["kind"] == "gallery"
    with pytest.raises(ValueError, match="takes --kind"):
        _generate_video(None, "perlin", 1, tmp_path / "gen2", tmp_path / "clips", 1.0, 0)
