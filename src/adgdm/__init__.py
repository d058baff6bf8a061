"""adgdm: anomaly detection and generation with diffusion models.

Example
-------
>>> import adgdm
>>> det = adgdm.make_detector("diffusion", random_state=0)   # doctest: +SKIP
>>> det.fit(X_train).decision_function(X_test)               # doctest: +SKIP
"""
from ._version import __version__  # noqa: E402

from .detectors import (  # noqa: E402
    DDPMDetector,
    DiffusionDetector,
    DTECategorical,
    DTEInverseGamma,
    DTENonParametric,
    list_detectors,
    load,
    make_detector,
)
from .generation import generate_anomalies, inject_series_anomalies  # noqa: E402
from .io import ModelFileError  # noqa: E402
from .modalities import list_modalities  # noqa: E402
from .results import Prediction  # noqa: E402

__all__ = ["__version__", "DDPMDetector", "DiffusionDetector", "DTECategorical", "DTEInverseGamma",
           "DTENonParametric", "generate_anomalies", "inject_series_anomalies", "list_detectors", "list_modalities", "make_detector", "load", "ModelFileError", "Prediction"]
