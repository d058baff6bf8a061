"""`adgdm bench video`: the folder suite end to end with a stand-in detector, rows and metrics."""
import numpy as np
import pandas as pd
import pytest

PIL = pytest.importorskip("PIL.Image")


class _Diff:
    """Stand-in video detector: mean absolute change from the previous frame."""

    modality = "video"

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, clips):
        self.n_ = sum(len(c) for c in clips)
        return self

    def predict_result(self, clips):
        out = []
        for c in clips:
            d = np.abs(np.diff(c, axis=0)).mean(axis=(1, 2, 3))
            out.append(np.concatenate([[d[0]], d]))

        class R:
            score = np.concatenate(out)
        return R()


def _write_clip(folder, frames):
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        PIL.fromarray((255 * f).astype(np.uint8)).save(folder / f"{i:03d}.png")


def test_folder_suite_writes_pooled_and_per_clip_metrics(tmp_path, monkeypatch):
    import adgdm.detectors as dets
    from adgdm.bench.video import run_video
    from adgdm.bench.video_summary import summarize_video

    rng = np.random.default_rng(0)
    still = lambda n: np.clip(0.5 + 0.01 * rng.normal(size=(n, 8, 10)), 0, 1)  # noqa: E731
    _write_clip(tmp_path / "train" / "01", still(6))
    rows = []
    for name, jump in (("01", 3), ("02", 5)):
        f = still(8)
        f[jump:jump + 2] = rng.uniform(size=(2, 8, 10))  # two frames of flicker: the anomaly
        _write_clip(tmp_path / "test" / name, f)
        rows += [(name, i, int(jump <= i < jump + 3)) for i in range(8)]  # the frame after also changes
    pd.DataFrame(rows, columns=["video", "frame", "label"]).to_csv(tmp_path / "frame_labels.csv", index=False)
    monkeypatch.setattr(dets, "make_detector", lambda spec, **kw: _Diff(**kw))
    out = run_video("folder", tmp_path, ["diff"], seeds=2, out=tmp_path / "v.csv", progress=False)
    df = pd.read_csv(out)
    assert len(df) == 2 and set(df.seed) == {0, 1}
    assert (df.auroc == 100.0).all() and (df.auroc_per_clip == 100.0).all()
    assert (df.n_test_frames == 16).all() and (df.n_clips == 2).all() and (df["size"] == "8x10").all()
    assert "## " in summarize_video(out)
    with pytest.raises(FileNotFoundError, match="frame_labels.csv"):
        run_video("folder", tmp_path / "train", ["diff"], seeds=1, out=tmp_path / "w.csv", progress=False)


def test_report_of_a_video_scores_file_draws_one_timeline_per_clip(tmp_path):
    pytest.importorskip("plotly")
    from adgdm.commands.report import run_report

    rows = [("a", i, float(i == 5), int(i == 5), int(i in (5, 6))) for i in range(10)]
    rows += [("b", i, 0.1 * i, 0, 0) for i in range(6)]
    df = pd.DataFrame(rows, columns=["video", "frame", "score", "flagged", "label"]).assign(threshold=0.9)
    df.to_csv(tmp_path / "s.csv", index=False)
    info = run_report(tmp_path / "s.csv", tmp_path / "r.html")
    assert "clip a" in info["sections"] and "clip b" in info["sections"]
    html = (tmp_path / "r.html").read_text()
    assert "Clip a: score per frame" in html and "a:5" in html  # the top frame named by clip and frame


def test_cli_fit_and_score_a_folder_of_clips(tmp_path):
    from adgdm.commands.fit import run_fit
    from adgdm.commands.score import run_score

    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("test", 1)):
        for k in range(n):
            f = np.clip(0.5 + 0.02 * rng.normal(size=(12, 16, 20)), 0, 1)
            if split == "test":
                for t in range(8, 12):
                    f[t, 4:10, 3 * (t - 8):3 * (t - 8) + 6] = 1.0  # a bright block runs across
            _write_clip(tmp_path / split / f"c{k}", f)
    pd.DataFrame([("c0", i, int(i >= 8)) for i in range(12)], columns=["video", "frame", "label"]).to_csv(
        tmp_path / "test" / "frame_labels.csv", index=False)
    info = run_fit(tmp_path / "train", modality="video", detector="video-diff:size=none", out=tmp_path / "m")
    assert info["modality"] == "video" and info["n_fit"] == 24
    s = run_score(tmp_path / "m", tmp_path / "test", out=tmp_path / "s.csv")
    df = pd.read_csv(tmp_path / "s.csv")
    assert list(df.columns[:3]) == ["video", "frame", "score"] and len(df) == 12 and s["rows"] == 12
    assert (df.video == "c0").all() and df.frame.tolist() == list(range(12))
    assert "label" in df and s["auroc"] > 0.9  # the moving block's frames score highest
    assert not any("fitted on" in n for n in s.get("notes", []))
    again = run_score(tmp_path / "m", tmp_path / "train", out=tmp_path / "s2.csv")  # the training footage itself
    assert any("c0, c1 are footage this model was fitted on" in n for n in again["notes"])
    pytest.importorskip("plotly")
    from adgdm.commands.report import run_report

    rep = run_report(tmp_path / "m", tmp_path / "r.html", data=tmp_path / "test")
    assert "clip c0" in rep["sections"] and "anomaly maps" in rep["sections"]
