"""``ddpm``: a DDPM trained on normal rows; scores by reconstruction from partial noise or by the
noise-prediction error / variational bound."""
from __future__ import annotations

import numpy as np

from ...diffusion import denoising_loss
from ...scores import elbo_score, noise_error_score, reconstruction_score
from .._neural import NeuralDetector
from ..._params import RENAMED, store_params

SCORES = ("reconstruction", "noise", "elbo")


class DDPMDetector(NeuralDetector):
    """Diffusion (DDPM) anomaly detector for vectors.

    ``scoring="reconstruction"`` noises each row to the levels ``noise_levels`` (fractions of the
    chain), denoises back with ``steps`` DDIM (or DDPM) steps and scores the squared distance,
    averaged over levels and ``n_repeats`` noises. ``scoring="noise"`` scores the noise-prediction
    error at those levels; ``scoring="elbo"`` weights it into the variational bound over every
    ``n_steps // n_elbo_steps``-th step.

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> det = DDPMDetector(max_steps=300, random_state=0).fit(X[y == 1])   # benign = normal
    >>> bool(det.decision_function(X[y == 0]).mean() > det.decision_function(X[y == 1]).mean())
    True
    """

    name = "ddpm"
    _renamed_params = RENAMED  # ``score`` -> ``scoring`` (the old name hid ``score()`` from scikit-learn)

    def __init__(self, scoring: str = "reconstruction", noise_levels: tuple = (0.05, 0.1, 0.2), steps: int = 5,
                 sampler: str = "ddim", n_repeats: int = 4, n_elbo_steps: int = 20, schedule: str = "linear",
                 n_steps: int = 1000, width: int = 128, depth: int = 2, dropout: float = 0.0,
                 epochs: int = 400, max_steps: int | None = 1000, batch_size: int = 256, lr: float = 1e-3,
                 val_fraction: float = 0.0, patience: int = 10, ema_decay: float | None = None,
                 max_train_samples: int | None = 100_000, standardize: bool = True, contamination: float = 0.1,
                 device: str = "cpu", score_batch_size: int = 8192, preprocess: str = "standard",
                 random_state=None, verbose: bool = False):
        store_params(self, locals())

    def _model_space(self, data, fitting: bool = False):
        if fitting:
            from ...data.featuremap import FeatureMap

            # the feature map snaps generated values of discrete columns back to their levels (sample)
            self.featuremap_ = FeatureMap(continuous=self.preprocess).fit(data)
        return super()._model_space(data, fitting)

    def _explain_model(self, arr):
        """Per-feature squared reconstruction error from partial noise over the feature count (a
        row's contributions sum to its score); other scores are explained by occlusion."""
        if self.scoring != "reconstruction":
            return None
        from ...scores import reconstruction_residual

        def fn(x, gen):  # the arguments of _score, per element
            return reconstruction_residual(self.net_, self.schedule_, x, self._timesteps(), self.steps, self.sampler,
                                           self.n_repeats, gen)

        return self._batched(fn, self._transform(arr)) / arr.shape[1]

    def _transform(self, arr: np.ndarray) -> np.ndarray:
        if self.preprocess == "quantile":
            return self.featuremap_.transform(arr)
        return super()._transform(arr)

    def _get_state(self):
        meta, arrays = super()._get_state()
        arrays.update({f"fm.{k}": v for k, v in self.featuremap_.state().items()})
        return meta, arrays

    def _set_state(self, meta, arrays):
        from ...data.featuremap import FeatureMap

        super()._set_state(meta, arrays)
        fm = {k[3:]: v for k, v in arrays.items() if k.startswith("fm.")}
        if fm:
            self.featuremap_ = FeatureMap.from_state(self.preprocess, fm)
        elif self.preprocess == "quantile":
            raise ValueError("the saved model has no feature map")

    def _check_params(self):
        super()._check_params()
        if self.preprocess not in ("standard", "quantile"):
            raise ValueError(f"preprocess must be 'standard' or 'quantile', got {self.preprocess!r}")
        if self.scoring not in SCORES:
            raise ValueError(f"scoring must be one of {SCORES}, got {self.scoring!r}")
        self._check_noise_levels()
        if int(self.steps) < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    def _loss(self):
        return denoising_loss(self._schedule())

    def _score(self, X: np.ndarray) -> np.ndarray:
        net, sched = self.net_, self.schedule_
        if self.scoring == "reconstruction":
            fn = lambda x, gen: reconstruction_score(net, sched, x, self._timesteps(), self.steps,  # noqa: E731
                                                self.sampler, self.n_repeats, gen)
        elif self.scoring == "noise":
            fn = lambda x, gen: noise_error_score(net, sched, x, self._timesteps(), self.n_repeats, gen)  # noqa: E731
        else:
            ts = np.linspace(0, sched.n_steps - 1, self.n_elbo_steps).round().astype(int).tolist()
            fn = lambda x, gen: elbo_score(net, sched, x, ts, self.n_repeats, gen)  # noqa: E731
        return self._batched(fn, X)

    def sample(self, n: int, steps: int | None = None, sampler: str = "ddpm", random_state=None) -> np.ndarray:
        """``n`` new rows from the fitted model, in the units of the training data: the ancestral
        DDPM chain over all timesteps by default, or ``steps`` DDIM/DDPM steps. See
        ``adgdm.generation`` for anomaly synthesis."""
        self._check_fitted()
        from ...generation import sample

        return sample(self, n, steps=steps, sampler=sampler, random_state=random_state)

