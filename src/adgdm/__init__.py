"""adgdm: anomaly detection and generation with diffusion models.

Example
-------
>>> import adgdm
>>> det = adgdm.make_detector("diffusion", random_state=0)   # doctest: +SKIP
>>> det.fit(X_train).decision_function(X_test)               # doctest: +SKIP
"""
__version__ = "0.1.0"

from .detectors import (  # noqa: E402
    DDPMDetector,
    DiffusionDetector,
    DTECategorical,
    DTEInverseGamma,
    DTENonParametric,
    list_detectors,
    make_detector,
)
from .io import ModelFileError, load  # noqa: E402

__all__ = ["__version__", "DDPMDetector", "DiffusionDetector", "DTECategorical", "DTEInverseGamma",
           "DTENonParametric", "list_detectors", "make_detector", "load", "ModelFileError"]
