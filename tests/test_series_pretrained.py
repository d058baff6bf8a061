"""The pretrained cross-series diffusion detector (``series-pre``), its pretraining command and
the fusion of series detectors (issue 18)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import adgdm
from adgdm.data.series_synth import synthetic_collection, synthetic_series
from adgdm.detectors.series.fusion import SeriesFusion
from adgdm.detectors.series.pretrained import SeriesPretrained
from adgdm.pretrained.series import DEFAULT_DIR, load_series_model, pretrain_series, read_series_folder


def _spiky(seed=0, n=1600, at=1400):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / 37) + 0.3 * np.sin(2 * np.pi * t / 11) + 0.05 * rng.normal(size=n)
    x[at:at + 6] += 2.5
    return x


def test_synthetic_series_are_seeded_and_varied():
    a, b = synthetic_collection(20, 300, seed=3), synthetic_collection(20, 300, seed=3)
    assert np.array_equal(a, b) and np.isfinite(a).all()
    assert not np.array_equal(a, synthetic_collection(20, 300, seed=4))
    assert np.std(np.log(a.std(axis=1) + 1e-12)) > 1.0  # scales differ by orders of magnitude
    with pytest.raises(ValueError, match="length"):
        synthetic_series(1, np.random.default_rng(0))


def test_shipped_weights_load_small_and_trained_on_synthetic_only():
    net, schedule, meta = load_series_model()
    assert meta["source"]["kind"] == "synthetic"
    assert (DEFAULT_DIR / "weights.safetensors").stat().st_size <= 20 * 2**20
    assert "pretrain series" in meta["command"]
    assert not net.training and schedule.n_steps == 1000


def test_zero_shot_scores_a_fresh_series_and_flags_an_injected_anomaly():
    x = _spiky(seed=5)
    before = {k: v.clone() for k, v in load_series_model()[0].state_dict().items()}
    det = SeriesPretrained(random_state=0).fit(x[:1000])
    after = det.net_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # zero-shot: the network is not trained
    s = det.decision_function(x)
    assert s.shape == (len(x),)
    assert s[1400:1410].max() > det.threshold_
    assert s[1400:1410].max() > np.quantile(s[1000:1390], 0.99)
    assert det.predict(x)[1400:1410].any()


def test_forecast_scores_are_causal():
    x = _spiky(seed=1)
    det = SeriesPretrained(random_state=0, horizon=8, align="end").fit(x[:1000])
    full = det.decision_function(x)
    cut = det.decision_function(x[:1304])  # 1304 ends a forecast block of the full series' grid (96 + k*8)
    assert np.allclose(full[:1304], cut)


def test_save_load_and_wrong_weights(tmp_path):
    x = _spiky(seed=2)
    det = SeriesPretrained(random_state=0, mode="impute").fit(x[:1000])
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert np.allclose(back.decision_function(x), det.decision_function(x))
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "net.inp.weight" not in str(cfg)  # the shipped network is referenced by checksum, not copied
    cfg["fitted"]["weights_sha256_"] = "0" * 64
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(adgdm.io.ModelFileError, match="pretrained weights"):
        adgdm.load(tmp_path / "m")


def test_bad_parameters_are_named():
    x = _spiky()
    for kw, word in [(dict(mode="recon"), "mode"), (dict(units="x"), "units"), (dict(window=8), "window"),
                     (dict(horizon=200), "horizon"), (dict(start=0.0), "start"), (dict(adapt_steps=-1), "adapt_steps")]:
        with pytest.raises(ValueError, match=word):
            SeriesPretrained(**kw).fit(x[:500])


def test_pretrain_on_a_folder_then_adapt_and_save(tmp_path):
    data = tmp_path / "mine"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(data / f"s{i}.npy", np.sin(np.arange(600) / (3 + i)) + 0.1 * rng.normal(size=600))
    (data / "t.csv").write_text("time;a;b\n" + "\n".join(f"{i};{np.sin(i / 4):.4f};{i % 7}" for i in range(200)))
    assert len(read_series_folder(data)) == 5
    path = pretrain_series(tmp_path / "model", data=data, steps=3, n_windows=64, batch_size=8, width=8, depth=2,
                           window=32)
    net, _, meta = load_series_model(path)
    assert meta["source"]["kind"] == "folder" and meta["steps"] == 3
    x = _spiky(n=900, at=800)
    det = SeriesPretrained(weights=str(path), window=32, adapt_steps=3, random_state=0).fit(x[:600])
    assert det.n_fit_ == 480  # the last 20% held out of the adaptation calibrates
    det.save(tmp_path / "fitted")
    back = adgdm.load(tmp_path / "fitted")
    assert np.allclose(back.decision_function(x), det.decision_function(x))
    with open(path / "weights.safetensors", "r+b") as f:  # a truncated weights file is refused
        f.truncate(100)
    with pytest.raises(ValueError, match="checksum"):
        load_series_model(path)
    with pytest.raises(ValueError, match="no numeric series"):
        read_series_folder(tmp_path / "model")


def test_fusion_adds_evidence_and_names_bad_parts():
    x = _spiky(seed=3)
    det = SeriesFusion("series:window=32+tsb-subpca:window=32", weights="1/0.5").fit(x[:1000])
    s = det.decision_function(x)
    a, b = det.parts_
    expect = (det.z_[0](a.decision_function(x)) + 0.5 * det.z_[1](b.decision_function(x))) / 1.5
    assert np.allclose(s, expect)
    two = SeriesFusion("series:window=32&smooth=5+tsb-subpca:window=32").fit(x[:1000])  # "&": a part's options
    assert (two.parts_[0].window, two.parts_[0].smooth) == (32, 5)
    with pytest.raises(ValueError, match="two or more"):
        SeriesFusion("series").fit(x[:1000])
    with pytest.raises(ValueError, match="weights"):
        SeriesFusion("series+tsb-subpca", weights="1/-1").fit(x[:1000])
    with pytest.raises(NotImplementedError, match="whole series"):
        det.stream()


def test_stream_equals_batch():
    x = _spiky(seed=4, n=1300, at=1200)
    det = SeriesPretrained(random_state=0, smooth=3).fit(x[:900])
    live = det.stream()
    parts = [live.update(x[i:i + 37]) for i in range(0, len(x), 37)] + [live.flush()]
    # equal up to float32 rounding (convolutions over batches of different sizes)
    assert np.allclose(np.concatenate(parts), det.decision_function(x), rtol=1e-3, atol=1e-4)
    assert max(len(p) for p in parts) <= 37 + det._horizon()
    with pytest.raises(ValueError, match="forecast"):
        SeriesPretrained(mode="impute").fit(x[:900]).stream()


def test_pretrain_command_writes_a_model_and_refuses_to_overwrite(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from adgdm.cli import _build_app

    args = ["pretrain", "series", "--out", str(tmp_path / "m"), "--steps", "2", "--width", "8", "--depth", "2",
            "--n-series", "4", "--windows", "32"]
    res = typer_testing.CliRunner().invoke(_build_app(), args)
    assert res.exit_code == 0, res.output
    _, _, meta = load_series_model(tmp_path / "m")
    assert meta["command"].startswith("adgdm ") and meta["source"] == {"kind": "synthetic", "n_series": 4,
                                                                       "length": 1024, "seed": 0}
    res = typer_testing.CliRunner().invoke(_build_app(), args)
    assert res.exit_code == 2 and "--force" in res.output
    res = typer_testing.CliRunner().invoke(_build_app(), args[:3] + [str(tmp_path / "x"), "--data", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no folder" in res.output
    (tmp_path / "afile").write_text("")
    res = typer_testing.CliRunner().invoke(_build_app(), args[:3] + [str(tmp_path / "afile")] + args[4:])
    assert res.exit_code == 2 and "is a file" in res.output


def test_centred_mean_is_the_trailing_mean_shifted_and_streams_late():
    x = _spiky(seed=6, n=1300, at=1200)
    end = SeriesPretrained(random_state=0, smooth=21, align="end").fit(x[:900])
    mid = SeriesPretrained(random_state=0, smooth=21, align="center").fit(x[:900])
    assert np.allclose(mid.decision_function(x)[:-10], end.decision_function(x)[10:])
    assert np.argmax(mid.decision_function(x)) < np.argmax(end.decision_function(x))  # the spike shows earlier
    live = mid.stream()  # a centred mean streams (smooth - 1) // 2 steps later; flush() ends it
    parts = [live.update(x[i:i + 50]) for i in range(0, len(x), 50)] + [live.flush()]
    assert np.allclose(np.concatenate(parts), mid.decision_function(x), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="align"):
        SeriesPretrained(align="middle").fit(x[:900])
