"""adgdm.Pipeline: one model object from file to answer (fit, score, save, load), its typed model
card (versioned, migrated on read) and the typed result of scoring."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm.modalities.io import get_io
from adgdm.pipeline import ModelCard
from adgdm.pipeline.card import CARD_VERSION
from adgdm.results import Prediction


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    df["label"] = 0
    df.loc[140:, ["a", "b"]] += 6.0
    df.loc[140:, "label"] = 1
    return df


def test_fit_save_load_score_gives_the_detectors_scores(table, tmp_path):
    pipe = adgdm.Pipeline("dte-np", label="label").fit(table)
    assert pipe.n_fit_ == 140 and pipe.card_.columns == ["a", "b", "c"] and pipe.card_.label == "label"
    folder = pipe.save(tmp_path / "m")
    again = adgdm.Pipeline.load(folder)
    assert again.card_ == pipe.card_
    direct = pipe.detector_.decision_function(table[["a", "b", "c"]])
    for source in (table, table.to_dict(orient="records")):
        res = again.score(source)
        # new rows: the detector's scores; the fitted rows: their (leave-one-out) training scores
        np.testing.assert_array_equal(res.score[140:], direct[140:])
        np.testing.assert_array_equal(res.score[:140], pipe.detector_.decision_scores_)
        frame = res.to_frame()
        assert frame.columns[:4].tolist() == ["row", "score", "flagged", "probability"]
        assert frame["label"].tolist() == table["label"].tolist()
    # the fitted rows found again get their leave-one-out training scores, and say so
    assert res.in_sample.sum() == 140 and any("training rows" in n for n in res.notes)
    recs = res.to_records()
    assert set(recs[0]) >= {"row", "score", "flagged", "contributions"}


def test_score_a_file_like_the_command_line(table, tmp_path):
    table.to_csv(tmp_path / "t.csv", index=False)
    pipe = adgdm.Pipeline("dte-np", label="label").fit(tmp_path / "t.csv")
    pipe.save(tmp_path / "m")
    res = adgdm.Pipeline.load(tmp_path / "m").score(tmp_path / "t.csv", explain=False)
    assert len(res) == 150 and res.contrib is None and res.labels.sum() == 10


def test_save_refuses_an_existing_folder_without_force(table, tmp_path):
    pipe = adgdm.Pipeline("dte-np").fit(table[["a", "b"]])
    pipe.save(tmp_path / "m")
    with pytest.raises(ValueError, match="exists"):
        pipe.save(tmp_path / "m")
    pipe.save(tmp_path / "m", force=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an adgdm output folder"):
        pipe.save(tmp_path / "other", force=True)
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"


def test_unfitted_and_missing_models_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        adgdm.Pipeline("dte-np").score(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        adgdm.Pipeline.load(tmp_path / "nope")


def test_a_model_saved_from_python_gets_an_inferred_card(table, tmp_path):
    det = adgdm.make_detector("dte-np").fit(table[["a", "b", "c"]])
    det.save(tmp_path / "py")
    pipe = adgdm.Pipeline.load(tmp_path / "py")
    assert pipe.card_.modality == "tabular" and pipe.card_.columns == ["a", "b", "c"]
    np.testing.assert_array_equal(pipe.score(table.assign(a=table["a"] + 0.01)).score,
                                  det.decision_function(table[["a", "b", "c"]].assign(a=table["a"] + 0.01)))


def test_version_1_cards_migrate_and_newer_ones_are_refused(tmp_path):
    old = {"format": "adgdm-cli-model", "adgdm_version": "0.1.0", "modality": "video", "detector": "video-diff",
           "params": {}, "columns": None, "label": None, "time": None,
           "reader": {"sep": None, "encoding": None, "strict": False}, "threshold": {"method": "contamination"},
           "seed": 0, "clip_hashes": {"01": "ab" * 32}}
    card = ModelCard.from_json(old)
    assert card.version == CARD_VERSION and card.reader == adgdm.modalities.options.ReaderOptions()
    assert card.fingerprint == {"format": 1, "kind": "clips", "hashes": {"01": "ab" * 32}}
    assert ModelCard.from_json(card.to_json()) == card
    newer = dict(card.to_json(), card_version=CARD_VERSION + 1)
    with pytest.raises(ValueError, match="newer than this adgdm reads"):
        ModelCard.from_json(newer)
    (tmp_path / "cli.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupted"):
        ModelCard.read(tmp_path)


def _pred(n, offset=0.0, maps=True):
    return Prediction(score=np.arange(n) + offset, label=np.zeros(n, int), probability=np.full(n, 0.1),
                      threshold=5.0, unit="image", anomaly_map=np.full((n, 2, 2), offset) if maps else None,
                      parts={"global": np.arange(n) + offset, "local": -np.arange(n) - offset},
                      contributions=np.ones((n, 3)))


def test_concat_keeps_parts_maps_and_contributions():
    """The bug of issue 29: joining batches dropped ``parts`` and ``anomaly_map``."""
    joined = Prediction.concat([_pred(2), _pred(3, 10.0)])
    assert joined.score.tolist() == [0, 1, 10, 11, 12]
    assert joined.anomaly_map.shape == (5, 2, 2) and joined.anomaly_map[2, 0, 0] == 10.0
    assert joined.parts["global"].tolist() == [0, 1, 10, 11, 12] and joined.parts["local"][-1] == -12
    assert joined.contributions.shape == (5, 3)
    with pytest.raises(ValueError, match="anomaly maps"):
        Prediction.concat([_pred(2), _pred(2, maps=False)])
    frame = joined.to_frame(["x", "y", "z"])
    assert frame.columns.tolist() == ["score", "flagged", "probability", "threshold", "part:global", "part:local",
                                      "contrib:x", "contrib:y", "contrib:z"]
    assert joined.to_records(["x", "y", "z"])[1]["parts"] == {"global": 1.0, "local": -1.0}


def test_batched_scoring_equals_one_batch(table, monkeypatch):
    pipe = adgdm.Pipeline("dte-np").fit(table[["a", "b", "c"]])
    whole = pipe.score(table[["a", "b", "c"]]).to_frame()
    monkeypatch.setattr(get_io("tabular"), "batch_rows", 16)
    batched = pipe.score(table[["a", "b", "c"]]).to_frame()
    pd.testing.assert_frame_equal(whole, batched)


def test_images_in_memory_and_from_a_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    for i in range(10):
        img = (np.clip(0.5 + 0.05 * rng.normal(size=(16, 16)), 0, 1) * 255).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / "imgs" / f"{i:02d}.png")
    pipe = adgdm.Pipeline("image-patchknn").fit(tmp_path / "imgs")
    from_folder = pipe.score(tmp_path / "imgs")
    assert from_folder.to_frame()["image"].tolist() == [f"{i:02d}.png" for i in range(10)]
    imgs = from_folder.extras["images"]
    in_memory = pipe.score(imgs)
    np.testing.assert_array_equal(in_memory.score, from_folder.score)
    assert in_memory.extras["maps"].shape[0] == 10


def test_nothing_but_the_pipeline_names_the_card_file():
    src = Path(adgdm.__file__).parent
    found = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "cli.json":
                found.append(str(path.relative_to(src)))
    assert found == ["pipeline/card.py"], found


def test_a_crop_model_scores_a_folder_like_its_own_preprocessing(tmp_path):
    """``adgdm score`` read image folders cropped and resized and the detector cropped again: a model
    with ``crop`` scored a crop of the crop (a silent wrong score)."""
    from PIL import Image

    from adgdm.data.images import load_image_folder

    rng = np.random.default_rng(0)
    for split in ("train/good", "test/good", "test/spot"):
        (tmp_path / split).mkdir(parents=True)
        for i in range(10 if split == "train/good" else 3):
            img = 0.5 + 0.05 * rng.normal(size=(40, 40))
            if split == "test/spot":
                img[18:24, 18:24] = 0.0
            Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(tmp_path / split / f"{i:02d}.png")
    pipe = adgdm.Pipeline("image-patchknn", params={"size": 32, "crop": 28}).fit(tmp_path)
    _, test = load_image_folder(tmp_path)  # the files as they are
    np.testing.assert_allclose(pipe.score(tmp_path).score, pipe.detector_.decision_function(test.images))


def test_a_missing_fingerprint_is_said_and_not_served(table, tmp_path):
    """A model folder whose fingerprint file is gone scored its training rows as new with no note,
    and ``POST /v1/reload`` accepted it."""
    adgdm.Pipeline("dte-np", label="label").fit(table).save(tmp_path / "m")
    (tmp_path / "m" / "fingerprint.safetensors").unlink()
    pipe = adgdm.Pipeline.load(tmp_path / "m")
    res = pipe.score(table)
    assert res.in_sample is None and any("fingerprint" in n and "missing" in n for n in res.notes)
    from adgdm.serve.model import load_verified

    with pytest.raises(ValueError, match="fingerprint"):
        load_verified(tmp_path / "m")
