"""Scores: pure functions ``(model, schedule, x) -> per-sample score`` (higher = more anomalous),
the ideal denoiser of reference rows (``EmpiricalDenoiser``) and the fusion of z-scored parts."""
from .denoiser import EmpiricalDenoiser
from .dte import dte_nonparametric_score, dte_time_grid, expected_time_from_logits, inverse_gamma_mean
from .empirical import MarginalSmoothedNLL, ideal_denoiser_error, ideal_denoiser_residual, posterior_mean, smoothed_nll
from .fusion import RobustZ, fuse
from .noise import elbo_score, noise_error_residual, noise_error_score
from .reconstruction import reconstruction_residual, reconstruction_score

__all__ = ["EmpiricalDenoiser", "RobustZ", "fuse", "posterior_mean",
           "MarginalSmoothedNLL", "ideal_denoiser_error", "ideal_denoiser_residual", "smoothed_nll",
           "dte_nonparametric_score", "dte_time_grid", "expected_time_from_logits", "inverse_gamma_mean",
           "elbo_score", "noise_error_score", "noise_error_residual", "reconstruction_residual", "reconstruction_score"]
