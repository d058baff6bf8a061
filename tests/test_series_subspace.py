"""Subspace (Sub-PCA) evidence as a part of the `series` detector (issue 18): the pure score equals
TSB-AD's Sub-PCA on the same windows; fused into `series` it saves, streams and explains its role."""
from __future__ import annotations

import numpy as np
import pytest

import adgdm
from adgdm.detectors.series.baselines import SubPCA, _windows
from adgdm.detectors.series.diffusion import SeriesDiffusion
from adgdm.scores.subspace import WindowSubspace


def _series(n=2400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 40) + 0.4 * np.sin(2 * np.pi * t / 13) + 0.05 * rng.normal(size=n)


def test_window_subspace_equals_sub_pca_on_the_same_windows():
    x = _series()
    ref = SubPCA(window=20).fit(x[:1500])
    W = _windows(x[:, None], 20)
    sub = WindowSubspace().fit(_windows(x[:1500, None], 20))
    ours = sub.score(W)
    theirs = ref._window_scores(ref._prepare(W), len(W))
    # SubPCA reports the 1/r-weighted mean of the distances, the sum over sum(1/r): the same ranking
    assert np.allclose(ours / np.sum(1.0 / sub.weights_), theirs, rtol=1e-6)


def test_window_subspace_state_round_trip_and_errors():
    W = np.random.default_rng(0).normal(size=(50, 4))
    sub = WindowSubspace().fit(W)
    back = WindowSubspace.from_state(sub.state())
    assert np.array_equal(back.score(W), sub.score(W))
    assert np.array_equal(WindowSubspace().fit(np.ones((5, 3))).score(W), np.zeros(50))  # constant: no evidence
    with pytest.raises(ValueError, match="2 or more rows"):
        WindowSubspace().fit(W[:1])
    bad = sub.state()
    bad["weights_"] = bad["weights_"][:2]
    with pytest.raises(ValueError, match="do not match"):
        WindowSubspace.from_state(bad)


def test_series_with_subspace_evidence_saves_streams_and_flags(tmp_path):
    x = _series()
    x[2000:2004] += 2.0
    plain = SeriesDiffusion(window=40, align="end").fit(x[:1500])
    det = SeriesDiffusion(window=40, subspace=1.0, align="end").fit(x[:1500])
    s = det.decision_function(x)
    assert s[2000:2010].max() > det.threshold_ and s[1500:1990].max() < s[2000:2010].max()
    # the ideal part alone is the plain detector; the fused score is its z-score plus the subspace one
    ideal = plain.tab_.decision_function(np.lib.stride_tricks.sliding_window_view(
        (x - det.center_) / det.scale_, 40)[:, :].reshape(-1, 40))
    assert np.allclose(det.z_ideal_(ideal) + det.z_sub_(det.subspace_.score(
        np.lib.stride_tricks.sliding_window_view((x - det.center_) / det.scale_, 40))), s[39:])
    det.save(tmp_path / "m")
    assert np.allclose(adgdm.load(tmp_path / "m").decision_function(x), s)
    live = det.stream()
    assert np.allclose(np.concatenate([live.update(x[i:i + 300]) for i in range(0, len(x), 300)]), s)
    with pytest.raises(ValueError, match="subspace"):
        SeriesDiffusion(subspace=-1).fit(x[:500])


@pytest.mark.parametrize("chunk", [1, 7, 300])
def test_centred_alignment_streams_late_and_flush_completes_it(chunk):
    x = _series(1300)
    x[1200:1204] += 2.0
    end = SeriesDiffusion(window=40, align="end").fit(x[:900])
    det = SeriesDiffusion(window=40, align="center", smooth=3, subspace=0.5).fit(x[:900])
    s = det.decision_function(x)
    lag = det._lag()
    assert lag == 19
    causal = SeriesDiffusion(window=40, smooth=3, subspace=0.5, align="end").fit(x[:900]).decision_function(x)
    # the centred score of step t is the causal (unsmoothed) window score of t + lag
    assert np.allclose(SeriesDiffusion(window=40, align="center").fit(x[:900]).decision_function(x)[100:-lag],
                       end.decision_function(x)[100 + lag:])
    assert not np.allclose(s, causal)
    live = det.stream()
    parts = [live.update(x[i:i + chunk]) for i in range(0, len(x), chunk)]
    assert sum(len(p) for p in parts) == len(x) - lag  # lag steps late
    parts.append(live.flush())
    assert np.allclose(np.concatenate(parts), s, rtol=1e-4, atol=1e-4)  # single-row k-NN: float32 rounding
    with pytest.raises(ValueError, match="align"):
        SeriesDiffusion(align="middle").fit(x[:900])
