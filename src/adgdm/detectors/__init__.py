"""User-facing detectors, one class per method, registered under a short name."""
from .base import BaseDetector
from .baselines import PyODECOD, PyODIForest, PyODKNN, PyODLOF, PyODOCSVM
from .cycle import CycleDetector
from .ddpm import DDPMDetector
from .default import DiffusionDetector
from .dte import DTECategorical, DTEInverseGamma, DTENonParametric
from .image_default import ImageDiffusion
from .image_diffusion import ImageCond, ImageRecon
from .image_patch import PatchDiffusion, PatchKNN
from .image_seg import ImageSegCycle
from .series_baselines import MatrixProfile, SubIForest, SubPCA
from .series import SeriesForecast, SeriesImpute, SeriesRecon
from .series_cycle import SeriesCycle
from .series_default import SeriesDiffusion
from .registry import detector_class, list_detectors, make_detector, parse_spec, register

for _cls in (DiffusionDetector, DDPMDetector, DTENonParametric, DTECategorical, DTEInverseGamma,
             PyODKNN, PyODIForest, PyODECOD, PyODLOF, PyODOCSVM, CycleDetector,
             SeriesDiffusion, SeriesRecon, SeriesImpute, SeriesForecast, SubPCA, SubIForest, MatrixProfile, SeriesCycle,
             ImageDiffusion, PatchDiffusion, PatchKNN, ImageSegCycle, ImageRecon, ImageCond):
    register(_cls)

__all__ = ["BaseDetector", "CycleDetector", "DiffusionDetector", "DDPMDetector", "DTENonParametric", "DTECategorical",
           "DTEInverseGamma", "PyODKNN", "PyODIForest", "PyODECOD", "PyODLOF", "PyODOCSVM",
           "ImageDiffusion", "PatchDiffusion", "PatchKNN", "ImageSegCycle", "ImageRecon", "ImageCond", "SeriesCycle", "SeriesDiffusion", "SeriesRecon", "SeriesImpute", "SeriesForecast", "SubPCA", "SubIForest", "MatrixProfile",
           "detector_class", "list_detectors", "make_detector", "parse_spec", "register"]
