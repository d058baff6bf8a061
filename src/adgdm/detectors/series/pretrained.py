"""``series-pre``: the learned diffusion detector for series that works on a new series without
training (zero-shot), through a window denoiser pretrained across many series
(:mod:`adgdm.pretrained.series`).

Each channel of a window is normalised by the mean and deviation of its *observed* steps and
handed to the univariate pretrained denoiser, which generates the hidden steps (``forecast``:
the last ``horizon`` steps from the history, causal; ``impute``: complementary blocks from the
rest, ImDiffusion's grating masks) from pure noise in ``steps`` DDIM steps, averaged over
``n_samples`` noise draws (an estimate of the posterior mean). A step's evidence is its squared
error, divided by the typical error at its place (lead in the forecast, per channel) on the
training series, averaged over channels. Fitting computes those typical errors only (and, with
``adapt_steps`` > 0, fine-tunes a copy of the network on the training windows first).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..._params import store_params
from ..._torch import seed_of, seeded
from ...modalities import get_modality
from ...data.windows import fold, grid_starts, window_view
from ...diffusion import TrainConfig, net_state, restore_net, train
from ...pretrained.series import FLOOR, _loss, load_series_model, training_masks
from ...scores.series import forecast_mask, grating_masks, normalised_errors, observed_stats
from ..base import Fitted
from .base import SeriesBase

__all__ = ["SeriesPretrained", "SeriesPretrainedStream"]

_MODES = ("forecast", "impute")
_CACHE: dict = {}  # path -> (net, schedule, meta): the shipped weights are read once per process


def _model(path):
    key = str(path)
    if key not in _CACHE:
        _CACHE[key] = load_series_model(path)
    return _CACHE[key]


class SeriesPretrained(SeriesBase):
    """Zero-shot diffusion scores from the pretrained cross-series window denoiser.

    Parameters
    ----------
    mode : ``"forecast"`` (causal: the last ``horizon`` steps of each window generated from its
        history; windows every ``horizon`` steps) or ``"impute"`` (two complementary masks of
        blocks of ``window // 16`` steps; windows every ``window // 2`` steps, non-causal).
    window : steps per window. horizon : forecast length (default ``window // 8``).
    start : fraction of the diffusion chain the hidden steps start from (noise around 0; below the
        end of a cosine chain, where the first clean estimate is stable). steps : DDIM steps per
        generation. n_samples : noise draws averaged per window.
    units : ``"series"`` (errors in units of the series' training scale) or ``"window"`` (in units
        of the window's observed deviation: a z-score of the forecast).
    adapt_steps : optimiser steps fine-tuning a copy of the network on the training windows
        (0 = zero-shot). When > 0, the last ``calibration`` share of the training series is held
        out of the adaptation and the typical errors and ``threshold_`` come from it.
    weights : folder of a model from ``adgdm pretrain series`` (default: the shipped weights).
    smooth : trailing mean of the score over this many steps (a forecast error marks the onset of
        a change; the mean keeps a lasting anomaly flagged). ``units``, ``smooth`` and ``align``
        defaults: its best variant over NAB categories and SKAB folders, the leave-one-group-out
        protocol's choice (``benchmarks/results/series_default_select.md``).
    contamination : share of the calibration scores above ``threshold_``.
    fill : None (NaN raises), ``"ffill"``, ``"interpolate"``.
    align : ``"end"``: the trailing mean (``smooth``) of the errors up to each step; ``"center"``:
        the mean over the ``smooth`` steps centred on it (looks ``(smooth - 1) // 2`` steps ahead,
        and a stream reports it that much later).
    alarm, alarm_depth, alarm_absorb : how ``predict`` flags steps: ``"static"`` (score above
        ``threshold_``) or ``"drift"`` (the drift-aware rule, see ``SeriesDiffusion``).

    Example
    -------
    >>> t = np.arange(3000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=3000)
    >>> x[2500:2510] += 3.0
    >>> det = SeriesPretrained(random_state=0).fit(x[:2000])
    >>> s = det.decision_function(x)
    >>> bool(s[2500:2510].mean() > np.quantile(s[:2000], 0.99))
    True
    """

    name = "series-pre"
    training_scores = "out-of-sample (the network never saw the series; in-sample when adapted)"

    def __init__(self, mode: str = "forecast", window: int = 96, horizon: int | None = None, start: float = 0.9, steps: int = 2,
                 n_samples: int = 2, units: str = "series", adapt_steps: int = 0, adapt_lr: float = 5e-4,
                 calibration: float = 0.2, weights=None, smooth: int = 200, contamination: float = 0.01,
                 fill: str | None = None, align: str = "center", alarm: str = "static", alarm_depth: int = 100, alarm_absorb: int | None = 400,
                 random_state=None, score_batch_size: int = 256):
        store_params(self, locals())

    # --- parameters -------------------------------------------------------------------------------
    def _check_params(self):
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}")
        if self.units not in ("window", "series"):
            raise ValueError(f"units must be 'window' or 'series', got {self.units!r}")
        if int(self.window) < 16:
            raise ValueError(f"window must be >= 16 steps, got {self.window}")
        if not 1 <= self._horizon() < int(self.window):
            raise ValueError(f"horizon must be in [1, window), got {self._horizon()}")
        for name in ("steps", "n_samples", "smooth"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < float(self.start) <= 1.0:
            raise ValueError(f"start must be a fraction in (0, 1], got {self.start}")
        if self.align not in ("end", "center"):
            raise ValueError(f"align must be 'end' or 'center', got {self.align!r}")
        if int(self.adapt_steps) < 0:
            raise ValueError(f"adapt_steps must be >= 0, got {self.adapt_steps}")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if not 0.0 <= float(self.calibration) < 1.0:
            raise ValueError(f"calibration must be a fraction in [0, 1), got {self.calibration}")
        self._drift_rule()

    def _horizon(self) -> int:
        return int(self.horizon) if self.horizon is not None else max(1, int(self.window) // 8)

    def _block(self) -> int:
        return max(1, int(self.window) // 16)

    # --- fit --------------------------------------------------------------------------------------
    def _fit(self, arr):
        """Fit on a validated (mostly) normal series ``(T, channels)``."""
        self.center_ = np.median(arr, axis=0)
        iqr = np.subtract(*np.percentile(arr, [75, 25], axis=0)) / 1.349
        std = arr.std(axis=0)
        self.scale_ = np.where(iqr > 1e-8, iqr, np.where(std > 1e-8, std, 1.0))
        self.seed_ = seed_of(self.random_state)
        net, schedule, meta = _model(self.weights)
        self.weights_sha256_ = str(meta["weights_sha256"])
        self.schedule_ = schedule
        Z = (arr - self.center_) / self.scale_
        L = int(self.window)
        n_fit = len(Z)
        if int(self.adapt_steps) > 0:
            n_fit = len(Z) - int(round(float(self.calibration) * len(Z)))
            if n_fit < 2 * L:
                n_fit = len(Z)
            net = self._adapt(net, schedule, Z[:n_fit])
        self.net_ = net
        self.n_fit_ = n_fit
        g = torch.Generator().manual_seed(self.seed_ + 7919)
        self.noises_ = torch.randn((int(self.n_samples), 1, L), generator=g)
        cal = slice(n_fit, len(Z)) if n_fit < len(Z) else slice(0, len(Z))
        err, lead = self._errors(Z)          # (T, C) raw errors, (T,) place index (-1: not scored)
        self.place_scale_ = np.ones((self._n_places(), self.n_channels_))
        for j in range(self._n_places()):
            rows = np.flatnonzero(lead[cal] == j) + cal.start
            if len(rows):
                med = np.median(err[rows], axis=0)
                self.place_scale_[j] = np.where(med > 1e-12, med, 1.0)
        raw = self._combine(err, lead)
        self.start_score_ = float(np.median(raw[lead >= 0])) if (lead >= 0).any() else 0.0
        raw[lead < 0] = self.start_score_
        return Fitted(self._centre(self._smooth(raw)), cal)

    def _adapt(self, net, schedule, Z):
        L = int(self.window)
        starts = grid_starts(len(Z), L, 1)
        w = window_view(Z, starts, L)                      # (n, C, L)
        w = torch.as_tensor(w.reshape(-1, 1, L), dtype=torch.float32)
        net = copy.deepcopy(net).train()
        config = TrainConfig(epochs=10 ** 6, max_steps=int(self.adapt_steps), batch_size=64, lr=float(self.adapt_lr))
        net, _ = train(net, [w], _loss(schedule, training_masks(L)), config, seed=self.seed_)
        return net.eval()

    def _n_places(self) -> int:
        return self._horizon() if self.mode == "forecast" else 1

    # --- scoring ----------------------------------------------------------------------------------
    def _window_errors(self, windows: np.ndarray, mask: torch.Tensor) -> np.ndarray:
        """``(n, C, L)`` squared errors of the hidden positions of ``windows`` ``(n, C, L)``."""
        n, C, L = windows.shape
        flat = torch.as_tensor(windows.reshape(n * C, 1, L), dtype=torch.float32)
        out = []
        bs = max(1, int(self.score_batch_size))
        with torch.no_grad(), seeded(self.seed_):
            for i in range(0, len(flat), bs):
                x = flat[i:i + bs]
                e = normalised_errors(self.net_, self.schedule_, x, mask, self.schedule_.t_from_fraction(float(self.start)),
                                      int(self.steps), self.noises_, FLOOR)
                if self.units == "series":
                    e = e * observed_stats(x, mask, FLOOR)[1] ** 2
                out.append(e.double().numpy())
        errs = np.concatenate(out) if out else np.zeros((0, 1, L))
        return errs.reshape(n, C, L)

    def _errors(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-step raw errors ``(T, C)`` and each step's place index (the lead in its forecast
        block; 0 for imputation; -1 for the first steps no window scores)."""
        T, C, L = len(Z), Z.shape[1], int(self.window)
        err, place = np.zeros((T, C)), np.full(T, -1)
        if self.mode == "forecast":
            h = self._horizon()
            ends = np.arange(L, T + 1, h)             # windows [e - L, e); their last h steps are forecast
            if len(ends) and ends[-1] < T:
                ends = np.append(ends, T)             # one end-aligned window for the rest
            if len(ends):
                e = self._window_errors(window_view(Z, ends - L, L), forecast_mask(1, L, h))
                for k, end in enumerate(ends):
                    first = max(end - h, int(ends[k - 1]) if k else 0)
                    err[first:end] = e[k, :, L - (end - first):].T
                    place[first:end] = np.arange(h - (end - first), h)
            return err, place
        starts = grid_starts(T, L, max(1, L // 2))
        if len(starts) and starts[-1] + L < T:
            starts = np.append(starts, T - L)
        masks = grating_masks(1, L, 2, self._block())
        per = sum(self._window_errors(window_view(Z, starts, L), m[None] if m.dim() == 2 else m) for m in masks)
        sums, counts = np.zeros((T, C)), np.zeros(T)
        for c in range(C):
            s, cnt = fold(per[:, c, :], np.ones((len(starts), L)), starts, T)
            sums[:, c], counts = s, cnt
        ok = counts > 0
        err[ok] = sums[ok] / counts[ok, None]
        place[ok] = 0
        return err, place

    def _per_channel(self, err: np.ndarray, place: np.ndarray) -> np.ndarray:
        out = np.zeros_like(err)
        ok = place >= 0
        out[ok] = err[ok] / self.place_scale_[place[ok]]
        return out

    def _combine(self, err, place):
        return self._per_channel(err, place).mean(axis=1)

    def _input(self, X, fitting: bool):
        return self._series(X, fitting, min_length=int(self.window))

    def _score(self, arr):
        err, place = self._errors((arr - self.center_) / self.scale_)
        raw = self._combine(err, place)
        raw[place < 0] = self.start_score_
        return self._centre(self._smooth(raw))

    def _centre(self, smoothed: np.ndarray) -> np.ndarray:
        """``align="center"``: step ``t`` takes the trailing mean ending at ``t + (smooth - 1) // 2``."""
        lag = (int(self.smooth) - 1) // 2 if getattr(self, "align", "end") == "center" else 0
        if not lag or len(smoothed) == 0:
            return smoothed
        return smoothed[np.minimum(np.arange(len(smoothed)) + lag, len(smoothed) - 1)]

    def _explain_model(self, arr):
        err, place = self._errors((arr - self.center_) / self.scale_)
        per = self._per_channel_smooth(self._per_channel(err, place) / self.n_channels_)
        return np.column_stack([self._centre(per[:, c]) for c in range(per.shape[1])])

    def stream(self) -> "SeriesPretrainedStream":
        """Online scorer (``mode="forecast"``): ``update(points)`` returns the scores of the steps
        whose forecast block is complete (at most ``horizon - 1`` steps late; with
        ``align="center"`` another ``(smooth - 1) // 2``); ``flush()`` scores the rest as batch
        scoring does. Their concatenation equals ``decision_function``."""
        self._check_fitted()
        if self.mode != "forecast":
            raise ValueError("stream() needs mode='forecast' (imputation looks ahead by half a window)")
        return SeriesPretrainedStream(self)

    # --- persistence ------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        meta = {"start_score_": self.start_score_, "n_fit_": self.n_fit_, "weights_sha256_": self.weights_sha256_}
        arrays = {"place_scale_": self.place_scale_, "noises_": self.noises_.numpy(), "center_": self.center_,
                  "scale_": self.scale_}
        if int(self.adapt_steps) > 0:  # the adapted copy is this model's own; the shipped one is referenced
            nmeta, narrays = net_state(self.net_, self.schedule_)
            meta["net"] = nmeta
            arrays.update(narrays)
        return meta, arrays

    def _set_state(self, f: dict, arrays: dict) -> None:
        self.start_score_ = float(f["start_score_"])
        self.n_fit_ = int(f["n_fit_"])
        self.place_scale_ = np.asarray(arrays["place_scale_"], dtype=np.float64)
        self.noises_ = torch.as_tensor(np.asarray(arrays["noises_"], dtype=np.float32))
        self.center_ = np.asarray(arrays["center_"], dtype=np.float64)
        self.scale_ = np.asarray(arrays["scale_"], dtype=np.float64)
        self.seed_ = seed_of(self.random_state)
        net, schedule, meta = _model(self.weights)
        if "net" in f:
            net, schedule = restore_net(f["net"], arrays, expect="TemporalConvNet")
        elif str(meta["weights_sha256"]) != f["weights_sha256_"]:
            raise ValueError("the pretrained weights this model was fitted with are not the ones installed "
                             f"(sha256 {f['weights_sha256_'][:12]}..., found {meta['weights_sha256'][:12]}...)")
        self.weights_sha256_ = str(f["weights_sha256_"])
        self.net_, self.schedule_ = net, schedule


class SeriesPretrainedStream:
    """Online scoring for :class:`SeriesPretrained` in forecast mode (see ``stream``)."""

    def __init__(self, det: SeriesPretrained):
        self.det = det
        self.L, self.h = int(det.window), det._horizon()
        self.buffer = np.zeros((0, det.n_channels_))   # the last steps, enough for the next window
        self.base = 0                                    # global index of buffer[0]
        self.n = 0                                       # steps received
        self.emitted = 0                                 # steps whose score was returned
        self.next_end = self.L                           # end of the next forecast block
        self.raw_history = np.zeros(0)
        self.lag = (int(det.smooth) - 1) // 2 if det.align == "center" else 0
        self.pending = np.zeros(0)                       # align="center": smoothed scores not yet reported
        self.n_smoothed = 0
        self.reported = 0
        self.last = None

    def update(self, points) -> np.ndarray:
        """Append ``points`` (``(k,)`` or ``(k, channels)``); return the newly final scores."""
        from ..._validation import check_series

        arr, _ = check_series(points, self.det.n_channels_, None, fill=self.det.fill, what="points")
        arr = get_modality("series").bound(self.det, arr, False, what="points")  # as in batch scoring
        self.buffer = np.concatenate([self.buffer, (arr - self.det.center_) / self.det.scale_])
        self.n += len(arr)
        raw = []
        first_block = self.L - self.h
        if self.emitted < first_block:  # steps before the first forecast block: not judged
            k = min(first_block, self.n) - self.emitted
            raw.append(np.full(k, self.det.start_score_))
            self.emitted += k
        ends = np.arange(self.next_end, self.n + 1, self.h)
        if len(ends):
            raw.append(self._blocks(ends))
            self.emitted = int(ends[-1])
            self.next_end = int(ends[-1]) + self.h
        keep = max(0, self.n - self.L - self.base)  # drop what no future window (nor flush) needs
        self.buffer, self.base = self.buffer[keep:], self.base + keep
        return self._emit(np.concatenate(raw) if raw else np.zeros(0))

    def _blocks(self, ends: np.ndarray) -> np.ndarray:
        det, L, h = self.det, self.L, self.h
        e = det._window_errors(window_view(self.buffer, ends - L - self.base, L), forecast_mask(1, L, h))
        err = e[:, :, L - h:].transpose(0, 2, 1).reshape(-1, det.n_channels_)
        place = np.tile(np.arange(h), len(ends))
        return det._combine(err, place)

    def flush(self) -> np.ndarray:
        """Score the steps after the last complete block with one end-aligned window (as batch
        scoring does at the end of a series)."""
        if self.emitted >= self.n or self.n < self.L:
            rest = np.full(self.n - self.emitted, self.det.start_score_)
            self.emitted = self.n
            return self._emit(rest, final=True)
        det, L, h, k = self.det, self.L, self.h, self.n - self.emitted
        e = det._window_errors(window_view(self.buffer, np.array([self.n - L - self.base]), L), forecast_mask(1, L, h))
        err = e[0, :, L - k:].T
        raw = det._combine(err, np.arange(h - k, h))
        self.emitted = self.n
        return self._emit(raw, final=True)

    def _emit(self, raw: np.ndarray, final: bool = False) -> np.ndarray:
        out = self.det._smooth(raw, self.raw_history)
        self.raw_history = np.concatenate([self.raw_history, raw])[-max(1, int(self.det.smooth) - 1):]
        if not self.lag:
            return out
        # step t reports the trailing mean ending at t + lag (the last steps: the last mean, as batch)
        if len(out):
            self.last = out[-1]
        self.pending = np.concatenate([self.pending, out])
        self.n_smoothed += len(out)
        start = self.reported + self.lag                 # index (in smoothed order) of the next value to report
        first_pending = self.n_smoothed - len(self.pending)
        self.pending = self.pending[max(0, start - first_pending):]
        k = max(0, self.n_smoothed - self.lag - self.reported)
        rep, self.pending = self.pending[:k], self.pending[k:]
        self.reported += k
        if final and self.reported < self.n_smoothed:
            rep = np.concatenate([rep, np.full(self.n_smoothed - self.reported, self.last)])
            self.reported = self.n_smoothed
        return rep
