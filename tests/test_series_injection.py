"""Anomaly injection into clean series: layout, labels, determinism, each kind's footprint and
amplitude, channels, the generator hook and input checks."""
from __future__ import annotations

import numpy as np
import pytest

from adgdm.generation.series import SERIES_KINDS, InjectedSeries, inject_series_anomalies

T = 800


@pytest.fixture(scope="module")
def uni():
    rng = np.random.default_rng(1)
    t = np.arange(T)
    return np.sin(2 * np.pi * t / 40) + 0.1 * rng.normal(size=T)


@pytest.fixture(scope="module")
def multi():
    rng = np.random.default_rng(2)
    t = np.arange(T)
    base = np.sin(2 * np.pi * t / 40)
    return np.column_stack([base, 2 * base + 1, np.cos(2 * np.pi * t / 40)]) + 0.1 * rng.normal(size=(T, 3))


def _mask(res, T):
    m = np.zeros(T, dtype=bool)
    for s in res.segments:
        m[s["start"]:s["end"]] = True
    return m


def _far_copy_offsets(clean, seg_values, start, gain):
    """Starts s of clean windows with |s - start| >= 2 L whose centred values, times gain, equal the
    centred segment (a copy shifted by a constant and scaled around its mean)."""
    L = len(seg_values)
    target = seg_values - seg_values.mean()
    return [s for s in range(len(clean) - L + 1) if abs(s - start) >= 2 * L
            and np.allclose(gain * (clean[s:s + L] - clean[s:s + L].mean()), target, atol=1e-9)]


# --- layout -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["uni", "multi"])
def test_layout_labels_gaps_and_input_untouched(which, request):
    x = request.getfixturevalue(which)
    before = x.copy()
    res = inject_series_anomalies(x, n=8, length=(10, 30), min_gap=15, random_state=3)
    assert isinstance(res, InjectedSeries)
    assert res.values.shape == x.shape and res.values.dtype == np.float64
    assert res.labels.shape == (T,) and res.labels.dtype == np.int64 and set(np.unique(res.labels)) == {0, 1}
    assert len(res.segments) == 8
    np.testing.assert_array_equal(res.labels, _mask(res, T).astype(int))
    starts = [s["start"] for s in res.segments]
    assert starts == sorted(starts)
    for a, b in zip(res.segments, res.segments[1:]):
        assert b["start"] - a["end"] >= 15
    for s in res.segments:
        assert set(s) == {"start", "end", "kind", "channels", "severity"}
        L = s["end"] - s["start"]
        assert (1 <= L <= 3) if s["kind"] == "spike" else (10 <= L <= 30)
        assert 0 <= s["start"] and s["end"] <= T
    assert np.array_equal(x, before)  # not modified in place
    kinds = [s["kind"] for s in res.segments]
    if which == "uni":
        assert "channel_break" not in kinds and len(set(kinds)) == 6  # 8 anomalies cycle all 6 kinds
    else:
        assert len(set(kinds)) == 7


def test_tight_fit_is_always_placed(uni):
    # 5 x 20 steps + 4 gaps x 10 = 140: every draw must fit in exactly 140 steps
    for seed in range(20):
        res = inject_series_anomalies(uni[:140], n=5, kinds=["level_shift"], length=20, random_state=seed)
        assert res.labels.sum() == 100
        for a, b in zip(res.segments, res.segments[1:]):
            assert b["start"] - a["end"] == 10


def test_pandas_input(multi):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(multi, columns=["a", "b", "c"])
    res = inject_series_anomalies(df, n=3, random_state=0)
    ref = inject_series_anomalies(multi, n=3, random_state=0)
    np.testing.assert_array_equal(res.values, ref.values)
    res1 = inject_series_anomalies(pd.Series(multi[:, 0]), n=3, random_state=0)
    assert res1.values.shape == (T,)


# --- determinism ------------------------------------------------------------------------------------------
def test_deterministic_under_seed(multi):
    a = inject_series_anomalies(multi, n=6, random_state=7)
    b = inject_series_anomalies(multi, n=6, random_state=7)
    c = inject_series_anomalies(multi, n=6, random_state=np.random.default_rng(7))
    for other in (b, c):
        np.testing.assert_array_equal(a.values, other.values)
        np.testing.assert_array_equal(a.labels, other.labels)
        assert a.segments == other.segments
    d = inject_series_anomalies(multi, n=6, random_state=8)
    assert not np.array_equal(a.labels, d.labels) and not np.array_equal(a.values, d.values)


# --- each kind changes only its segment --------------------------------------------------------------
@pytest.mark.parametrize("which,kind", [("uni", k) for k in SERIES_KINDS if k != "channel_break"]
                         + [("multi", k) for k in SERIES_KINDS])
def test_kind_changes_only_its_segment(kind, which, request):
    x = request.getfixturevalue(which)
    x2 = x.reshape(T, -1)
    for seed in range(3):
        res = inject_series_anomalies(x, n=3, kinds=[kind], length=(15, 30), random_state=seed)
        v = res.values.reshape(T, -1)
        inside = _mask(res, T)
        np.testing.assert_array_equal(v[~inside], x2[~inside])
        assert all(s["kind"] == kind for s in res.segments)
        for s in res.segments:
            sl = slice(s["start"], s["end"])
            others = [c for c in range(x2.shape[1]) if c not in s["channels"]]
            np.testing.assert_array_equal(v[sl][:, others], x2[sl][:, others])
            assert not np.allclose(v[sl][:, s["channels"]], x2[sl][:, s["channels"]])
            if kind == "channel_break":
                assert len(s["channels"]) == 1


@pytest.mark.parametrize("kind,gain", [("pattern", 1.5), ("channel_break", 1.0)])
def test_copied_kinds_come_from_far_away_without_a_jump(kind, gain, multi):
    res = inject_series_anomalies(multi, n=4, kinds=[kind], length=(15, 30), channels=[0], random_state=5)
    max_step = np.abs(np.diff(multi[:, 0])).max()
    for s in res.segments:
        seg = res.values[s["start"]:s["end"], 0]
        assert _far_copy_offsets(multi[:, 0], seg, s["start"], gain), s
        if s["start"] > 0:  # entered with a normal-sized (scaled) step
            assert abs(seg[0] - multi[s["start"] - 1, 0]) <= gain * max_step + 1e-9
    # on a short series most nearby windows are excluded, so a near copy would show up here
    short = multi[:160]
    for seed in range(10):
        res = inject_series_anomalies(short, n=1, kinds=[kind], length=30, channels=[0], random_state=seed)
        s = res.segments[0]
        assert _far_copy_offsets(short[:, 0], res.values[s["start"]:s["end"], 0], s["start"], gain), (seed, s)


def test_frequency_keeps_amplitude_and_changes_speed(uni):
    res = inject_series_anomalies(uni, n=4, kinds=["frequency"], length=(30, 40), random_state=2)
    for s in res.segments:
        seg = res.values[s["start"]:s["end"]]
        # anchored on one boundary: no jump there
        assert seg[0] == uni[s["start"]] or seg[-1] == uni[s["end"] - 1]
        assert seg.min() >= uni.min() - 1e-9 and seg.max() <= uni.max() + 1e-9  # interpolated, not scaled
        # warped by 3 or 1/3: step sizes move far from the clean ones
        ratio = np.abs(np.diff(seg)).mean() / np.abs(np.diff(uni)).mean()
        assert ratio > 1.8 or ratio < 0.6, ratio
    # a segment spanning the whole series has no room to speed up: it must slow down, not stay put
    ramp = np.arange(30.0)
    for seed in range(6):
        res = inject_series_anomalies(ramp, n=1, kinds="frequency", length=30, random_state=seed)
        np.testing.assert_allclose(np.diff(res.values), 1 / 3)


def test_univariate_channel_break_and_unknown_kind_raise(uni, multi):
    with pytest.raises(ValueError, match="channel_break.*2 channels"):
        inject_series_anomalies(uni, n=2, kinds=["channel_break"])
    with pytest.raises(ValueError, match="channel_break"):
        inject_series_anomalies(multi[:, :1], n=2, kinds=["spike", "channel_break"])
    with pytest.raises(ValueError, match="unknown.*'wobble'.*valid kinds.*level_shift"):
        inject_series_anomalies(uni, n=2, kinds=["spike", "wobble"])


# --- amplitude ----------------------------------------------------------------------------------------------
def test_documented_amplitudes(uni):
    sd = uni.std()
    for kind, factor in [("spike", 4.0), ("level_shift", 2.0)]:
        res = inject_series_anomalies(uni, n=3, kinds=[kind], severity=1.5, random_state=0)
        for s in res.segments:
            d = res.values[s["start"]:s["end"]] - uni[s["start"]:s["end"]]
            np.testing.assert_allclose(np.abs(d), factor * 1.5 * sd)
            assert np.all(np.sign(d) == np.sign(d[0]))
    res = inject_series_anomalies(uni, n=3, kinds=["trend"], random_state=0)
    for s in res.segments:
        d = res.values[s["start"]:s["end"]] - uni[s["start"]:s["end"]]
        L = len(d)
        np.testing.assert_allclose(np.abs(d), 3.0 * sd * np.arange(1, L + 1) / L)


@pytest.mark.parametrize("kind", ["spike", "level_shift", "noise"])
def test_severity_is_monotone(kind, uni):
    def deviation(severity):
        devs = []
        for seed in range(3):
            res = inject_series_anomalies(uni, n=4, kinds=[kind], severity=severity, random_state=seed)
            m = res.labels == 1
            devs.append(np.abs(res.values[m] - uni[m]).mean())
        return np.mean(devs)

    low, high = deviation(0.5), deviation(2.0)
    assert high > 2.5 * low  # 4x in amplitude; noise averages close to that


# --- channels -----------------------------------------------------------------------------------------------
def test_channels_all_and_explicit(multi):
    res = inject_series_anomalies(multi, n=5, kinds=["level_shift", "noise"], channels="all", random_state=0)
    assert all(s["channels"] == [0, 1, 2] for s in res.segments)
    m = res.labels == 1
    assert np.all(np.abs(res.values[m] - multi[m]) > 0)

    res = inject_series_anomalies(multi, n=6, kinds=["spike", "trend", "channel_break"], channels=[2, 0],
                                  random_state=0)
    for s in res.segments:
        assert set(s["channels"]) <= {0, 2}
        assert s["channels"] == ([0, 2] if s["kind"] != "channel_break" else s["channels"])
    np.testing.assert_array_equal(res.values[:, 1], multi[:, 1])

    res = inject_series_anomalies(multi, n=10, kinds=["spike"], channels="random", random_state=0)
    sizes = {len(s["channels"]) for s in res.segments}
    assert len(sizes) > 1 and sizes <= {1, 2, 3}
    with pytest.raises(ValueError, match="channel 3"):
        inject_series_anomalies(multi, n=2, channels=[0, 3])
    with pytest.raises(ValueError, match="channels"):
        inject_series_anomalies(multi, n=2, channels="some")


# --- generator hook ---------------------------------------------------------------------------------------
def test_generator_hook_used_for_pattern(multi):
    calls = []

    def gen(values, start, end, channels, rng):
        calls.append((values.shape, start, end, channels))
        assert isinstance(rng, np.random.Generator)
        return np.full((end - start, len(channels)), 123.0)

    res = inject_series_anomalies(multi, n=4, kinds=["pattern", "spike"], channels=[1], generator=gen,
                                  random_state=0)
    pats = [s for s in res.segments if s["kind"] == "pattern"]
    assert len(calls) == len(pats) == 2
    for (shape, start, end, channels), s in zip(calls, pats):
        assert shape == (T, 3) and (start, end, channels) == (s["start"], s["end"], [1])
        assert np.all(res.values[start:end, 1] == 123.0)
    assert not np.any(res.values == 123.0, axis=1)[[s["start"] for s in res.segments if s["kind"] == "spike"]].any()

    def bad(values, start, end, channels, rng):
        return np.zeros((end - start + 1, len(channels)))

    with pytest.raises(ValueError, match="generator returned shape"):
        inject_series_anomalies(multi, n=2, kinds=["pattern"], generator=bad, random_state=0)


# --- bad input -----------------------------------------------------------------------------------------------
def test_bad_input(uni):
    nan = uni.copy()
    nan[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        inject_series_anomalies(nan, n=2)
    inf = uni.copy()
    inf[7] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        inject_series_anomalies(inf, n=2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        inject_series_anomalies(uni, n=0)
    with pytest.raises(ValueError, match="need at least 170 steps"):
        inject_series_anomalies(uni[:160], n=3, kinds=["noise"], length=(10, 50))
    with pytest.raises(ValueError, match="need at least 250 steps"):
        inject_series_anomalies(uni[:200], n=1, kinds=["pattern"], length=(10, 50))
    with pytest.raises(ValueError, match="severity"):
        inject_series_anomalies(uni, n=2, severity=0)
    with pytest.raises(ValueError, match="length"):
        inject_series_anomalies(uni, n=2, length=(20, 10))
    with pytest.raises(ValueError, match="shape"):
        inject_series_anomalies(np.zeros((10, 2, 2)), n=1)
