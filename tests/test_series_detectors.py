"""Series detectors: per-step scores, the three scoring modes on injected anomalies, streaming,
persistence and bad input."""
import numpy as np
import pytest
from sklearn.base import clone

import adgdm
from adgdm.data.windows import fold, grid_starts, window_view
from adgdm.detectors.series.window import SeriesForecast, SeriesImpute, SeriesRecon
from adgdm.detectors.series.diffusion import SeriesDiffusion

FAST = dict(window=32, max_steps=250, width=16, depth=3, random_state=0, smooth=4)
ANOMALIES = {"spike": (2000, 2008), "level shift": (2200, 2280), "frequency change": (2400, 2480)}


def _series(n=2600, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.stack([np.sin(2 * np.pi * t / 40 + c) for c in range(channels)], axis=1)
    x += 0.05 * rng.normal(size=x.shape)
    a, b = ANOMALIES["spike"]
    x[a:b] += 3.0
    a, b = ANOMALIES["level shift"]
    x[a:b] += 1.5
    a, b = ANOMALIES["frequency change"]
    x[a:b] = np.stack([np.sin(2 * np.pi * t[a:b] / 9 + c) for c in range(channels)], axis=1)
    return x[:, 0] if channels == 1 else x


@pytest.fixture(scope="module")
def series():
    return _series()


@pytest.fixture(scope="module", params=[SeriesRecon, SeriesImpute, SeriesForecast, SeriesDiffusion],
                ids=lambda c: c.name)
def fitted(request, series):
    if request.param is SeriesDiffusion:
        return SeriesDiffusion(window=32, smooth=4, random_state=0).fit(series[:1600])
    return request.param(**FAST).fit(series[:1600])


def test_grid_and_fold_round_trip():
    starts = grid_starts(10, 4, 3)
    assert starts.tolist() == [0, 3, 6]
    w = window_view(np.arange(10.0)[:, None], starts, 4)
    assert w.shape == (3, 1, 4) and w[1, 0].tolist() == [3, 4, 5, 6]
    sums, counts = fold(w[:, 0], np.ones((3, 4)), starts, 10)
    assert counts.tolist() == [1, 1, 1, 2, 1, 1, 2, 1, 1, 1]
    np.testing.assert_allclose(sums / counts, np.arange(10.0))
    assert grid_starts(3, 4, 1).size == 0


@pytest.mark.parametrize("n", [1600, 1617, 2599])
def test_one_score_per_step(fitted, series, n):
    s = fitted.decision_function(series[:n])
    assert s.shape == (n,) and np.isfinite(s).all()
    assert fitted.decision_scores_.shape == (1600,)
    assert set(np.unique(fitted.predict(series[:n]))) <= {0, 1}
    assert fitted.predict_proba(series[:n]).shape == (n, 2)


@pytest.mark.parametrize("kind", list(ANOMALIES))
def test_modes_rank_injected_anomalies_above_normal_steps(fitted, series, kind):
    s = fitted.decision_function(series)
    a, b = ANOMALIES[kind]
    normal = np.ones(len(series), bool)
    for lo, hi in ANOMALIES.values():
        normal[max(0, lo - 40) : hi + 40] = False
    normal[:1600] = False  # test part only
    assert s[a:b].mean() > np.quantile(s[normal], 0.95), f"{fitted.name} misses the {kind}"


def test_streaming_equals_batch(fitted, series):
    batch = fitted.decision_function(series)
    stream = fitted.stream()
    parts, i = [], 0
    for size in [5, 100, 1, 333, 64, 2000]:
        parts.append(stream.update(series[i : i + size]))
        i += size
    parts.append(stream.update(series[i:]))
    parts.append(stream.flush())
    got = np.concatenate(parts)
    np.testing.assert_allclose(got, batch, rtol=1e-4, atol=1e-4)


def test_stream_emits_with_bounded_delay(fitted, series):
    stream = fitted.stream()
    out = stream.update(series[:500])
    assert 500 - len(out) <= fitted.window  # a step is final at most one window after it arrives


def test_multivariate_and_dataframe():
    pd = pytest.importorskip("pandas")
    x = _series(channels=3)
    df = pd.DataFrame(x, columns=["a", "b", "c"], index=pd.date_range("2024-01-01", periods=len(x), freq="min"))
    det = SeriesImpute(**FAST).fit(df.iloc[:1600])
    s = det.decision_function(df)
    assert s.shape == (len(x),)
    np.testing.assert_allclose(s, det.decision_function(x), rtol=1e-6)
    a, b = ANOMALIES["level shift"]
    assert s[a:b].mean() > np.quantile(s[1700:1950], 0.95)
    with pytest.raises(ValueError, match="channel names"):
        det.decision_function(df.rename(columns={"a": "z"}))


def test_deterministic_and_clonable(series):
    a = SeriesRecon(**FAST).fit(series[:800]).decision_function(series[:1000])
    b = SeriesRecon(**FAST).fit(series[:800]).decision_function(series[:1000])
    np.testing.assert_array_equal(a, b)
    det = clone(SeriesRecon(**FAST))
    assert det.get_params()["window"] == 32 and not hasattr(det, "net_")


def test_save_load_gives_identical_scores(fitted, series, tmp_path):
    fitted.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert type(back) is type(fitted)
    np.testing.assert_array_equal(back.decision_function(series[:900]), fitted.decision_function(series[:900]))
    assert back.threshold_ == fitted.threshold_


def test_registry_names():
    assert set(adgdm.list_detectors("series")) >= {"series", "series-recon", "series-impute", "series-forecast"}
    assert "series" not in adgdm.list_detectors()  # tabular by default
    assert adgdm.make_detector("series-forecast:horizon=4,window=16")._horizon() == 4


def test_bad_input(fitted, series):
    with pytest.raises(ValueError, match="fewer than the window"):
        fitted.decision_function(series[:10])
    with pytest.raises(ValueError, match="fewer than the window"):
        SeriesRecon(**FAST).fit(series[:20])
    gappy = series[:1000].copy()
    gappy[100:110] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.decision_function(gappy)
    inf = series[:1000].copy()
    inf[5] = np.inf
    with pytest.raises(ValueError, match="inf"):
        fitted.decision_function(inf)
    with pytest.raises(ValueError, match="channels"):
        fitted.decision_function(np.column_stack([series[:1000], series[:1000]]))
    with pytest.raises(ValueError, match="scoring must be"):
        SeriesRecon(scoring="bogus").fit(series)
    with pytest.raises(ValueError, match="empty"):
        fitted.decision_function(np.zeros(0))


def test_fill_option_scores_gappy_series(series):
    gappy = series[:1200].copy()
    gappy[300:310] = np.nan
    det = SeriesRecon(fill="interpolate", **FAST).fit(gappy)
    s = det.decision_function(gappy)
    assert np.isfinite(s).all() and s.shape == (1200,)


def test_calibration_holds_out_the_end_of_the_training_series(series):
    det = SeriesRecon(**FAST).fit(series[:1600])
    assert det.n_fit_ == 1280 and det.decision_scores_.shape == (1600,)
    # the threshold is a quantile of the held-out steps' scores, not of all training steps
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_[1280:], 0.99))
    assert SeriesRecon(calibration=0.0, **FAST).fit(series[:1600]).n_fit_ == 1600
    assert SeriesRecon(**FAST).fit(series[:70]).n_fit_ == 70  # too short to hold out: in-sample
    with pytest.raises(ValueError, match="calibration"):
        SeriesRecon(calibration=1.0).fit(series)


def test_series_default_window_from_the_period_and_cross_fitted_threshold(series):
    det = SeriesDiffusion(random_state=0).fit(series[:1600])
    assert det.window_ == 40  # the injected sine's period
    assert det.decision_scores_.shape == (1600,)
    # padded windows (ending before step 39) are scored but are not part of the reference
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_[39:], 0.99))
    # overlapping windows: leave-one-out evidence would be degenerate (the nearest window is the
    # same one shifted by a step) and its z-scale collapse; cross-fitting keeps it of order one
    assert (det.tab_.norm_scale_[:6] > 1e-2).all()  # the fine block: 3 levels x (error, NLL)
    assert 0.1 < det.threshold_ < 50
    # a fresh stretch of the same normal process stays mostly under the threshold
    fresh = det.decision_function(series[:2400])[1600:2000]
    assert (fresh > det.threshold_).mean() < 0.1
    with pytest.raises(ValueError, match="n_folds"):
        SeriesDiffusion(n_folds=1).fit(series)


def test_series_default_threshold_holds_on_a_fresh_stretch_of_a_smooth_series():
    # smooth and non-repeating: each window's nearest training window is itself shifted by a step,
    # so leave-one-out evidence understates how new data scores (it flagged 11% of this stretch)
    rng = np.random.default_rng(0)
    x = np.convolve(rng.normal(size=3100), np.ones(50) / 50, mode="valid")[:3000]
    det = SeriesDiffusion(window=32, random_state=0).fit(x[:1500])
    assert (det.decision_function(x)[1500:] > det.threshold_).mean() < 0.05


def test_corrupted_or_truncated_model_files_raise_model_file_error(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(adgdm.ModelFileError):
        adgdm.load(tmp_path / "m")
    fitted.save(tmp_path / "n")
    cfg = tmp_path / "n" / "config.json"
    cfg.write_text(cfg.read_text().replace('"n_channels_"', '"n_chan"'))
    with pytest.raises(adgdm.ModelFileError):
        adgdm.load(tmp_path / "n")
