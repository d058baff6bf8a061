"""Diffusion detectors for series: one masked window denoiser, three ways to score it.

``series-recon``    noise the whole window to a level, denoise, error per step;
``series-impute``   hide complementary groups of steps, impute each from the rest (ImDiffusion's idea);
``series-forecast`` hide the last ``horizon`` steps of each window, generate them from the history;
(``series``, the recommended default, is the training-free window detector in ``series_default``.)

Windows of ``window`` steps are cut from the series at ``stride``; a step's score is the mean of its
windows' errors, each channel's error divided by its typical error on the training series. Scores
come one per step (same length as the input), higher = more anomalous.
"""
from __future__ import annotations

import numpy as np
import torch

from ..._torch import resolve_device, seed_of, seeded
from ..._validation import check_series
from ...modalities import get_modality
from ...data.windows import fold, grid_starts, window_view
from ...diffusion import NoiseSchedule, TrainConfig, net_state, noise_loss, restore_net, train
from ...nets import TemporalConvNet
from ...scores.fusion import RobustZ, fuse
from ...scores.series import forecast_errors, forecast_mask, grating_masks, imputation_errors, reconstruction_errors
from ..._params import RENAMED, store_params
from ..base import Fitted
from .base import SeriesBase

__all__ = ["SeriesDiffusionDetector", "SeriesRecon", "SeriesImpute", "SeriesForecast", "SeriesStream"]

_MODES = ("recon", "impute", "forecast")


class SeriesDiffusionDetector(SeriesBase):
    """Window diffusion detector for a series ``(T,)`` or ``(T, channels)``.

    Parameters
    ----------
    scoring : ``"recon"``, ``"impute"``, ``"forecast"`` or a tuple of them (their normalised scores are
        averaged). The network is trained on the masks these modes use.
    window : steps per window. stride : scoring stride (default ``window // 2``; forecasting always
        uses ``horizon``). train_stride : stride of the training windows.
    noise_level : fraction of the diffusion chain that reconstruction and imputation start from.
    steps : DDIM steps per denoising. n_masks, block : imputation groups and their block length
        (default ``window // 8``). horizon : forecast length (default ``window // 4``).
    contamination : share of calibration steps above ``threshold_`` (``predict``).
    calibration : share of the training series, at its end, held out of training: error scales,
        score normalisation and ``threshold_`` come from these unseen steps (in-sample errors of a
        network trained on a few hundred steps are too small). 0 uses the whole series.
    smooth : trailing moving average of the per-step score over this many steps (1 = none).
    fill : None (NaN raises), ``"ffill"`` or ``"interpolate"``.

    Example
    -------
    >>> t = np.arange(3000)
    >>> x = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=3000)
    >>> x[2500:2510] += 3.0
    >>> det = SeriesImpute(window=64, max_steps=300, random_state=0).fit(x[:2000])
    >>> s = det.decision_function(x)
    >>> bool(s[2500:2510].mean() > np.quantile(s[:2000], 0.99))
    True
    """

    name = "series-base"
    # the network trains on the first 1 - calibration of the fitted steps, the rest are held out
    training_scores = "in-sample (held out for the last `calibration` share)"
    _default_score: tuple = ("impute",)
    _renamed_params = RENAMED  # ``score`` -> ``scoring`` (the old name hid ``score()`` from scikit-learn)

    def __init__(self, scoring=None, window: int = 64, stride: int | None = None, train_stride: int = 1,
                 max_train_windows: int = 20000, noise_level: float = 0.4, steps: int = 3, n_masks: int = 2,
                 block: int | None = None, horizon: int | None = None, width: int = 32, depth: int = 4,
                 max_steps: int = 1500, epochs: int = 200, batch_size: int = 64, lr: float = 2e-3,
                 schedule: str = "linear", n_steps: int = 1000, contamination: float = 0.01, calibration: float = 0.2,
                 smooth: int = 1, fill: str | None = None,
                 random_state=None, device: str = "cpu", score_batch_size: int = 512, verbose: bool = False):
        store_params(self, locals())

    # --- parameters -----------------------------------------------------------------------------
    def _modes(self) -> tuple:
        s = self._default_score if self.scoring is None else self.scoring
        modes = (s,) if isinstance(s, str) else tuple(s)
        bad = [m for m in modes if m not in _MODES]
        if not modes or bad:
            raise ValueError(f"scoring must be one or more of {_MODES}, got {self.scoring!r}")
        return modes

    def _check_params(self):
        self._modes()
        if int(self.window) < 8:
            raise ValueError(f"window must be >= 8 steps, got {self.window}")
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination}")
        if not 0.0 < float(self.noise_level) <= 1.0:
            raise ValueError(f"noise_level must be a fraction in (0, 1], got {self.noise_level}")
        if not 1 <= self._horizon() < int(self.window):
            raise ValueError(f"horizon must be in [1, window), got {self._horizon()}")
        if int(self.n_masks) < 2:
            raise ValueError(f"n_masks must be >= 2, got {self.n_masks}")
        if not 0.0 <= float(self.calibration) < 1.0:
            raise ValueError(f"calibration must be a fraction in [0, 1), got {self.calibration}")
        if int(self.smooth) < 1:
            raise ValueError(f"smooth must be >= 1, got {self.smooth}")
        if self.stride is not None and not 1 <= int(self.stride) <= int(self.window):
            raise ValueError(f"stride must be in [1, window], got {self.stride}")

    def _horizon(self) -> int:
        return int(self.horizon) if self.horizon is not None else max(1, int(self.window) // 4)

    def _block(self) -> int:
        return int(self.block) if self.block is not None else max(1, int(self.window) // 8)

    def _stride(self, mode: str) -> int:
        if mode == "forecast":
            return self._horizon()
        return int(self.stride) if self.stride is not None else max(1, int(self.window) // 2)

    # --- fit ------------------------------------------------------------------------------------
    def _fit(self, arr):
        """Fit on a validated (mostly) normal series ``(T, channels)``."""
        self.center_ = np.median(arr, axis=0)
        iqr = np.subtract(*np.percentile(arr, [75, 25], axis=0)) / 1.349
        std = arr.std(axis=0)
        self.scale_ = np.where(iqr > 1e-8, iqr, np.where(std > 1e-8, std, 1.0))
        Z = (arr - self.center_) / self.scale_
        self.seed_ = seed_of(self.random_state)
        self.device_ = resolve_device(self.device)
        self.schedule_ = NoiseSchedule(self.schedule, self.n_steps)
        L, C = int(self.window), self.n_channels_
        n_fit = len(Z) - int(round(float(self.calibration) * len(Z)))
        if n_fit < 2 * L:  # too short to hold steps out: calibrate in-sample
            n_fit = len(Z)
        self.n_fit_ = n_fit
        starts = grid_starts(n_fit, L, max(1, int(self.train_stride)))
        rng = np.random.default_rng(self.seed_)
        if len(starts) > self.max_train_windows:  # training subsamples windows to a cap; scoring never does
            starts = np.sort(rng.choice(starts, int(self.max_train_windows), replace=False))
        windows = torch.as_tensor(window_view(Z, starts, L), dtype=torch.float32)
        with seeded(self.seed_):
            net = TemporalConvNet(C, cond_channels=2 * C, width=self.width, depth=self.depth)
        config = TrainConfig(epochs=self.epochs, max_steps=self.max_steps, batch_size=self.batch_size, lr=self.lr)
        self.net_, self.train_result_ = train(net, [windows], self._loss(), config, seed=self.seed_,
                                              device=self.device_, progress=self.verbose, desc=self.name)
        self.net_.eval()
        self._make_noise()
        # channel error scales, score normalisation and threshold from the held-out end of the series
        cal = slice(n_fit, len(Z)) if n_fit < len(Z) else slice(0, len(Z))
        self.channel_scale_ = {m: np.ones(C) for m in self._modes()}
        raw = {m: self._position_errors(Z, m) for m in self._modes()}
        for m, (errs, wts) in raw.items():
            starts_m = grid_starts(len(Z), L, self._stride(m))
            step = starts_m[:, None] + np.arange(L)[None, :]
            w = wts * ((step >= cal.start) & (step < cal.stop))
            per_channel = (errs * w[:, None, :]).sum(axis=(0, 2)) / max(w.sum(), 1.0)
            self.channel_scale_[m] = np.where(per_channel > 1e-12, per_channel, 1.0)
        self.mode_center_, self.mode_scale_ = {}, {}
        per_mode = {m: self._fold_mode(Z, m, raw[m]) for m in self._modes()}
        for m, sc in per_mode.items():
            q25, q50, q75 = np.percentile(sc[cal], [25, 50, 75])
            self.mode_center_[m], self.mode_scale_[m] = float(q50), float(q75 - q25) if q75 > q25 else 1.0
        return Fitted(self._smooth(self._combine(per_mode)), cal)

    def _loss(self):
        sched, modes = self.schedule_, self._modes()
        L, C = int(self.window), self.n_channels_
        candidates = []
        if "recon" in modes:
            candidates.append(torch.zeros(1, C, L))
        if "impute" in modes:
            candidates.append(grating_masks(C, L, int(self.n_masks), self._block()))
        if "forecast" in modes:
            candidates.append(forecast_mask(C, L, self._horizon())[None])
        bank = torch.cat(candidates)

        def loss(model, batch, gen):
            x0 = batch[0]
            # a mask per window (1 = observed); the loss counts the hidden steps, which the network
            # denoises seeing the observed ones as a condition
            hidden = lambda g: 1.0 - bank[torch.randint(0, len(bank), (x0.shape[0],), generator=g)].to(x0)  # noqa: E731
            cond = lambda h: torch.cat([x0 * (1.0 - h), 1.0 - h], dim=1)  # noqa: E731
            return noise_loss(model, sched, x0, gen, mask=hidden, cond=cond)

        return loss

    def _make_noise(self):
        g = torch.Generator().manual_seed(self.seed_ + 7919)
        self.noise_ = torch.randn((self.n_channels_, int(self.window)), generator=g)

    # --- scoring --------------------------------------------------------------------------------
    def _window_errors(self, windows: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """``(errors (n, C, L), weights (n, L))`` for windows ``(n, C, L)`` of the scaled series."""
        sched, L, C = self.schedule_, int(self.window), self.n_channels_
        t_start = sched.t_from_fraction(float(self.noise_level))
        out = []
        with torch.no_grad():
            for i in range(0, len(windows), int(self.score_batch_size)):
                x0 = torch.as_tensor(windows[i : i + int(self.score_batch_size)], dtype=torch.float32,
                                     device=self.device_)
                if mode == "recon":
                    e = reconstruction_errors(self.net_, sched, x0, t_start, int(self.steps), self.noise_)
                elif mode == "impute":
                    masks = grating_masks(C, L, int(self.n_masks), self._block())
                    e = imputation_errors(self.net_, sched, x0, masks, t_start, int(self.steps), self.noise_)
                else:
                    e = forecast_errors(self.net_, sched, x0, self._horizon(), int(self.steps), self.noise_)
                out.append(e.double().cpu().numpy())
        errs = np.concatenate(out) if out else np.zeros((0, C, L))
        weights = np.ones((len(errs), L))
        if mode == "forecast":
            weights[:, : L - self._horizon()] = 0.0
        return errs, weights

    def _position_errors(self, Z, mode):
        starts = grid_starts(len(Z), int(self.window), self._stride(mode))
        return self._window_errors(window_view(Z, starts, int(self.window)), mode)

    def _per_position(self, errs, mode):
        return (errs / self.channel_scale_[mode][None, :, None]).mean(axis=1)

    def _fold_mode(self, Z, mode, computed=None):
        """Per-step score of one mode over the whole (scaled) series ``Z``: grid windows, then one
        end-aligned window for the steps after the grid."""
        L, T, stride = int(self.window), len(Z), self._stride(mode)
        starts = grid_starts(T, L, stride)
        errs, wts = computed if computed is not None else self._window_errors(window_view(Z, starts, L), mode)
        sums, counts = fold(self._per_position(errs, mode), wts, starts, T)
        return self._finish(Z, mode, sums, counts, starts[-1] + L if len(starts) else 0)

    def _finish(self, Z, mode, sums, counts, covered_until, offset=0, z_base=0):
        """Add the end-aligned window for the steps from ``covered_until`` on (global indices;
        ``sums[0]`` is step ``offset``, ``Z[0]`` is step ``z_base``); steps that no window scores
        (a forecast's first history) get the median training score."""
        L = int(self.window)
        end = offset + len(sums)
        if covered_until < end:
            tail = end - L
            errs, wts = self._window_errors(window_view(Z, np.array([tail - z_base]), L), mode)
            wts[:, : max(0, covered_until - tail)] = 0.0
            s2, c2 = fold(self._per_position(errs, mode), wts, np.array([tail]), len(sums), offset)
            sums, counts = sums + s2, counts + c2
        out = np.full(len(sums), np.nan)
        ok = counts > 0
        out[ok] = sums[ok] / counts[ok]
        fill = getattr(self, "mode_center_", {}).get(mode)
        out[~ok] = fill if fill is not None else (np.median(out[ok]) if ok.any() else 0.0)
        return out

    def _combine(self, per_mode: dict) -> np.ndarray:
        modes = self._modes()
        z = {m: RobustZ(self.mode_center_[m], self.mode_scale_[m]) for m in modes}
        return fuse({m: per_mode[m] for m in modes}, z=z)

    def _input(self, X, fitting: bool):
        return self._series(X, fitting, min_length=int(self.window))

    def _score(self, arr):
        """One anomaly score per step (same length), higher = more anomalous."""
        Z = self._scaled(arr)
        return self._smooth(self._combine({m: self._fold_mode(Z, m) for m in self._modes()}))

    def _scaled(self, arr):
        return (arr - self.center_) / self.scale_

    def _explain_model(self, arr):
        return self._per_channel_smooth(self._channel_errors(arr))

    def _channel_errors(self, arr: np.ndarray) -> np.ndarray:
        """Per-channel version of ``_fold_mode`` and ``_combine``; summed over channels it is the
        unsmoothed score plus ``mean(center / scale)`` over the modes (steps no window of a mode
        covers get 0 from it)."""
        Z = self._scaled(arr)
        T, L, C = len(Z), int(self.window), self.n_channels_
        modes = self._modes()
        total = np.zeros((T, C))
        for m in modes:
            starts = grid_starts(T, L, self._stride(m))
            sums, counts = np.zeros((T, C)), np.zeros(T)
            covered = int(starts[-1]) + L if len(starts) else 0
            windows = [(starts, None)]
            if covered < T:  # the end-aligned window for the steps after the grid, as _finish adds it
                windows.append((np.array([T - L]), max(0, covered - (T - L))))
            for st, skip in windows:
                errs, wts = self._window_errors(window_view(Z, st, L), m)
                if skip is not None:
                    wts[:, :skip] = 0.0
                per = errs / self.channel_scale_[m][None, :, None]
                for c in range(C):
                    s, cnt = fold(per[:, c, :], wts, st, T)
                    sums[:, c] += s
                counts += cnt
            ok = counts > 0
            contrib = np.zeros((T, C))
            contrib[ok] = sums[ok] / counts[ok, None]
            total += contrib / (C * self.mode_scale_[m])
        return total / len(modes)

    def sample(self, n: int, steps: int | None = None, sampler: str = "ddpm", random_state=None) -> np.ndarray:
        """``n`` new windows ``(n, window, channels)`` in the units of the training series, drawn with
        the ancestral chain over all timesteps (or ``steps`` DDIM/DDPM steps). Whole windows are
        what the ``recon`` mode learns: the model must have been fitted with ``"recon"`` among its
        scores (``series-recon``). Anomalous series come from ``adgdm.inject_series_anomalies``.

        Example
        -------
        >>> x = np.sin(np.arange(2000) / 8.0)
        >>> det = SeriesRecon(window=32, max_steps=100, random_state=0).fit(x)
        >>> det.sample(3, steps=10, random_state=0).shape
        (3, 32, 1)
        """
        from ...generation.sampling import reverse

        self._check_fitted()
        if "recon" not in self._modes():
            raise ValueError(f"sampling whole windows needs a model trained on them: this one learned "
                             f"{self._modes()}; fit with scoring including 'recon' (series-recon)")
        if isinstance(n, bool) or int(n) != n or int(n) < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        steps = self.schedule_.n_steps if steps is None else int(steps)
        if steps < 1:
            raise ValueError(f"steps must be >= 1 (or None for all {self.schedule_.n_steps}), got {steps}")
        C, L = self.n_channels_, int(self.window)
        gen = torch.Generator().manual_seed(seed_of(random_state))
        out = []
        for i in range(0, int(n), int(self.score_batch_size)):
            m = min(int(self.score_batch_size), int(n) - i)
            zeros = torch.zeros((m, 2 * C, L), device=self.device_)  # nothing known: the recon mask
            x_T = torch.randn((m, C, L), generator=gen)
            x0 = reverse(lambda x, t: self.net_(x, t, zeros), self.schedule_, x_T, self.schedule_.n_steps - 1,
                         steps, gen, sampler=sampler, clip=10.0)
            out.append(x0.double().cpu().numpy())
        Z = np.concatenate(out).transpose(0, 2, 1)  # (n, L, C)
        return Z * self.scale_ + self.center_

    def stream(self) -> "SeriesStream":
        """An online scorer: ``update(new_points)`` returns the scores of the steps that became final,
        ``flush()`` the rest. Concatenated, they equal ``decision_function`` of the whole series."""
        self._check_fitted()
        return SeriesStream(self)

    # --- persistence ----------------------------------------------------------------------------
    def _get_state(self):
        meta, arrays = net_state(self.net_, self.schedule_)
        meta.update({"seed_": self.seed_, "mode_center_": self.mode_center_, "mode_scale_": self.mode_scale_})
        arrays.update({f"channel_scale.{m}": self.channel_scale_[m] for m in self._modes()})
        return meta, arrays

    def _set_state(self, f: dict, arrays: dict) -> None:
        self.seed_ = int(f["seed_"])
        self.mode_center_ = {k: float(v) for k, v in f["mode_center_"].items()}
        self.mode_scale_ = {k: float(v) for k, v in f["mode_scale_"].items()}
        self.channel_scale_ = {m: arrays[f"channel_scale.{m}"] for m in self._modes()}
        self.device_ = resolve_device(self.device)
        # RuntimeError on missing or misshapen weights
        self.net_, self.schedule_ = restore_net(f, arrays, self.device_)
        self._make_noise()


class SeriesStream:
    """Online scoring for a fitted series detector (see ``SeriesDiffusionDetector.stream``).

    A step's score is final once every grid window that covers it is complete, at most
    ``window - stride`` steps after it arrives; ``update`` returns those scores in order.
    """

    def __init__(self, det: SeriesDiffusionDetector):
        self.det = det
        self.modes = det._modes()
        self.L = int(det.window)
        self.n = 0                      # steps received
        self.emitted = 0                # steps whose score was returned
        self.base = 0                   # global index of buffer[0]
        self.buffer = np.zeros((0, det.n_channels_))
        self.next_start = {m: 0 for m in self.modes}
        self.history = np.zeros(0)      # last unsmoothed scores, for the trailing mean
        self.sums = {m: np.zeros(0) for m in self.modes}    # pending steps from `emitted` on
        self.counts = {m: np.zeros(0) for m in self.modes}

    def update(self, points) -> np.ndarray:
        """Append ``points`` (``(k,)`` or ``(k, channels)``) and return the newly final scores."""
        arr, _ = check_series(points, self.det.n_channels_, None, fill=self.det.fill, what="points")
        arr = get_modality("series").bound(self.det, arr, False, what="points")  # as in batch scoring
        Z = (arr - self.det.center_) / self.det.scale_
        self.buffer = np.concatenate([self.buffer, Z])
        self.n += len(Z)
        for m in self.modes:
            grow = self.n - self.emitted - len(self.sums[m])
            self.sums[m] = np.concatenate([self.sums[m], np.zeros(grow)])
            self.counts[m] = np.concatenate([self.counts[m], np.zeros(grow)])
            stride = self.det._stride(m)
            starts = np.arange(self.next_start[m], self.n - self.L + 1, stride, dtype=np.int64)
            if len(starts):
                errs, wts = self.det._window_errors(window_view(self.buffer, starts - self.base, self.L), m)
                s, c = fold(self.det._per_position(errs, m), wts, starts, len(self.sums[m]), self.emitted)
                self.sums[m] += s
                self.counts[m] += c
                self.next_start[m] = int(starts[-1]) + stride
        # final: steps before every mode's next grid window start
        final = min(min(self.next_start[m] for m in self.modes), self.n)
        return self._emit(final)

    def _emit(self, upto: int) -> np.ndarray:
        k = upto - self.emitted
        if k <= 0:
            return np.zeros(0)
        per_mode = {}
        for m in self.modes:
            s, c = self.sums[m][:k], self.counts[m][:k]
            out = np.full(k, np.nan)
            out[c > 0] = s[c > 0] / c[c > 0]
            out[c == 0] = self.det.mode_center_[m]
            per_mode[m] = out
            self.sums[m], self.counts[m] = self.sums[m][k:], self.counts[m][k:]
        self.emitted = upto
        keep_from = min(min(self.next_start.values()), max(0, self.n - self.L))
        if keep_from > self.base:
            self.buffer = self.buffer[keep_from - self.base :]
            self.base = keep_from
        return self._smoothed(self.det._combine(per_mode))

    def _smoothed(self, combined: np.ndarray) -> np.ndarray:
        out = self.det._smooth(combined, self.history)
        self.history = np.concatenate([self.history, combined])[-max(1, int(self.det.smooth) - 1):]
        return out

    def flush(self) -> np.ndarray:
        """Score the remaining steps (as ``decision_function`` scores the end of a series)."""
        if self.n < self.L:
            raise ValueError(f"the stream has {self.n} steps, fewer than the window length {self.L}")
        k = self.n - self.emitted
        if k <= 0:
            return np.zeros(0)
        per_mode = {}
        for m in self.modes:
            stride = self.det._stride(m)
            covered = self.next_start[m] - stride + self.L if self.next_start[m] > 0 else 0
            per_mode[m] = self.det._finish(self.buffer, m, self.sums[m][:k], self.counts[m][:k], covered,
                                           offset=self.emitted, z_base=self.base)
        self.emitted = self.n
        return self._smoothed(self.det._combine(per_mode))


def _variant(name: str, score: tuple, doc: str):
    cls = type(name.title().replace("-", ""), (SeriesDiffusionDetector,), {"name": name, "_default_score": score,
                                                                            "__doc__": doc})
    return cls


SeriesRecon = _variant("series-recon", ("recon",), "Reconstruction from partial noise (``series-recon``).")
SeriesImpute = _variant("series-impute", ("impute",), "Complementary-mask imputation (``series-impute``).")
SeriesForecast = _variant("series-forecast", ("forecast",), "Forecast of the next horizon (``series-forecast``).")
