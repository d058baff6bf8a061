"""adgdm: anomaly detection and generation with diffusion models.

Example
-------
>>> import adgdm
>>> det = adgdm.make_detector("diffusion", random_state=0)   # doctest: +SKIP
>>> det.fit(X_train).decision_function(X_test)               # doctest: +SKIP
"""
from ._version import __version__

# Names are imported on first use (PEP 562), so ``import adgdm`` and the command line start fast:
# torch and scikit-learn load only when a detector, generator or result is asked for.
_LAZY = {
    "DDPMDetector": "detectors", "TabDDPMDetector": "detectors", "DiffusionDetector": "detectors", "DTECategorical": "detectors",
    "DTEInverseGamma": "detectors", "DTENonParametric": "detectors", "list_detectors": "detectors",
    "load": "detectors", "make_detector": "detectors",
    "generate_anomalies": "generation", "inject_series_anomalies": "generation",
    "ModelFileError": "io", "ExtremeValueWarning": "_validation", "Pipeline": "pipeline", "ModelCard": "pipeline", "list_modalities": "modalities", "Prediction": "results",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'adgdm' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
