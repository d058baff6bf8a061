"""Labelled anomalies injected into a clean time series: spikes, level shifts, trends, noise bursts,
time-warped or misplaced patterns and broken cross-channel dependence.

Example
-------
>>> clean = np.sin(2 * np.pi * np.arange(400) / 40)
>>> out = inject_series_anomalies(clean, n=2, kinds=["spike", "trend"], random_state=0)
>>> [s["kind"] for s in out.segments].count("spike"), int(out.labels.max())
(1, 1)
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SERIES_KINDS", "InjectedSeries", "inject_series_anomalies"]

SERIES_KINDS = ("spike", "level_shift", "pattern", "frequency", "trend", "noise", "channel_break")

# Amplitudes per unit of severity, in units of the clean channel's standard deviation.
SPIKE_SCALE = 4.0        # added at 1-3 steps
LEVEL_SHIFT_SCALE = 2.0  # constant offset over the segment
TREND_SCALE = 3.0        # ramp reaching this offset at the last step of the segment
NOISE_SCALE = 1.5        # std of the added Gaussian noise
SPIKE_MAX_LENGTH = 3
# pattern / channel_break copy from a window whose start is at least this many segment lengths away
FAR_AWAY = 2


@dataclass
class InjectedSeries:
    """Result of :func:`inject_series_anomalies`.

    Attributes
    ----------
    values : ndarray, float64
        The series with anomalies injected, same shape as the input, ``(T,)`` or ``(T, C)``.
    labels : ndarray, int64, shape (T,)
        1 on every step of every injected segment, 0 elsewhere.
    segments : list of dict
        One per anomaly, in time order: ``{"start", "end" (exclusive), "kind", "channels": list of
        int, "severity"}``.
    """

    values: np.ndarray
    labels: np.ndarray
    segments: list[dict] = field(default_factory=list)


def inject_series_anomalies(series, n: int, kinds=None, length=(10, 50), severity: float = 1.0,
                            channels="random", min_gap: int = 10, random_state=None,
                            generator=None) -> InjectedSeries:
    """Inject ``n`` labelled anomalies into a clean series.

    Parameters
    ----------
    series : array-like (T,) or (T, C), pandas Series or DataFrame
        The clean (normal) series, finite values only. It is never modified.
    n : int
        Number of anomalies, at least 1.
    kinds : str or sequence of str, optional
        Kinds among :data:`SERIES_KINDS`; None means all of them (without ``channel_break`` on a
        single-channel series). The given kinds are shuffled with the seed, then cycled over the
        ``n`` anomalies, so each appears ``n // len(kinds)`` or one more times.
    length : int or (int, int)
        Segment length, or an inclusive ``(min, max)`` range drawn uniformly. Spikes last 1-3 steps
        whatever this says.
    severity : float
        Positive amplitude multiplier; 1.0 is clearly visible. With ``s`` the clean channel's std
        (1 for a constant channel): spike ``+-4 s * severity``; level shift ``+-2 s * severity``;
        trend a ramp to ``+-3 s * severity``; noise Gaussian of std ``1.5 s * severity``; frequency a
        time warp by ``2 + severity`` or its inverse (always the inverse when the series is too
        short to read ``2 + severity`` times the segment); pattern a far-away stretch scaled by
        ``1 + 0.5 * severity`` around its mean. ``channel_break`` does not depend on it.
    channels : "random", "all", int or list of int
        Channels hit by each anomaly: a random non-empty subset per anomaly, all, or the given ones.
        ``channel_break`` always replaces a single one of them.
    min_gap : int
        Minimum number of clean steps between two segments.
    random_state : int, numpy Generator or None
        Seed; the same seed gives the same result.
    generator : callable, optional
        ``generator(values, start, end, channels, rng)`` returning an array of shape
        ``(end - start, len(channels))`` that replaces the segment for kind ``"pattern"`` (e.g. a
        fitted diffusion inpainting model). ``values`` is a float64 ``(T, C)`` copy of the clean
        series, ``rng`` the numpy Generator of this call.

    Returns
    -------
    InjectedSeries

    Raises
    ------
    ValueError
        On non-finite or non-numeric input, bad parameters, an unknown kind, ``channel_break`` on a
        single channel, a series too short for the requested anomalies, or generator output of the
        wrong shape.

    Notes
    -----
    Positions are drawn uniformly over all non-overlapping placements that respect ``min_gap``
    (the distribution rejection sampling would converge to), by splitting the free steps at random,
    so a placement is always found when the length check passes. Anomalies are computed from the
    clean series, so a copied pattern never contains another anomaly.

    Examples
    --------
    >>> clean = np.sin(2 * np.pi * np.arange(500) / 50)
    >>> out = inject_series_anomalies(clean, n=3, kinds=["spike", "level_shift"], random_state=0)
    >>> out.values.shape, out.labels.shape, len(out.segments)
    ((500,), (500,), 3)
    >>> int(out.labels.sum()) == sum(s["end"] - s["start"] for s in out.segments)
    True
    >>> bool(np.array_equal(out.values[out.labels == 0], clean[out.labels == 0]))
    True
    """
    x, univariate = _check_series(series)
    T, C = x.shape
    n = _check_int(n, "n", 1)
    min_gap = _check_int(min_gap, "min_gap", 0)
    lo, hi = _check_length(length)
    severity = _check_severity(severity)
    kinds = _check_kinds(kinds, C)
    fixed = _check_channels(channels, C)
    if generator is not None and not callable(generator):
        raise ValueError(f"generator must be callable or None, got {type(generator).__name__}")
    _check_room(T, n, kinds, hi, min_gap, copies="channel_break" in kinds
                or ("pattern" in kinds and generator is None))

    rng = np.random.default_rng(random_state)
    shuffled = [kinds[i] for i in rng.permutation(len(kinds))]
    seq = [shuffled[i % len(shuffled)] for i in range(n)]
    lengths = [int(rng.integers(1, SPIKE_MAX_LENGTH + 1)) if k == "spike" else int(rng.integers(lo, hi + 1))
               for k in seq]
    starts = _place(T, lengths, min_gap, rng)

    scale = x.std(axis=0)
    scale[~(scale > 0)] = 1.0  # constant channel: amplitudes in absolute units
    out = x.copy()
    labels = np.zeros(T, dtype=np.int64)
    segments = []
    for i in np.argsort(starts, kind="stable"):
        kind, start = seq[i], starts[i]
        end = start + lengths[i]
        if fixed is None:
            chans = sorted(int(c) for c in rng.choice(C, size=int(rng.integers(1, C + 1)), replace=False))
        else:
            chans = list(fixed)
        if kind == "channel_break":  # one channel only: moving all of them together keeps their dependence
            chans = [int(rng.choice(chans))]
        out[start:end, chans] = _segment(kind, x, start, end, chans, scale[chans], severity, rng, generator)
        labels[start:end] = 1
        segments.append({"start": int(start), "end": int(end), "kind": kind, "channels": chans,
                         "severity": severity})
    return InjectedSeries(values=out[:, 0] if univariate else out, labels=labels, segments=segments)


# --- the kinds ------------------------------------------------------------------------------------------
def _segment(kind, x, start, end, chans, scale, severity, rng, generator):
    """New values ``(end - start, len(chans))`` of the segment, computed from the clean series ``x``."""
    T, L, k = len(x), end - start, len(chans)
    clean = x[start:end, chans]
    if kind == "spike":
        return clean + rng.choice([-1.0, 1.0], size=k) * SPIKE_SCALE * severity * scale
    if kind == "level_shift":
        return clean + rng.choice([-1.0, 1.0], size=k) * LEVEL_SHIFT_SCALE * severity * scale
    if kind == "trend":
        # starts one step up the ramp, so the first labelled step already differs
        ramp = (np.arange(1, L + 1) / L)[:, None]
        return clean + ramp * rng.choice([-1.0, 1.0], size=k) * TREND_SCALE * severity * scale
    if kind == "noise":
        return clean + rng.normal(size=(L, k)) * NOISE_SCALE * severity * scale
    if kind == "frequency":
        return _time_warp(x, start, end, chans, severity, rng)
    if kind == "pattern" and generator is not None:
        new = generator(x.copy(), int(start), int(end), list(chans), rng)
        try:
            new = np.asarray(new, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("generator must return a numeric array") from None
        if new.shape != (L, k):
            raise ValueError(f"generator returned shape {new.shape}; expected (end - start, len(channels)) "
                             f"= {(L, k)}")
        if not np.isfinite(new).all():
            raise ValueError("generator returned non-finite values (NaN or inf)")
        return new
    # pattern, channel_break: a far-away stretch of the same channels, locally plausible, wrong in context
    gain = 1.0 + 0.5 * severity if kind == "pattern" else 1.0
    s = _far_start(T, L, start, rng)
    src = x[s:s + L, chans]
    mid = src.mean(axis=0)
    new = mid + gain * (src - mid)
    # enter the segment with the source's own (scaled) step, so there is no jump at the start
    if start == 0:
        target = x[0, chans]
    elif s == 0:
        target = x[start, chans]
    else:
        target = x[start - 1, chans] + gain * (x[s, chans] - x[s - 1, chans])
    return new + (target - new[0])


def _time_warp(x, start, end, chans, severity, rng):
    """The segment resampled at ``2 + severity`` times (or that fraction of) the original speed."""
    T, L = len(x), end - start
    f = 2.0 + severity
    # a speed-up needs f times the segment's span of series; slow down when that is not there
    if rng.random() < 0.5 or f * (L - 1) > T - 1:
        f = 1.0 / f
    span = f * (L - 1)
    # anchored on the segment start (or its end near the right edge) so one boundary has no jump
    if start + span <= T - 1:
        t0 = float(start)
    elif end - 1 - span >= 0:
        t0 = end - 1 - span
    else:
        t0 = T - 1 - span
    t = t0 + f * np.arange(L)
    steps = np.arange(T)
    return np.column_stack([np.interp(t, steps, x[:, c]) for c in chans])


def _far_start(T, L, start, rng):
    """Uniform start ``s`` of a source window ``[s, s + L)`` with ``|s - start| >= FAR_AWAY * L``."""
    d = FAR_AWAY * L
    n_left = max(0, start - d + 1)             # s in [0, start - d]
    n_right = max(0, (T - L) - (start + d) + 1)  # s in [start + d, T - L]
    if n_left + n_right == 0:  # excluded by _check_room
        raise ValueError(f"no window of {L} steps at least {d} steps away from step {start} in {T} steps")
    u = int(rng.integers(n_left + n_right))
    return u if u < n_left else start + d + (u - n_left)


def _place(T, lengths, min_gap, rng):
    """Starts of non-overlapping segments ``min_gap`` apart, uniform over all such placements.

    A uniform random order of the segments, then the ``free`` spare steps split into ``n + 1``
    gaps uniformly (stars and bars: ``n`` bars among ``free + n`` slots).
    """
    n = len(lengths)
    free = T - sum(lengths) - (n - 1) * min_gap
    slack = np.sort(rng.choice(free + n, size=n, replace=False)) - np.arange(n)
    starts = [0] * n
    used = 0
    for rank, i in enumerate(rng.permutation(n)):
        starts[i] = int(slack[rank]) + used
        used += lengths[i] + min_gap
    return starts


# --- checks -------------------------------------------------------------------------------------------
def _check_series(series):
    if hasattr(series, "to_numpy") and not isinstance(series, np.ndarray):  # pandas Series / DataFrame
        try:
            series = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as e:
            raise ValueError(f"series must be numeric: {e}") from None
    try:
        x = np.array(series, dtype=np.float64)  # a copy: the input is never written to
    except (TypeError, ValueError):
        raise ValueError("series must be a numeric array of shape (T,) or (T, C)") from None
    if x.ndim not in (1, 2):
        raise ValueError(f"series must be (T,) or (T, C), got shape {x.shape}")
    univariate = x.ndim == 1
    if univariate:
        x = x[:, None]
    if x.size == 0:
        raise ValueError(f"series is empty: shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        t, c = np.argwhere(bad)[0]
        what = "NaN" if np.isnan(x[t, c]) else "inf"
        raise ValueError(f"series contains {int(bad.sum())} non-finite values (NaN or inf); first is {what} at "
                         f"step {t}, channel {c}. The clean series must be finite")
    return np.ascontiguousarray(x), univariate


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_length(length):
    if isinstance(length, numbers.Integral) and not isinstance(length, bool):
        length = (length, length)
    try:
        lo, hi = length
    except (TypeError, ValueError):
        raise ValueError(f"length must be an int or an inclusive (min, max) pair, got {length!r}") from None
    lo, hi = _check_int(lo, "length min", 1), _check_int(hi, "length max", 1)
    if hi < lo:
        raise ValueError(f"length range is empty: min {lo} > max {hi}")
    return lo, hi


def _check_severity(severity):
    try:
        severity = float(severity)
    except (TypeError, ValueError):
        raise ValueError(f"severity must be a number, got {severity!r}") from None
    if not (np.isfinite(severity) and severity > 0):
        raise ValueError(f"severity must be a finite number > 0, got {severity}")
    return severity


def _check_kinds(kinds, C):
    if kinds is None:
        return [k for k in SERIES_KINDS if C >= 2 or k != "channel_break"]
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if not kinds:
        raise ValueError(f"kinds is empty; choose among {list(SERIES_KINDS)} or pass None for all")
    unknown = [k for k in kinds if k not in SERIES_KINDS]
    if unknown:
        raise ValueError(f"unknown anomaly kind(s) {unknown}; valid kinds are {list(SERIES_KINDS)}")
    if "channel_break" in kinds and C < 2:
        raise ValueError("kind 'channel_break' needs at least 2 channels; the series has 1")
    return [str(k) for k in kinds]


def _check_channels(channels, C):
    """None for "random", else the sorted list of channels every anomaly uses."""
    if isinstance(channels, str):
        if channels == "random":
            return None
        if channels == "all":
            return list(range(C))
        raise ValueError(f"channels must be 'random', 'all' or a list of channel indices, got {channels!r}")
    items = [channels] if isinstance(channels, numbers.Integral) else channels
    try:
        items = list(items)
    except TypeError:
        raise ValueError(f"channels must be 'random', 'all' or a list of channel indices, got {channels!r}") from None
    if not items:
        raise ValueError("channels is an empty list")
    for c in items:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 0 <= c < C:
            raise ValueError(f"channel {c!r} is not an index in [0, {C}) of the series' {C} channel(s)")
    return sorted({int(c) for c in items})


def _check_room(T, n, kinds, hi, min_gap, copies):
    longest = max(SPIKE_MAX_LENGTH if k == "spike" else hi for k in kinds)
    needed = n * longest + (n - 1) * min_gap
    if T < needed:
        raise ValueError(f"series has {T} steps; {n} anomalies of up to {longest} steps with min_gap={min_gap} "
                         f"need at least {needed} steps. Lower n, length or min_gap")
    if copies and T < (2 * FAR_AWAY + 1) * hi:
        raise ValueError(f"series has {T} steps; kinds 'pattern' and 'channel_break' copy a window at least "
                         f"{FAR_AWAY} segment lengths away and need at least {(2 * FAR_AWAY + 1) * hi} steps "
                         f"with segments of up to {hi} steps. Lower length or leave these kinds out")
