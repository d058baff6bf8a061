"""The application layer: :class:`Pipeline` (one model object from file to answer) and its
:class:`ModelCard`."""
from .card import CARD_FILE, ModelCard
from .pipeline import Pipeline
from .spec import build_detector, parse_params, read_config, threshold_rule

__all__ = ["Pipeline", "ModelCard", "CARD_FILE", "build_detector", "parse_params", "read_config", "threshold_rule"]
