"""Scores: pure functions ``(model, schedule, x) -> per-sample score`` (higher = more anomalous)."""
from .dte import dte_nonparametric_score, dte_time_grid, expected_time_from_logits, inverse_gamma_mean
from .empirical import MarginalSmoothedNLL, ideal_denoiser_error, ideal_denoiser_residual, smoothed_nll
from .noise import elbo_score, noise_error_score
from .reconstruction import reconstruction_residual, reconstruction_score

__all__ = ["MarginalSmoothedNLL", "ideal_denoiser_error", "ideal_denoiser_residual", "smoothed_nll",
           "dte_nonparametric_score", "dte_time_grid", "expected_time_from_logits", "inverse_gamma_mean",
           "elbo_score", "noise_error_score", "reconstruction_residual", "reconstruction_score"]
