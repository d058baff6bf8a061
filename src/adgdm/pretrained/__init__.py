"""Networks pretrained across datasets, and the commands that train them (``adgdm pretrain``)."""
from .series import DEFAULT_DIR, load_series_model, pretrain_series

__all__ = ["pretrain_series", "load_series_model", "DEFAULT_DIR"]
