"""Metrics. Detection metrics defer to scikit-learn."""
from . import fidelity as _fidelity
from . import series as _series
from .classification import auprc, auroc
from .fidelity import *  # noqa: F403  (each module lists its public names once, in its __all__)
from .series import *  # noqa: F403

__all__ = ["auroc", "auprc", *_series.__all__, *_fidelity.__all__]
