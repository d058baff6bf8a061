"""Generation: sampling from fitted diffusion models, anomaly synthesis, detector feedback."""
from .anomalies import TABULAR_KINDS, generate_anomalies
from .conditional import ConditionalDiffusion
from .feedback import FilterResult, filter_by_detector, score_band
from .sampling import reverse, sample
from .series import SERIES_KINDS, InjectedSeries, inject_series_anomalies

__all__ = ["TABULAR_KINDS", "generate_anomalies", "ConditionalDiffusion", "FilterResult", "filter_by_detector",
           "score_band", "reverse", "sample", "SERIES_KINDS", "InjectedSeries",
           "inject_series_anomalies"]
