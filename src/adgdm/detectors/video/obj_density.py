"""A learned conditional density of object features given a few conditioning columns (issue 31):
a small conditional DDPM over standardised object rows, with the surface of
:class:`~adgdm.scores.EmpiricalDenoiser` that ``video-obj`` uses (``fit``, ``score``, ``residual``,
``state`` / ``from_state``).

The ideal denoiser compares an object with the training objects near it in *all* features; this
model learns ``p(features | conditioning columns)`` (e.g. speed and size given the position
``y, x``), so a speed that is ordinary somewhere in the frame but wrong where the object is
scores high even where training objects are few.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..._torch import seed_of, seeded
from ...diffusion import NoiseSchedule, TrainConfig, net_state, noise_loss, restore_net, train
from ...nets import ResidualMLP
from ...scores import noise_error_residual

__all__ = ["LearnedObjectDensity"]

FORMAT = "adgdm.learned-object-density/1"


class LearnedObjectDensity:
    """Conditional DDPM of the non-conditioning columns of standardised rows ``z`` given the
    columns ``cond_columns``; scores by the denoising error at fixed noise levels.

    Model: a :class:`~adgdm.nets.ResidualMLP` (``hidden`` wide, ``depth`` blocks) predicts the
    noise added to the modelled columns, the conditioning columns entering through its condition
    embedding (FiLM, as the time). It trains on the noise-prediction loss
    (:func:`adgdm.diffusion.noise_loss`) of a linear ``n_steps`` VP schedule, timesteps drawn
    uniformly up to the one of the largest noise level (the only part of the chain scoring
    uses), with Adam and a cosine learning-rate decay for ``epochs`` passes or ``max_steps``
    steps, whichever ends first. ``cond_columns=()`` gives an unconditional model.

    Noise levels: ``noise_levels`` are standard deviations ``sigma`` in the units of ``z``
    (standardised). Each maps to the timestep whose variance-exploding noise scale
    ``sqrt((1 - abar_t) / abar_t)`` is nearest (:meth:`NoiseSchedule.t_from_sigma`): noising
    ``x`` to that step is ``x + sigma * eps`` up to the scale ``sqrt(abar_t)``. (These are not
    the chain fractions that ``EmpiricalDenoiser.noise_levels`` are.)

    Score: :meth:`residual` is the squared denoising error per feature in the units of ``z``,
    ``(x_0 - x_0_hat)^2 = sigma_t^2 (eps - eps_hat)^2``, averaged over the noise levels and
    ``n_draws`` noise draws (0 for the conditioning columns); :meth:`score` sums it over
    features. The draws come from a generator seeded by ``random_state`` anew at every call,
    and each draw is shared by every row (:func:`adgdm.scores.noise.shared_noise`): a row's
    score depends on the row alone, not on its batch or the call. Torch runs on the CPU with the
    caller's thread setting.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.uniform(0, 1, 1000); speed = rng.normal(2 * y, 0.1)
    >>> z = np.c_[y, speed]; z = (z - z.mean(0)) / z.std(0)
    >>> den = LearnedObjectDensity(cond_columns=(0,), max_steps=300, random_state=0).fit(z)
    >>> s = den.score(np.array([[z[0, 0], z[0, 1]], [z[0, 0], z[0, 1] + 2.0]]))
    >>> bool(s[1] > s[0]), den.residual(z[:3]).shape
    (True, (3, 2))
    """

    #: constructor settings, as stored by :meth:`state`
    settings = ("cond_columns", "hidden", "depth", "epochs", "max_steps", "batch_size", "lr", "noise_levels",
                "n_draws", "n_steps", "score_batch_size", "random_state")

    def __init__(self, cond_columns: tuple[int, ...] = (), hidden: int = 128, depth: int = 3, epochs: int = 200,
                 max_steps: int | None = 2000, batch_size: int = 256, lr: float = 2e-3,
                 noise_levels=(0.1, 0.2, 0.3), n_draws: int = 8, n_steps: int = 1000,
                 score_batch_size: int = 8192, random_state=None, verbose: bool = False):
        self.cond_columns = cond_columns
        self.hidden, self.depth = hidden, depth
        self.epochs, self.max_steps, self.batch_size, self.lr = epochs, max_steps, batch_size, lr
        self.noise_levels, self.n_draws, self.n_steps = noise_levels, n_draws, n_steps
        self.score_batch_size, self.random_state, self.verbose = score_batch_size, random_state, verbose

    # --- settings and columns -------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("hidden", "depth", "epochs", "batch_size", "n_draws", "n_steps", "score_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1 (or None), got {self.max_steps}")
        if not float(self.lr) > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        levels = np.atleast_1d(np.asarray(self.noise_levels, dtype=float))
        if levels.size == 0 or not np.isfinite(levels).all() or (levels <= 0).any():
            raise ValueError(f"noise_levels must be noise standard deviations > 0, got {self.noise_levels}")

    def _columns(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """``(cond, modelled)`` column indices of rows with ``d`` columns."""
        cond = [int(c) for c in np.atleast_1d(np.asarray(self.cond_columns, dtype=int))] if len(
            tuple(self.cond_columns)) else []
        bad = [c for c in cond if not 0 <= c < d]
        if bad:
            raise ValueError(f"cond_columns {bad} out of range for rows of {d} columns")
        if len(set(cond)) != len(cond):
            raise ValueError(f"cond_columns repeat a column: {list(self.cond_columns)}")
        rest = [j for j in range(d) if j not in cond]
        if not rest:
            raise ValueError(f"every column of the {d} is a conditioning column; nothing is left to model")
        return np.array(cond, dtype=int), np.array(rest, dtype=int)

    def _rows(self, z, what: str = "z") -> np.ndarray:
        arr = np.asarray(z, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"{what} must be 2-D (rows, columns), got shape {arr.shape}")
        if hasattr(self, "n_features_") and arr.shape[1] != self.n_features_:
            raise ValueError(f"{what} has {arr.shape[1]} columns, the model was fitted on {self.n_features_}")
        if not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
            raise ValueError(f"{what} holds NaN or infinite values (rows {bad[:5].tolist()}"
                             f"{' ...' if len(bad) > 5 else ''}); standardise finite features first")
        return arr

    def _timesteps(self) -> list[int]:
        return [self.schedule_.t_from_sigma(s) for s in np.atleast_1d(np.asarray(self.noise_levels, dtype=float))]

    # --- fit ------------------------------------------------------------------------------------
    def fit(self, z) -> "LearnedObjectDensity":
        """Train on the rows ``z`` (standardised, ``(n, d)`` with ``n >= 2``)."""
        self._check_params()
        for attr in ("n_features_", "net_"):
            self.__dict__.pop(attr, None)
        z = self._rows(z)
        if len(z) < 2:
            raise ValueError(f"LearnedObjectDensity needs at least 2 rows to fit, got {len(z)}")
        cond, rest = self._columns(z.shape[1])
        t0 = time.perf_counter()
        self.seed_ = seed_of(self.random_state)
        self.schedule_ = NoiseSchedule("linear", int(self.n_steps))
        t_max = max(self._timesteps())
        with seeded(self.seed_):
            net = ResidualMLP(len(rest), width=int(self.hidden), depth=int(self.depth), cond_dim=len(cond))
        data = [torch.as_tensor(z[:, rest], dtype=torch.float32)]
        if len(cond):
            data.append(torch.as_tensor(z[:, cond], dtype=torch.float32))
        sched = self.schedule_

        def loss(model, batch, gen):
            return noise_loss(model, sched, batch[0], gen, t_max=t_max, cond=batch[1] if len(batch) > 1 else None)

        config = TrainConfig(epochs=int(self.epochs), max_steps=self.max_steps, batch_size=int(self.batch_size),
                             lr=float(self.lr), lr_schedule="cosine")
        self.net_, self.train_result_ = train(net, data, loss, config, seed=self.seed_, progress=bool(self.verbose),
                                              desc="learned object density", lines=True)
        self.n_features_ = int(z.shape[1])
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # --- scores ---------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("this LearnedObjectDensity is not fitted yet; call fit(z) first")

    @torch.no_grad()
    def residual(self, z) -> np.ndarray:
        """``(n, d)`` squared denoising error per feature in the units of ``z``, averaged over the
        noise levels and draws; 0 in the conditioning columns (class docstring)."""
        self._check_fitted()
        z = self._rows(z)
        cond, rest = self._columns(self.n_features_)
        out = np.zeros(z.shape)
        if not len(z):
            return out
        ts = self._timesteps()
        var = [float(self.schedule_.sigma_ve(t)) ** 2 for t in ts]
        x_all = torch.as_tensor(z[:, rest], dtype=torch.float32)
        c_all = torch.as_tensor(z[:, cond], dtype=torch.float32) if len(cond) else None
        step = int(self.score_batch_size)
        for i in range(0, len(z), step):
            x = x_all[i : i + step]
            c = None if c_all is None else c_all[i : i + step]
            gen = torch.Generator().manual_seed(self.seed_ + 7919)  # the same draws for every batch and call
            # levels one after the other from one generator: the draws of one call over all levels
            res = sum(v * noise_error_residual(self.net_, self.schedule_, x, [t], int(self.n_draws), gen, c)
                      for t, v in zip(ts, var)) / len(ts)
            out[i : i + len(x), rest] = res.numpy()
        return out

    def score(self, z) -> np.ndarray:
        """``(n,)`` denoising error of the rows ``z`` (higher = more abnormal given the
        conditioning columns): :meth:`residual` summed over features."""
        return self.residual(z).sum(axis=1)

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """``(meta, arrays)``: JSON values and the network's weights as numpy arrays (no pickle)
        that :meth:`from_state` restores."""
        self._check_fitted()
        settings = {k: getattr(self, k) for k in self.settings}
        settings["cond_columns"] = [int(c) for c in np.atleast_1d(np.asarray(self.cond_columns, dtype=int))] \
            if len(tuple(self.cond_columns)) else []
        settings["noise_levels"] = [float(v) for v in np.atleast_1d(self.noise_levels)]
        if settings["random_state"] is not None and not isinstance(settings["random_state"], int):
            settings["random_state"] = None  # a generator object is not JSON; seed_ holds what was drawn
        net_meta, arrays = net_state(self.net_, self.schedule_)
        meta = {"format": FORMAT, "settings": settings, "n_features": self.n_features_, "seed_": int(self.seed_),
                **net_meta}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict) -> "LearnedObjectDensity":
        """The model :meth:`state` described; ``ValueError`` naming the mismatch otherwise."""
        fmt = meta.get("format") if isinstance(meta, dict) else None
        if fmt != FORMAT:
            raise ValueError(f"not a LearnedObjectDensity state: format {fmt!r}, expected {FORMAT!r}")
        den = cls(**{k: v for k, v in meta["settings"].items() if k in cls.settings})
        den._check_params()
        d = int(meta["n_features"])
        cond, rest = den._columns(d)
        cfg = meta["net"]["config"]
        if meta["net"]["class"] != "ResidualMLP" or cfg.get("in_dim") != len(rest) or \
                cfg.get("cond_dim") != len(cond):
            raise ValueError(f"stored network ({meta['net']['class']}, {cfg.get('in_dim')} inputs, "
                             f"{cfg.get('cond_dim')} conditions) does not match {len(rest)} modelled and "
                             f"{len(cond)} conditioning columns")
        try:
            den.net_, den.schedule_ = restore_net(meta, arrays, expect="ResidualMLP")
        except RuntimeError as exc:
            raise ValueError(f"stored network weights do not match its configuration: {exc}") from exc
        den.n_features_, den.seed_ = d, int(meta["seed_"])
        return den
