"""Generation: sampling from fitted diffusion models, anomaly synthesis, detector feedback.

``generate_anomalies`` here dispatches on the input's rank: 2-D tables go to the tabular
generator (``adgdm.generation.anomalies``), 3-D/4-D images to ``generate_image_anomalies``.
"""
from .anomalies import TABULAR_KINDS
from .conditional import ConditionalDiffusion
from .feedback import FilterResult, filter_by_detector, score_band
from .image_anomalies import IMAGE_KINDS, ImageModel, generate_anomalies, generate_image_anomalies
from .sampling import reverse, sample
from .series import SERIES_KINDS, InjectedSeries, inject_series_anomalies

__all__ = ["TABULAR_KINDS", "generate_anomalies", "ConditionalDiffusion", "FilterResult", "filter_by_detector",
           "score_band", "reverse", "sample", "SERIES_KINDS", "InjectedSeries",
           "inject_series_anomalies", "IMAGE_KINDS", "ImageModel", "generate_image_anomalies"]
